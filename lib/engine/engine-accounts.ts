/**
 * The engine's books: counters of what its steps did (tokens, preemptions, reclaims, swaps,
 * time), the KV decisions of each job per segment, the KV-recovery time charged to each job, and
 * the stats() snapshot built from them. It decides nothing; the engine and its KV module report
 * to it.
 */
import type { Clock } from '../agent/clock.js';
import type { BlockManagerStats } from '../kv/block-manager.js';
import type { Policy } from '../sched/policy.js';
import type { BackendStepResult } from './backend.js';
import type { JobRecord } from './job-record.js';
import type { StepDecision } from './step-planner.js';
import type { EngineStats, JobAccount, KvDecision, SegmentAccount } from './types.js';

/** Mean control-plane time per step of a real engine: its loop's time less its backend's. */
export function stepOverheadS(stats: Pick<EngineStats, 'steps' | 'time'>): number | null {
  return stats.steps > 0 ? Math.max(0, stats.time.loopS - stats.time.nativeS) / stats.steps : null;
}

/** Closed jobs whose KV accounts stats({ jobs: true }) still reports. */
const CLOSED_ACCOUNTS_KEPT = 1024;

export class EngineAccounts {
  readonly counters = {
    steps: 0,
    prefillTokens: 0,
    decodeTokens: 0,
    preemptions: 0,
    reclaims: 0,
    loopS: 0,
    nativeS: 0,
    blockingSwapS: 0,
    overlappedSwapBlocks: 0,
    swapOutBlocks: 0,
    swapInBlocks: 0,
    exchangedBlocks: 0,
    closedJobsRecomputed: 0,
  };
  /** What the policy chose for each job that paused on a tool call (and later revisions). */
  readonly kvActions = { release: 0, preserve: 0, swap: 0, discard: 0 };
  readonly forks = { jobs: 0, sharedTokens: 0, copiedBlocks: 0 };
  private readonly closedAccounts: JobAccount[] = [];

  constructor(
    private readonly blockBytes: number,
    private readonly clock: Clock,
  ) {}

  /** One decision about a job's KV, with the blocks it moved, in the job's current segment. */
  logKv(record: JobRecord, action: KvDecision['action'], cause: KvDecision['cause'], blocks: number): void {
    record.kvDecisions.push({ segmentIndex: record.segmentIndex, action, cause, atS: this.clock.now(), bytes: blocks * this.blockBytes });
  }

  /** A job closed: its recompute count and its account are kept (the last CLOSED_ACCOUNTS_KEPT). */
  jobClosed(record: JobRecord): void {
    this.counters.closedJobsRecomputed += record.state.metrics().recomputedPrefillTokens;
    this.closedAccounts.push(this.account(record));
    if (this.closedAccounts.length > CLOSED_ACCOUNTS_KEPT) this.closedAccounts.shift();
  }

  /**
   * Charges each job's KV recovery in this step (JobMetrics.kvRecoveryS): the share of the
   * step's compute its recomputed tokens took (by token count), and the blocking copy time when
   * its own swap-in held up the step.
   */
  attributeKvRecovery(decision: StepDecision, result: BackendStepResult): void {
    const computeS = result.elapsedS - result.blockingSwapS;
    const stepTokens = decision.runs.reduce((sum, r) => sum + r.count, 0);
    // Jobs swapped in by this step and run in it (a prefetched one waited a step before, queued).
    const prefetched = new Set(decision.prefetched);
    const blockedBySwapIn = new Set(decision.swappedIn.map((s) => s.record).filter((r) => !prefetched.has(r)));
    for (const { record, start, count } of decision.runs) {
      if (!record.active || record.closed || record.state.state !== 'running') continue;
      const recomputed = Math.max(0, Math.min(start + count, record.computedHighWater) - start);
      let seconds = stepTokens > 0 ? (computeS * recomputed) / stepTokens : 0;
      if (blockedBySwapIn.has(record)) seconds += result.blockingSwapS;
      if (seconds > 0) record.state.kvRecovered(seconds);
    }
  }

  /** Per job and per segment KV accounting (see EngineStats.jobAccounts). */
  account(record: JobRecord): JobAccount {
    const segments: SegmentAccount[] = record.state.segments.map((timing, index) => ({
      index,
      decisions: [],
      swapOutBytes: 0,
      swapInBytes: 0,
      recomputedPrefillTokens: Math.max(0, timing.prefillTokensComputed - timing.inputTokens),
    }));
    for (const d of record.kvDecisions) {
      const s = segments[d.segmentIndex];
      if (!s) continue;
      s.decisions.push(d);
      if (d.action === 'swap') s.swapOutBytes += d.bytes;
      if (d.action === 'swap_in') s.swapInBytes += d.bytes;
    }
    const sum = (k: 'swapOutBytes' | 'swapInBytes' | 'recomputedPrefillTokens') => segments.reduce((a, s) => a + s[k], 0);
    return {
      id: record.id,
      kind: record.kind,
      state: record.state.state,
      segments,
      swapOutBytes: sum('swapOutBytes'),
      swapInBytes: sum('swapInBytes'),
      recomputedPrefillTokens: sum('recomputedPrefillTokens'),
    };
  }

  /** The engine's state and counters now. */
  stats(jobs: readonly JobRecord[], kv: BlockManagerStats, groups: number, policy: Policy, options: { jobs?: boolean } = {}): EngineStats {
    const count = (s: string) => jobs.filter((r) => r.state.state === s).length;
    const c = this.counters;
    return {
      steps: c.steps,
      jobs: { open: jobs.length, running: count('running'), waiting: count('waiting') + count('ready'), toolWait: count('tool_wait'), groups },
      forks: { ...this.forks },
      kv,
      tokens: { prefill: c.prefillTokens, decode: c.decodeTokens },
      preemptions: c.preemptions,
      reclaimedToolWaits: c.reclaims,
      kvActions: { ...this.kvActions },
      kvTraffic: {
        swapOutBytes: c.swapOutBlocks * this.blockBytes,
        swapInBytes: c.swapInBlocks * this.blockBytes,
        recomputedPrefillTokens: c.closedJobsRecomputed + jobs.reduce((sum, r) => sum + r.state.metrics().recomputedPrefillTokens, 0),
        overlappedSwapBytes: c.overlappedSwapBlocks * this.blockBytes,
        exchangedBytes: c.exchangedBlocks * this.blockBytes,
        blockingSwapS: c.blockingSwapS,
      },
      time: { loopS: c.loopS, nativeS: c.nativeS },
      ...(policy.queueLevel ? { queueLevels: queueLevels(jobs, policy.queueLevel.bind(policy)) } : {}),
      ...(options.jobs ? { jobAccounts: [...jobs.map((r) => this.account(r)), ...this.closedAccounts] } : {}),
    };
  }
}

/** Open jobs per queue level; a policy keeps one level per group. */
function queueLevels(jobs: readonly JobRecord[], level: (groupId: string) => number): number[] {
  const counts: number[] = [];
  for (const r of jobs) {
    const l = level(r.group.id);
    while (counts.length <= l) counts.push(0);
    counts[l]++;
  }
  return counts;
}
