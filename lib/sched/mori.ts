/**
 * `mori`: MORI (Xia et al., "Idleness is Relative: Exploiting Tool-Call Idle Windows for
 * Offloading in Agentic Systems with MORI", arXiv 2606.00866). See DESIGN.md (Policies).
 *
 * What it keeps:
 * - A continuous idleness score per program (a job's group, `groupOf`): the fraction of its recent
 *   time spent waiting on tools, idle / (idle + busy), over its last `windowCycles` call + tool
 *   cycles plus the one in progress (a call in progress counts as busy time so far, a tool wait in
 *   progress as idle time so far). Busy runs from the moment a call is queued to its end; idle
 *   from a tool call to the next call's queueing. A program with no history scores 0 (busiest).
 * - Relative placement: all live programs are ranked by idleness, the busiest first; the device
 *   tier (HBM) takes programs in that order while their KV (context tokens) fits in
 *   deviceFraction × capacity — the boundary follows capacity, not a fixed busy/idle cut — and the
 *   rest belong to the host tier (DRAM).
 * - Admission control per tier, applied at tool waits: a program of the device tier keeps its KV
 *   on the device through the call ('preserve'); one of the host tier is offloaded ('swap'), at
 *   its tool call or, if the boundary moves past it later, by `revisitToolWaits`. When the
 *   boundary moves back (capacity freed, or its idleness fell below others'), an offloaded
 *   program of the device tier is brought back by `prefetchToolWaits`, the busiest first. A
 *   host-tier program's KV is loaded back when its next call runs. The host tier admits what the
 *   engine's host pool can hold: a swap with no room leaves the KV to the prefix cache.
 * - When the planner must take preserved KV back, the most idle program goes first, to the host.
 *
 * Where it had to guess (the paper's exact formulas were not available to us):
 * - The window (windowCycles 4 cycles) and the plain ratio within it; what we could read of the
 *   paper says only that the score is continuous, in [0, 1], the share of time spent waiting on
 *   tools, and meant to tell busy phases (short calls) from idle ones (long calls).
 * - "Admission control at each memory tier" is read as cache-tier admission (which tier a
 *   program's KV may occupy), not as holding calls out of the engine.
 * - deviceFraction 0.9: headroom left on the device for running calls to grow and new ones to be
 *   admitted; the paper sizes the tiers by hardware capacity.
 * - No hysteresis at the boundary: a program crossing it moves (the paper avoids re-placing on
 *   every call; here a move happens only when its rank crosses the boundary).
 * - Programs of a fan-out share one score: their jobs' busy and idle times are summed.
 * - A job whose preserved KV the planner takes back to the host in a plan is not named for
 *   promotion by the prefetch that follows that plan: its copy out has not run yet.
 * - Request order is the engine's (vLLM's) default: running first, then first come first served
 *   per call. Preemption of a running call: 'swap' (an offloading system keeps a preempted
 *   context on the host).
 */
import { EngineError } from '../errors.js';
import { byJobId } from './ordering.js';
import {
  groupOf,
  type PausedJobView,
  type Policy,
  type SchedulingCandidate,
  type SegmentEndView,
  type ToolWaitKvAction,
  type WaitingJobView,
} from './policy.js';

export interface MoriOptions {
  /** Device KV pool, tokens. Default: unbounded (every program in the device tier). */
  capacityTokens?: () => number;
  /** Fraction of the pool the device tier may fill. Default 0.9. */
  deviceFraction?: number;
  /** Completed call + tool cycles in a program's idleness window. Default 4. */
  windowCycles?: number;
  /** Preemption mode for a running sequence that cannot get memory. Default 'swap'. */
  preemption?: 'recompute' | 'swap';
}

/** One job's timeline: completed cycles and the phase in progress. */
interface JobTimeline {
  groupId: string;
  tokens: number;
  cycles: { busyS: number; idleS: number }[];
  phase: 'busy' | 'idle';
  sinceS: number;
  /** Busy time of the call that ended the last busy phase (its cycle completes when the tool returns). */
  lastBusyS: number;
}

export class MoriPolicy implements Policy {
  readonly name = 'mori';
  readonly preemption: 'recompute' | 'swap';
  private readonly capacityTokens: () => number;
  private readonly deviceFraction: number;
  private readonly windowCycles: number;
  private readonly jobs = new Map<string, JobTimeline>();
  /** Jobs the planner took back to the host in the plan under way (cleared by `order`). */
  private readonly reclaimedThisPlan = new Set<string>();

  constructor(options: MoriOptions = {}) {
    this.capacityTokens = options.capacityTokens ?? (() => Infinity);
    this.deviceFraction = options.deviceFraction ?? 0.9;
    this.windowCycles = options.windowCycles ?? 4;
    if (!(this.deviceFraction > 0 && this.deviceFraction <= 1)) {
      throw new EngineError('INVALID_ARGUMENT', `deviceFraction must be in (0, 1], got ${this.deviceFraction}`);
    }
    if (!(Number.isInteger(this.windowCycles) && this.windowCycles >= 1)) {
      throw new EngineError('INVALID_ARGUMENT', `windowCycles must be an integer >= 1, got ${this.windowCycles}`);
    }
    this.preemption = options.preemption ?? 'swap';
  }

  /** A program's idleness in [0, 1] at `nowS`: idle / (idle + busy) over its window. */
  idleness(groupId: string, nowS: number): number {
    return this.programs(nowS).get(groupId)?.idleness ?? 0;
  }

