/** Candidates and views for the policy unit tests: neutral values, overridden per test. */
import type { SchedulingCandidate, WaitingJobView } from '../../lib/sched/policy.js';

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
    kv: 'none',
    accumulatedWaitS: 0,
    attainedTokens: 0,
    expectedOutputTokens: 128,
    expectedFutureSegments: 0,
    lastSegmentChance: 1,
    ...over,
  };
}

export const ids = (cs: SchedulingCandidate[]): string[] => cs.map((c) => c.jobId);

/** A job waiting on tool 't' for `waitedS`, its KV where `kv` says (16-token blocks on the device). */
export const waiting = (jobId: string, contextTokens: number, waitedS: number, kv: WaitingJobView['kv'], over: Partial<WaitingJobView> = {}): WaitingJobView => ({
  jobId,
  kind: 'k',
  contextTokens,
  tool: 't',
  waitedS,
  kv,
  deviceBlocks: kv === 'device' ? Math.ceil(contextTokens / 16) : 0,
  ...over,
});
