/**
 * `thunderagent`: ThunderAgent (Kang et al., "ThunderAgent: A Simple, Fast and Program-Aware
 * Agentic Inference System", arXiv 2602.13692). See DESIGN.md (Policies).
 *
 * ThunderAgent sits in front of the inference engine and schedules programs (a job's group here,
 * `groupOf`) that alternate reasoning (a call is in the engine) and acting (a tool runs). What it
 * keeps:
 * - One global waiting queue: a program not admitted is held out of the engine (its candidates are
 *   left out of `order`). A new program is admitted at once only when the queue is empty and the
 *   capacity left covers it; otherwise it queues.
 * - Capacity accounting by program: the active programs (reasoning and acting, not paused) need
 *   Σ tokens + n × decodeBufferTokens − max(0, n − 1) × sharedPrefixTokens of the device KV pool
 *   (`capacityTokens`); a program's tokens are its jobs' context lengths.
 * - A periodic check every `checkIntervalS` (the memory check that detects thrashing): first it
 *   resumes queued programs — those with a pending call that ran before, then new programs, then
 *   paused acting programs, each group shortest first — taking every one whose tokens + buffer
 *   still fit the capacity left (best fit on one engine); then, while the active programs need
 *   more than the capacity, it pauses acting programs, the shortest first, and when none is left
 *   marks reasoning programs, the shortest first, to be paused at their next tool call.
 *   Last, while programs with a call to run still queue, it pauses acting programs, the shortest
 *   first, to let them in (an acting program needs the engine only when its tool returns).
 * - A paused program's KV is given back to the engine's prefix cache ('release': vLLM evicts it
 *   when the room is needed), and when its tool returns it waits in the queue to be resumed.
 *   Shortest first follows the paper's Space-Time-Product cost model as we read it: recomputing
 *   a context of L tokens costs ∝ L², the memory it frees ∝ L, so the shortest programs free
 *   memory at the least recompute cost per token.
 * - Without pressure an acting program's KV stays on the device ('preserve'). Admitted calls run
 *   in the engine's own order (vLLM: running first, then first come first served per call), with
 *   recompute preemption.
 *
 * Where it had to guess (the paper's text on these points was not available to us; the values
 * are those of its released implementation, ThunderAgent-org/ThunderAgent, scheduler/router.py
 * and backend/state.py, or our choice where marked):
 * - checkIntervalS 5 s, decodeBufferTokens 256 per program, the three resume groups and their
 *   order, pausing acting programs before marking reasoning ones: from the released code.
 * - sharedPrefixTokens: ThunderAgent estimates the shared system prompt from the first request's
 *   text; the policy sees no text, so it is an option, default 0 (every program counted whole:
 *   admission is conservative when programs share a long prefix).
 * - Pausing acting programs for the queue's demand, not only for overflow, is our reading of
 *   "pauses acting programs so their KV can go"; with overflow alone a waiting program got in
 *   only as others finished (tau, load 0.5: 1.67× fcfs's mean JCT with no pressure at all).
 * - A marked program's tokens count as already released while the pause loop runs (the released
 *   code's `future_paused_tokens`), and it is paused when it next calls a tool.
 * - Pauses are decided in `order` (which runs every step); the paused programs' device KV is
 *   released by the next `revisitToolWaits`, one step later.
 * - Preserved KV of active acting programs: when the engine's planner must take some back, the
 *   one waiting longest goes first (vLLM's LRU prefix cache) and it is left to the prefix cache
 *   ('discard': only what new work overwrites is lost), as vLLM without offload would.
 * - Liveness: the engine fails a step that runs nothing, so when no candidate would be in the
 *   order (nothing running, nothing admitted), the head of the queue is resumed at once instead
 *   of at the next check (the released code forces a resume after 30 min). And the planner can
 *   take memory back only from calls in the order, so a held-back call that still has KV (its
 *   tool returned before its pause released it) is put last instead of left out: it runs only in
 *   room nobody ahead needs, and is the first preemption victim.
 * - Tokens of a program in a tool wait are its context when the call began; ThunderAgent counts
 *   prompt + completion of its last request, the same figure.
 */
