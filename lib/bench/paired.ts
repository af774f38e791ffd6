/**
 * Paired differences: two policies ran the same jobs seed by seed, so their per-seed JCTs move
 * together with the jobs, and the difference seed by seed says whether one is really behind —
 * where the spread of either's means over the seeds would hide it.
 */

export interface PairedDifference {
  seeds: number;
  /** The second argument's mean, for scale. */
  baseline: number;
  meanDiff: number;
  /** Standard error of meanDiff; NaN with one seed. */
  standardError: number;
}

/** Mean and standard error of `a[i] − b[i]`, with the baseline's own mean for scale. */
export function pairedDifference(a: readonly number[], b: readonly number[]): PairedDifference {
  if (a.length !== b.length || a.length === 0) throw new Error(`paired runs need the same seeds (${a.length} against ${b.length})`);
  const diffs = a.map((x, i) => x - b[i]);
  const n = diffs.length;
  const meanDiff = diffs.reduce((s, d) => s + d, 0) / n;
  const variance = n > 1 ? diffs.reduce((s, d) => s + (d - meanDiff) ** 2, 0) / (n - 1) : NaN;
  return { seeds: n, baseline: b.reduce((s, x) => s + x, 0) / n, meanDiff, standardError: Math.sqrt(variance / n) };
}
