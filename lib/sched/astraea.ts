/**
 * `astraea`: the product's default policy — `astraea-paper` plus our own improvements, each behind
 * an option so an ablation can turn it off (docs/policies.md records each one's evidence).
 *
 * 1. `ageFrom: 'any'` (the paper ages only the lowest queue): a job demoted to a middle queue is
 *    aged to Q0 by its response ratio like any other, so a stream of fresh Q0 jobs cannot starve
 *    it. Evidence: test/native/starvation.test.ts.
 * 2. `kvRule: 'contention'` (the paper: 'watermark'): what a pausing job's KV costs depends on
 *    whether anything waits for that memory, not on how full the pool is. While the work waiting
 *    for memory fits in what is free, keep the KV (preserving costs nobody anything). Otherwise
 *    swap it out unless the tool returns before a copy out and back would finish; the engine
 *    runs the copy beside a step's compute, so unlike the paper's W_swap it holds no batch back.
 *    Discard only when the host pool is full (the engine's fallback) or when recomputing is
 *    cheaper than the round trip.
 * 3. `reclaim: 'remaining-time'`: each step, if work waits for memory that is not free, swap out
 *    preserved KV of jobs still waiting on tools — those expected to return last first (the
 *    tool-time predictor's conditional remaining time) — until the waiting work fits. The copies
 *    overlap compute; without this rule the step planner takes preserved KV back only when a job
 *    cannot fit, largest first, with a copy that stalls the step.
 * 4. Tried and dropped: preemption by swap (the copy out and back is cheaper than a prefill on
 *    the H100 profile). On tau-bench under memory pressure it cost 9% mean JCT: a recomputed
 *    victim's full blocks stay in the prefix cache and are mostly hit again, while a swapped one
 *    must come back whole. Preemption recomputes, as in the paper's baselines (option
 *    `preemption`).
 * 5. `waitBasis: 'age'` (the paper: accumulated wait): W in the response ratio is the time since
 *    the job arrived, tool waits included, so a job that has been in the system longer — and so
 *    is nearer its end — goes first. On airline under memory pressure: 83.7 s mean JCT against
 *    90.5 s with the paper's W.
 * 6. `tailRatio` (off by default): a waiting segment whose W passes `tailRatio` typical service
 *    times (the median T_proc of the candidates) is served before the others, oldest job first.
 *    HRRN otherwise lets a long prompt wait in proportion to its length. At 12 it brought chat
 *    under memory pressure back to fcfs's p99 for 5% of mean JCT, but cost tau-bench 16% mean
 *    JCT under pressure, so it stays an option.
 */
import { AstraeaPaperPolicy, type AstraeaPaperOptions } from './astraea-paper.js';
import type { MemoryView } from './kv-waste.js';
import type { PausedJobView, SchedulingCandidate, ToolWaitKvAction, WaitingJobView } from './policy.js';

export interface AstraeaOptions extends AstraeaPaperOptions {
  /** How a pausing job's KV is handled; see the header (rule 2). Default 'contention'. */
  kvRule?: 'contention' | 'watermark';
  /**
   * Rule 5: the W of the response ratio. 'age' (default): time since the job arrived, tool
   * waits included; 'accumulated' (the paper): time spent ready but not running.
   */
  waitBasis?: 'age' | 'accumulated';
  /**
   * Rule 6, tail protection: a waiting segment whose W passes this many typical service times
   * is served before the others, oldest job first. Default 12; Infinity turns it off.
   */
  tailRatio?: number;
  /** Rule 3: 'remaining-time' (default) or 'off'. */
  reclaim?: 'remaining-time' | 'off';
  /** Expected seconds until a tool call that has run `elapsedS` returns. Default: 1 s minus elapsed, at least 0. */
  toolRemainingS?: (tool: string, elapsedS: number, hintS?: number) => number;
}

export class AstraeaPolicy extends AstraeaPaperPolicy {
  override readonly name: string = 'astraea';
  private readonly kvRule: 'contention' | 'watermark';
  private readonly reclaim: 'remaining-time' | 'off';
  private readonly waitBasis: 'age' | 'accumulated';
  private readonly tailRatio: number;
  private readonly toolRemainingS: (tool: string, elapsedS: number, hintS?: number) => number;

