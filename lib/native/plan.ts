/**
 * Builds the typed arrays of a native step from a readable description of its sequences. The
 * engine's step loop (and the tests and CLI) describe a step as a list of sequences; this is the
 * single place that flattens them into the layout cpp/core/step_plan.h expects.
 */
import type { BlockPair, PlannedSequence, SampledLogprobs } from '../step.js';
import type { NativeSampleResult, NativeStepPlan } from './types.js';

export type { BlockPair, PlannedSequence, SampledLogprobs, SamplingOptions, TokenLogprob } from '../step.js';

/** The most alternatives a sequence may ask logprobs for (OpenAI's limit; cpp/core/sampler.h). */
export const MAX_TOP_LOGPROBS = 20;

export interface PlannedStep {
  sequences: readonly PlannedSequence[];
  swapOut?: readonly BlockPair[];
  swapIn?: readonly BlockPair[];
  copy?: readonly BlockPair[];
  swapOutToVacated?: readonly BlockPair[];
  logits?: NativeStepPlan['logits'];
  /** Ids at or past this are never sampled (the tokenizer's id count under a padded head); absent: the whole head. */
  sampleableIds?: number;
}

function pairs(list: readonly BlockPair[] | undefined): Int32Array | undefined {
  if (!list || list.length === 0) return undefined;
  return Int32Array.from(list.flat());
}

export function buildStepPlan(step: PlannedStep): NativeStepPlan {
  const seqs = step.sequences;
  const n = seqs.length;
  const plan: NativeStepPlan = {
    swapOut: pairs(step.swapOut),
    swapIn: pairs(step.swapIn),
    copy: pairs(step.copy),
    swapOutToVacated: pairs(step.swapOutToVacated),
    logits: step.logits ?? 'none',
  };
  if (n === 0) return plan;

  const totalTokens = seqs.reduce((sum, s) => sum + s.tokens.length, 0);
  const totalBlocks = seqs.reduce((sum, s) => sum + s.blocks.length, 0);
  const tokens = new Int32Array(totalTokens);
  const blockIds = new Int32Array(totalBlocks);
  const blockTableOffsets = new Int32Array(n + 1);
  const queryLens = new Int32Array(n);
  const startPositions = new Int32Array(n);
  const temperature = new Float32Array(n);
  const topK = new Int32Array(n);
  const topP = new Float32Array(n);
  const seeds = new Uint32Array(n);
  let t = 0;
  let b = 0;
  seqs.forEach((s, i) => {
    tokens.set(s.tokens, t);
    t += s.tokens.length;
    blockIds.set(s.blocks, b);
    b += s.blocks.length;
    blockTableOffsets[i + 1] = b;
    queryLens[i] = s.tokens.length;
    startPositions[i] = s.startPosition;
    temperature[i] = s.sampling?.temperature ?? 0;
    topK[i] = s.sampling?.topK ?? 0;
    topP[i] = s.sampling?.topP ?? 1;
    seeds[i] = s.sampling?.seed ?? 0;
  });
  return {
    ...plan,
    tokens,
    queryLens,
    startPositions,
    blockTableOffsets,
    blockIds,
    temperature,
    topK,
    topP,
    seeds,
    ...samplingExtras(seqs),
    ...(step.sampleableIds !== undefined ? { sampleableIds: step.sampleableIds } : {}),
  };
}

/**
 * The optional sampling arrays, each present only when some sequence uses it (an absent array is
 * off for every sequence, and costs the native side nothing).
 */
function samplingExtras(seqs: readonly PlannedSequence[]): Partial<NativeStepPlan> {
  const n = seqs.length;
  const extras: Partial<NativeStepPlan> = {};
  const perSequence = (pick: (s: PlannedSequence) => number | undefined, off: number) =>
    seqs.some((s) => (pick(s) ?? off) !== off) ? Float32Array.from(seqs, (s) => pick(s) ?? off) : undefined;
  extras.minP = perSequence((s) => s.sampling?.minP, 0);
  extras.presencePenalty = perSequence((s) => s.sampling?.presencePenalty, 0);
  extras.frequencyPenalty = perSequence((s) => s.sampling?.frequencyPenalty, 0);
  if (seqs.some((s) => s.sampling?.logprobs)) {
    extras.logprobs = Uint8Array.from(seqs, (s) => (s.sampling?.logprobs ? 1 : 0));
    extras.topLogprobs = Int32Array.from(seqs, (s) => s.sampling?.topLogprobs ?? 0);
  }
  if (extras.presencePenalty || extras.frequencyPenalty) {
    // Each sequence's generated tokens as (id, count) pairs, ids ascending.
    const counted = seqs.map((s) => (s.sampling?.presencePenalty || s.sampling?.frequencyPenalty ? countTokens(s.outputTokens ?? []) : []));
    extras.penaltyOffsets = new Int32Array(n + 1);
    counted.forEach((pairs, i) => (extras.penaltyOffsets![i + 1] = extras.penaltyOffsets![i] + pairs.length));
    extras.penaltyIds = Int32Array.from(counted.flat(), ([id]) => id);
    extras.penaltyCounts = Int32Array.from(counted.flat(), ([, count]) => count);
  }
  if (seqs.some((s) => s.allowedTokens)) {
    extras.allowedMaskOffsets = new Int32Array(n + 1);
    seqs.forEach((s, i) => (extras.allowedMaskOffsets![i + 1] = extras.allowedMaskOffsets![i] + (s.allowedTokens?.length ?? 0)));
    extras.allowedMasks = new Uint32Array(extras.allowedMaskOffsets[n]);
    seqs.forEach((s, i) => s.allowedTokens && extras.allowedMasks!.set(s.allowedTokens, extras.allowedMaskOffsets![i]));
  }
  for (const key of Object.keys(extras) as (keyof NativeStepPlan)[]) if (extras[key] === undefined) delete extras[key];
  return extras;
}

function countTokens(tokens: readonly number[]): [id: number, count: number][] {
  const counts = new Map<number, number>();
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  return [...counts].sort((a, b) => a[0] - b[0]);
}

/** Sequence by sequence, the logprobs a step returned: null for a sequence that did not ask. */
export function stepLogprobs(result: NativeSampleResult, sequences: number): (SampledLogprobs | null)[] {
  const { sampledLogprobs, topLogprobOffsets, topLogprobIds, topLogprobValues } = result;
  return Array.from({ length: sequences }, (_, s) => {
    if (!sampledLogprobs || Number.isNaN(sampledLogprobs[s])) return null;
    const top = [];
    for (let j = topLogprobOffsets![s]; j < topLogprobOffsets![s + 1]; j++) top.push({ id: topLogprobIds![j], logprob: topLogprobValues![j] });
    return { logprob: sampledLogprobs[s], top };
  });
}

/** Blocks needed to hold `tokens` positions. */
export function blocksFor(tokens: number, blockSize: number): number {
  return Math.ceil(tokens / blockSize);
}
