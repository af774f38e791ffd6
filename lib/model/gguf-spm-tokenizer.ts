/**
 * A SentencePiece BPE vocabulary from GGUF metadata (`tokenizer.ggml.model == 'llama'`: Mistral 7B,
 * Llama 2, ...) as the BPE parts of a tokenizer.json of the shape Hugging Face's converter writes
 * for such a model (Mistral 7B's published tokenizer.json has it).
 *
 * llama.cpp's SentencePiece tokenizer starts from the characters of the text and, while it can,
 * merges the adjacent pair whose concatenation is a piece with the highest score; a character left
 * without a piece is spelled by its UTF-8 bytes' `<0xNN>` pieces. The file holds scores, no merges.
 * HF's converter (SentencePieceExtractor) derives the merges: every pair of pieces (a, b) whose
 * concatenation a+b is a piece is a merge, ranked by the score of a+b, highest first. BPE applying
 * its lowest-ranked merge first then makes the same choice as "the highest-scoring piece first".
 * Ties, in the order the converter's stable sort leaves them: equal scores (Mistral's whitespace
 * runs "▁▁", "▁▁▁▁", ... share one score below every other piece's, so their merges come last) by
 * the merged piece's id; the splits of one piece by the id of their left part, then of their right.
 * Two splits of one piece thus get different ranks where llama.cpp sees one score; that matters
 * only where both could apply over one symbol (as "ab"+"a" and "a"+"ba" over [ab][a][ba]), where
 * llama.cpp takes the leftmost.
 *
 *   tokenizer.ggml.scores            → the order of model.merges
 *   tokenizer.ggml.add_space_prefix  → a normalizer that prepends "▁" and a decoder that strips it
 *   spaces                           → "▁" (normalizer), and back (decoder); no pre-tokenizer
 */
import { EngineError } from '../errors.js';
import type { GgufValue } from './gguf-file.js';

/** SentencePiece's spelling of a space. */
const SPACE_PIECE = '\u2581';

export interface SentencePieceParts {
  normalizer: object;
  preTokenizer: null;
  decoder: object;
  merges: [string, string][];
  unkToken: string | null;
  fuseUnk: true;
  byteFallback: true;
}

/** The file's tokenizer.ggml.scores: one number per token. */
export function sentencePieceScores(value: GgufValue | undefined, tokenCount: number): number[] {
  if (!Array.isArray(value) || value.length !== tokenCount || !value.every((s) => typeof s === 'number' && !Number.isNaN(s))) {
    throw new EngineError('INVALID_TOKENIZER', `the GGUF file's tokenizer.ggml.scores must be a list of ${tokenCount} numbers, one per token`);
  }
  return value as number[];
}

const byScoreDescending = (a: number, b: number): number => (a > b ? -1 : a < b ? 1 : 0);
const isLowSurrogate = (codeUnit: number): boolean => (codeUnit & 0xfc00) === 0xdc00;

/**
 * The merges HF's converter derives from pieces and their scores, by rank. `idOf` maps each piece
 * to its id (the first, for a piece listed twice). Each piece is split at every character boundary
 * and both halves looked up: O(total length of the pieces) lookups, then one sort of the merges.
 */
export function sentencePieceMerges(idOf: ReadonlyMap<string, number>, scores: readonly number[]): [string, string][] {
  const found: { left: number; right: number; merged: number }[] = [];
  for (const [piece, merged] of idOf) {
    for (let at = 1; at < piece.length; at++) {
      if (isLowSurrogate(piece.charCodeAt(at))) continue; // inside a character outside the BMP
      const left = idOf.get(piece.slice(0, at));
      if (left === undefined) continue;
      const right = idOf.get(piece.slice(at));
      if (right !== undefined) found.push({ left, right, merged });
    }
  }
  found.sort((a, b) => byScoreDescending(scores[a.merged], scores[b.merged]) || a.merged - b.merged || a.left - b.left || a.right - b.right);
  const pieces: string[] = [];
  for (const [piece, id] of idOf) pieces[id] = piece;
  // [a, b] pairs rather than "a b": a user-defined piece may hold a space.
  return found.map(({ left, right }) => [pieces[left], pieces[right]]);
}

/** The normalizer, decoder and model fields of the tokenizer.json. */
export function sentencePieceParts(opts: {
  idOf: ReadonlyMap<string, number>;
  scores: readonly number[];
  addSpacePrefix: boolean;
  unkToken: string | null;
}): SentencePieceParts {
  const spaces = { type: 'Replace', pattern: { String: ' ' }, content: SPACE_PIECE };
  const normalizer = opts.addSpacePrefix
    ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SPACE_PIECE }, spaces] }
    : { type: 'Sequence', normalizers: [spaces] };
  const decoders: object[] = [{ type: 'Replace', pattern: { String: SPACE_PIECE }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }];
  if (opts.addSpacePrefix) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
  return {
    normalizer,
    preTokenizer: null,
    decoder: { type: 'Sequence', decoders },
    merges: sentencePieceMerges(opts.idOf, opts.scores),
    unkToken: opts.unkToken,
    fuseUnk: true,
    byteFallback: true,
  };
}