  constructor(options: AstraeaOptions = {}) {
    super({ ageFrom: 'any', ...options });
    this.kvRule = options.kvRule ?? 'contention';
    this.reclaim = options.reclaim ?? 'remaining-time';
    this.waitBasis = options.waitBasis ?? 'age';
    this.tailRatio = options.tailRatio ?? Infinity;
    this.toolRemainingS = options.toolRemainingS ?? ((tool, elapsedS, hintS) => Math.max(0, this.toolTimeS(tool, hintS) - elapsedS));
  }

  override order(candidates: readonly SchedulingCandidate[], nowS: number): SchedulingCandidate[] {
    if (this.waitBasis === 'accumulated' && this.tailRatio === Infinity) return super.order(candidates, nowS);
    const seen =
      this.waitBasis === 'accumulated' ? candidates : candidates.map((c) => ({ ...c, accumulatedWaitS: Math.max(c.accumulatedWaitS, nowS - c.jobArrivalS) }));
    const ordered = this.tailRatio === Infinity ? super.order(seen, nowS) : this.protectTail(super.order(seen, nowS));
    const original = new Map(candidates.map((c) => [c.jobId, c]));
    return ordered.map((c) => original.get(c.jobId)!);
  }

  /**
   * Rule 6: waiting segments whose W passes tailRatio typical service times (the median T of
   * the candidates — a long job's own T would let it wait in proportion to its length) move
   * ahead of the other waiting ones, oldest job first; running ones keep their place.
   */
  private protectTail(ordered: SchedulingCandidate[]): SchedulingCandidate[] {
    const limitS = this.tailRatio * median(ordered.map((c) => this.serviceS(c)));
    const starves = (c: SchedulingCandidate) => !c.running && c.accumulatedWaitS > limitS;
    const starving = ordered.filter(starves).sort((a, b) => a.jobArrivalS - b.jobArrivalS);
    return [...ordered.filter((c) => c.running), ...starving, ...ordered.filter((c) => !c.running && !starves(c))];
  }

  override onToolWait(job: PausedJobView, nowS: number): ToolWaitKvAction {
    if (this.kvRule === 'watermark') return super.onToolWait(job, nowS);
    const memory = this.memory();
    if (!contended(memory)) return 'preserve';
    return this.awayAction(job.contextTokens, this.toolTimeS(job.tool, job.expectedToolS), memory) ?? 'preserve';
  }

  revisitToolWaits(jobs: readonly WaitingJobView[], _nowS: number): Map<string, 'release' | 'swap' | 'discard'> {
    const out = new Map<string, 'release' | 'swap' | 'discard'>();
    if (this.reclaim === 'off') return out;
    const memory = this.memory();
    if (!contended(memory)) return out;
    let deficit = memory.waitingTokens - (memory.freeTokens ?? 0);
    const held = jobs
      .filter((j) => j.kv === 'device')
      .map((j) => ({ j, remainingS: this.toolRemainingS(j.tool, j.waitedS, j.expectedToolS) }))
      .sort((a, b) => b.remainingS - a.remainingS);
    for (const { j, remainingS } of held) {
      if (deficit <= 0) break;
      const action = this.awayAction(j.contextTokens, remainingS, memory);
      if (action === null) break; // the rest return sooner still
      out.set(j.jobId, action);
      deficit -= j.contextTokens;
    }
    return out;
  }

  /**
   * Swap (or, if recomputing is cheaper, discard) the KV of a job away for `awayS` seconds; null
   * when it is back before a copy out and in would finish, so keeping it costs least.
   */
  private awayAction(contextTokens: number, awayS: number, memory: MemoryView): 'swap' | 'discard' | null {
    const roundTripS = (2 * contextTokens * memory.kvBytesPerToken) / memory.swapBytesPerS;
    const recomputeS = contextTokens * memory.prefillSPerToken;
    if (awayS <= Math.min(roundTripS, recomputeS)) return null;
    return recomputeS < roundTripS ? 'discard' : 'swap';
  }
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** Work waits for memory that is not free. */
function contended(memory: MemoryView): boolean {
  return memory.waitingTokens > (memory.freeTokens ?? 0);
}
