/** Argument checks the workload makers share (rates, job limits, drawn durations). */
import { EngineError } from '../errors.js';

export function checkRate(rate: number): void {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
    throw new EngineError('INVALID_ARGUMENT', `arrivalRatePerS must be a finite number > 0, got ${rate}`);
  }
}

export function checkMaxJobs(maxJobs: number | undefined): number {
  if (maxJobs === undefined) return Infinity;
  if (!Number.isSafeInteger(maxJobs) || maxJobs < 0) {
    throw new EngineError('INVALID_ARGUMENT', `maxJobs must be a non-negative integer, got ${maxJobs}`);
  }
  return maxJobs;
}

export function checkDuration(value: number, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new EngineError('INVALID_ARGUMENT', `${what} must return a finite number ≥ 0, got ${value}`);
  }
  return value;
}
