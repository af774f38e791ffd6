/**
 * How many tokens a job's later segments add to its context (DESIGN.md, Predictors): the tool
 * result or user turn that opens a segment plus the output it generates, per kind, in a sliding
 * window. A job's first segment is left out: its prompt is known when it arrives, and is not what
 * the job will grow by. With the expected count of segments still to come
 * (./job-length.ts) this gives the tokens a job will add after its current segment — what its KV
 * will grow to, which astraea's working-set admission reserves for (lib/sched/working-set.ts).
 * With nothing observed for a kind the answer is 0: no growth is assumed.
 */
import { checkFiniteNonNegative, DEFAULT_WINDOW_SIZE, RunningStats } from './running-stats.js';

export class SegmentGrowthPredictor {
  private readonly byKind = new Map<string, RunningStats>();

  constructor(private readonly windowSize: number = DEFAULT_WINDOW_SIZE) {}

  /** A later segment (not a job's first) of a job of `kind` added `tokens` to its context. */
  observe(kind: string, tokens: number): void {
    checkFiniteNonNegative('tokens', tokens);
    let stats = this.byKind.get(kind);
    if (!stats) {
      stats = new RunningStats(this.windowSize);
      this.byKind.set(kind, stats);
    }
    stats.observe(tokens);
  }

  /** Tokens a later segment of a job of `kind` is expected to add (0 with none observed). */
  perSegment(kind: string): number {
    const stats = this.byKind.get(kind);
    return stats && stats.windowCount > 0 ? stats.mean() : 0;
  }
}