import { EngineError } from '../errors.js';
import { byJobId } from './ordering.js';
import { groupOf, type PausedJobView, type Policy, type SchedulingCandidate, type ToolWaitKvAction, type WaitingJobView } from './policy.js';

/** The released code's memory check interval, seconds, and decode reserve per program, tokens. */
export const THUNDERAGENT_CHECK_INTERVAL_S = 5;
export const THUNDERAGENT_DECODE_BUFFER_TOKENS = 256;

export interface ThunderAgentOptions {
  /** Device KV pool, tokens. Default: unbounded (never under pressure) until the engine wires it. */
  capacityTokens?: () => number;
  /** Seconds between scheduler checks (resume, then pause until safe). Default 5. */
  checkIntervalS?: number;
  /** Tokens reserved per active program for its decode. Default 256. */
  decodeBufferTokens?: number;
  /** Tokens of prompt prefix all programs share, counted once. Default 0. */
  sharedPrefixTokens?: number;
  /** Preemption mode for a running sequence that cannot get memory. Default 'recompute'. */
  preemption?: 'recompute' | 'swap';
}

interface Program {
  id: string;
  /** Each live job's context tokens, and whether it waits on a tool. */
  jobs: Map<string, { tokens: number; acting: boolean }>;
  paused: boolean;
  /** Admitted at least once (a queued call of such a program is a resumed one, not a new one). */
  admitted: boolean;
  /** A reasoning program to pause at its next tool call. */
  marked: boolean;
}

export class ThunderAgentPolicy implements Policy {
  readonly name = 'thunderagent';
  readonly preemption: 'recompute' | 'swap';
  private readonly capacityTokens: () => number;
  readonly checkIntervalS: number;
  readonly decodeBufferTokens: number;
  private readonly sharedPrefixTokens: number;
  private readonly programs = new Map<string, Program>();
  private lastCheckS = -Infinity;

  constructor(options: ThunderAgentOptions = {}) {
    this.capacityTokens = options.capacityTokens ?? (() => Infinity);
    this.checkIntervalS = options.checkIntervalS ?? THUNDERAGENT_CHECK_INTERVAL_S;
    this.decodeBufferTokens = options.decodeBufferTokens ?? THUNDERAGENT_DECODE_BUFFER_TOKENS;
    this.sharedPrefixTokens = options.sharedPrefixTokens ?? 0;
    for (const [key, value] of [
      ['checkIntervalS', this.checkIntervalS],
      ['decodeBufferTokens', this.decodeBufferTokens],
      ['sharedPrefixTokens', this.sharedPrefixTokens],
    ] as const) {
      if (!(value >= 0 && Number.isFinite(value))) throw new EngineError('INVALID_ARGUMENT', `${key} must be a finite number >= 0, got ${value}`);
    }
    this.preemption = options.preemption ?? 'recompute';
  }

  /** Whether a program is paused (held in the global queue), for tests and metrics. */
  isPaused(groupId: string): boolean {
    return this.programs.get(groupId)?.paused ?? false;
  }

  /** Whether a reasoning program is marked to pause at its next tool call. */
  isMarked(groupId: string): boolean {
    return this.programs.get(groupId)?.marked ?? false;
  }

