/**
 * The tokenizer rebuilt from GGUF metadata. Real tokenizers are turned into the metadata
 * llama.cpp's converter writes for them, and the tokenizer built back from it must give the ids
 * Hugging Face's Rust `tokenizers` gives for the original files (precomputed, see
 * ../fixtures/reference-ids.py):
 * - byte-level BPE (Llama 3.1, Qwen3): tokens by id, "a b" merges, token types, the
 *   pre-tokenizer's name, special ids, the chat template;
 * - SentencePiece BPE (Mistral 7B): tokens by id, token types, scores (no merges: they are
 *   derived from the scores), special ids.
 * Small hand-made vocabularies check what the real ones cannot show alone (scores against
 * left-to-right order, byte fallback, no space prefix, llama.cpp's defaults), with ids worked out
 * by hand.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GgufHeader, GgufValue } from '../../lib/model/gguf-file.js';
import { ggufTokenizer, ggufTokenizerFiles, ggufTokenizerUnsupported } from '../../lib/model/gguf-tokenizer.js';
import { realTokenizerFiles, type FamilyName } from '../fixtures/real-tokenizers.js';
import { expectCode } from './expect-code.js';

function readFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', name), 'utf8')) as T;
}
const CORPUS: string[] = readFixture<{ texts: string[] }>('tokenizer-corpus.json').texts;
const RUST_IDS = readFixture<{ ids: Record<FamilyName, { plain: number[][]; special: number[][]; decoded: string[] }> }>('reference-ids.json').ids;

function header(entries: [string, GgufValue][]): GgufHeader {
  return { version: 3, metadata: new Map(entries), tensors: [], alignment: 32, dataOffset: 0, fileBytes: 0 };
}

/** The metadata llama.cpp's converter writes for a byte-level BPE tokenizer.json. */
function ggufMetadataOf(name: FamilyName, pre: string, addBos: boolean): [string, GgufValue][] {
  const files = realTokenizerFiles(name);
  const model = files.tokenizerJson.model as { vocab: Record<string, number>; merges: (string | string[])[] };
  const added = files.tokenizerJson.added_tokens as { id: number; content: string; special: boolean }[];
  const tokens: string[] = [];
  const types: number[] = [];
  for (const [piece, id] of Object.entries(model.vocab)) {
    tokens[id] = piece;
    types[id] = 1;
  }
  for (const t of added) {
    tokens[t.id] = t.content;
    types[t.id] = t.special ? 3 : 4;
  }
  const idOf = (content: unknown) => (typeof content === 'string' ? tokens.indexOf(content) : -1);
  const config = files.tokenizerConfigJson;
  const entries: [string, GgufValue][] = [
    ['tokenizer.ggml.model', 'gpt2'],
    ['tokenizer.ggml.pre', pre],
    ['tokenizer.ggml.tokens', tokens],
    ['tokenizer.ggml.token_type', types],
    ['tokenizer.ggml.merges', model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m))],
    ['tokenizer.ggml.eos_token_id', idOf(config.eos_token)],
    ['tokenizer.ggml.add_bos_token', addBos],
    ['tokenizer.chat_template', config.chat_template as string],
  ];
  if (idOf(config.bos_token) >= 0) entries.push(['tokenizer.ggml.bos_token_id', idOf(config.bos_token)]);
  if (idOf(config.pad_token) >= 0) entries.push(['tokenizer.ggml.padding_token_id', idOf(config.pad_token)]);
  return entries;
}

