/**
 * The result summary of a workload run (DESIGN.md, "Result summary"): one JSON line per policy
 * from `astraea bench --json` and `astraea simulate --json`. The TypeBox schema is the single
 * source of its shape; DESIGN.md's fields come first, then what a reader needs to rerun or
 * explain the number (how the workload was made, the predictor, where the time went).
 */
import { stepOverheadS } from '../engine/engine-accounts.js';
import type { EngineStats } from '../engine/types.js';
import type { WorkloadParams } from '../workload/generators/types.js';
import type { JobOutcome } from '../workload/replay.js';
import type { JctSummary, RunSummary } from './summary-schema.js';

export type { JctSummary, RunSummary } from './summary-schema.js';

/** Type-7 quantile (linear between order statistics) of ascending values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * The fewest of n values above x that make the type-7 q-quantile of all n exceed x, whatever the
 * others are: with k values above x the order statistic at floor((n − 1)·q) is above x once
 * k ≥ n − floor((n − 1)·q), and the quantile lies at or above it. (Fewer may do it too, through
 * the interpolation; this many always do.)
 */
export function countForcingQuantileAbove(n: number, q: number): number {
  return n - Math.floor((n - 1) * q);
}

/** NaN (nothing to average) becomes null, as JSON would write it anyway. */
function orNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Mean and quantiles of the completed jobs' JCTs. */
export function jctSummary(outcomes: readonly JobOutcome[]): JctSummary {
  const jcts = outcomes.filter((o) => o.error === null).map((o) => o.jctS).sort((a, b) => a - b);
  return { mean: mean(jcts), p50: quantile(jcts, 0.5), p90: quantile(jcts, 0.9), p99: quantile(jcts, 0.99) };
}

function errorCounts(outcomes: readonly JobOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) if (o.error !== null) counts[o.error] = (counts[o.error] ?? 0) + 1;
  return counts;
}

export interface RunMeta {
  policy: string;
  engine: RunSummary['engine'];
  workload: WorkloadParams;
  predictor: RunSummary['predictor'];
  model: string;
  kvBlocks: number;
  makespanS: number;
  swapBytesPerS: number;
}

export function summarizeRun(meta: RunMeta, outcomes: readonly JobOutcome[], stats: EngineStats): RunSummary {
  const done = outcomes.filter((o) => o.error === null);
  const part = (k: keyof JobOutcome['breakdown']) => orNull(mean(done.map((o) => o.breakdown[k])));
  const jct = jctSummary(outcomes);
  const w = meta.workload;
  return {
    policy: meta.policy,
    engine: meta.engine,
    workload: w.name,
    jobs: outcomes.length,
    completed: done.length,
    failed: outcomes.length - done.length,
    errors: errorCounts(outcomes),
    jct_s: { mean: orNull(jct.mean), p50: orNull(jct.p50), p90: orNull(jct.p90), p99: orNull(jct.p99) },
    makespan_s: meta.makespanS,
    tokens_per_s: meta.makespanS > 0 ? (stats.tokens.prefill + stats.tokens.decode) / meta.makespanS : 0,
    kv: { preserve: stats.kvActions.preserve, swap: stats.kvActions.swap, discard: stats.kvActions.discard, release: stats.kvActions.release },
    breakdown_s: { queueing: part('queueingS'), compute: part('computeS'), tool: part('toolS'), kv_recovery: part('kvRecoveryS') },
    predictor: meta.predictor,
    model: meta.model,
    kv_blocks: meta.kvBlocks,
    workload_params: { seed: w.seed, load: w.load, jobs: w.jobs, scale: { ...w.scale }, arrival_rate_per_s: Number.isFinite(w.arrivalRatePerS) ? w.arrivalRatePerS : null },
    preemptions: stats.preemptions,
    recomputed_prefill_tokens: stats.kvTraffic.recomputedPrefillTokens,
    swap_bytes_per_s: meta.swapBytesPerS,
    steps: stats.steps,
    step_overhead_s: meta.engine === 'sim' ? null : stepOverheadS(stats),
  };
}
