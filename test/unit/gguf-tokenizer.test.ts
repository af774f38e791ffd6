/**
 * The tokenizer rebuilt from GGUF metadata. Real tokenizers (Llama 3.1, Qwen3) are turned into the
 * metadata llama.cpp's converter writes for them (tokens by id, "a b" merges, token types, the
 * pre-tokenizer's name, special ids, the chat template); the tokenizer built back from it must give
 * the ids Hugging Face's Rust `tokenizers` gives for the original files (precomputed, see
 * ../fixtures/reference-ids.py).
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

describe('GGUF tokenizers that are not built', () => {
  it('SentencePiece, an unknown pre-tokenizer, no tokenizer at all: null and the reason', () => {
    expect(ggufTokenizerUnsupported(new Map([['tokenizer.ggml.model', 'llama']]))).toMatch(/"llama" is not supported/);
    expect(ggufTokenizerUnsupported(new Map([['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.pre', 'deepseek-coder']]))).toMatch(/pre-tokenizer "deepseek-coder" is not supported/);
    expect(ggufTokenizerUnsupported(new Map())).toMatch(/no tokenizer/);
    const built = ggufTokenizer(header([['tokenizer.ggml.model', 'llama']]));
    expect(built.tokenizer).toBeNull();
    expect(built.reason).toMatch(/SentencePiece|not supported/);
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
