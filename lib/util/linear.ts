/** Small dense linear algebra for the fits (prefill profile, simulator calibration). */
import { EngineError } from '../errors.js';

/**
 * Solves A x = b for a small square system by Gaussian elimination with partial pivoting.
 * `what` names the fit in the error when the system is singular (the samples do not determine
 * every coefficient).
 */
export function solveLinear(a: readonly number[][], b: readonly number[], what = 'the fit', tolerance = 1e-300): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    if (Math.abs(m[pivot][col]) < tolerance) throw new EngineError('INVALID_ARGUMENT', `${what}: the samples do not determine every coefficient`);
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      for (let c = col; c <= n; c++) m[r][c] -= f * m[col][c];
    }
  }
  return m.map((row, i) => row[n] / row[i]);
}
