/**
 * Fits the simulator's step cost (cost-model.ts) to measured steps in two stages:
 * 1. the shape, by least squares in relative error (a 5 ms decode step and a 500 ms prefill
 *    step count alike; in seconds, the few long prefill steps decide the fit and the many decode
 *    steps come out wrong by 40%);
 * 2. the level: every coefficient times one factor, so the predicted total of the measured
 *    steps (those of a replayed workload, if any) equals their measured total. A JCT is a sum of step times, and step times are
 *    right-skewed (a busy neighbour, a page fault): the relative fit settles near the typical
 *    step and undershoots the mean. With two or more replays (short contexts and long ones) the
 *    level has two factors, one for the terms that read the weights (fixed, token, sequence)
 *    and one for the attention terms (context, pairs), fitted so each replay's total comes out
 *    right: amid a serving engine's traffic a long context's KV reads slow down by more than
 *    the weights' do, and one factor fitted on short contexts left 4K-context steps ~9% cheap.
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

/** The weight-reading terms of a step's predicted time, and the attention terms. */
function splitPrediction(c: FittedCosts, s: MeasuredStep): { weights: number; attention: number } {
  const attention = c.contextTokenS * s.contextTokens + c.attentionPairS * s.attentionPairs;
  return { weights: predictComputeS(c, s) - attention, attention };
}

/**
 * Replays whose predicted attention shares are closer than this cannot tell the two levels
 * apart (their equations are nearly proportional): one factor serves them.
 */
const MIN_ATTENTION_SHARE_SPREAD = 0.05;

/**
 * Stage 2 over several replays: factors a (weights) and b (attention), non-negative, by least
 * squares in each replay's relative error of its total. When the replays cannot tell the two
 * apart (one replay, attention shares too close, or a factor that comes out zero), one factor
 * over all their steps.
 */
export function matchTotals(c: FittedCosts, replays: readonly (readonly MeasuredStep[])[]): FittedCosts {
  const nonEmpty = replays.filter((steps) => steps.length > 0);
  const single = () => matchTotal(c, nonEmpty.flat());
  const totals = nonEmpty.map((steps) => {
    const parts = steps.map((s) => splitPrediction(c, s));
    return {
      measured: steps.reduce((sum, s) => sum + s.computeS, 0),
      weights: parts.reduce((sum, p) => sum + p.weights, 0),
      attention: parts.reduce((sum, p) => sum + p.attention, 0),
    };
  });
  const shares = totals.map((t) => t.attention / (t.weights + t.attention));
  if (totals.length < 2 || !(Math.max(...shares) - Math.min(...shares) >= MIN_ATTENTION_SHARE_SPREAD)) return single();
  const rows = totals.map((t) => [t.weights / t.measured, t.attention / t.measured]);
  const [a, b] = nonNegativeLeastSquares(rows, rows.map(() => 1));
  if (!(a > 0 && b > 0)) return single();
  return { ...c, fixedS: c.fixedS * a, tokenS: c.tokenS * a, sequenceS: c.sequenceS * a, contextTokenS: c.contextTokenS * b, attentionPairS: c.attentionPairS * b };
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
 * `replays` (default: all the steps as one) are the groups of steps whose totals stage 2
 * matches: the replayed workloads', when there are any, since those are the steps a simulation
 * stands in for.
 */
export function fitStepCosts(
  steps: readonly MeasuredStep[],
  replays: readonly (readonly MeasuredStep[])[] = [steps],
): { costs: FittedCosts; medianRelativeError: number; level: { weights: number; attention: number }; alternative: { costs: FittedCosts; medianRelativeError: number } } {
  const sum = fitSum(steps);
  const roofline = fitRoofline(steps, sum);
  const [shape, other] = sse(roofline, steps) < sse(sum, steps) ? [roofline, sum] : [sum, roofline];
  const [better, worse] = [matchTotals(shape, replays), matchTotals(other, replays)];
  const factor = (levelled: number, fitted: number) => (fitted > 0 ? levelled / fitted : 1);
  return {
    costs: better,
    medianRelativeError: medianRelativeError(better, steps),
    // What stage 2 multiplied the shape by (equal: one factor), for the profile's provenance.
    level: {
      weights: factor(better.fixedS + better.tokenS + better.sequenceS, shape.fixedS + shape.tokenS + shape.sequenceS),
      attention: factor(better.contextTokenS + better.attentionPairS, shape.contextTokenS + shape.attentionPairS),
    },
    alternative: { costs: worse, medianRelativeError: medianRelativeError(worse, steps) },
  };
}
