/**
 * `continuum`: Continuum (Li et al., "Continuum: Efficient and Robust Multi-Turn LLM Agent
 * Scheduling with KV Cache Time-to-Live", 2025). See DESIGN.md (Policies).
 *
 * What it keeps:
 * - Job-level FCFS: candidates are ordered by their job's original arrival (a resumed job keeps
 *   its place), running first, then job id.
 * - KV pinned with a time-to-live: at a tool wait the job's KV is preserved, and the TTL is the
 *   `ttlQuantile` (default 0.9) quantile of the tool's observed durations (`toolTimeQuantileS`;
 *   the engine wires ToolTimePredictor.quantileS, type-7 over a sliding window). With no
 *   observations the TTL is `defaultTtlS` (2 s).
 * - Expiry: `revisitToolWaits` releases (to the prefix cache) the KV of every job still on the
 *   device whose waitedS exceeds (strictly) the TTL remembered from its onToolWait.
 *   Per-job TTLs are dropped in onJobClosed.
 *
 * Where it departs / fills in:
 * - Continuum weighs the TTL against memory pressure and the cost of recomputation; here the TTL
 *   is the plain duration quantile (the core of its tool-duration-aware pinning), without that
 *   cost model.
 * - An expired job's KV is released to the prefix cache (not discarded outright), so it may still
 *   hit if not evicted before the job returns.
 * - Preemption: 'recompute' (vLLM's default, on which Continuum builds); option `preemption`.
 */
import { EngineError } from '../errors.js';
import type {
  PausedJobView,
  Policy,
  SchedulingCandidate,
  ToolWaitKvAction,
  WaitingJobView,
} from './policy.js';
import { runningFirstByJobArrival } from './ordering.js';

/** TTL, seconds, for a tool with no observations. */
export const CONTINUUM_DEFAULT_TTL_S = 2;

export interface ContinuumOptions {
  /** Quantile of a tool's observed durations used as the TTL, in [0, 1]. Default 0.9. */
  ttlQuantile?: number;
  /**
   * The q-quantile of a tool's observed durations, seconds, or undefined with no observations.
   * Default: always undefined (every TTL is defaultTtlS) until the engine wires a predictor.
   */
  toolTimeQuantileS?: (tool: string, q: number) => number | undefined;
  /** TTL, seconds, for a tool with no observations. Default 2 s. */
  defaultTtlS?: number;
  /** Preemption mode for a running sequence that cannot get memory. Default 'recompute'. */
  preemption?: 'recompute' | 'swap';
}

export class ContinuumPolicy implements Policy {
  readonly name = 'continuum';
  readonly preemption: 'recompute' | 'swap';
  private readonly ttlQuantile: number;
  private readonly toolTimeQuantileS: (tool: string, q: number) => number | undefined;
  readonly defaultTtlS: number;
  private readonly ttls = new Map<string, number>();

  constructor(options: ContinuumOptions = {}) {
    this.ttlQuantile = options.ttlQuantile ?? 0.9;
    if (!(this.ttlQuantile >= 0 && this.ttlQuantile <= 1)) {
      throw new EngineError('INVALID_ARGUMENT', `ttlQuantile must be in [0, 1], got ${this.ttlQuantile}`);
    }
    this.toolTimeQuantileS = options.toolTimeQuantileS ?? (() => undefined);
    this.defaultTtlS = options.defaultTtlS ?? CONTINUUM_DEFAULT_TTL_S;
    if (!(this.defaultTtlS >= 0)) {
      throw new EngineError('INVALID_ARGUMENT', `defaultTtlS must be >= 0, got ${this.defaultTtlS}`);
    }
    this.preemption = options.preemption ?? 'recompute';
  }

  /** The TTL remembered for a job, or undefined if it never paused or was closed. */
  ttlS(jobId: string): number | undefined {
    return this.ttls.get(jobId);
  }

  /** The TTL for a new call of `tool`: the duration quantile, or defaultTtlS with no (valid) data. */
  ttlForTool(tool: string): number {
    const q = this.toolTimeQuantileS(tool, this.ttlQuantile);
    return q !== undefined && Number.isFinite(q) && q >= 0 ? q : this.defaultTtlS;
  }

  order(candidates: readonly SchedulingCandidate[], _nowS: number): SchedulingCandidate[] {
    return runningFirstByJobArrival(candidates);
  }

  onToolWait(job: PausedJobView, _nowS: number): ToolWaitKvAction {
    this.ttls.set(job.jobId, this.ttlForTool(job.tool));
    return 'preserve';
  }

  revisitToolWaits(jobs: readonly WaitingJobView[], _nowS: number): Map<string, 'release' | 'swap' | 'discard'> {
    const out = new Map<string, 'release' | 'swap' | 'discard'>();
    for (const job of jobs) {
      if (job.kv !== 'device') continue;
      const ttl = this.ttls.get(job.jobId);
      if (ttl !== undefined && job.waitedS > ttl) out.set(job.jobId, 'release');
    }
    return out;
  }

  onJobClosed(jobId: string): void {
    this.ttls.delete(jobId);
  }
}
