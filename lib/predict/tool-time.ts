/**
 * Tool (API) durations per tool name (DESIGN.md, Predictors).
 *
 * Statistics come from a sliding window of the last `windowSize` observed durations per tool
 * (running-stats.ts: window mean, type-7 quantiles; `count` is lifetime).
 *
 * Remaining time of a call that has already run `elapsedS`, most authoritative first:
 * 1. a client hint `hintS` (the caller's own estimate of the whole duration) overrides while it
 *    has not been overrun: remaining = hintS − elapsedS. Once elapsedS ≥ hintS the hint has proved
 *    wrong and the rules below apply.
 * 2. observations: the empirical mean residual E[D − e | D > e] over the window. For heavy tails
 *    this grows with e (durations [1, 1, 1, 10]: 3.25 at e = 0, 8 at e = 2).
 *    If e exceeds every observation, remaining = overrunFactor · e (default 1: the mean excess of a
 *    Pareto tail with α = 2, "expect it to run as long again"), never less than `minRemainingS`.
 * 3. no observations: the tool's prior mean (`priorsS[name]`) or else `defaultDurationS` (1 s),
 *    treated as memoryless (exponential): remaining = that mean whatever e is.
 *
 * `outlasts` asks the question a KV policy has of a waiting call — is moving its KV away now,
 * at a cost of c seconds, better than keeping it? — of the whole distribution, not of its mean.
 * Keeping is a ski rental: keep until some horizon s, move only if the call is still out then.
 * Moving now wins when no horizon makes keeping cheaper in expectation (running-stats.ts,
 * `waitingMayPay`). A heavy tail's mean says "move" for a tool most of whose calls return in
 * well under c; the rule keeps those and moves the KV once the call has run long enough that
 * its quick returns are behind it. For a hint (a point) and for the memoryless rules (for an
 * exponential, every horizon gives the same answer as its mean) it is remaining > c.
 */
import { checkFiniteNonNegative, RunningStats, DEFAULT_WINDOW_SIZE, statsFor } from './running-stats.js';

export interface ToolTimeOptions {
  /** Mean duration assumed for a tool never observed and without a prior (default 1 s). */
  defaultDurationS?: number;
  /** Per-tool prior mean durations, used until the tool has been observed. */
  priorsS?: Record<string, number>;
  /** Durations kept per tool (default 256). */
  windowSize?: number;
  /** Remaining = overrunFactor · elapsed once elapsed exceeds every observation (default 1). */
  overrunFactor?: number;
  /** Floor on any estimate of remaining time (default 0.001 s): a running call is not yet done. */
  minRemainingS?: number;
}

export interface ToolStats {
  count: number;
  meanS: number;
  p50S: number;
  p90S: number;
  p99S: number;
}

export type ToolEstimateSource = 'hint' | 'observed' | 'overrun' | 'prior' | 'default';

export interface ToolEstimate {
  remainingS: number;
  source: ToolEstimateSource;
}

export class ToolTimePredictor {
  private readonly defaultDurationS: number;
  private readonly priorsS: Map<string, number>;
  private readonly windowSize: number;
  private readonly overrunFactor: number;
  private readonly minRemainingS: number;
  private readonly byTool = new Map<string, RunningStats>();

  constructor(options: ToolTimeOptions = {}) {
    this.defaultDurationS = options.defaultDurationS ?? 1;
    checkFiniteNonNegative('defaultDurationS', this.defaultDurationS);
    this.priorsS = new Map(Object.entries(options.priorsS ?? {}));
    for (const [name, v] of this.priorsS) checkFiniteNonNegative(`prior for ${name}`, v);
    this.windowSize = options.windowSize ?? DEFAULT_WINDOW_SIZE;
    this.overrunFactor = options.overrunFactor ?? 1;
    checkFiniteNonNegative('overrunFactor', this.overrunFactor);
    this.minRemainingS = options.minRemainingS ?? 0.001;
    checkFiniteNonNegative('minRemainingS', this.minRemainingS);
  }

  /** Records a completed call's duration. */
  observe(tool: string, durationS: number): void {
    checkFiniteNonNegative('durationS', durationS);
    statsFor(this.byTool, tool, this.windowSize).observe(durationS);
  }

  /** Window statistics of a tool, or undefined if it was never observed. */
  stats(tool: string): ToolStats | undefined {
    const s = this.byTool.get(tool);
    if (!s || s.count === 0) return undefined;
    return { count: s.count, meanS: s.mean(), p50S: s.quantile(0.5), p90S: s.quantile(0.9), p99S: s.quantile(0.99) };
  }

  /** Type-7 quantile of a tool's observed durations, or undefined if it was never observed. */
  quantileS(tool: string, q: number): number | undefined {
    const s = this.byTool.get(tool);
    return s && s.count > 0 ? s.quantile(q) : undefined;
  }

  /** Expected whole duration of a new call (remaining time at elapsed 0). */
  expectedDurationS(tool: string, hintS?: number): number {
    return this.remainingS(tool, 0, hintS);
  }

  /** Expected seconds until a call that has run `elapsedS` returns (rules in the file comment). */
  remainingS(tool: string, elapsedS: number, hintS?: number): number {
    return this.estimate(tool, elapsedS, hintS).remainingS;
  }

  /**
   * Whether a call that has run `elapsedS` is expected to outlast keeping KV whose move costs
   * `moveCostS`: moving it away now costs less than keeping it for any horizon (file comment).
   */
  outlasts(tool: string, elapsedS: number, moveCostS: number, hintS?: number): boolean {
    checkFiniteNonNegative('elapsedS', elapsedS);
    if (hintS !== undefined) checkFiniteNonNegative('hintS', hintS);
    // The observed rule, unless a live hint overrides it or the call has outrun every observation.
    const hinted = hintS !== undefined && hintS > elapsedS;
    const waitingMayPay = hinted ? undefined : this.byTool.get(tool)?.waitingMayPay(elapsedS, moveCostS);
    return waitingMayPay === undefined ? this.remainingS(tool, elapsedS, hintS) > moveCostS : !waitingMayPay;
  }

  /** As remainingS, with which rule produced the figure. */
  estimate(tool: string, elapsedS: number, hintS?: number): ToolEstimate {
    checkFiniteNonNegative('elapsedS', elapsedS);
    if (hintS !== undefined) {
      checkFiniteNonNegative('hintS', hintS);
      if (hintS > elapsedS) return { remainingS: hintS - elapsedS, source: 'hint' };
    }
    const s = this.byTool.get(tool);
    if (s && s.count > 0) {
      const excess = s.meanExcessOver(elapsedS);
      if (excess !== undefined) return { remainingS: Math.max(this.minRemainingS, excess), source: 'observed' };
      return { remainingS: Math.max(this.minRemainingS, this.overrunFactor * elapsedS), source: 'overrun' };
    }
    const prior = this.priorsS.get(tool);
    if (prior !== undefined) return { remainingS: Math.max(this.minRemainingS, prior), source: 'prior' };
    return { remainingS: Math.max(this.minRemainingS, this.defaultDurationS), source: 'default' };
  }
}
