/**
 * Astraea's Stateful-MLFQ: m strict-priority queues Q0 (highest) … Q(m−1), each with a token-cost
 * threshold. Jobs move by the work a segment received, not by time slices: a new job enters Q0; at
 * a segment's end a cost above its queue's threshold marks the job compute-intensive (down one
 * queue), a tool call reached within the quota marks it I/O-intensive (up one queue), any other
 * end (final answer within quota) leaves it where it is. Aging: a job in Q(m−1) whose response
 * ratio (W + T)/T exceeds the aging threshold jumps to Q0.
 */
import { EngineError } from '../errors.js';
import { groupOf, type SegmentEndView } from './policy.js';

export interface MlfqOptions {
  /** m, the number of queues. Default: the length of `thresholds`, else 4. */
  levels?: number;
  /**
   * Token-cost threshold per queue, in decode-token equivalents. Default for m queues:
   * 256·4^q for q < m−1 and ∞ for the last (m = 4: [256, 1024, 4096, ∞]).
   */
  thresholds?: readonly number[];
  /** Cost of one computed prompt token in decode tokens (prefill/decode time per token). Default 0.1. */
  prefillTokenCost?: number;
  /** Response ratio (W + T)/T above which a job jumps to Q0. Default 8. */
  agingThreshold?: number;
  /**
   * Which queues age: 'lowest' (the paper: only the lowest queue) or 'any' (every queue below Q0,
   * so a demoted job cannot starve behind a stream of fresh Q0 jobs). Default 'lowest'.
   */
  ageFrom?: 'lowest' | 'any';
}

export type QueueMove = 'down' | 'up' | 'stay';

export function defaultThresholds(levels: number): number[] {
  return Array.from({ length: levels }, (_, q) => (q === levels - 1 ? Infinity : 256 * 4 ** q));
}

export class StatefulMlfq {
  readonly levels: number;
  readonly thresholds: readonly number[];
  readonly prefillTokenCost: number;
  readonly agingThreshold: number;
  readonly ageFrom: 'lowest' | 'any';
  private readonly queueOf = new Map<string, number>();

  constructor(options: MlfqOptions = {}) {
    const levels = options.levels ?? options.thresholds?.length ?? 4;
    if (!Number.isInteger(levels) || levels < 1) {
      throw new EngineError('INVALID_ARGUMENT', `mlfq levels must be an integer ≥ 1, got ${levels}`);
    }
    const thresholds = options.thresholds ? [...options.thresholds] : defaultThresholds(levels);
    if (thresholds.length !== levels) {
      throw new EngineError('INVALID_ARGUMENT', `mlfq needs ${levels} thresholds, got ${thresholds.length}`);
    }
    if (thresholds.some((t) => !(t > 0))) {
      throw new EngineError('INVALID_ARGUMENT', 'mlfq thresholds must be positive');
    }
    this.levels = levels;
    this.thresholds = thresholds;
    this.prefillTokenCost = options.prefillTokenCost ?? 0.1;
    this.agingThreshold = options.agingThreshold ?? 8;
    this.ageFrom = options.ageFrom ?? 'lowest';
    if (!(this.prefillTokenCost >= 0)) throw new EngineError('INVALID_ARGUMENT', 'prefillTokenCost must be ≥ 0');
    if (!(this.agingThreshold > 0)) throw new EngineError('INVALID_ARGUMENT', 'agingThreshold must be > 0');
  }

  /** The job's queue; an unknown job is new and enters Q0. */
  level(jobId: string): number {
    let q = this.queueOf.get(jobId);
    if (q === undefined) {
      q = 0;
      this.queueOf.set(jobId, q);
    }
    return q;
  }

  /** The queue of a known job, without registering it. */
  peek(jobId: string): number | undefined {
    return this.queueOf.get(jobId);
  }

  /** Token cost of a segment: generated tokens + computed prompt tokens × prefillTokenCost. */
  cost(segment: Pick<SegmentEndView, 'generatedTokens' | 'computedPromptTokens'>): number {
    return segment.generatedTokens + segment.computedPromptTokens * this.prefillTokenCost;
  }

  /** Moves the job by what its segment received; returns the move made. */
  onSegmentEnd(segment: SegmentEndView): QueueMove {
    const id = groupOf(segment); // a fan-out moves as one job
    const q = this.level(id);
    if (this.cost(segment) > this.thresholds[q]) {
      if (q === this.levels - 1) return 'stay';
      this.queueOf.set(id, q + 1);
      return 'down';
    }
    if (segment.reason === 'tool_call') {
      if (q === 0) return 'stay';
      this.queueOf.set(id, q - 1);
      return 'up';
    }
    return 'stay';
  }

  /**
   * Aging: if the job is in a queue that ages (the lowest, or any below Q0 with ageFrom 'any') and
   * (waitS + serviceS)/serviceS exceeds the aging threshold, move it to Q0. Returns whether it moved.
   */
  age(jobId: string, waitS: number, serviceS: number): boolean {
    const before = this.level(jobId);
    return this.ageAndLevel(jobId, waitS, serviceS) !== before;
  }

  /** Aging as `age`, then the job's queue (one lookup: the policies' order calls it per candidate). */
  ageAndLevel(jobId: string, waitS: number, serviceS: number): number {
    const q = this.level(jobId);
    if (q === 0 || (this.ageFrom === 'lowest' && q !== this.levels - 1)) return q;
    if ((waitS + serviceS) / serviceS <= this.agingThreshold) return q;
    this.queueOf.set(jobId, 0);
    return 0;
  }

  drop(jobId: string): void {
    this.queueOf.delete(jobId);
  }
}
