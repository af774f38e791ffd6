/**
 * Builds the typed arrays of a native step from a readable description of its sequences. The
 * engine's step loop (and the tests and CLI) describe a step as a list of sequences; this is the
 * single place that flattens them into the layout cpp/core/step_plan.h expects.
 */
import type { BlockPair, PlannedSequence } from '../step.js';
import type { NativeStepPlan } from './types.js';

export type { BlockPair, PlannedSequence, SamplingOptions } from '../step.js';

export interface PlannedStep {
  sequences: readonly PlannedSequence[];
  swapOut?: readonly BlockPair[];
  swapIn?: readonly BlockPair[];
  copy?: readonly BlockPair[];
  swapOutToVacated?: readonly BlockPair[];
  logits?: NativeStepPlan['logits'];
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
  return { ...plan, tokens, queryLens, startPositions, blockTableOffsets, blockIds, temperature, topK, topP, seeds };
}

/** Blocks needed to hold `tokens` positions. */
export function blocksFor(tokens: number, blockSize: number): number {
  return Math.ceil(tokens / blockSize);
}
