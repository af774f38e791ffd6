/**
 * The arrival shapes a generator may offer through GenerateWorkloadOptions.arrivals:
 * - 'poisson': exponential gaps at the rate (arrivals.ts);
 * - 'azure': the Azure LLM 2023 conversation trace's gaps replayed at the rate (arrivals.ts,
 *   trace-data.ts): real burstiness, as `tau` arrives;
 * - 'burst': every job at t = 0 (a batch evaluation, or the rollouts of an RL step); the rate
 *   plays no part.
 * Every shape draws from the generator's arrival stream only, so the jobs stay the same.
 */
import type { Rng } from '../random.js';
import { poissonArrivals, replayedArrivals } from './arrivals.js';
import { loadAzureGapsS } from './trace-data.js';
import type { ArrivalShape } from './types.js';

export const ARRIVAL_SHAPES: readonly ArrivalShape[] = ['poisson', 'azure', 'burst'];

export function arrivalTimes(shape: ArrivalShape, rng: Rng, count: number, ratePerS: number): number[] {
  if (shape === 'burst') return new Array<number>(count).fill(0);
  if (shape === 'azure') return replayedArrivals(rng, loadAzureGapsS(), count, ratePerS);
  return poissonArrivals(rng, count, ratePerS);
}
