/** Candidates and views for the policy unit tests: neutral values, overridden per test. */
import type { SchedulingCandidate } from '../../lib/sched/policy.js';

export function cand(jobId: string, over: Partial<SchedulingCandidate> = {}): SchedulingCandidate {
  return {
    jobId,
    kind: 'k',
    jobArrivalS: 0,
    segmentQueuedS: 0,
    segmentIndex: 0,
    pendingPrefillTokens: 0,
    generatedTokens: 0,
    contextTokens: 100,
    running: false,
    accumulatedWaitS: 0,
    attainedTokens: 0,
    expectedOutputTokens: 128,
    expectedFutureSegments: 0,
    ...over,
  };
}

export const ids = (cs: SchedulingCandidate[]): string[] => cs.map((c) => c.jobId);
