/**
 * Offline bounds on a JCT percentile and on capacity: no schedule, however clairvoyant, finishes
 * more of a workload's jobs within a given time of their arrival on the simulator's cost model.
 * The capacity search (lib/bench/capacity.ts) asks whether a policy's p90 JCT meets an objective;
 * these say whether any schedule's could, and so whether issue 19's "≥ 2× fcfs capacity" is
 * reachable at all.
 *
 * A job finishes within `withinS` of its arrival only if both relaxations of lib/sim/lower-bound.ts
 * allow it: its critical path alone is at most `withinS`, and on the device as one server it
 * receives its `workS` between its arrival and its deadline (arrival + `withinS`). Jobs that miss
 * may be dropped outright — they owe nothing in the relaxation — which only lets more of the rest
 * meet theirs.
 *
 * Every deadline is its arrival plus the same `withinS`, so deadlines come in the order of
 * arrivals, and earliest-deadline-first — optimal on one preemptive server with release dates
 * (Horn 1974) — serves a chosen set in arrival order without ever preempting. The most jobs that
 * can meet their deadlines is then a dynamic programme over the jobs in arrival order: for each
 * count m, the earliest moment a feasible set of m of the jobs so far can be done (a set done
 * earlier never serves a later job worse), O(n²) over n jobs.
 */
import { EngineError } from '../errors.js';
import type { JobBound } from './lower-bound.js';

/** The most jobs any schedule finishes within `withinS` seconds of their arrival. */
export function mostOnTime(bounds: readonly Pick<JobBound, 'arrivalS' | 'aloneS' | 'workS'>[], withinS: number): number {
  const candidates = bounds.filter((b) => b.aloneS <= withinS).sort((a, b) => a.arrivalS - b.arrivalS);
  // doneBy[m]: the earliest moment m of the jobs so far can all be done in time (Infinity: they cannot).
  const doneBy = new Float64Array(candidates.length + 1).fill(Infinity);
  doneBy[0] = -Infinity;
  let most = 0;
  for (const job of candidates) {
    const deadline = job.arrivalS + withinS;
    // Downwards, so each count extends a set that does not yet hold this job.
    for (let m = most; m >= 0; m--) {
      const done = Math.max(doneBy[m], job.arrivalS) + job.workS;
      if (done <= deadline && done < doneBy[m + 1]) doneBy[m + 1] = done;
    }
    if (doneBy[most + 1] < Infinity) most++;
  }
  return most;
}

/**
 * The share of the arrivals' span the device owes in the work relaxation: above 1, the work that
 * arrives outruns the device, and no schedule keeps up in a steady state — however it meets a
 * quantile over a finite run by leaving the largest jobs for after the last arrival.
 */
export function relaxedUtilization(bounds: readonly Pick<JobBound, 'arrivalS' | 'workS'>[]): number {
  if (bounds.length === 0) return 0;
  let first = Infinity;
  let last = -Infinity;
  let workS = 0;
  for (const b of bounds) {
    first = Math.min(first, b.arrivalS);
    last = Math.max(last, b.arrivalS);
    workS += b.workS;
  }
  return last > first ? workS / (last - first) : Infinity;
}

/**
 * How many jobs must have a JCT at most a quantile's value, as `quantile` in
 * lib/bench/summary.ts interpolates it: the value at q is at least the ⌊q·(n − 1)⌋-th smallest
 * (from 0), so that many plus one.
 */
export function jobsWithinQuantile(jobs: number, q: number): number {
  return Math.floor(q * (jobs - 1)) + 1;
}

/** Whether any schedule could have a `q`-quantile JCT of at most `objectiveS`. */
export function quantileReachable(bounds: readonly Pick<JobBound, 'arrivalS' | 'aloneS' | 'workS'>[], q: number, objectiveS: number): boolean {
  return mostOnTime(bounds, objectiveS) >= jobsWithinQuantile(bounds.length, q);
}

/**
 * A lower bound on any schedule's `q`-quantile JCT (to `relativePrecision`, rounded down): the
 * least time within which enough jobs can finish, by bisection — `mostOnTime` never falls as the
 * time allowed grows.
 */
export function quantileJctLowerBound(bounds: readonly Pick<JobBound, 'arrivalS' | 'aloneS' | 'workS'>[], q: number, relativePrecision = 1e-3): number {
  if (bounds.length === 0) throw new EngineError('INVALID_ARGUMENT', 'a lower bound on a JCT quantile needs at least one job');
  if (!(q > 0 && q <= 1)) throw new EngineError('INVALID_ARGUMENT', `a quantile is in (0, 1], not ${q}`);
  // Every job meets a deadline as long as serving all of them in arrival order takes, alone or not.
  let reachable = 0;
  let clock = -Infinity;
  for (const b of [...bounds].sort((x, y) => x.arrivalS - y.arrivalS)) {
    clock = Math.max(clock, b.arrivalS) + b.workS;
    reachable = Math.max(reachable, clock - b.arrivalS, b.aloneS);
  }
  let unreachable = 0;
  while (reachable - unreachable > relativePrecision * reachable) {
    const mid = (reachable + unreachable) / 2;
    if (quantileReachable(bounds, q, mid)) reachable = mid;
    else unreachable = mid;
  }
  return unreachable;
}
