/**
 * Ordinary least squares for a handful of coefficients, with non-negativity: the cost model's
 * terms are physical (seconds per step, per token, per context token), so a term the data
 * cannot support is fixed at 0 and the rest refitted, rather than left negative.
 */
import { solveLinear } from '../util/linear.js';

export { solveLinear };

/**
 * Coefficients x ≥ 0 minimising Σ (rows[i]·x − y[i])², by refitting without any coefficient the
 * unconstrained fit makes negative (enough for the few, nearly independent terms used here).
 */
export function nonNegativeLeastSquares(rows: readonly number[][], y: readonly number[]): number[] {
  const k = rows[0]?.length ?? 0;
  let active = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    const ata = active.map((i) => active.map((j) => rows.reduce((s, r) => s + r[i] * r[j], 0)));
    const aty = active.map((i) => rows.reduce((s, r, n) => s + r[i] * y[n], 0));
    const x = active.length > 0 ? solveLinear(ata, aty, 'least squares') : [];
    const negative = x.findIndex((v) => v < 0);
    if (negative === -1) {
      const out = new Array<number>(k).fill(0);
      active.forEach((i, n) => (out[i] = x[n]));
      return out;
    }
    active = active.filter((_, n) => n !== negative);
  }
}