  order(candidates: readonly SchedulingCandidate[], nowS: number): SchedulingCandidate[] {
    // A new program goes straight in only if nobody queues ahead of it and it fits; programs
    // arriving together are taken in the order their calls were queued.
    const arrived = new Map<string, { p: Program; queuedS: number }>();
    for (const c of candidates) {
      const groupId = groupOf(c);
      const known = this.programs.get(groupId);
      const entry = arrived.get(groupId);
      const p = known ?? entry?.p ?? { id: groupId, jobs: new Map(), paused: true, admitted: false, marked: false };
      if (known === undefined) arrived.set(groupId, { p, queuedS: Math.min(entry?.queuedS ?? Infinity, c.segmentQueuedS) });
      p.jobs.set(c.jobId, { tokens: c.contextTokens, acting: false });
    }
    for (const { p } of [...arrived.values()].sort((a, b) => a.queuedS - b.queuedS || (a.p.id < b.p.id ? -1 : 1))) {
      if (!this.anyQueued() && this.need(p) <= this.remaining()) this.resume(p);
      this.programs.set(p.id, p);
    }
    if (nowS - this.lastCheckS >= this.checkIntervalS) {
      this.lastCheckS = nowS;
      this.resumeGreedy();
      this.pauseUntilSafe();
      this.makeRoomForWaiting();
    }
    const admitted: SchedulingCandidate[] = [];
    const holding: SchedulingCandidate[] = [];
    for (const c of candidates) {
      if (c.running || !this.programs.get(groupOf(c))!.paused) admitted.push(c);
      else if (holdsKv(c)) holding.push(c);
    }
    if (admitted.length === 0 && candidates.length > 0) {
      // Liveness: the engine must run something; the first queued program with a call goes in now.
      const calling = new Set(candidates.map((c) => this.programs.get(groupOf(c))!));
      const head = this.resumeQueue().find((p) => calling.has(p))!;
      this.resume(head);
      admitted.push(...candidates.filter((c) => this.programs.get(groupOf(c)) === head));
    }
    const fcfs = (a: SchedulingCandidate, b: SchedulingCandidate) => Number(b.running) - Number(a.running) || a.segmentQueuedS - b.segmentQueuedS || byJobId(a, b);
    // A held-back call whose KV is still on the device (its tool returned before the release)
    // goes last rather than out: the planner can only take back memory from calls it is shown.
    return [...admitted.sort(fcfs), ...holding.filter((c) => !admitted.includes(c)).sort(fcfs)];
  }

  onToolWait(job: PausedJobView, _nowS: number): ToolWaitKvAction {
    const p = this.programOf(job);
    p.jobs.set(job.jobId, { tokens: job.contextTokens, acting: true });
    if (p.marked && this.isActing(p)) {
      p.marked = false;
      p.paused = true;
    }
    return p.paused ? 'release' : 'preserve';
  }

  revisitToolWaits(jobs: readonly WaitingJobView[], _nowS: number): Map<string, 'release' | 'swap' | 'discard'> {
    const out = new Map<string, 'release' | 'swap' | 'discard'>();
    for (const job of jobs) {
      const p = this.programOf(job);
      p.jobs.set(job.jobId, { tokens: job.contextTokens, acting: true });
      if (p.paused && job.kv === 'device') out.set(job.jobId, 'release');
    }
    return out;
  }

  /** The longest-waiting first: the engine's prefix cache evicts least recently used. */
  reclaimOrder(jobs: readonly WaitingJobView[], _nowS: number): string[] {
    return [...jobs].sort((a, b) => b.waitedS - a.waitedS || (a.jobId < b.jobId ? -1 : 1)).map((j) => j.jobId);
  }

  reclaimAction(_job: WaitingJobView, _nowS: number): 'swap' | 'discard' {
    return 'discard';
  }

  onJobClosed(jobId: string): void {
    for (const p of this.programs.values()) p.jobs.delete(jobId);
  }

  onGroupClosed(groupId: string): void {
    this.programs.delete(groupId);
  }

  /** Resumes queued programs in priority order while each still fits what capacity is left. */
  private resumeGreedy(): void {
    let left = this.remaining();
    for (const p of this.resumeQueue()) {
      const need = this.need(p);
      if (need > left) continue; // a smaller one further on may still fit
      this.resume(p);
      left -= need;
    }
  }

  /** Pauses acting programs, the shortest first, then marks reasoning ones, until the active fit. */
  private pauseUntilSafe(): void {
    const capacity = this.capacityTokens();
    const shortestFirst = (ps: Program[]) => ps.sort((a, b) => this.tokens(a) - this.tokens(b));
    while (this.required(this.active().filter((p) => !p.marked)) > capacity) {
      const acting = shortestFirst(this.active().filter((p) => this.isActing(p)));
      if (acting.length > 0) {
        acting[0].paused = true;
        continue;
      }
      const reasoning = shortestFirst(this.active().filter((p) => !p.marked && !this.isActing(p)));
      if (reasoning.length === 0) break;
      reasoning[0].marked = true;
    }
  }

