/**
 * Per-job state machine with timing accounting. The scheduler orders whole jobs, so it needs
 * what a per-request engine forgets: how long the job has waited across all of its segments (the
 * W of HRRN), where its KV is during a tool wait, and a JCT that counts tool time.
 *
 * States (every instant of a job's life is in exactly one, so queueing + running + tool = JCT):
 * - waiting:   queued for the GPU. A new job (its first segment), or a running segment that was
 *              preempted; either way the job wants compute and is not getting it, so it counts as
 *              queueing and towards W.
 * - running:   in the batch. Only here may tokens be generated or prefill counted; its KV is
 *              resident by definition.
 * - tool_wait: the segment ended in a tool call; the job wants nothing from the GPU, so this is
 *              tool time, not queueing. Its KV is whatever the KV policy made it (setKv).
 * - ready:     the tool returned and the next segment is open but not yet scheduled. Kept apart
 *              from waiting so a policy can see "resumed after a tool" jobs (whose KV may need a
 *              swap-in or a recompute); it counts as queueing like waiting.
 * - finished / cancelled: terminal; the job holds no KV (kv = 'none'), its owner frees the blocks.
 *
 * Transitions: startSegment (opens the first segment; in ready it restates the open segment's
 * input size), scheduled (waiting|ready -> running), preempted (running -> waiting, KV discarded or
 * swapped), endSegment (running -> tool_wait on a tool call, else finished), toolReturned
 * (tool_wait -> ready, opens the next segment), cancel (any non-terminal -> cancelled). An illegal
 * one is a caller bug and throws EngineError('INVALID_STATE') naming the job, state and action.
 *
 * KV sub-state moves only while the job is off the GPU (waiting, ready, tool_wait): see KV_NEXT.
 * 'none' means no KV exists yet (never scheduled) or any more (terminal).
 *
 * Accounting is O(1) per change: one running total per time bucket plus the time the current
 * state was entered; readings add the open interval up to now.
 */
import { EngineError } from '../errors.js';
import type { Clock } from './clock.js';

export type JobState = 'waiting' | 'running' | 'tool_wait' | 'ready' | 'finished' | 'cancelled';
export type KvState = 'resident' | 'swapping_out' | 'swapped' | 'discarded' | 'swapping_in' | 'none';
export type SegmentEndReason = 'stop' | 'length' | 'tool_call' | 'cancelled';

export interface SegmentTiming {
  index: number;
  queuedAt: number;
  firstScheduledAt: number | null;
  firstTokenAt: number | null;
  endedAt: number | null;
  inputTokens: number;
  outputTokens: number;
  /** Prefill tokens actually computed, recomputation after a discard included. */
  prefillTokensComputed: number;
  endReason: SegmentEndReason | null;
  /** The tool call that ended the segment; endedAt stays null if the job is cancelled first. */
  tool: { name: string; startedAt: number; endedAt: number | null } | null;
}

export interface StateTransition {
  at: number;
  from: JobState;
  to: JobState;
}

export interface JobMetrics {
  /** end − arrival; null until finished or cancelled. */
  jctS: number | null;
  /** Time in waiting or ready. */
  queueingS: number;
  /** Time in tool_wait. */
  toolS: number;
  runningS: number;
  /** First token of the first segment − arrival. */
  ttftS: number | null;
  segments: number;
  outputTokens: number;
  /** Per segment, prefill computed beyond its own input tokens (recompute after a discard). */
  recomputedPrefillTokens: number;
  /**
   * Time spent getting KV back after it left the device: queued while a swap-in ran (part of
   * queueingS) plus the share of running steps spent on recompute or on a blocking swap-in (part
   * of runningS, reported by the engine through kvRecovered). So queueing − kvRecoveryQueuedS,
   * running − kvRecoveryRunningS, tool and kvRecoveryS add up to the JCT.
   */
  kvRecoveryS: number;
  kvRecoveryQueuedS: number;
  kvRecoveryRunningS: number;
}

