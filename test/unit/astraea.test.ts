/**
 * The product policy's own rules, each against the paper's behaviour it changes (the ablation).
 */
import { describe, expect, it } from 'vitest';
import { AstraeaPolicy } from '../../lib/sched/astraea.js';
import { AstraeaPaperPolicy } from '../../lib/sched/astraea-paper.js';
import type { SchedulingCandidate, SegmentEndView } from '../../lib/sched/policy.js';

function cand(jobId: string, accumulatedWaitS: number): SchedulingCandidate {
  return {
    jobId,
    kind: 'k',
    jobArrivalS: jobId === 'old' ? 0 : 5,
    segmentQueuedS: 0,
    segmentIndex: 0,
    pendingPrefillTokens: 0,
    generatedTokens: 0,
    contextTokens: 100,
    running: false,
    accumulatedWaitS,
    attainedTokens: 0,
  };
}

/** A segment of 300 generated tokens: past Q0's 256-token quota, so its job moves down to Q1. */
const heavySegment: SegmentEndView = { jobId: 'old', kind: 'k', segmentIndex: 0, reason: 'tool_call', generatedTokens: 300, computedPromptTokens: 0, tool: 't' };

function orderAfterDemotion(policy: AstraeaPaperPolicy, oldWaitS: number): string[] {
  policy.onSegmentEnd(heavySegment, 0);
  return policy.order([cand('new', 0), cand('old', oldWaitS)], 10).map((c) => c.jobId);
}

describe('astraea: aging from every queue', () => {
  // T_proc = 1 s for both. 'old' is in Q1 of 4 queues; 'new' is fresh in Q0.
  const options = { serviceTime: () => 1 };

  it('a demoted job whose response ratio passes the threshold returns to Q0 and, with the larger W, goes first', () => {
    // old: (7.5 + 1)/1 = 8.5 > 8 -> Q0; then HRRN: old 8.5 vs new (0 + 1)/1 = 1.
    expect(orderAfterDemotion(new AstraeaPolicy(options), 7.5)).toEqual(['old', 'new']);
  });

  it('not before: a ratio of exactly 8 stays in Q1', () => {
    // old: (7 + 1)/1 = 8, not above 8.
    expect(orderAfterDemotion(new AstraeaPolicy(options), 7)).toEqual(['new', 'old']);
  });

  it("the paper's rule (the ablation) ages only the lowest queue, so the demoted job stays behind", () => {
    expect(orderAfterDemotion(new AstraeaPaperPolicy(options), 7.5)).toEqual(['new', 'old']);
    expect(orderAfterDemotion(new AstraeaPolicy({ ...options, ageFrom: 'lowest' }), 7.5)).toEqual(['new', 'old']);
  });

  it('is named astraea', () => {
    expect(new AstraeaPolicy().name).toBe('astraea');
  });
});