  /**
   * Pauses acting programs, the shortest first, so that queued programs with a call to run get
   * in: an acting program does not need the engine until its tool returns, a waiting one does
   * now. Without this a check only pauses until the active programs fit, leaves no room for the
   * queue, and a waiting program gets in only as others finish (tau at load 0.5: 85 programs
   * waiting at each check, 1.67× fcfs's mean JCT with no memory pressure at all).
   */
  private makeRoomForWaiting(): void {
    // Sorted once: a program resumed here is not acting, so the acting set only shrinks.
    const acting = this.active()
      .filter((a) => this.isActing(a))
      .sort((a, b) => this.tokens(a) - this.tokens(b));
    const room = (a: Program) => this.tokens(a) + this.decodeBufferTokens;
    let pausable = acting.reduce((sum, a) => sum + room(a), 0);
    for (const p of this.resumeQueue().filter((q) => !this.isActing(q))) {
      const need = this.need(p);
      if (need > this.remaining() + pausable) continue; // a smaller one further on may still fit
      while (need > this.remaining() && acting.length > 0) {
        const paused = acting.shift()!;
        paused.paused = true;
        pausable -= room(paused);
      }
      if (need <= this.remaining()) this.resume(p);
    }
  }

  /**
   * Queued programs in resume priority: with a pending call that ran before, then new ones, then
   * acting ones; the shortest first within each.
   */
  private resumeQueue(): Program[] {
    const rank = (p: Program) => (!this.isActing(p) && p.admitted ? 0 : !p.admitted ? 1 : 2);
    return [...this.programs.values()]
      .filter((p) => p.paused && p.jobs.size > 0)
      .sort((a, b) => rank(a) - rank(b) || this.tokens(a) - this.tokens(b) || (a.id < b.id ? -1 : 1));
  }

  private resume(p: Program): void {
    p.paused = false;
    p.admitted = true;
  }

  private anyQueued(): boolean {
    for (const p of this.programs.values()) if (p.paused && p.jobs.size > 0) return true;
    return false;
  }

  private active(): Program[] {
    return [...this.programs.values()].filter((p) => !p.paused && p.jobs.size > 0);
  }

  /** Capacity left over the active programs' need. */
  private remaining(): number {
    return this.capacityTokens() - this.required(this.active());
  }

  /** KV tokens the given programs need together (ThunderAgent's capacity constraint). */
  private required(ps: readonly Program[]): number {
    let tokens = 0;
    for (const p of ps) tokens += this.tokens(p);
    return tokens + ps.length * this.decodeBufferTokens - Math.max(0, ps.length - 1) * this.sharedPrefixTokens;
  }

  /** What admitting one more program adds to `required`. */
  private need(p: Program): number {
    const shared = this.active().length > 0 ? this.sharedPrefixTokens : 0;
    return this.tokens(p) + this.decodeBufferTokens - shared;
  }

  private tokens(p: Program): number {
    let sum = 0;
    for (const j of p.jobs.values()) sum += j.tokens;
    return sum;
  }

  /** Acting: every live job of the program waits on a tool. */
  private isActing(p: Program): boolean {
    if (p.jobs.size === 0) return false;
    for (const j of p.jobs.values()) if (!j.acting) return false;
    return true;
  }

  private programOf(job: { jobId: string; groupId?: string }): Program {
    const groupId = groupOf(job);
    let p = this.programs.get(groupId);
    if (p === undefined) {
      p = { id: groupId, jobs: new Map(), paused: false, admitted: true, marked: false };
      this.programs.set(groupId, p);
    }
    return p;
  }
}

/** The call's job has KV (leading context tokens computed), on the device or the host. */
function holdsKv(c: SchedulingCandidate): boolean {
  return c.pendingPrefillTokens + 1 < c.contextTokens;
}
