/** The result summary of a workload run (DESIGN.md, "Result summary"). */
import type { EngineStats } from '../engine/types.js';
import type { JobOutcome } from './runner.js';

export interface JctSummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
}

export interface RunSummary {
  policy: string;
  engine: 'cpu' | 'cuda' | 'sim';
  workload: string;
  jobs: number;
  completed: number;
  failed: number;
  jct_s: JctSummary;
  makespan_s: number;
  tokens_per_s: number;
  kv: { preserve: number; swap: number; discard: number; release: number };
  preemptions: number;
  recomputed_prefill_tokens: number;
}

/** Type-7 quantile (linear between order statistics) of ascending values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Mean and quantiles of the completed jobs' JCTs. */
export function jctSummary(outcomes: readonly JobOutcome[]): JctSummary {
  const jcts = outcomes.filter((o) => o.error === null).map((o) => o.jctS).sort((a, b) => a - b);
  const mean = jcts.length === 0 ? NaN : jcts.reduce((a, b) => a + b, 0) / jcts.length;
  return { mean, p50: quantile(jcts, 0.5), p90: quantile(jcts, 0.9), p99: quantile(jcts, 0.99) };
}

export function summarizeRun(
  meta: { policy: string; engine: RunSummary['engine']; workload: string; makespanS: number },
  outcomes: readonly JobOutcome[],
  stats: EngineStats,
): RunSummary {
  const completed = outcomes.filter((o) => o.error === null).length;
  return {
    policy: meta.policy,
    engine: meta.engine,
    workload: meta.workload,
    jobs: outcomes.length,
    completed,
    failed: outcomes.length - completed,
    jct_s: jctSummary(outcomes),
    makespan_s: meta.makespanS,
    tokens_per_s: meta.makespanS > 0 ? (stats.tokens.prefill + stats.tokens.decode) / meta.makespanS : 0,
    kv: { preserve: stats.kvActions.preserve, swap: stats.kvActions.swap, discard: stats.kvActions.discard, release: stats.kvActions.release },
    preemptions: stats.preemptions,
    recomputed_prefill_tokens: stats.kvTraffic.recomputedPrefillTokens,
  };
}