  /** The programs whose KV belongs on the device now: the busiest, while they fit. */
  deviceTier(nowS: number): Set<string> {
    const ranked = [...this.programs(nowS)].sort(([ga, a], [gb, b]) => a.idleness - b.idleness || (ga < gb ? -1 : 1));
    const budget = this.deviceFraction * this.capacityTokens();
    const tier = new Set<string>();
    let used = 0;
    for (const [groupId, p] of ranked) {
      used += p.tokens;
      if (used > budget) break; // the boundary: every more idle program goes to the host
      tier.add(groupId);
    }
    return tier;
  }

  /** Every live program's idleness and KV tokens, in one pass over the jobs. */
  private programs(nowS: number): Map<string, { idleness: number; tokens: number }> {
    const sums = new Map<string, { busy: number; idle: number; tokens: number }>();
    for (const j of this.jobs.values()) {
      let s = sums.get(j.groupId);
      if (s === undefined) {
        s = { busy: 0, idle: 0, tokens: 0 };
        sums.set(j.groupId, s);
      }
      s.tokens += j.tokens;
      for (const c of j.cycles) {
        s.busy += c.busyS;
        s.idle += c.idleS;
      }
      const current = Math.max(0, nowS - j.sinceS);
      if (j.phase === 'busy') s.busy += current;
      else {
        s.busy += j.lastBusyS; // the cycle in progress: its call, then the wait so far
        s.idle += current;
      }
    }
    const out = new Map<string, { idleness: number; tokens: number }>();
    for (const [g, s] of sums) out.set(g, { idleness: s.busy + s.idle > 0 ? s.idle / (s.busy + s.idle) : 0, tokens: s.tokens });
    return out;
  }

  order(candidates: readonly SchedulingCandidate[], _nowS: number): SchedulingCandidate[] {
    this.reclaimedThisPlan.clear();
    for (const c of candidates) {
      const j = this.jobs.get(c.jobId);
      if (j === undefined) {
        this.jobs.set(c.jobId, { groupId: groupOf(c), tokens: c.contextTokens, cycles: [], phase: 'busy', sinceS: c.segmentQueuedS, lastBusyS: 0 });
        continue;
      }
      j.tokens = c.contextTokens;
      if (j.phase === 'idle') {
        // The tool returned when this call was queued: the cycle is complete.
        j.cycles.push({ busyS: j.lastBusyS, idleS: Math.max(0, c.segmentQueuedS - j.sinceS) });
        if (j.cycles.length > this.windowCycles) j.cycles.shift();
        j.phase = 'busy';
        j.sinceS = c.segmentQueuedS;
      }
    }
    return [...candidates].sort((a, b) => Number(b.running) - Number(a.running) || a.segmentQueuedS - b.segmentQueuedS || byJobId(a, b));
  }

  onSegmentEnd(segment: SegmentEndView, nowS: number): void {
    const j = this.jobs.get(segment.jobId);
    if (j === undefined || segment.reason !== 'tool_call' || j.phase !== 'busy') return;
    j.lastBusyS = Math.max(0, nowS - j.sinceS);
    j.phase = 'idle';
    j.sinceS = nowS;
  }

  onToolWait(job: PausedJobView, nowS: number): ToolWaitKvAction {
    this.note(job);
    return this.deviceTier(nowS).has(groupOf(job)) ? 'preserve' : 'swap';
  }

  revisitToolWaits(jobs: readonly WaitingJobView[], nowS: number): Map<string, 'release' | 'swap' | 'discard'> {
    for (const j of jobs) this.note(j);
    const tier = this.deviceTier(nowS);
    const out = new Map<string, 'release' | 'swap' | 'discard'>();
    for (const j of jobs) if (j.kv === 'device' && !tier.has(groupOf(j))) out.set(j.jobId, 'swap');
    return out;
  }

  prefetchToolWaits(jobs: readonly WaitingJobView[], nowS: number): string[] {
    for (const j of jobs) this.note(j);
    const tier = this.deviceTier(nowS);
    const programs = this.programs(nowS);
    return jobs
      .filter((j) => j.kv === 'host' && tier.has(groupOf(j)) && !this.reclaimedThisPlan.has(j.jobId))
      .map((j) => ({ id: j.jobId, idle: programs.get(groupOf(j))?.idleness ?? 0 }))
      .sort((a, b) => a.idle - b.idle || (a.id < b.id ? -1 : 1))
      .map((j) => j.id);
  }

  /** The most idle first. */
  reclaimOrder(jobs: readonly WaitingJobView[], nowS: number): string[] {
    const programs = this.programs(nowS);
    return jobs
      .map((j) => ({ id: j.jobId, idle: programs.get(groupOf(j))?.idleness ?? 0 }))
      .sort((a, b) => b.idle - a.idle || (a.id < b.id ? -1 : 1))
      .map((j) => j.id);
  }

  reclaimAction(job: WaitingJobView, _nowS: number): 'swap' | 'discard' {
    this.reclaimedThisPlan.add(job.jobId);
    return 'swap';
  }

  onJobClosed(jobId: string): void {
    this.jobs.delete(jobId);
  }

  /** Keeps a waiting job's context size current (a job first seen waiting is busy so far: none). */
  private note(job: PausedJobView): void {
    const j = this.jobs.get(job.jobId);
    if (j !== undefined) j.tokens = job.contextTokens;
  }
}
