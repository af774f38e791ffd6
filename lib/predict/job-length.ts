/**
 * How many segments a job of a kind has left (DESIGN.md, Predictors): the segment counts of
 * finished jobs, per kind, in a sliding window. A job on segment i (0-based) is known to have
 * N > i segments, so its expected segments after this one are E[N − i − 1 | N > i], the mean
 * excess of the observed counts over i, less one. With no observation above i the answer is
 * 0: the job is taken to end with this segment. The chance that segment i is the last is
 * P(N = i + 1 | N > i) over the same counts (1 with none above i), which astraea's
 * `admissionOrder: 'likeliest-to-end'` option ranks by (lib/sched/astraea.ts, rule 11; off by
 * default). Every policy gets both in its candidates.
 */
import { checkFiniteNonNegative, DEFAULT_WINDOW_SIZE, type RunningStats, statsFor } from './running-stats.js';

export class JobLengthPredictor {
  private readonly byKind = new Map<string, RunningStats>();

  constructor(private readonly windowSize: number = DEFAULT_WINDOW_SIZE) {}

  /** A job of `kind` finished after `segments` segments. */
  observe(kind: string, segments: number): void {
    checkFiniteNonNegative('segments', segments);
    statsFor(this.byKind, kind, this.windowSize).observe(segments);
  }

  /**
   * The chance that segment `segmentIndex` (0-based) is the last of a job of `kind`: of the
   * finished jobs that ran more than `segmentIndex` segments, the share that ran exactly one
   * more. With none observed past it, 1 (as futureSegments, the job is taken to end here).
   */
  lastSegmentChance(kind: string, segmentIndex: number): number {
    return this.byKind.get(kind)?.chanceAtMostGiven(segmentIndex + 1, segmentIndex) ?? 1;
  }

  /** Expected segments after segment `segmentIndex` (0-based) of a job of `kind`. */
  futureSegments(kind: string, segmentIndex: number): number {
    const excess = this.byKind.get(kind)?.meanExcessOver(segmentIndex);
    return excess === undefined ? 0 : Math.max(0, excess - 1);
  }
}
