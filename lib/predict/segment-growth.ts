/**
 * How many tokens a job's later segments add to its context: the tool result or user turn that
 * opens a segment plus the output it generates, per kind, in a sliding window. A job's first
 * segment is left out: its prompt is known when it arrives, and is not what the job will grow by.
 * The step planner scales it by the segments expected after the current one (./job-length.ts), up
 * to 1, into each candidate's `nextSegmentTokens`: what a job will hold when it is back from its
 * next tool call, which astraea's working-set admission reserves (lib/sched/working-set.ts, rule
 * 16). With nothing observed for a kind the answer is 0: no growth is assumed.
 */
import { checkFiniteNonNegative, DEFAULT_WINDOW_SIZE, type RunningStats, statsFor } from './running-stats.js';

export class SegmentGrowthPredictor {
  private readonly byKind = new Map<string, RunningStats>();

  constructor(private readonly windowSize: number = DEFAULT_WINDOW_SIZE) {}

  /** A later segment (not a job's first) of a job of `kind` added `tokens` to its context. */
  observe(kind: string, tokens: number): void {
    checkFiniteNonNegative('tokens', tokens);
    statsFor(this.byKind, kind, this.windowSize).observe(tokens);
  }

  /** Tokens a later segment of a job of `kind` is expected to add (0 with none observed). */
  perSegment(kind: string): number {
    const stats = this.byKind.get(kind);
    return stats && stats.windowCount > 0 ? stats.mean() : 0;
  }
}
