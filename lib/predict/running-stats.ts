/**
 * Online statistics over a bounded sliding window of the most recent observations.
 *
 * `count` is lifetime (every observation ever made); everything else (mean, quantiles, conditional
 * remaining) is computed over the last `windowSize` values only, so the estimate follows drift and
 * memory stays bounded. The sorted copy of the window is built lazily and cached until the next
 * observation.
 *
 * Quantile method: linear interpolation between closest ranks (Hyndman–Fan type 7, numpy's
 * default). With the window sorted ascending as x[0..n−1], h = (n − 1)·q, and
 * Q(q) = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]).
 */
import { EngineError } from '../errors.js';

export const DEFAULT_WINDOW_SIZE = 256;

export function checkFiniteNonNegative(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new EngineError('INVALID_ARGUMENT', `${name} must be a finite number ≥ 0, got ${value}`);
  }
}

export function checkQuantile(q: number): void {
  if (!Number.isFinite(q) || q < 0 || q > 1) {
    throw new EngineError('INVALID_ARGUMENT', `quantile must be in [0, 1], got ${q}`);
  }
}

export class RunningStats {
  readonly windowSize: number;
  private readonly ring: number[] = [];
  private next = 0;
  private lifetime = 0;
  private sorted: number[] | null = null;
  /** The window's mean, kept until the next observation: predictors ask for it every step. */
  private cachedMean: number | null = null;

  constructor(windowSize: number = DEFAULT_WINDOW_SIZE) {
    if (!Number.isInteger(windowSize) || windowSize < 1) {
      throw new EngineError('INVALID_ARGUMENT', `windowSize must be an integer ≥ 1, got ${windowSize}`);
    }
    this.windowSize = windowSize;
  }

  /** Adds one observation (finite, ≥ 0); once the window is full it replaces the oldest. */
  observe(value: number): void {
    checkFiniteNonNegative('observation', value);
    if (this.ring.length < this.windowSize) this.ring.push(value);
    else this.ring[this.next] = value;
    this.next = (this.next + 1) % this.windowSize;
    this.lifetime++;
    this.sorted = null;
    this.cachedMean = null;
  }

  /** Observations ever made (lifetime, not bounded by the window). */
  get count(): number {
    return this.lifetime;
  }

  /** Observations currently in the window. */
  get windowCount(): number {
    return this.ring.length;
  }

  /** Mean of the window; NaN when empty. */
  mean(): number {
    if (this.ring.length === 0) return NaN;
    if (this.cachedMean === null) {
      let sum = 0;
      for (const v of this.ring) sum += v;
      this.cachedMean = sum / this.ring.length;
    }
    return this.cachedMean;
  }

  /** Type-7 quantile of the window (see the file comment); NaN when empty. */
  quantile(q: number): number {
    checkQuantile(q);
    const xs = this.sortedWindow();
    if (xs.length === 0) return NaN;
    const h = (xs.length - 1) * q;
    const lo = Math.floor(h);
    const hi = Math.min(lo + 1, xs.length - 1);
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo]);
  }

  /**
   * Empirical P(X ≤ x | X > e) over the window: of the values above `e`, the share at most `x`.
   * Undefined when no value exceeds `e`.
   */
  chanceAtMostGiven(x: number, e: number): number | undefined {
    // Two binary searches on the sorted window: the engine asks this per kind and segment every step.
    const xs = this.sortedWindow();
    const aboveE = this.firstAbove(e);
    const above = xs.length - aboveE;
    if (above === 0) return undefined;
    return Math.max(0, this.firstAbove(x) - aboveE) / above;
  }

  /**
   * Empirical mean residual E[X − e | X > e] over the window: the mean of (x − e) across the
   * values strictly greater than `e`. Returns undefined when no value exceeds `e` (the caller picks
   * the extrapolation). At e below every value this is mean − e.
   */
  meanExcessOver(e: number): number | undefined {
    const xs = this.sortedWindow();
    let sum = 0;
    let n = 0;
    for (let i = xs.length - 1; i >= 0 && xs[i] > e; i--) {
      sum += xs[i] - e;
      n++;
    }
    return n === 0 ? undefined : sum / n;
  }

  /**
   * Ski rental over the window, given X > e: whether waiting up to some horizon s, and paying
   * `cost` only if X − e outlasts it, is expected to cost less than paying now — that is,
   * E[min(X − e, s)] < cost · P(X − e ≤ s) for some s > 0 (waiting costs 1 per unit of time).
   * Between two residuals the left side grows and the right does not, so only the residuals
   * themselves are tried as horizons. Undefined when no value exceeds `e`.
   */
  waitingMayPay(e: number, cost: number): boolean | undefined {
    const xs = this.sortedWindow();
    const first = this.firstAbove(e);
    const n = xs.length - first;
    if (n === 0) return undefined;
    let residualsUpTo = 0; // Σ of the k smallest residuals
    for (let k = 1; k <= n; k++) {
      const horizon = xs[first + k - 1] - e;
      residualsUpTo += horizon;
      // Ties: the horizon covers every residual equal to it.
      if (k < n && xs[first + k] - e === horizon) continue;
      // n · E[min(R, s)] = Σ of the k at most s + (n − k) · s;  n · P(R ≤ s) = k.
      if (residualsUpTo + (n - k) * horizon < cost * k) return true;
    }
    return false;
  }

  /** Index of the first value of the sorted window greater than `v` (its length if none). */
  private firstAbove(v: number): number {
    const xs = this.sortedWindow();
    let lo = 0;
    let hi = xs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (xs[mid] > v) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private sortedWindow(): number[] {
    if (!this.sorted) this.sorted = [...this.ring].sort((a, b) => a - b);
    return this.sorted;
  }
}

/** The window kept under `key` in `map`, made empty (`windowSize` long) on first use. */
export function statsFor<K>(map: Map<K, RunningStats>, key: K, windowSize: number): RunningStats {
  let stats = map.get(key);
  if (!stats) {
    stats = new RunningStats(windowSize);
    map.set(key, stats);
  }
  return stats;
}
