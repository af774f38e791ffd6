/**
 * `astraea-paper`: Astraea (arXiv 2512.14142) as its design section specifies it — Stateful-MLFQ
 * queues moved by token cost (./mlfq.ts), enhanced HRRN within a queue, and an adaptive KV manager
 * for tool waits (./kv-waste.ts). See ../shared/ASTRAEA-PAPER.md and DESIGN.md (Policies).
 *
 * Where it departs from, or fills in, the paper:
 * - Every value the paper leaves unknown is an option with a documented default: m = 4 queues,
 *   thresholds [256, 1024, 4096, ∞] decode-token equivalents, a prompt token costing 0.1 decode
 *   token, aging threshold 8, high watermark 0.8, and the predictors below. A one-at-a-time sweep
 *   (bench/policies/paper-unknowns.sh, docs/policies.md) found no value better by more than seed noise.
 * - T_proc (service-time predictor): injectable `serviceTime`; the default stands in for the
 *   paper's profiled f_prefill + oracle n_gen with
 *   max(1, pendingPrefill × prefillTokenCost + 128 − generated) × 0.02 s. A result ≤ 0 or not
 *   finite is clamped to 1e-9 s so the ratio stays defined.
 * - Tool duration T_tool: injectable `toolTimeS` (the paper uses per-category means); default 1 s.
 * - `onToolWait` sees no memory, so device memory comes from the `memory` option. Its default
 *   reports an empty device (usedFraction 0), i.e. always preserve, until the engine wires a
 *   real view. C_batch = min(waiting tokens, C_self).
 * - Segment-level preemption. The step planner preempts from the end of `order`'s result, so a
 *   waiting segment ranked above a running one could evict it. With `runningFirst: 'all'`
 *   (default) every running candidate is ranked before every waiting one (running ones among
 *   themselves, and waiting ones among themselves, by queue then HRRN): a running segment is never
 *   displaced by a new arrival, which takes effect once running segments end (the paper's "next
 *   cycle"). Only a memory shortage among running segments evicts one, the lowest ranked.
 *   `runningFirst: 'queue'` ranks running first only within its own queue, so a waiting segment of
 *   a higher queue outranks it.
 * - "Each cycle" is each `order` call (each engine step): aging is checked for the lowest queue's
 *   candidates then. Jobs not in `order` (paused on a tool) are not aged: their W and T are unknown.
 * - Preemption when memory runs out mid-segment: 'recompute' by default, like the baselines (the
 *   paper does not say; its KV manager only covers tool waits); option `preemption`.
 * - Ties in HRRN score go to the earlier job arrival, then job id.
 */
import { kvWaste, kvWasteInputs, type MemoryView } from './kv-waste.js';
import { StatefulMlfq, type MlfqOptions } from './mlfq.js';
import { sortNearlyOrdered } from './ordering.js';
import { groupOf, type PausedJobView, type Policy, type SchedulingCandidate, type SegmentEndView, type ToolWaitKvAction } from './policy.js';

export interface AstraeaPaperOptions extends MlfqOptions {
  /** Seconds of decode per generated token, for the default service time. Default 0.02. */
  decodeSPerToken?: number;
  /** Output tokens assumed per segment by the default service time. Default 128. */
  assumedOutputTokens?: number;
  /** T_proc of a segment, seconds. Default: see the header. */
  serviceTime?: (candidate: SchedulingCandidate) => number;
  /** Fraction of device blocks in use above which the KV manager stops always preserving. Default 0.8. */
  highWatermark?: number;
  /**
   * Device memory now. Default: usedFraction 0, waitingTokens 0, kvBytesPerToken 131072
   * (Llama-3-8B bf16: 32 layers × 8 KV heads × 128 × 2 × 2 B), swapBytesPerS 25e9 (PCIe 4 x16),
   * prefillSPerToken decodeSPerToken × prefillTokenCost.
   */
  memory?: () => MemoryView;
  /** Predicted duration of a tool call, seconds. Default 1 s for every tool. */
  toolTimeS?: (tool: string, hintS?: number) => number;
  /** How running segments keep their place; see the header. Default 'all'. */
  runningFirst?: 'all' | 'queue';
  /** Preemption mode for a running segment that cannot get memory. Default 'recompute'. */
  preemption?: 'recompute' | 'swap';
}

