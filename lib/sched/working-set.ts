/**
 * Working-set admission: under memory pressure a job is let into the engine only when its KV fits
 * beside the KV of the jobs already in, as an operating system admits processes by working set
 * rather than letting page eviction decide. Without it every ready job is shown to the step
 * planner, each new 100K-token prefill takes the memory of jobs that will be back in a second,
 * and they recompute when they return: a job-blind engine's prefix-cache thrash.
 *
 * Jobs whose KV is on the device (running, or kept since their last segment) are always in: they
 * need room only to grow. A job whose KV is elsewhere (new, swapped to the host, discarded) needs
 * its whole context plus the output still expected — and, with scope 'first-round' (astraea's rule
 * 16) for a job that has not run yet, or 'round' for every job, what its next segment will add, so
 * that it can come back from its next tool call. The room is what is free (or only cached) on
 * the device, plus what jobs waiting on tools hold and may give up — those the policy would move
 * to the host because their tool is expected to run longer than the copy out and back.
 */
import type { SchedulingCandidate } from './policy.js';

export interface WorkingSetRoom {
  /** Device tokens free or held only by the prefix cache. */
  freeTokens: number;
  /** Device tokens of jobs waiting on tools that may be moved off the device to make room. */
  parkableTokens: number;
}

/** Tokens a job still adds to what it holds in this segment: prompt to compute and output to come. */
export function growthTokens(c: SchedulingCandidate): number {
  return c.pendingPrefillTokens + Math.max(0, c.expectedOutputTokens - c.generatedTokens);
}

/**
 * Device tokens a job outside the working set needs: to run its segment ('segment'), or to come
 * back from its next tool call too — its segment and what the next one adds — for every job
 * ('round') or for a job that has not run yet ('first-round').
 */
export function admissionTokens(c: SchedulingCandidate, scope: AdmissionScope = 'segment'): number {
  const segment = c.contextTokens + Math.max(0, c.expectedOutputTokens - c.generatedTokens);
  const reserve = scope === 'round' || (scope === 'first-round' && !hasStarted(c));
  return reserve ? segment + (c.nextSegmentTokens ?? 0) : segment;
}

/** Whether a job has run before: a later segment, or prompt tokens already computed. */
export function hasStarted(c: SchedulingCandidate): boolean {
  return c.segmentIndex > 0 || c.attainedTokens > 0;
}

/**
 * What a job is admitted by: its current segment's KV ('segment'), or that and its next segment's
 * — for every job ('round'), or only for a job that has not run yet ('first-round').
 */
export type AdmissionScope = 'segment' | 'first-round' | 'round';

/**
 * The candidates let in, in the order given (most urgent first): every job whose KV is on the
 * device, and the others while each fits the room left and fewer than `width` jobs are in —
 * considered in the order `before` sorts them (ties, and without `before`: the order given), a
 * smaller one further on taking room a larger one could not. When none is on the device and none
 * fits, the first of those is let in anyway (the engine must run something; the planner takes
 * what it needs). `width` (./batch-width.ts) keeps out only jobs that have not started: one on
 * the device, or back from a tool call, is part of a round already under way (it takes a seat but
 * is never refused one).
 */
export function admitWorkingSet(
  ordered: readonly SchedulingCandidate[],
  room: WorkingSetRoom,
  before?: (a: SchedulingCandidate, b: SchedulingCandidate) => number,
  scope: AdmissionScope = 'segment',
  width = Infinity,
): SchedulingCandidate[] {
  let left = room.freeTokens + room.parkableTokens;
  const outside: SchedulingCandidate[] = [];
  for (const c of ordered) {
    if (c.kv === 'device') left -= growthTokens(c);
    else outside.push(c);
  }
  let seats = width - (ordered.length - outside.length);
  if (before) outside.sort(before); // stable: ties keep the order given
  const admitted = new Set<SchedulingCandidate>();
  for (const c of outside) {
    if (seats <= 0 && !hasStarted(c)) continue;
    const need = admissionTokens(c, scope);
    if (need > left) continue;
    left -= need;
    seats--;
    admitted.add(c);
  }
  if (admitted.size === 0 && outside.length === ordered.length && outside.length > 0) admitted.add(outside[0]);
  return ordered.filter((c) => c.kv === 'device' || admitted.has(c));
}
