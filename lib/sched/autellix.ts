/**
 * `autellix`: Autellix's PLAS (Program-Level Attained Service; Luo et al., "Autellix: An
 * Efficient Serving Engine for LLM Agents as General Programs", 2025). See DESIGN.md (Policies).
 *
 * What it keeps:
 * - Program-level least attained service: a job's priority comes from the service it has
 *   received over all its calls so far (SchedulingCandidate.attainedTokens: prompt tokens
 *   computed + tokens generated), not from the current call alone.
 * - Discretised queues: level i holds jobs with levelThresholds[i−1] ≤ attained <
 *   levelThresholds[i] (level 0 below the first threshold, the last level at or above the last
 *   one); a lower level runs first, FCFS by job arrival within a level, then job id.
 * - Starvation promotion: a candidate whose accumulatedWaitS exceeds `starvationS` (strictly) is
 *   moved to the top level (0), where it is ordered FCFS with the others.
 * - KV at a tool wait: 'release' — Autellix keeps no KV across calls itself and relies on the
 *   engine's prefix cache to find the program's context again.
 *
 * Where it departs / fills in:
 * - Running candidates are ranked before waiting ones, so a running segment is not displaced by a
 *   newly arrived or newly promoted one (Autellix re-prioritises at call granularity); only a
 *   memory shortage evicts a running segment, the lowest ranked.
 * - Levels are recomputed from attainedTokens at every `order` call (stateless), and the wait used
 *   for starvation is the job's accumulated ready-but-not-running time over all its calls, as the
 *   engine reports it; so once promoted, a job stays promoted while that total exceeds the limit.
 * - Preemption: 'recompute' (vLLM's default, on which Autellix builds); option `preemption`.
 */
import { EngineError } from '../errors.js';
import type { PausedJobView, Policy, SchedulingCandidate, ToolWaitKvAction } from './policy.js';

/** Seconds a job may wait before it is promoted (Autellix's starvation threshold). */
export const AUTELLIX_STARVATION_S = 10;
/** Attained-token boundaries between Autellix's levels. */
export const AUTELLIX_LEVEL_THRESHOLDS: readonly number[] = [256, 1024, 4096, 16384];

export interface AutellixOptions {
  /** Ascending attained-token boundaries between levels. Default [256, 1024, 4096, 16384]. */
  levelThresholds?: readonly number[];
  /** Accumulated wait, seconds, above which a candidate is promoted to level 0. Default 10 s. */
  starvationS?: number;
  /** Preemption mode for a running sequence that cannot get memory. Default 'recompute'. */
  preemption?: 'recompute' | 'swap';
}

export class AutellixPolicy implements Policy {
  readonly name = 'autellix';
  readonly preemption: 'recompute' | 'swap';
  readonly levelThresholds: readonly number[];
  readonly starvationS: number;

  constructor(options: AutellixOptions = {}) {
    this.levelThresholds = [...(options.levelThresholds ?? AUTELLIX_LEVEL_THRESHOLDS)];
    for (let i = 0; i < this.levelThresholds.length; i++) {
      const t = this.levelThresholds[i];
      if (!Number.isFinite(t) || (i > 0 && t <= this.levelThresholds[i - 1])) {
        throw new EngineError('INVALID_ARGUMENT', `levelThresholds must be finite and strictly ascending`);
      }
    }
    this.starvationS = options.starvationS ?? AUTELLIX_STARVATION_S;
    if (!(this.starvationS >= 0)) {
      throw new EngineError('INVALID_ARGUMENT', `starvationS must be >= 0, got ${this.starvationS}`);
    }
    this.preemption = options.preemption ?? 'recompute';
  }

  /** The level of a job that has attained `attainedTokens` of service (before starvation promotion). */
  level(attainedTokens: number): number {
    let level = 0;
    while (level < this.levelThresholds.length && attainedTokens >= this.levelThresholds[level]) level++;
    return level;
  }

  /** The level a candidate is scheduled at: 0 if starved, else its attained-service level. */
  effectiveLevel(c: SchedulingCandidate): number {
    return c.accumulatedWaitS > this.starvationS ? 0 : this.level(c.attainedTokens);
  }

  order(candidates: readonly SchedulingCandidate[], _nowS: number): SchedulingCandidate[] {
    return candidates
      .map((c) => ({ c, level: this.effectiveLevel(c) }))
      .sort(
        (a, b) =>
          Number(b.c.running) - Number(a.c.running) ||
          a.level - b.level ||
          a.c.jobArrivalS - b.c.jobArrivalS ||
          (a.c.jobId < b.c.jobId ? -1 : a.c.jobId > b.c.jobId ? 1 : 0),
      )
      .map((k) => k.c);
  }

  onToolWait(_job: PausedJobView, _nowS: number): ToolWaitKvAction {
    return 'release';
  }
}