describe.each([
  { name: 'llama3' as const, pre: 'llama-bpe', addBos: true },
  { name: 'llama3' as const, pre: 'llama-v3', addBos: true },
  { name: 'qwen3' as const, pre: 'qwen2', addBos: false },
])('the $name tokenizer from GGUF metadata (pre-tokenizer $pre)', ({ name, pre, addBos }) => {
  const metadata = ggufMetadataOf(name, pre, addBos);
  const { tokenizer, reason } = ggufTokenizer(header(metadata));

  it('is built', () => {
    expect(reason).toBeNull();
    expect(tokenizer).not.toBeNull();
  });

  it.each([false, true])('encodes the corpus to the Rust tokenizers ids (add special tokens: %s)', (addSpecialTokens) => {
    const rust = RUST_IDS[name][addSpecialTokens ? 'special' : 'plain'];
    CORPUS.forEach((text, i) => expect(tokenizer!.encode(text, { addSpecialTokens }), JSON.stringify(text)).toEqual(rust[i]));
  });

  it('decodes the corpus encodings to the Rust tokenizers text', () => {
    CORPUS.forEach((text, i) => expect(tokenizer!.decode(RUST_IDS[name].plain[i]), JSON.stringify(text)).toBe(RUST_IDS[name].decoded[i]));
  });

  it('takes the chat template and the special ids from the metadata', () => {
    const config = realTokenizerFiles(name).tokenizerConfigJson;
    expect(tokenizer!.chatTemplate).toBe(config.chat_template);
    expect(tokenizer!.eosIds[0]).toBe(tokenizer!.tokenId(config.eos_token as string));
    expect(tokenizer!.bosId).toBe(typeof config.bos_token === 'string' ? tokenizer!.tokenId(config.bos_token) : null);
  });
});

/**
 * The metadata llama.cpp's converter writes for Mistral 7B's SentencePiece vocabulary: tokens by
 * id; types: the <0xNN> byte pieces 6, <unk> 2, <s> and </s> 3 (control), the rest 1; BOS 1, EOS 2,
 * unknown 0, BOS added, space prefix added.
 *
 * Scores: a real file copies them from tokenizer.model, which the fixture lacks. Only their order
 * matters (llama.cpp merges the highest-scoring piece first; HF's converter ranks merges by it), and
 * the fixture's tokenizer.json keeps that order: HF's converter wrote its merges sorted by the score
 * of the merged piece, highest first (a stable sort: equal scores in piece-id order). So a piece
 * first made by merge number k (from 1) gets the score -k, ordered as the real scores are. (The
 * whitespace runs "▁▁", "▁▁▁▁", ..., whose merges the fixture lists last in id order, likely share
 * one score in the real file; here they get distinct ones in that same order, which ranks their
 * merges the same.) Pieces no merge makes (single characters, bytes, <unk>, <s>, </s>) are never a
 * merge's result, so their score is never read; they get 0.
 */
function mistralGgufMetadata(): [string, GgufValue][] {
  const model = realTokenizerFiles('mistral').tokenizerJson.model as { vocab: Record<string, number>; merges: string[] };
  const tokens: string[] = [];
  for (const [piece, id] of Object.entries(model.vocab)) tokens[id] = piece;
  const firstMerge = new Map<string, number>();
  model.merges.forEach((merge, k) => {
    const piece = merge.replace(' ', '');
    if (!firstMerge.has(piece)) firstMerge.set(piece, k + 1);
  });
  const types = tokens.map((piece) => (/^<0x[0-9A-F]{2}>$/.test(piece) ? 6 : piece === '<unk>' ? 2 : piece === '<s>' || piece === '</s>' ? 3 : 1));
  return [
    ['tokenizer.ggml.model', 'llama'],
    ['tokenizer.ggml.tokens', tokens],
    ['tokenizer.ggml.scores', tokens.map((piece) => -(firstMerge.get(piece) ?? 0))],
    ['tokenizer.ggml.token_type', types],
    ['tokenizer.ggml.bos_token_id', 1],
    ['tokenizer.ggml.eos_token_id', 2],
    ['tokenizer.ggml.unknown_token_id', 0],
    ['tokenizer.ggml.add_bos_token', true],
    ['tokenizer.ggml.add_eos_token', false],
    ['tokenizer.ggml.add_space_prefix', true],
  ];
}

