/**
 * Checkpoints may declare more output rows than their tokenizer has ids: Qwen's configs say
 * vocab_size 151,936 for a tokenizer of 151,669 (the head is padded to a multiple the GPU likes).
 * The rows past the tokenizer are untrained, or random under a dummy load, and the native sampler
 * draws over all of them, so it can pick an id no text exists for. Those ids must never be
 * sampled: they are masked here.
 *
 * The native step samples over the whole head; when a sequence's token lands past the tokenizer
 * (rare with trained weights), its last input token is run once more at the same position with
 * its logits returned (the KV write repeats the same values), and the token is drawn again from
 * the ids below the limit (./masked-sampler.ts). A native draw below the limit stands. Greedy,
 * that is exactly the masked argmax (the best of all ids, when it is below the limit, is the
 * best below it). Sampled, keeping accepted draws and redrawing rejected ones from the masked
 * distribution yields the masked distribution (rejection sampling); with top_k/top_p the cuts of
 * an accepted draw were made over all ids, so there it is close to, not exactly, the masked one.
 * Nothing is copied or recomputed in the common case.
 *
 * (Masking inside the native samplers, CPU and CUDA, would cost nothing even on a redraw; this
 * guard needs no native change and covers both backends.)
 */
import type { PlannedSequence } from '../step.js';
import { sampleBelow } from './masked-sampler.js';

/** One step of the given sequences that returns the last row of logits of each. */
export type LogitsProbe = (sequences: PlannedSequence[]) => Promise<{ logits: Float32Array; vocabSize: number; elapsedS: number }>;

export interface GuardedTokens {
  tokens: ArrayLike<number>;
  /** Seconds the probe step took (0 when no token needed it). */
  probeS: number;
}

/**
 * The step's sampled tokens with every id at or past `limit` replaced by a draw below it.
 * `sequences` are the step's, in the order of `tokens`.
 */
export async function keepTokensBelow(sequences: readonly PlannedSequence[], tokens: ArrayLike<number>, limit: number, probe: LogitsProbe): Promise<GuardedTokens> {
  const outside: number[] = [];
  for (let i = 0; i < sequences.length; i++) if (tokens[i] >= limit) outside.push(i);
  if (outside.length === 0) return { tokens, probeS: 0 };

  const rerun = outside.map((i): PlannedSequence => {
    const s = sequences[i];
    const last = s.tokens.length - 1;
    return { tokens: [s.tokens[last]], startPosition: s.startPosition + last, blocks: s.blocks, sampling: s.sampling };
  });
  const { logits, vocabSize, elapsedS } = await probe(rerun);
  const fixed = Array.from(tokens);
  outside.forEach((i, row) => {
    const s = sequences[i];
    // The sampled token's position, as the native sampler numbers it.
    const position = s.startPosition + s.tokens.length;
    fixed[i] = sampleBelow(logits.subarray(row * vocabSize, (row + 1) * vocabSize), limit, s.sampling, position);
  });
  return { tokens: fixed, probeS: elapsedS };
}
