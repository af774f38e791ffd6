/**
 * Whose preserved KV the step planner takes back first when a job that can run needs memory,
 * and how. A policy decides with `reclaimOrder` and `reclaimAction`; without them it inherits the
 * default rule: the job holding the most device blocks goes first (the first of them in the order
 * given), and its KV is swapped to the host pool when there is room.
 */
import type { Policy, WaitingJobView } from './policy.js';

export function reclaimChoice(policy: Policy, jobs: readonly WaitingJobView[], nowS: number): { jobId: string; swap: boolean } {
  let chosen: WaitingJobView | undefined;
  if (policy.reclaimOrder) {
    const first = policy.reclaimOrder(jobs, nowS)[0];
    chosen = jobs.find((j) => j.jobId === first);
  }
  chosen ??= largest(jobs);
  const action = policy.reclaimAction?.(chosen, nowS) ?? 'swap';
  return { jobId: chosen.jobId, swap: action === 'swap' };
}

/** The job holding the most device blocks; the first of them on a tie. */
function largest(jobs: readonly WaitingJobView[]): WaitingJobView {
  return jobs.reduce((a, b) => (b.deviceBlocks > a.deviceBlocks ? b : a));
}