/**
 * Legal KV moves via setKv. A swap can be aborted before it completes (swapping_out -> resident,
 * the device blocks are still there); a swapped copy can be dropped under host-pool pressure.
 * Getting back from 'discarded' is a recompute, which happens by running, not by setKv.
 */
const KV_NEXT: Record<KvState, readonly KvState[]> = {
  none: [],
  resident: ['swapping_out', 'discarded'],
  swapping_out: ['swapped', 'resident'],
  swapped: ['swapping_in', 'discarded'],
  swapping_in: ['resident'],
  discarded: [],
};

const TERMINAL: ReadonlySet<JobState> = new Set<JobState>(['finished', 'cancelled']);

function checkTokens(jobId: string, what: string, n: number, min = 0): void {
  if (!Number.isInteger(n) || n < min) {
    throw new EngineError('INVALID_ARGUMENT', `job ${jobId}: ${what} must be an integer >= ${min}, got ${n}`);
  }
}

export class JobStateMachine {
  readonly id: string;
  readonly arrivalTime: number;

  private readonly clock: Clock;
  private _state: JobState = 'waiting';
  private _kv: KvState = 'none';
  private readonly _segments: SegmentTiming[] = [];
  private readonly log: StateTransition[] = [];
  private enteredAt: number;
  private endedAt: number | null = null;
  // Closed-interval totals, per bucket.
  private queueingDone = 0;
  private runningDone = 0;
  private toolDone = 0;
  /** KV recovery (see JobMetrics.kvRecoveryS): queued behind a swap-in, and while running. */
  private swapInWaitS = 0;
  private swapInSince: number | null = null;
  private recoveryRunningS = 0;
  private outputTotal = 0;
  /** Prefill tokens computed over all segments (with outputTotal: attainedTokens in O(1)). */
  private prefillTotal = 0;
  /** The current segment's queuedAt (undefined before the first), read without touching the segment. */
  private currentQueuedAt: number | undefined;

