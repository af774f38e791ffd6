/**
 * Job arrival processes. Both put job k (0-based) at the sum of k + 1 gaps, so the first job
 * arrives after one gap (as in traces.ts), and the mean gap is 1 / ratePerS.
 */
import { exponential, uniformInt, type Rng } from '../random.js';

/** A Poisson process: `count` arrival times with exponential gaps of rate `ratePerS`. */
export function poissonArrivals(rng: Rng, count: number, ratePerS: number): number[] {
  const arrivals: number[] = [];
  let clock = 0;
  for (let i = 0; i < count; i++) {
    clock += exponential(rng, ratePerS);
    arrivals.push(clock);
  }
  return arrivals;
}

/**
 * A recorded arrival process replayed at another rate: the recorded gaps in order, starting at a
 * random index (wrapping around at the end), each multiplied by the same factor so that the
 * recording's mean gap becomes 1 / ratePerS. The order and relative sizes of the gaps (the
 * burstiness) are kept.
 */
export function replayedArrivals(rng: Rng, recordedGaps: readonly number[], count: number, ratePerS: number): number[] {
  const meanGap = recordedGaps.reduce((sum, gap) => sum + gap, 0) / recordedGaps.length;
  const factor = 1 / (meanGap * ratePerS);
  const start = uniformInt(rng, 0, recordedGaps.length - 1);
  const arrivals: number[] = [];
  let clock = 0;
  for (let i = 0; i < count; i++) {
    clock += recordedGaps[(start + i) % recordedGaps.length] * factor;
    arrivals.push(clock);
  }
  return arrivals;
}