export class AstraeaPaperPolicy implements Policy {
  readonly name: string = 'astraea-paper';
  readonly preemption: 'recompute' | 'swap';
  readonly mlfq: StatefulMlfq;
  private readonly serviceTime: (candidate: SchedulingCandidate) => number;
  private readonly highWatermark: number;
  protected readonly memory: () => MemoryView;
  protected readonly toolTimeS: (tool: string, hintS?: number) => number;
  private readonly runningFirst: 'all' | 'queue';

  constructor(options: AstraeaPaperOptions = {}) {
    this.mlfq = new StatefulMlfq(options);
    const cost = this.mlfq.prefillTokenCost;
    const decodeS = options.decodeSPerToken ?? 0.02;
    const output = options.assumedOutputTokens ?? 128;
    this.serviceTime =
      options.serviceTime ??
      ((c) => Math.max(1, c.pendingPrefillTokens * cost + output - c.generatedTokens) * decodeS);
    this.highWatermark = options.highWatermark ?? 0.8;
    const prefillSPerToken = decodeS * cost;
    this.memory =
      options.memory ??
      (() => ({ usedFraction: 0, waitingTokens: 0, kvBytesPerToken: 131072, swapBytesPerS: 25e9, prefillSPerToken }));
    this.toolTimeS = options.toolTimeS ?? ((_tool, hintS) => hintS ?? 1);
    this.runningFirst = options.runningFirst ?? 'all';
    this.preemption = options.preemption ?? 'recompute';
  }

  /** HRRN score (W + T_proc)/T_proc of a candidate. */
  score(c: SchedulingCandidate): number {
    const t = this.serviceS(c);
    return (c.accumulatedWaitS + t) / t;
  }

  order(candidates: readonly SchedulingCandidate[], nowS: number): SchedulingCandidate[] {
    // Keys first (aging may move a job to Q0 before its queue is read), so the sort compares
    // numbers: `group` folds running-first and the queue into one integer, ordered as
    // (running first, queue) with runningFirst 'all' and (queue, running first) with 'queue'.
    const levels = this.mlfq.levels;
    const runningFirstAll = this.runningFirst === 'all';
    const keyed: { c: SchedulingCandidate; group: number; score: number }[] = [];
    for (const c of candidates) {
      const w = this.waitS(c, nowS);
      const t = this.serviceS(c);
      const level = this.mlfq.ageAndLevel(groupOf(c), w, t);
      const waiting = c.running ? 0 : 1;
      keyed.push({ c, group: runningFirstAll ? waiting * levels + level : level * 2 + waiting, score: (w + t) / t });
    }
    // The coarse key orders by group, then by score descending (W ≥ 0, so score ≥ 1 and
    // 0.5/score ∈ (0, 0.5] keeps the groups apart).
    return sortNearlyOrdered(
      keyed,
      (k) => k.group + 0.5 / k.score,
      (a, b) =>
        a.group - b.group ||
        b.score - a.score ||
        a.c.jobArrivalS - b.c.jobArrivalS ||
        (a.c.jobId < b.c.jobId ? -1 : a.c.jobId > b.c.jobId ? 1 : 0),
    ).map((k) => k.c);
  }

  onSegmentEnd(segment: SegmentEndView, _nowS: number): void {
    this.mlfq.onSegmentEnd(segment);
  }

  onToolWait(job: PausedJobView, _nowS: number): ToolWaitKvAction {
    const memory = this.memory();
    if (memory.usedFraction <= this.highWatermark) return 'preserve';
    return kvWaste(kvWasteInputs(job.contextTokens, this.toolTimeS(job.tool, job.expectedToolS), memory)).choice;
  }

  /** Queues are kept per group (a job alone is its own): the fan-out of one run moves as one job. */
  onGroupClosed(groupId: string): void {
    this.mlfq.drop(groupId);
  }

  queueLevel(groupId: string): number {
    return this.mlfq.level(groupId);
  }

  /** W of a candidate's response ratio: its accumulated wait (the paper). */
  protected waitS(c: SchedulingCandidate, _nowS: number): number {
    return c.accumulatedWaitS;
  }

  /** T_proc of a candidate, clamped so the ratio stays defined. */
  protected serviceS(c: SchedulingCandidate): number {
    const t = this.serviceTime(c);
    return Number.isFinite(t) && t > 0 ? t : 1e-9;
  }
}
