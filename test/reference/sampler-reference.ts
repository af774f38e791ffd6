/**
 * A plain TypeScript sampler, written from the sampling rules (docs/architecture.md, "Sampling")
 * and not from the native code, for the tests to check the native sampler against:
 *   the mask (ids >= sampleable, ids outside `allowed`) → penalties → greedy, or a softmax at the
 *   temperature → min_p → top_k → top_p → one draw at u(seed, position);
 * log-probabilities are the log softmax of the raw logits over the drawable ids.
 *
 * The plan carries its numbers as float32, so the parameters are rounded to float32 first, and
 * the penalised logit is computed in float32 as the rules define it; everything else in double.
 */

export interface ReferenceSampling {
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  /** Ids at or past this are never drawn (default: all). */
  sampleable?: number;
  /** Only these ids may be drawn (default: all). */
  allowed?: ReadonlySet<number>;
  /** The tokens generated so far, which the penalties count. */
  outputTokens?: readonly number[];
}

const f32 = Math.fround;

export function drawable(vocab: number, o: ReferenceSampling): number[] {
  const ids: number[] = [];
  for (let id = 0; id < Math.min(vocab, o.sampleable ?? vocab); id++) if (!o.allowed || o.allowed.has(id)) ids.push(id);
  return ids;
}

/** id → penalised logit, over the drawable ids only. */
export function penalisedLogits(logits: ArrayLike<number>, o: ReferenceSampling): Map<number, number> {
  const counts = new Map<number, number>();
  for (const t of o.outputTokens ?? []) counts.set(t, (counts.get(t) ?? 0) + 1);
  const presence = f32(o.presencePenalty ?? 0);
  const frequency = f32(o.frequencyPenalty ?? 0);
  const out = new Map<number, number>();
  for (const id of drawable(logits.length, o)) {
    const count = counts.get(id) ?? 0;
    out.set(id, count > 0 ? f32(logits[id] - f32(presence + f32(frequency * count))) : logits[id]);
  }
  return out;
}

/** Drawable ids, best first: highest penalised logit, then lowest id. */
function ranked(logits: ArrayLike<number>, o: ReferenceSampling): { ids: number[]; value: Map<number, number> } {
  const value = penalisedLogits(logits, o);
  const ids = [...value.keys()].sort((a, b) => value.get(b)! - value.get(a)! || a - b);
  return { ids, value };
}

export function isGreedy(o: ReferenceSampling): boolean {
  return (o.temperature ?? 0) <= 0 || o.topK === 1;
}

/** The kept ids, in rank order, with their unnormalised weights (p / p_max) and their total. */
function kept(logits: ArrayLike<number>, o: ReferenceSampling): { ids: number[]; weights: number[]; total: number } {
  const { ids, value } = ranked(logits, o);
  const temperature = f32(o.temperature ?? 0);
  const top = value.get(ids[0])!;
  let weights = ids.map((id) => Math.exp((value.get(id)! - top) / temperature));
  let keep = ids.length;
  const minP = f32(o.minP ?? 0);
  if (minP > 0) keep = Math.max(1, weights.filter((w) => w >= minP).length); // a prefix: weights fall with rank
  if ((o.topK ?? 0) > 0) keep = Math.min(keep, o.topK!);
  weights = weights.slice(0, keep);
  let total = weights.reduce((a, b) => a + b, 0);
  const topP = f32(o.topP ?? 1);
  if (topP < 1) {
    let cumulative = 0;
    let cut = keep;
    for (let i = 0; i < keep; i++) {
      cumulative += weights[i] / total;
      if (cumulative >= topP) {
        cut = i + 1;
        break;
      }
    }
    weights = weights.slice(0, cut);
    total = weights.reduce((a, b) => a + b, 0);
  }
  return { ids: ids.slice(0, weights.length), weights, total };
}

/** The distribution a draw follows: id → probability (greedy: the one best id). */
export function referenceDistribution(logits: ArrayLike<number>, o: ReferenceSampling): Map<number, number> {
  if (isGreedy(o)) return new Map([[ranked(logits, o).ids[0], 1]]);
  const { ids, weights, total } = kept(logits, o);
  return new Map(ids.map((id, i) => [id, weights[i] / total]));
}

const MASK64 = (1n << 64n) - 1n;

/** splitmix64's finaliser. */
export function mix64(x: bigint): bigint {
  let z = (x + 0x9e3779b97f4a7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** The draw's uniform value in [0, 1) for (seed, position): 53 bits of mix(mix(seed) ^ position). */
export function uniform(seed: number, position: number): number {
  const r = mix64(mix64(BigInt(seed >>> 0)) ^ BigInt(position));
  return Number(r >> 11n) * (1 / 9007199254740992);
}

/** The token the sampler must draw for the sampled token at `position`. */
export function referenceSample(logits: ArrayLike<number>, o: ReferenceSampling, position: number): number {
  if (isGreedy(o)) return ranked(logits, o).ids[0];
  const { ids, weights, total } = kept(logits, o);
  const u = uniform(o.seed ?? 0, position) * total;
  let cumulative = 0;
  for (let i = 0; i < ids.length; i++) {
    cumulative += weights[i];
    if (u < cumulative) return ids[i];
  }
  return ids[ids.length - 1];
}

/** log p(id) over the drawable ids of the raw logits (no penalties, temperature or cuts). */
export function referenceLogprobs(logits: ArrayLike<number>, o: ReferenceSampling): Map<number, number> {
  const ids = drawable(logits.length, o);
  let max = -Infinity;
  for (const id of ids) max = Math.max(max, logits[id]);
  const logZ = max + Math.log(ids.reduce((sum, id) => sum + Math.exp(logits[id] - max), 0));
  return new Map(ids.map((id) => [id, logits[id] - logZ]));
}

/** The `n` most likely drawable ids with their log-probabilities, most likely first (lowest id among equals). */
export function referenceTopLogprobs(logits: ArrayLike<number>, o: ReferenceSampling, n: number): { id: number; logprob: number }[] {
  const logprobs = referenceLogprobs(logits, o);
  return [...logprobs.keys()]
    .sort((a, b) => logits[b] - logits[a] || a - b)
    .slice(0, n)
    .map((id) => ({ id, logprob: logprobs.get(id)! }));
}