describe('the mistral tokenizer from SentencePiece GGUF metadata', () => {
  const metadata = mistralGgufMetadata();
  const { tokenizer, reason } = ggufTokenizer(header(metadata));

  it('is built', () => {
    expect(reason).toBeNull();
    expect(tokenizer).not.toBeNull();
  });

  it("derives the published tokenizer.json: the same 58,980 merges in the same order, vocabulary, added tokens, normalizer, decoder, post-processor", () => {
    const published = realTokenizerFiles('mistral').tokenizerJson as Record<string, unknown> & { model: Record<string, unknown> & { merges: string[] } };
    const rebuilt = ggufTokenizerFiles(header(metadata)).tokenizerJson as Record<string, unknown> & { model: Record<string, unknown> & { merges: [string, string][] } };
    expect(published.model.merges).toHaveLength(58980);
    expect(rebuilt.model.merges.map((pair) => pair.join(' '))).toEqual(published.model.merges);
    for (const key of ['type', 'unk_token', 'fuse_unk', 'byte_fallback', 'vocab']) expect(rebuilt.model[key], key).toEqual(published.model[key]);
    for (const key of ['added_tokens', 'normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) expect(rebuilt[key], key).toEqual(published[key]);
  });

  it.each([false, true])('encodes the corpus to the Rust tokenizers ids (add special tokens: %s)', (addSpecialTokens) => {
    const rust = RUST_IDS.mistral[addSpecialTokens ? 'special' : 'plain'];
    CORPUS.forEach((text, i) => expect(tokenizer!.encode(text, { addSpecialTokens }), JSON.stringify(text)).toEqual(rust[i]));
  });

  it('decodes the corpus encodings to the Rust tokenizers text', () => {
    CORPUS.forEach((text, i) => expect(tokenizer!.decode(RUST_IDS.mistral.plain[i]), JSON.stringify(text)).toBe(RUST_IDS.mistral.decoded[i]));
  });

  it('takes BOS, EOS and the unknown token from the metadata', () => {
    expect([tokenizer!.bosId, tokenizer!.eosIds]).toEqual([1, [2]]);
    expect((ggufTokenizerFiles(header(metadata)).tokenizerConfigJson as { unk_token: unknown }).unk_token).toBe('<unk>');
  });
});

/**
 * A hand-made SentencePiece vocabulary. Scores: "bc" (-1) beats "ab" (-2), which beats "▁a" (-3)
 * and "▁ab" (-4); "abc" and "▁abc" are no pieces. Single characters are no merge's result, and
 * their scores never read. é (C3 A9) has no piece but both its bytes; ß (C3 9F) lacks <0x9F>.
 */
const TINY_TOKENS = ['<unk>', '<s>', '</s>', '<0xC3>', '<0xA9>', '▁', 'a', 'b', 'c', 'ab', 'bc', '▁a', '▁ab', '<sep>'];
const TINY_TYPES = [2, 3, 3, 6, 6, 1, 1, 1, 1, 1, 1, 1, 1, 4];
const TINY_SCORES = [0, 0, 0, 0, 0, -10, -10, -10, -10, -2, -1, -3, -4, 0];
const [UNK, BOS, EOS, BYTE_C3, BYTE_A9, SPACE, , B, C, AB, BC, SPACE_A, SPACE_AB, SEP] = TINY_TOKENS.map((_, id) => id);

function tinySentencePiece(extra: [string, GgufValue][] = []): [string, GgufValue][] {
  return [
    ['tokenizer.ggml.model', 'llama'],
    ['tokenizer.ggml.tokens', TINY_TOKENS],
    ['tokenizer.ggml.scores', TINY_SCORES],
    ['tokenizer.ggml.token_type', TINY_TYPES],
    ...extra,
  ];
}

describe('a tiny SentencePiece vocabulary from GGUF metadata', () => {
  it('derives every pair of pieces that makes a piece as a merge, ranked by that piece\'s score', () => {
    const { model } = ggufTokenizerFiles(header(tinySentencePiece())).tokenizerJson as { model: { merges: unknown } };
    // "▁ab" splits two ways: ▁|ab and ▁a|b, ordered by the left part's id (5 before 11).
    expect(model.merges).toEqual([
      ['b', 'c'],
      ['a', 'b'],
      ['▁', 'a'],
      ['▁', 'ab'],
      ['▁a', 'b'],
    ]);
  });

  it("merges by score, not left to right; falls back to bytes; takes llama.cpp's defaults for absent keys", () => {
    // No BOS/EOS/unknown ids, add_bos_token or add_space_prefix: BOS 1, EOS 2, <unk> 0, both added.
    const files = ggufTokenizerFiles(header(tinySentencePiece([['tokenizer.chat_template', '{{ messages }}']])));
    expect(files.tokenizerConfigJson).toMatchObject({ add_bos_token: true, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', chat_template: '{{ messages }}' });
    const { tokenizer } = ggufTokenizer(header(tinySentencePiece()));
    expect([tokenizer!.bosId, tokenizer!.eosIds]).toEqual([BOS, [EOS]]);
    // "ab abc" → "▁ab▁abc" → ▁ a b ▁ a b c. b+c (-1) first: ▁ a b ▁ a bc; a+b (-2): ▁ ab ▁ a bc;
    // ▁+a (-3): ▁ ab ▁a bc; ▁+ab (-4): ▁ab ▁a bc. (Left to right it would be ▁ab ▁ab c.)
    expect(tokenizer!.encode('ab abc')).toEqual([BOS, SPACE_AB, SPACE_A, BC]);
    expect(tokenizer!.decode([BOS, SPACE_AB, SPACE_A, BC], { skipSpecialTokens: true })).toBe('ab abc');
    // "ab é" → ▁ab ▁ é, and é, which has no piece, is its bytes <0xC3> <0xA9>.
    expect(tokenizer!.encode('ab é', { addSpecialTokens: false })).toEqual([SPACE_AB, SPACE, BYTE_C3, BYTE_A9]);
    expect(tokenizer!.decode([SPACE_AB, SPACE, BYTE_C3, BYTE_A9])).toBe('ab é');
    // ß lacks a byte piece: the two ß are one fused <unk>. "▁aßßc" → ▁a <unk> c.
    expect(tokenizer!.encode('aßßc', { addSpecialTokens: false })).toEqual([SPACE_A, UNK, C]);
  });

  it('matches control and user-defined pieces whole; the normalizer prefixes each stretch of text between them', () => {
    const { tokenizer } = ggufTokenizer(header(tinySentencePiece()));
    // "a" → ▁a; "</s>" whole; "b" → ▁ b (HF's Prepend runs on each stretch); "<sep>" whole.
    expect(tokenizer!.encode('a</s>b<sep>', { addSpecialTokens: false })).toEqual([SPACE_A, EOS, SPACE, B, SEP]);
    // <sep> is user-defined: an added token, but not special, so skipSpecialTokens keeps it.
    expect(tokenizer!.decode([BOS, SPACE_A, SEP, EOS], { skipSpecialTokens: true })).toBe('a<sep>');
  });

  it('add_space_prefix false: no "▁" prepended, none stripped; add_eos_token appends EOS', () => {
    const { tokenizer } = ggufTokenizer(
      header(tinySentencePiece([['tokenizer.ggml.add_space_prefix', false], ['tokenizer.ggml.add_bos_token', false], ['tokenizer.ggml.add_eos_token', true]])),
    );
    // "ab abc" → "ab▁abc" → a b ▁ a b c; b+c: a b ▁ a bc; a+b: ab ▁ a bc; ▁+a: ab ▁a bc.
    expect(tokenizer!.encode('ab abc')).toEqual([AB, SPACE_A, BC, EOS]);
    expect(tokenizer!.decode([AB, SPACE_A, BC])).toBe('ab abc');
    // " ab" → "▁ab" → ▁ab, and the space it stands for stays.
    expect(tokenizer!.encode(' ab', { addSpecialTokens: false })).toEqual([SPACE_AB]);
    expect(tokenizer!.decode([SPACE_AB])).toBe(' ab');
  });

  it('malformed SentencePiece metadata is INVALID_TOKENIZER', () => {
    const without = (key: string) => tinySentencePiece().filter(([k]) => k !== key);
    expectCode(() => ggufTokenizerFiles(header(without('tokenizer.ggml.scores'))), 'INVALID_TOKENIZER', 'tokenizer.ggml.scores');
    expectCode(() => ggufTokenizerFiles(header([...without('tokenizer.ggml.scores'), ['tokenizer.ggml.scores', TINY_SCORES.slice(1)]])), 'INVALID_TOKENIZER', 'one per token');
    expectCode(() => ggufTokenizerFiles(header([...without('tokenizer.ggml.scores'), ['tokenizer.ggml.scores', TINY_SCORES.map(String)]])), 'INVALID_TOKENIZER', 'numbers');
    expectCode(() => ggufTokenizerFiles(header([...without('tokenizer.ggml.scores'), ['tokenizer.ggml.scores', 3]])), 'INVALID_TOKENIZER', 'tokenizer.ggml.scores');
    expectCode(() => ggufTokenizerFiles(header(tinySentencePiece([['tokenizer.ggml.add_space_prefix', 1]]))), 'INVALID_TOKENIZER', 'add_space_prefix');
    expectCode(() => ggufTokenizerFiles(header(tinySentencePiece([['tokenizer.ggml.unknown_token_id', 'x']]))), 'INVALID_TOKENIZER', 'unknown_token_id');
  });
});

describe('GGUF tokenizers that are not built', () => {
  it('WordPiece, Unigram, an unknown pre-tokenizer, no tokenizer at all: null and the reason', () => {
    expect(ggufTokenizerUnsupported(new Map([['tokenizer.ggml.model', 'bert']]))).toMatch(/"bert" is not supported/);
    expect(ggufTokenizerUnsupported(new Map([['tokenizer.ggml.model', 't5']]))).toMatch(/"t5" is not supported/);
    expect(ggufTokenizerUnsupported(new Map([['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.pre', 'deepseek-coder']]))).toMatch(/pre-tokenizer "deepseek-coder" is not supported/);
    expect(ggufTokenizerUnsupported(new Map())).toMatch(/no tokenizer/);
    expect(ggufTokenizerUnsupported(new Map([['tokenizer.ggml.model', 'llama']]))).toBeNull();
    const built = ggufTokenizer(header([['tokenizer.ggml.model', 'bert']]));
    expect(built.tokenizer).toBeNull();
    expect(built.reason).toMatch(/"bert" is not supported/);
  });

  it('malformed metadata is INVALID_TOKENIZER', () => {
    const base: [string, GgufValue][] = [
      ['tokenizer.ggml.model', 'gpt2'],
      ['tokenizer.ggml.tokens', ['a', 'b', 'ab']],
    ];
    expectCode(() => ggufTokenizerFiles(header([...base, ['tokenizer.ggml.merges', ['ab']]])), 'INVALID_TOKENIZER', 'not two tokens');
    expectCode(() => ggufTokenizerFiles(header([['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.tokens', [1, 2]]])), 'INVALID_TOKENIZER', 'list of strings');
    expectCode(() => ggufTokenizerFiles(header([...base, ['tokenizer.ggml.token_type', [1, 1, 1, 1]]])), 'INVALID_TOKENIZER', 'token_type');
    expectCode(() => ggufTokenizerFiles(header([...base, ['tokenizer.ggml.eos_token_id', 'x']])), 'INVALID_TOKENIZER', 'eos_token_id');
  });

  it('a tiny vocabulary with merges encodes by them; ids past the list (llama.cpp writes -1 as u32) are no token', () => {
    const { tokenizer } = ggufTokenizer(
      header([
        ['tokenizer.ggml.model', 'gpt2'],
        ['tokenizer.ggml.tokens', ['a', 'b', 'ab', 'Ġ', 'Ġab', '<|end|>']],
        ['tokenizer.ggml.token_type', [1, 1, 1, 1, 1, 3]],
        ['tokenizer.ggml.merges', ['a b', 'Ġ ab']],
        ['tokenizer.ggml.eos_token_id', 5],
        ['tokenizer.ggml.bos_token_id', 4294967295],
      ]),
    );
    // "ab ab": pre-split as "ab", " ab"; "ab" merges to id 2, "Ġab" to id 4.
    expect(tokenizer!.encode('ab ab<|end|>')).toEqual([2, 4, 5]);
    expect(tokenizer!.decode([2, 4, 5], { skipSpecialTokens: true })).toBe('ab ab');
    expect(tokenizer!.bosId).toBeNull();
    expect(tokenizer!.eosIds).toEqual([5]);
  });
});
