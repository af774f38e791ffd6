/**
 * How many segments a job of a kind has left (DESIGN.md, Predictors): the segment counts of
 * finished jobs, per kind, in a sliding window. A job on segment i (0-based) is known to have
 * N > i segments, so its expected segments after this one are E[N − i − 1 | N > i], the mean
 * excess of the observed counts over i, less one. With no observation above i the answer is
 * 0: the job is taken to end with this segment.
 */
import { checkFiniteNonNegative, DEFAULT_WINDOW_SIZE, RunningStats } from './running-stats.js';

export class JobLengthPredictor {
  private readonly byKind = new Map<string, RunningStats>();

  constructor(private readonly windowSize: number = DEFAULT_WINDOW_SIZE) {}

  /** A job of `kind` finished after `segments` segments. */
  observe(kind: string, segments: number): void {
    checkFiniteNonNegative('segments', segments);
    let stats = this.byKind.get(kind);
    if (!stats) {
      stats = new RunningStats(this.windowSize);
      this.byKind.set(kind, stats);
    }
    stats.observe(segments);
  }

  /** Expected segments after segment `segmentIndex` (0-based) of a job of `kind`. */
  futureSegments(kind: string, segmentIndex: number): number {
    const excess = this.byKind.get(kind)?.meanExcessOver(segmentIndex);
    return excess === undefined ? 0 : Math.max(0, excess - 1);
  }
}
