/**
 * Tokenizer.tokenBytes, which gives logprobs their `bytes`, on the real tokenizers of
 * test/fixtures: every token's bytes, concatenated, are the encoded text's UTF-8 — characters split
 * across byte-level tokens included — so a client can rebuild the text from the logprobs. Byte-level
 * families (Qwen3, Llama 3) give the text exactly; SentencePiece (Llama 2's, which Mistral 7B
 * shares) writes a space for its word-start mark `▁`, the dummy prefix included, and spells
 * characters outside its vocabulary as `<0xNN>` byte tokens.
 */
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../lib/model/tokenizer.js';
import { realTokenizerFiles, type FamilyName } from '../fixtures/real-tokenizers.js';

const TEXT = 'héllo wörld — 日本語 🙂 ꙮ𓂀🪿 x => x * 2\n\tdone';

describe.each<[FamilyName, string]>([
  ['qwen3', TEXT],
  ['llama3', TEXT],
  ['mistral', ` ${TEXT}`],
])('%s', (name, expected) => {
  it('the tokens\' bytes concatenated are the text\'s UTF-8', () => {
    const files = realTokenizerFiles(name);
    const tokenizer = Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);
    const ids = tokenizer.encode(TEXT, { addSpecialTokens: false });
    const bytes = Buffer.concat(ids.map((id) => tokenizer.tokenBytes(id)));
    expect(bytes.toString('utf8')).toBe(expected);
    expect([...bytes]).toEqual([...Buffer.from(expected, 'utf8')]);
    // The text has a character split across tokens, whose parts are not UTF-8 on their own.
    const alone = (id: number) => {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(tokenizer.tokenBytes(id));
        return true;
      } catch {
        return false;
      }
    };
    expect(ids.some((id) => !alone(id))).toBe(true);
  });
});

it('an added token is its content; an unknown id is an error', () => {
  const files = realTokenizerFiles('qwen3');
  const tokenizer = Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);
  const id = tokenizer.tokenId('<|im_end|>')!;
  expect(Buffer.from(tokenizer.tokenBytes(id)).toString('utf8')).toBe('<|im_end|>');
  expect(() => tokenizer.tokenBytes(10 ** 7)).toThrow(/out of range/);
});
