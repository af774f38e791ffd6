/**
 * The masks of constrained decoding on hand-made vocabularies, against masks worked out by hand
 * from the one string each grammar admits. A mask is checked as the set of allowed ids.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { constraintOver } from '../../lib/constrain/compile.js';
import type { TokenConstraint } from '../../lib/constrain/constraint.js';
import { vocabularyFromSpellings, vocabType } from '../../lib/constrain/vocabulary.js';
import { BYTE_TO_UNICODE } from '../../lib/model/byte-tokenizer-files.js';

const live: TokenConstraint[] = [];
afterEach(() => {
  for (const c of live.splice(0)) c.dispose();
});

function allowedIds(mask: Uint32Array): number[] {
  const ids: number[] = [];
  for (let id = 0; id < mask.length * 32; id++) if ((mask[id >>> 5] >>> (id & 31)) & 1) ids.push(id);
  return ids;
}

/** Walks `tokens`, returning the allowed ids before each and after the last. */
async function walk(constraint: TokenConstraint, tokens: number[]): Promise<number[][]> {
  live.push(constraint);
  const masks = [allowedIds(constraint.allowedTokens())];
  for (const t of tokens) {
    expect(await constraint.accept(t)).toBe(true);
    masks.push(constraint.isComplete() && allowedIds(constraint.allowedTokens()).length === 0 ? [] : allowedIds(constraint.allowedTokens()));
  }
  return masks;
}

//                 0    1    2    3    4    5    6    7    8      9        10      11     12
const JSON_VOCAB = ['{', '}', '"', 'a', ':', '1', '2', ',', '"a"', '{"a":', 'true', '<eos>', 'x'];
const EOS = 11;

