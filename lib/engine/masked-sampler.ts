/**
 * Sampling from one row of logits restricted to ids below a limit: the sampler of the padded-vocab
 * guard (./padded-vocab.ts), used only when the native sampler picked an id the tokenizer does not
 * have. Same rules as cpp/core/sampler.cc, over the first `limit` ids: greedy at temperature 0 or
 * top_k 1 (the lowest id wins a tie), else highest logits first, the top_k cut, a softmax at the
 * temperature, the top_p cut (the smallest prefix reaching top_p, at least one id), one draw.
 *
 * The draw is deterministic in (seed, position) like the native one, but a different value:
 * drawing again after the native draw landed outside the limit keeps the result distributed as
 * the masked distribution (rejection sampling), where reusing the native draw would not.
 */
import { EngineError } from '../errors.js';
import type { SamplingOptions } from '../step.js';

export function sampleBelow(logits: ArrayLike<number>, limit: number, sampling: SamplingOptions | undefined, position: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > logits.length) {
    throw new EngineError('INVALID_ARGUMENT', `sampling limit must be an integer in [1, ${logits.length}], got ${limit}`);
  }
  const temperature = sampling?.temperature ?? 0;
  const topK = sampling?.topK ?? 0;
  const topP = sampling?.topP ?? 1;
  if (temperature <= 0 || topK === 1) return argmaxBelow(logits, limit);

  const ids = Array.from({ length: limit }, (_, i) => i);
  // Highest logit first, ties to the lower id, so the order is fully determined. Only the cuts
  // need the order: without them, the draw is over the ids as they are (same distribution).
  const cuts = (topK > 0 && topK < limit) || topP < 1;
  if (cuts) ids.sort((a, b) => logits[b] - logits[a] || a - b);
  let keep = topK > 0 && topK < limit ? topK : limit;

  const maxLogit = logits[argmaxBelow(logits, limit)];
  const weights = new Float64Array(keep);
  let total = 0;
  for (let i = 0; i < keep; i++) {
    weights[i] = Math.exp((logits[ids[i]] - maxLogit) / temperature);
    total += weights[i];
  }
  if (topP < 1) {
    let cumulative = 0;
    for (let i = 0; i < keep; i++) {
      cumulative += weights[i] / total;
      if (cumulative >= topP) {
        keep = i + 1;
        break;
      }
    }
    total = 0;
    for (let i = 0; i < keep; i++) total += weights[i];
  }

  const u = uniform(sampling?.seed ?? 0, position) * total;
  let cumulative = 0;
  for (let i = 0; i < keep; i++) {
    cumulative += weights[i];
    if (u < cumulative) return ids[i];
  }
  return ids[keep - 1];
}

function argmaxBelow(logits: ArrayLike<number>, limit: number): number {
  let best = 0;
  for (let i = 1; i < limit; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** A value in [0, 1) from (seed, position): two rounds of a 32-bit avalanche mix. */
function uniform(seed: number, position: number): number {
  let h = mix32((seed >>> 0) ^ 0x5bd1e995);
  h = mix32(h ^ (position >>> 0));
  return h / 4294967296;
}

function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
