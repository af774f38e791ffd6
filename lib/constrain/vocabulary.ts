/**
 * The tokenizer's vocabulary as xgrammar sees it, built once per (tokenizer, model vocabulary
 * size) and kept with its grammar compiler (which caches compiled grammars).
 *
 * xgrammar decodes each token's vocabulary spelling itself, given how the tokenizer spells bytes:
 * `byte_level` (GPT-2 style: every byte is one printable character, 'Ġ' for a space — Qwen,
 * Llama 3, our byte tokenizer), `byte_fallback` (SentencePiece: '▁' for a space, unknown bytes as
 * `<0x0A>` — Llama 2, Mistral), else `raw`. The type is read off the vocabulary: the 256 byte
 * tokens of each scheme are either all there or not.
 */
import { BYTE_TO_UNICODE, UNICODE_TO_BYTE } from '../model/byte-tokenizer-files.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { Utf8Guard } from './utf8-guard.js';
import { xgrammar } from './xgrammar-load.js';
import type { GrammarCompiler } from '@mlc-ai/web-xgrammar';

export type VocabType = 'byte_level' | 'byte_fallback' | 'raw';

export interface ConstraintVocabulary {
  compiler: GrammarCompiler;
  /** The model's logit rows: the masks cover this many ids. */
  modelVocabSize: number;
  eosIds: number[];
  /** Keeps outputs valid UTF-8 on vocabularies that spell single bytes (null for `raw`). */
  utf8Guard: Utf8Guard | null;
}

/**
 * The spelling of every id below the tokenizer's size. Special tokens (and holes) are spelled ''
 * — xgrammar never allows a token that spells nothing — so `<|im_end|>` or a reserved token is
 * never drawn as the characters it is written with inside a JSON string; end of sequence is
 * allowed through xgrammar's stop ids instead. Added tokens that are not special (Qwen's
 * `<tool_call>`) keep their spelling: a forced call may use them.
 */
export function vocabularySpellings(tokenizer: Tokenizer): string[] {
  const spellings: string[] = new Array(tokenizer.vocabSize);
  for (let id = 0; id < tokenizer.vocabSize; id++) spellings[id] = tokenizer.isSpecialId(id) ? '' : (tokenizer.idToken(id) ?? '');
  return spellings;
}

export function vocabType(spellings: readonly string[]): VocabType {
  const present = new Set(spellings);
  const hex = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
  let fallback = true;
  let byteLevel = true;
  for (let b = 0; b < 256; b++) {
    if (!present.has(hex(b))) fallback = false;
    if (!present.has(BYTE_TO_UNICODE[b])) byteLevel = false;
  }
  return fallback ? 'byte_fallback' : byteLevel ? 'byte_level' : 'raw';
}

const cache = new WeakMap<Tokenizer, Map<number, Promise<ConstraintVocabulary>>>();

/**
 * The compiler for a tokenizer and a model's vocabulary size (its logit rows: the LM head may be
 * padded past the tokenizer). `eosIds`: the ids that end a sequence, which xgrammar allows only
 * once a grammar is complete.
 */
export function constraintVocabulary(tokenizer: Tokenizer, modelVocabSize: number, eosIds: readonly number[]): Promise<ConstraintVocabulary> {
  let bySize = cache.get(tokenizer);
  if (!bySize) cache.set(tokenizer, (bySize = new Map()));
  let entry = bySize.get(modelVocabSize);
  if (!entry) {
    entry = build(tokenizer, modelVocabSize, [...eosIds]);
    bySize.set(modelVocabSize, entry);
  }
  return entry;
}

function build(tokenizer: Tokenizer, modelVocabSize: number, eosIds: number[]): Promise<ConstraintVocabulary> {
  const spellings = vocabularySpellings(tokenizer);
  return vocabularyFromSpellings(spellings, vocabType(spellings), modelVocabSize, eosIds);
}

/** A vocabulary from its spellings by id (tests hand-make small ones). */
export async function vocabularyFromSpellings(spellings: string[], type: VocabType, modelVocabSize: number, eosIds: number[]): Promise<ConstraintVocabulary> {
  const xg = xgrammar();
  const info = await xg.TokenizerInfo.createTokenizerInfo(spellings, type, false, modelVocabSize, eosIds);
  const compiler = await xg.GrammarCompiler.createGrammarCompiler(info, true);
  const utf8Guard = type === 'raw' ? null : new Utf8Guard(spellings.map((t) => tokenBytes(t, type)), Math.ceil(modelVocabSize / 32), eosIds);
  return { compiler, modelVocabSize, eosIds, utf8Guard };
}

const utf8 = new TextEncoder();
const BYTE_FALLBACK = /^<0x([0-9A-F]{2})>$/;

/** The bytes a token stands for, or null when it spells nothing. */
export function tokenBytes(spelling: string, type: VocabType): Uint8Array | null {
  if (spelling === '') return null;
  if (type === 'byte_fallback') {
    const hex = BYTE_FALLBACK.exec(spelling);
    return hex ? Uint8Array.of(parseInt(hex[1], 16)) : utf8.encode(spelling.replaceAll('\u2581', ' '));
  }
  if (type === 'byte_level') {
    const chars = [...spelling];
    // An added token is written as its text, not in byte-level spelling.
    if (chars.every((c) => UNICODE_TO_BYTE.has(c))) return Uint8Array.from(chars, (c) => UNICODE_TO_BYTE.get(c)!);
  }
  return utf8.encode(spelling);
}
