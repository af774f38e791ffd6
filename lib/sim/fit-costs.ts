/**
 * Fits the simulator's step cost (cost-model.ts) to measured steps in two stages:
 * 1. the shape, by least squares in relative error (a 5 ms decode step and a 500 ms prefill
 *    step count alike; in seconds, the few long prefill steps decide the fit and the many decode
 *    steps come out wrong by 40%);
 * 2. the level: every coefficient times one factor, so the predicted total of the measured
 *    steps (those of a replayed workload, if any) equals their measured total. A JCT is a sum of step times, and step times are
 *    right-skewed (a busy neighbour, a page fault): the relative fit settles near the typical
 *    step and undershoots the mean.
 * Both forms of the matrix term are tried in stage 1 and the better kept:
 * - sum: fixedS + tokenS·tokens, linear, by non-negative least squares;
 * - roofline: max(fixedS, tokenS·tokens), by a grid over (fixedS, tokenS) around the sum fit with
 *   least squares for the other, linear terms at each point.
 * The other terms: contextTokenS·context + attentionPairS·pairs + sequenceS·sequences.
 */
import { nonNegativeLeastSquares } from './least-squares.js';
import type { StepCostModel } from './cost-model.js';

export interface MeasuredStep {
  tokens: number;
  contextTokens: number;
  attentionPairs: number;
  sequences: number;
  /** Compute time of the step (any swap it waited on excluded). */
  computeS: number;
}

export type FittedCosts = Required<Pick<StepCostModel, 'fixedS' | 'tokenS' | 'contextTokenS' | 'attentionPairS' | 'sequenceS' | 'roofline'>>;

export function predictComputeS(c: FittedCosts, s: MeasuredStep): number {
  const matrix = c.roofline ? Math.max(c.fixedS, c.tokenS * s.tokens) : c.fixedS + c.tokenS * s.tokens;
  return matrix + c.contextTokenS * s.contextTokens + c.attentionPairS * s.attentionPairs + c.sequenceS * s.sequences;
}

export function medianRelativeError(c: FittedCosts, steps: readonly MeasuredStep[]): number {
  const errors = steps.map((s) => Math.abs(predictComputeS(c, s) - s.computeS) / s.computeS).sort((a, b) => a - b);
  return errors.length === 0 ? 0 : errors[errors.length >> 1];
}

/** Sum of squared relative errors (what stage 1 minimises). */
function sse(c: FittedCosts, steps: readonly MeasuredStep[]): number {
  return steps.reduce((sum, s) => sum + ((predictComputeS(c, s) - s.computeS) / s.computeS) ** 2, 0);
}

/** Stage 2: all coefficients scaled so the predicted total equals the measured total. */
export function matchTotal(c: FittedCosts, steps: readonly MeasuredStep[]): FittedCosts {
  const predicted = steps.reduce((sum, s) => sum + predictComputeS(c, s), 0);
  const measured = steps.reduce((sum, s) => sum + s.computeS, 0);
  const k = predicted > 0 ? measured / predicted : 1;
  return { ...c, fixedS: c.fixedS * k, tokenS: c.tokenS * k, contextTokenS: c.contextTokenS * k, attentionPairS: c.attentionPairS * k, sequenceS: c.sequenceS * k };
}

function fitSum(steps: readonly MeasuredStep[]): FittedCosts {
  const [fixedS, tokenS, contextTokenS, attentionPairS, sequenceS] = nonNegativeLeastSquares(
    steps.map((s) => [1, s.tokens, s.contextTokens, s.attentionPairs, s.sequences].map((x) => x / s.computeS)),
    steps.map(() => 1),
  );
  return { fixedS, tokenS, contextTokenS, attentionPairS, sequenceS, roofline: false };
}

/** The roofline's linear terms for a given (fixedS, tokenS). */
function fitRooflineAt(steps: readonly MeasuredStep[], fixedS: number, tokenS: number): FittedCosts {
  const [contextTokenS, attentionPairS, sequenceS] = nonNegativeLeastSquares(
    steps.map((s) => [s.contextTokens, s.attentionPairs, s.sequences].map((x) => x / s.computeS)),
    steps.map((s) => (s.computeS - Math.max(fixedS, tokenS * s.tokens)) / s.computeS),
  );
  return { fixedS, tokenS, contextTokenS, attentionPairS, sequenceS, roofline: true };
}

function fitRoofline(steps: readonly MeasuredStep[], start: FittedCosts): FittedCosts {
  const smallest = Math.min(...steps.map((s) => s.computeS));
  const tokenStart = start.tokenS > 0 ? start.tokenS : smallest;
  let best: FittedCosts | null = null;
  let bestSse = Infinity;
  const grid = (center: number, n: number) => Array.from({ length: n }, (_, i) => center * 2 ** ((i / (n - 1)) * 3 - 1.5));
  for (const fixedS of grid(smallest, 40)) {
    for (const tokenS of grid(tokenStart, 40)) {
      const candidate = fitRooflineAt(steps, fixedS, tokenS);
      const error = sse(candidate, steps);
      if (error < bestSse) {
        bestSse = error;
        best = candidate;
      }
    }
  }
  return best!;
}

/**
 * `levelSteps` (default: all) are the steps whose total stage 2 matches: a replayed workload's,
 * when there is one, since those are the steps a simulation stands in for.
 */
export function fitStepCosts(steps: readonly MeasuredStep[], levelSteps: readonly MeasuredStep[] = steps): { costs: FittedCosts; medianRelativeError: number; alternative: { costs: FittedCosts; medianRelativeError: number } } {
  const sum = fitSum(steps);
  const roofline = fitRoofline(steps, sum);
  const [shape, other] = sse(roofline, steps) < sse(sum, steps) ? [roofline, sum] : [sum, roofline];
  const [better, worse] = [matchTotal(shape, levelSteps), matchTotal(other, levelSteps)];
  return {
    costs: better,
    medianRelativeError: medianRelativeError(better, steps),
    alternative: { costs: worse, medianRelativeError: medianRelativeError(worse, steps) },
  };
}
