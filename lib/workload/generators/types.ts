/**
 * What every workload generator takes and returns. A generator is seeded (same options, same
 * jobs), has a load knob (an arrival-rate multiplier on its documented base rate) and a scale
 * that shrinks a workload to what a small machine can run, recorded with the jobs so a result
 * says what it was measured on.
 */
import type { WorkloadJob } from '../format.js';

/**
 * Multipliers applied after generation. `tokens` multiplies every token count (input, output,
 * prefix; rounded, never below the format's minimums); `time` multiplies every duration outside
 * the engine: tool calls, human replies and the gaps between arrivals. 1 and 1 are the workload
 * as modelled (realistic GPU scale).
 */
export interface WorkloadScale {
  tokens: number;
  time: number;
}

/** How jobs arrive (arrival-shapes.ts); each generator offers some. */
export type ArrivalShape = 'poisson' | 'azure' | 'burst';

export interface GenerateWorkloadOptions {
  /** Number of jobs (default: the generator's own). */
  jobs?: number;
  /** Arrival-rate multiplier on the generator's base rate (default 1). */
  load?: number;
  /** Default 1. */
  seed?: number;
  /** Default { tokens: 1, time: 1 }. */
  scale?: Partial<WorkloadScale>;
  /**
   * How jobs arrive (default: the generator's own). Only `coding` offers a choice; the others
   * accept their own shape ('azure' for `tau`, 'poisson' for the rest) and reject the rest.
   */
  arrivals?: ArrivalShape;
}

/** How a workload was made, for the result summary. */
export interface WorkloadParams {
  /** Generator name as given (e.g. 'paper', 'synthetic:bimodal') or the file path. */
  name: string;
  seed: number;
  load: number;
  jobs: number;
  scale: WorkloadScale;
  /** Mean job arrivals per second after load and time scaling (Infinity for 'burst': all at once). */
  arrivalRatePerS: number;
  /** How the jobs arrive (a generator's; absent for a workload file). */
  arrivals?: ArrivalShape;
}

export interface GeneratedWorkload {
  params: WorkloadParams;
  jobs: WorkloadJob[];
}
