/**
 * Our Tokenizer (a wrapper over @huggingface/tokenizers) on real tokenizers, against the ids of
 * Hugging Face's Rust `tokenizers` (the library that wrote these files; precomputed, see
 * ../fixtures/reference-ids.py), against @lenml/tokenizers (an older JavaScript fork of
 * transformers.js' tokenizers, run live) and against ids read straight from the vocabulary.
 * See ../fixtures/real-tokenizers.ts for what each package ships.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../lib/model/tokenizer.js';
import { FAMILY_NAMES, realTokenizerFiles, type FamilyName } from '../fixtures/real-tokenizers.js';

/** Text that stresses pre-tokenizers, normalizers, byte handling and added-token matching. */
const CORPUS: string[] = readFixture<{ texts: string[] }>('tokenizer-corpus.json').texts;

/** The ids Hugging Face's Rust `tokenizers` gives for CORPUS (written by ../fixtures/reference-ids.py). */
const RUST_IDS = readFixture<{ ids: Record<FamilyName, { plain: number[][]; special: number[][]; decoded: string[] }> }>('reference-ids.json').ids;

function readFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', name), 'utf8')) as T;
}

function reference(name: FamilyName) {
  const files = realTokenizerFiles(name);
  return TokenizerLoader.fromPreTrained({ tokenizerJSON: files.tokenizerJson as never, tokenizerConfig: files.tokenizerConfigJson as never });
}

function ours(name: FamilyName): Tokenizer {
  const files = realTokenizerFiles(name);
  return Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);
}

function vocabId(name: FamilyName, piece: string): number {
  const vocab = (realTokenizerFiles(name).tokenizerJson.model as { vocab: Record<string, number> }).vocab;
  const id = vocab[piece];
  if (id === undefined) throw new Error(`${piece} is not in the ${name} vocabulary`);
  return id;
}

describe.each(FAMILY_NAMES)('the real %s tokenizer', (name) => {
  const tok = ours(name);
  const ref = reference(name);

  it.each([false, true])('encodes the corpus to the ids of the Rust tokenizers and of @lenml/tokenizers (add special tokens: %s)', (addSpecialTokens) => {
    const rust = RUST_IDS[name][addSpecialTokens ? 'special' : 'plain'];
    expect(rust).toHaveLength(CORPUS.length);
    CORPUS.forEach((text, i) => {
      const ids = tok.encode(text, { addSpecialTokens });
      expect(ids, JSON.stringify(text)).toEqual(rust[i]);
      expect(ids, JSON.stringify(text)).toEqual(ref.encode(text, { add_special_tokens: addSpecialTokens }));
    });
  });

  it('decodes every corpus encoding to the references\' text, and streams it to the same text', () => {
    CORPUS.forEach((text, i) => {
      const ids = RUST_IDS[name].plain[i];
      const expected = RUST_IDS[name].decoded[i];
      // @lenml/tokenizers refuses to decode nothing; where there is something, it agrees.
      if (ids.length > 0) expect(ref.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false })).toBe(expected);
      expect(tok.decode(ids), JSON.stringify(text)).toBe(expected);
      const stream = tok.createStreamDecoder();
      const streamed = ids.map((id) => stream.push(id)).join('') + stream.flush();
      expect(streamed, JSON.stringify(text)).toBe(expected);
    });
  });
});

describe('ids worked out from the vocabularies', () => {
  it('qwen3: two whole-word pieces, special tokens by their added ids, 151,669 ids in all', () => {
    const tok = ours('qwen3');
    // Byte-level BPE: "Hello" is one piece, " world" is "Ġworld"; no BOS is added.
    expect([vocabId('qwen3', 'Hello'), vocabId('qwen3', 'Ġworld')]).toEqual([9707, 1879]);
    expect(tok.encode('Hello world')).toEqual([9707, 1879]);
    expect(tok.encode('<|im_start|>user<|im_end|><tool_call></tool_call>')).toEqual([151644, 872, 151645, 151657, 151658]);
    expect(vocabId('qwen3', 'user')).toBe(872);
    expect(tok.vocabSize).toBe(151669);
    expect(tok.eosIds).toEqual([151645]);
    expect(tok.bosId).toBeNull();
  });

  it('llama3: BOS 128000 first, then byte-level pieces; <|eot_id|> ends a turn', () => {
    const tok = ours('llama3');
    expect([vocabId('llama3', 'Hello'), vocabId('llama3', 'Ġworld')]).toEqual([9906, 1917]);
    expect(tok.encode('Hello world')).toEqual([128000, 9906, 1917]);
    expect(tok.encode('Hello world', { addSpecialTokens: false })).toEqual([9906, 1917]);
    expect(tok.vocabSize).toBe(128256);
    expect(tok.eosIds).toEqual([128009]);
  });

  it('mistral: BOS 1, "▁" marks spaces, [INST] in three pieces, bytes fall back to <0xNN>', () => {
    const tok = ours('mistral');
    expect(tok.encode('[INST]', { addSpecialTokens: false })).toEqual([733, 16289, 28793]);
    expect([vocabId('mistral', '▁['), vocabId('mistral', 'INST'), vocabId('mistral', ']')]).toEqual([733, 16289, 28793]);
    expect([vocabId('mistral', '▁Hello'), vocabId('mistral', '▁world')]).toEqual([22557, 1526]);
    expect(tok.encode('Hello world')).toEqual([1, 22557, 1526]);
    // The normalizer prepends "▁"; 🤖 (F0 9F A4 96 in UTF-8) has no piece, so it falls back to
    // byte tokens <0x00>..<0xFF>, ids 3..258. Decoding strips the prepended space again.
    const robot = tok.encode('🤖', { addSpecialTokens: false });
    expect(robot).toEqual([vocabId('mistral', '▁'), 3 + 0xf0, 3 + 0x9f, 3 + 0xa4, 3 + 0x96]);
    expect(tok.decode(robot)).toBe('🤖');
    expect(tok.vocabSize).toBe(32000);
    expect([tok.bosId, tok.eosIds]).toEqual([1, [2]]);
  });
});