  constructor(id: string, clock: Clock, arrivalTime?: number) {
    this.id = id;
    this.clock = clock;
    const now = clock.now();
    const arrival = arrivalTime ?? now;
    if (!Number.isFinite(arrival) || arrival > now) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `job ${id}: arrival time ${arrival} must be finite and not after the clock's now (${now})`,
      );
    }
    this.arrivalTime = arrival;
    this.enteredAt = arrival;
  }

  get state(): JobState {
    return this._state;
  }

  get kv(): KvState {
    return this._kv;
  }

  get segments(): readonly SegmentTiming[] {
    return this._segments;
  }

  /** Every state change in order, for debugging. */
  get transitions(): readonly StateTransition[] {
    return this.log;
  }

  startSegment(inputTokens: number): void {
    checkTokens(this.id, 'inputTokens', inputTokens);
    if (this._state === 'waiting' && this._segments.length === 0) {
      this._segments.push(this.newSegment(0, inputTokens));
      return;
    }
    const seg = this.current();
    if (this._state === 'ready' && seg !== undefined && seg.firstScheduledAt === null) {
      // The segment was opened by toolReturned; the caller now knows its true input size.
      seg.inputTokens = inputTokens;
      return;
    }
    throw this.illegal('startSegment');
  }

  scheduled(): void {
    if ((this._state !== 'waiting' && this._state !== 'ready') || this._segments.length === 0) {
      throw this.illegal('scheduled');
    }
    if (this._kv === 'swapping_out') {
      // The device blocks are being released; the caller must finish or abort the swap first.
      throw this.illegal('scheduled', `its KV is ${this._kv}`);
    }
    const seg = this.current()!;
    this.closeSwapInWait();
    this.moveTo('running');
    if (seg.firstScheduledAt === null) seg.firstScheduledAt = this.enteredAt;
    this._kv = 'resident';
  }

  preempted(kv: 'discarded' | 'swapped'): void {
    if (this._state !== 'running') throw this.illegal(`preempted(${kv})`);
    if (kv !== 'discarded' && kv !== 'swapped') {
      throw new EngineError('INVALID_ARGUMENT', `job ${this.id}: preempted KV must be 'discarded' or 'swapped', got ${String(kv)}`);
    }
    this.moveTo('waiting');
    this._kv = kv;
  }

  tokenGenerated(count = 1): void {
    checkTokens(this.id, 'token count', count, 1);
    if (this._state !== 'running') throw this.illegal('tokenGenerated');
    const seg = this.current()!;
    if (seg.firstTokenAt === null) seg.firstTokenAt = this.clock.now();
    seg.outputTokens += count;
    this.outputTotal += count;
  }

  prefillComputed(tokens: number): void {
    checkTokens(this.id, 'prefill tokens', tokens);
    if (this._state !== 'running') throw this.illegal('prefillComputed');
    this.current()!.prefillTokensComputed += tokens;
    this.prefillTotal += tokens;
  }

  endSegment(reason: 'stop' | 'length' | 'tool_call', tool?: { name: string }): void {
    if (this._state !== 'running') throw this.illegal(`endSegment(${reason})`);
    if (reason === 'tool_call') {
      if (tool === undefined || typeof tool.name !== 'string' || tool.name === '') {
        throw new EngineError('INVALID_ARGUMENT', `job ${this.id}: endSegment('tool_call') needs a tool with a name`);
      }
    } else if (reason === 'stop' || reason === 'length') {
      if (tool !== undefined) {
        throw new EngineError('INVALID_ARGUMENT', `job ${this.id}: endSegment('${reason}') cannot carry a tool call`);
      }
    } else {
      throw new EngineError('INVALID_ARGUMENT', `job ${this.id}: unknown segment end reason ${String(reason)}`);
    }
    const seg = this.current()!;
    if (reason === 'tool_call') {
      this.moveTo('tool_wait');
      seg.tool = { name: tool!.name, startedAt: this.enteredAt, endedAt: null };
    } else {
      this.moveTo('finished');
    }
    seg.endedAt = this.enteredAt;
    seg.endReason = reason;
  }

  setKv(kv: KvState): void {
    if (this._state !== 'waiting' && this._state !== 'ready' && this._state !== 'tool_wait') {
      throw this.illegal(`setKv(${kv})`);
    }
    if (!KV_NEXT[this._kv].includes(kv)) {
      throw new EngineError(
        'INVALID_STATE',
        `job ${this.id}: KV cannot go from ${this._kv} to ${kv} (state ${this._state}, action setKv)`,
      );
    }
    this.closeSwapInWait();
    this._kv = kv;
    if (kv === 'swapping_in') this.swapInSince = this.clock.now();
  }

  /**
   * The KV was swapped out whole: resident → swapping_out → swapped as one transition. The engine
   * issues the copy with the next step, and nothing can reuse the device blocks before it is done.
   */
  swappedOut(): void {
    this.setKv('swapping_out');
    this.setKv('swapped');
  }

  /** Running time the engine spent recovering this job's KV (recompute, a blocking swap-in). */
  kvRecovered(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new EngineError('INVALID_ARGUMENT', `job ${this.id}: kvRecovered needs a finite seconds >= 0, got ${seconds}`);
    }
    if (this._state !== 'running') throw this.illegal('kvRecovered');
    this.recoveryRunningS += seconds;
  }

  toolReturned(inputTokens: number): void {
    checkTokens(this.id, 'inputTokens', inputTokens);
    if (this._state !== 'tool_wait') throw this.illegal('toolReturned');
    const prev = this.current()!;
    this.moveTo('ready');
    prev.tool!.endedAt = this.enteredAt;
    this._segments.push(this.newSegment(prev.index + 1, inputTokens));
  }

  cancel(): void {
    if (TERMINAL.has(this._state)) throw this.illegal('cancel');
    const seg = this.current();
    this.moveTo('cancelled');
    if (seg !== undefined && seg.endedAt === null) {
      seg.endedAt = this.enteredAt;
      seg.endReason = 'cancelled';
    }
  }

  metrics(): JobMetrics {
    const open = this.openInterval();
    let recomputed = 0;
    for (const s of this._segments) recomputed += Math.max(0, s.prefillTokensComputed - s.inputTokens);
    const first = this._segments[0];
    const openSwapIn = this._kv === 'swapping_in' && this.swapInSince !== null && this.isQueued() ? this.clock.now() - this.swapInSince : 0;
    const swapInWait = this.swapInWaitS + openSwapIn;
    return {
      jctS: this.endedAt === null ? null : this.endedAt - this.arrivalTime,
      queueingS: this.queueingDone + (this.isQueued() ? open : 0),
      toolS: this.toolDone + (this._state === 'tool_wait' ? open : 0),
      runningS: this.runningDone + (this._state === 'running' ? open : 0),
      ttftS: first === undefined || first.firstTokenAt === null ? null : first.firstTokenAt - this.arrivalTime,
      segments: this._segments.length,
      outputTokens: this.outputTotal,
      recomputedPrefillTokens: recomputed,
      kvRecoveryS: swapInWait + this.recoveryRunningS,
      kvRecoveryQueuedS: swapInWait,
      kvRecoveryRunningS: this.recoveryRunningS,
    };
  }

  /** Ends an open swap-in wait (the copy finished, or the job was scheduled with it). */
  private closeSwapInWait(): void {
    if (this._kv !== 'swapping_in' || this.swapInSince === null) return;
    if (this.isQueued()) this.swapInWaitS += this.clock.now() - this.swapInSince;
    this.swapInSince = null;
  }

  /** When the current segment queued (its queuedAt); undefined before the first segment. */
  get currentSegmentQueuedAt(): number | undefined {
    return this.currentQueuedAt;
  }

  /**
   * Service received so far, all segments: prefill tokens computed + tokens generated (the sum of
   * the segments' prefillTokensComputed + outputTokens, kept as it grows: the planner reads it for
   * every job at every step).
   */
  attainedTokens(): number {
    return this.prefillTotal + this.outputTotal;
  }

  /**
   * W so far: time spent waiting or ready. `nowS` is the clock's now, for a caller that reads many
   * jobs at one instant (the planner, every job at every step): a wall-clock read costs more than
   * the rest of this.
   */
  accumulatedWaitS(nowS: number = this.clock.now()): number {
    return this.queueingDone + (this.isQueued() ? nowS - this.enteredAt : 0);
  }

  private isQueued(): boolean {
    return this._state === 'waiting' || this._state === 'ready';
  }

  private openInterval(): number {
    return TERMINAL.has(this._state) ? 0 : this.clock.now() - this.enteredAt;
  }

  private current(): SegmentTiming | undefined {
    return this._segments[this._segments.length - 1];
  }

  /** A new segment, queued now; the caller makes it the current one. */
  private newSegment(index: number, inputTokens: number): SegmentTiming {
    this.currentQueuedAt = this.clock.now();
    return {
      index,
      queuedAt: this.currentQueuedAt,
      firstScheduledAt: null,
      firstTokenAt: null,
      endedAt: null,
      inputTokens,
      outputTokens: 0,
      prefillTokensComputed: 0,
      endReason: null,
      tool: null,
    };
  }

  /** Closes the current state's interval into its bucket, then enters `to` at now. */
  private moveTo(to: JobState): void {
    const now = this.clock.now();
    const spent = now - this.enteredAt;
    if (spent < 0) {
      throw new EngineError('INVALID_STATE', `job ${this.id}: clock went backwards (${now} < ${this.enteredAt})`);
    }
    const from = this._state;
    if (from === 'running') this.runningDone += spent;
    else if (from === 'tool_wait') this.toolDone += spent;
    else if (from === 'waiting' || from === 'ready') this.queueingDone += spent;
    this.log.push({ at: now, from, to });
    this._state = to;
    this.enteredAt = now;
    if (TERMINAL.has(to)) {
      this.endedAt = now;
      this._kv = 'none';
    }
  }

  private illegal(action: string, why?: string): EngineError {
    const detail = why === undefined ? '' : ` (${why})`;
    return new EngineError('INVALID_STATE', `job ${this.id}: cannot ${action} in state ${this._state}${detail}`);
  }
}
