/** Orderings shared by several policies. */
import type { SchedulingCandidate } from './policy.js';

/** Job ids compared as strings: the last tie-breaker, so every order is total and reproducible. */
export function byJobId(a: SchedulingCandidate, b: SchedulingCandidate): number {
  return a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0;
}

/**
 * Job-level first come, first served, with running segments first: a running segment is never
 * displaced by a later arrival (the step planner preempts from the end of the order).
 */
export function runningFirstByJobArrival(candidates: readonly SchedulingCandidate[]): SchedulingCandidate[] {
  return [...candidates].sort(
    (a, b) => Number(b.running) - Number(a.running) || a.jobArrivalS - b.jobArrivalS || byJobId(a, b),
  );
}
