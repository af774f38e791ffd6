/**
 * Output length n_gen of a segment (DESIGN.md, Predictors).
 *
 * - `oracle` mode: the workload's true length, passed per segment (as in the paper). When a segment
 *   carries no true length the learned estimate is used instead.
 * - `learned` mode: online statistics of observed lengths, most specific first:
 *   (job kind, segment index) → job kind → global → `defaultTokens`. A level is used once it holds
 *   at least `minSamples` observations. The statistic is the window mean, or the type-7 quantile
 *   `quantile` (see running-stats.ts) when one is set — a high quantile makes the scheduler
 *   pessimistic about long outputs.
 */
import { EngineError } from '../errors.js';
import { checkFiniteNonNegative, checkQuantile, RunningStats, DEFAULT_WINDOW_SIZE, statsFor } from './running-stats.js';

export type OutputLengthMode = 'oracle' | 'learned';

export interface OutputLengthOptions {
  mode?: OutputLengthMode; // default 'learned'
  /** Use this quantile instead of the mean (undefined: the mean). */
  quantile?: number;
  /** Observations a level needs before it is trusted (default 3). */
  minSamples?: number;
  /** Prediction with no usable statistics (default 128 tokens). */
  defaultTokens?: number;
  /** Observations kept per level (default 256). */
  windowSize?: number;
}

export interface OutputLengthQuery {
  kind: string;
  segmentIndex: number;
  /** The workload's true length; used only in oracle mode. */
  trueTokens?: number;
}

export type OutputLengthSource = 'oracle' | 'segment' | 'kind' | 'global' | 'default';

export interface OutputLengthPrediction {
  tokens: number;
  source: OutputLengthSource;
}

export class OutputLengthPredictor {
  readonly mode: OutputLengthMode;
  private readonly q: number | undefined;
  private readonly minSamples: number;
  private readonly defaultTokens: number;
  private readonly windowSize: number;
  private readonly bySegment = new Map<string, RunningStats>();
  private readonly byKind = new Map<string, RunningStats>();
  private readonly global: RunningStats;

  constructor(options: OutputLengthOptions = {}) {
    this.mode = options.mode ?? 'learned';
    if (options.quantile !== undefined) checkQuantile(options.quantile);
    this.q = options.quantile;
    this.minSamples = options.minSamples ?? 3;
    if (!Number.isInteger(this.minSamples) || this.minSamples < 1) {
      throw new EngineError('INVALID_ARGUMENT', `minSamples must be an integer ≥ 1, got ${this.minSamples}`);
    }
    this.defaultTokens = options.defaultTokens ?? 128;
    checkFiniteNonNegative('defaultTokens', this.defaultTokens);
    this.windowSize = options.windowSize ?? DEFAULT_WINDOW_SIZE;
    this.global = new RunningStats(this.windowSize);
  }

  /** Records the length a finished segment actually generated. */
  observe(kind: string, segmentIndex: number, tokens: number): void {
    checkFiniteNonNegative('tokens', tokens);
    statsFor(this.bySegment, segmentKey(kind, segmentIndex), this.windowSize).observe(tokens);
    statsFor(this.byKind, kind, this.windowSize).observe(tokens);
    this.global.observe(tokens);
  }

  /** Predicted tokens with where the figure came from. */
  predictDetailed(query: OutputLengthQuery): OutputLengthPrediction {
    if (this.mode === 'oracle' && query.trueTokens !== undefined) {
      checkFiniteNonNegative('trueTokens', query.trueTokens);
      return { tokens: query.trueTokens, source: 'oracle' };
    }
    const levels: [OutputLengthSource, RunningStats | undefined][] = [
      ['segment', this.bySegment.get(segmentKey(query.kind, query.segmentIndex))],
      ['kind', this.byKind.get(query.kind)],
      ['global', this.global],
    ];
    for (const [source, stats] of levels) {
      if (stats && stats.count >= this.minSamples) {
        return { tokens: this.q === undefined ? stats.mean() : stats.quantile(this.q), source };
      }
    }
    return { tokens: this.defaultTokens, source: 'default' };
  }

  /** Predicted tokens to generate for a segment. */
  predict(query: OutputLengthQuery): number {
    return this.predictDetailed(query).tokens;
  }
}

function segmentKey(kind: string, segmentIndex: number): string {
  if (!Number.isInteger(segmentIndex) || segmentIndex < 0) {
    throw new EngineError('INVALID_ARGUMENT', `segmentIndex must be an integer ≥ 0, got ${segmentIndex}`);
  }
  return `${segmentIndex}\u0000${kind}`;
}

