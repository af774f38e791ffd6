/** Small dense linear algebra for the fits (the engine's step costs, the simulator's calibration). */
import { EngineError } from '../errors.js';

/**
 * Gauss–Jordan elimination with partial pivoting of A x = b: the solution and det(A), or null
 * when a pivot falls below `tolerance` in magnitude.
 */
function eliminate(a: readonly (readonly number[])[], b: readonly number[], tolerance: number): { x: number[]; det: number } | null {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  let det = 1;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    if (!(Math.abs(m[pivot][col]) >= tolerance)) return null;
    if (pivot !== col) {
      [m[col], m[pivot]] = [m[pivot], m[col]];
      det = -det;
    }
    det *= m[col][col];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      for (let c = col; c <= n; c++) m[r][c] -= f * m[col][c];
    }
  }
  return { x: m.map((row, i) => row[n] / row[i]), det };
}

/**
 * Solves A x = b for a small square system. `what` names the fit in the error when the system is
 * singular (the samples do not determine every coefficient).
 */
export function solveLinear(a: readonly (readonly number[])[], b: readonly number[], what = 'the fit', tolerance = 1e-300): number[] {
  const solved = eliminate(a, b, tolerance);
  if (solved === null) throw new EngineError('INVALID_ARGUMENT', `${what}: the samples do not determine every coefficient`);
  return solved.x;
}

/**
 * Solves A x = b, or null when A is nearly singular: |det A| at most `relativeDeterminant` times
 * the product of its diagonal's magnitudes — a scale-free test, so a fit on token counts in the
 * thousands is judged as fairly as one on units.
 */
export function solveLinearOrNull(a: readonly (readonly number[])[], b: readonly number[], relativeDeterminant: number): number[] | null {
  const solved = eliminate(a, b, 0);
  if (solved === null) return null;
  const scale = a.reduce((product, row, i) => product * Math.abs(row[i]), 1);
  return Math.abs(solved.det) > relativeDeterminant * scale ? solved.x : null;
}