describe('constraint masks on a hand-made vocabulary', () => {
  it('a JSON schema admitting only {"a":<integer>}', async () => {
    const vocab = await vocabularyFromSpellings(JSON_VOCAB, 'raw', JSON_VOCAB.length, [EOS]);
    const schema = { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'], additionalProperties: false };
    const c = await constraintOver({ kind: 'json_schema', schema }, vocab);
    expect(c.allowedTokens().length).toBe(1); // ceil(13 / 32) words
    expect(c.isComplete()).toBe(false);
    const masks = await walk(c, [0, 8, 4, 5, 1]);
    expect(masks).toEqual([
      [0, 9], // '{' or '{"a":'
      [2, 8], // the key's quote, or the whole key
      [4], // ':'
      [5, 6], // an integer's first digit (no '0' or '-' in this vocabulary)
      [1, 5, 6], // more digits, or the end of the object
      [EOS], // complete: end of sequence, and only it
    ]);
    expect(c.isComplete()).toBe(true);
  });

  it('any JSON object: end of sequence is not allowed until the object closes', async () => {
    const vocab = await vocabularyFromSpellings(JSON_VOCAB, 'raw', JSON_VOCAB.length, [EOS]);
    const c = await constraintOver({ kind: 'json_object' }, vocab);
    const masks = await walk(c, [0, 1]);
    expect(masks).toEqual([
      [0, 9], // an object opens; '{"a":' opens one with a key
      [1, 2, 8], // '}', a key's quote, or a whole key
      [EOS],
    ]);
  });

  it('a forced Hermes tool call: the wrapper, the name, then the parameters', async () => {
    //              0              1     2               3                 4     5    6               7        8    9
    const spellings = ['<tool_call>', '\n', '{"name":"f"', ',"arguments":', '{}', '}', '</tool_call>', '<eos>', '<', '{'];
    const vocab = await vocabularyFromSpellings(spellings, 'raw', spellings.length, [7]);
    const c = await constraintOver({ kind: 'tool_call', format: 'hermes', parallel: false, tools: [{ name: 'f', parameters: { type: 'object', properties: {} } }] }, vocab);
    const masks = await walk(c, [0, 1, 2, 3, 4, 5, 1, 6]);
    expect(masks).toEqual([[0, 8], [1], [2, 9], [3], [4, 9], [5], [1], [6, 8], [7]]);
  });

  it('inside a forced Hermes call a string holds no raw "<", so "</tool_call>" cannot close it early', async () => {
    //                 0              1     2                  3   4    5    6               7
    const spellings = ['<tool_call>', '\n', '{"name":"f","arguments":{"q":"', 'a', '<', '"', '}}', '</tool_call>', '<eos>'];
    const vocab = await vocabularyFromSpellings(spellings, 'raw', spellings.length, [8]);
    const parameters = { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] };
    const hermes = await constraintOver({ kind: 'tool_call', format: 'hermes', parallel: false, tools: [{ name: 'f', parameters }] }, vocab);
    // In the string: 'a', the closing quote or '}}' (string text too), never '<' nor '</tool_call>'.
    expect(await walk(hermes, [0, 1, 2])).toEqual([[0, 4], [1], [2], [3, 5, 6]]);
  });

  it('a forced Mistral call has its marker and list brackets; a Llama 3 one names "parameters"', async () => {
    const spellings = ['[TOOL_CALLS]', '[', '{"name":"f",', '"arguments":', '"parameters":', '{}', '}', ']', '<eos>'];
    const vocab = await vocabularyFromSpellings(spellings, 'raw', spellings.length, [8]);
    const tools = [{ name: 'f', parameters: { type: 'object', properties: {} } }];
    const mistral = await constraintOver({ kind: 'tool_call', format: 'mistral', parallel: false, tools }, vocab);
    // '[' alone also starts "[TOOL_CALLS][": the grammar is over characters, not tokens.
    expect(await walk(mistral, [0, 1, 2, 3, 5, 6, 7])).toEqual([[0, 1], [1], [2], [3], [5], [6], [7], [8]]);
    const llama = await constraintOver({ kind: 'tool_call', format: 'llama3', parallel: false, tools }, vocab);
    expect(await walk(llama, [2, 4, 5, 6])).toEqual([[2], [4], [5], [6], [8]]);
  });

  it('parallel Hermes calls: after a closed block, end of sequence or a newline and the next block', async () => {
    //                 0              1     2             3                 4     5    6               7        8
    const spellings = ['<tool_call>', '\n', '{"name":"f"', ',"arguments":', '{}', '}', '</tool_call>', '<eos>', '\n<tool_call>'];
    const vocab = await vocabularyFromSpellings(spellings, 'raw', spellings.length, [7]);
    const tools = [{ name: 'f', parameters: { type: 'object', properties: {} } }];
    const block = [0, 1, 2, 3, 4, 5, 1, 6];
    const parallel = await constraintOver({ kind: 'tool_call', format: 'hermes', parallel: true, tools }, vocab);
    const masks = await walk(parallel, [...block, 1, ...block]);
    // After the first '</tool_call>' (mask 8): end, '\n' alone, or '\n<tool_call>' in one token.
    expect(masks[8]).toEqual([1, 7, 8]);
    // After that '\n' only the next block's tag may follow (not a second newline, not the end).
    expect(masks[9]).toEqual([0]);
    expect(masks[17]).toEqual([1, 7, 8]); // the second block closed: the same choice again
    // Exactly one call: after the block only the end.
    const single = await constraintOver({ kind: 'tool_call', format: 'hermes', parallel: false, tools }, vocab);
    expect((await walk(single, block))[8]).toEqual([7]);
  });

  it('parallel Mistral calls are more objects in the list; parallel Llama 3 calls are separated by ";"', async () => {
    //                 0               1    2               3               4                 5     6    7    8    9        10
    const spellings = ['[TOOL_CALLS]', '[', '{"name":"f",', '"arguments":', '"parameters":', '{}', '}', ']', ',', '<eos>', ';'];
    const vocab = await vocabularyFromSpellings(spellings, 'raw', spellings.length, [9]);
    const tools = [{ name: 'f', parameters: { type: 'object', properties: {} } }];
    const call = (key: number) => [2, key, 5, 6];
    const mistral = await constraintOver({ kind: 'tool_call', format: 'mistral', parallel: true, tools }, vocab);
    const m = await walk(mistral, [0, 1, ...call(3), 8, ...call(3), 7]);
    expect(m[6]).toEqual([7, 8]); // after the first object: close the list or a comma
    expect(m[7]).toEqual([2]); // after the comma: the next object
    expect(m[11]).toEqual([7, 8]);
    expect(m[12]).toEqual([9]); // the list closed: only the end
    const mistralOne = await constraintOver({ kind: 'tool_call', format: 'mistral', parallel: false, tools }, vocab);
    expect((await walk(mistralOne, [0, 1, ...call(3)]))[6]).toEqual([7]);
    const llama = await constraintOver({ kind: 'tool_call', format: 'llama3', parallel: true, tools }, vocab);
    const l = await walk(llama, [...call(4), 10, ...call(4)]);
    expect(l[4]).toEqual([9, 10]); // after an object: the end or ';'
    expect(l[5]).toEqual([2]); // after ';': the next object
    expect(l[9]).toEqual([9, 10]);
    const llamaOne = await constraintOver({ kind: 'tool_call', format: 'llama3', parallel: false, tools }, vocab);
    expect((await walk(llamaOne, call(4)))[4]).toEqual([9]);
  });

  it('the mask covers the model vocabulary: padded ids are never allowed', async () => {
    const vocab = await vocabularyFromSpellings(JSON_VOCAB, 'raw', 40, [EOS]);
    const c = await constraintOver({ kind: 'json_object' }, vocab);
    live.push(c);
    expect(c.allowedTokens().length).toBe(2); // ceil(40 / 32)
    expect(allowedIds(c.allowedTokens())).toEqual([0, 9]);
  });

  it('a string with maxLength admits no control character (xgrammar 0.1.27 let them in) and stops at its bound', async () => {
    //                 0     1    2    3         4     5
    const spellings = ['"', 'a', 'b', '\u0001', '\t', '<eos>'];
    const vocab = await vocabularyFromSpellings(spellings, 'raw', spellings.length, [5]);
    const c = await constraintOver({ kind: 'json_schema', schema: { type: 'string', maxLength: 2 } }, vocab);
    // Inside the string only 'a', 'b' or the closing quote; after two characters only the quote.
    expect(await walk(c, [0, 1, 2, 0])).toEqual([[0], [0, 1, 2], [0, 1, 2], [0], [5]]);
  });

  it('a token outside the mask is refused', async () => {
    const vocab = await vocabularyFromSpellings(JSON_VOCAB, 'raw', JSON_VOCAB.length, [EOS]);
    const c = await constraintOver({ kind: 'json_object' }, vocab);
    live.push(c);
    expect(await c.accept(12)).toBe(false);
  });
});

describe('vocabType', () => {
  it('reads the byte spelling scheme off the vocabulary', () => {
    expect(vocabType([...BYTE_TO_UNICODE, 'Ġthe'])).toBe('byte_level');
    const hex = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    expect(vocabType(['<unk>', ...hex, '▁the'])).toBe('byte_fallback');
    expect(vocabType(['a', 'b', 'ab'])).toBe('raw');
    expect(vocabType(BYTE_TO_UNICODE.slice(1))).toBe('raw'); // one byte missing: not byte-level
  });
});
