/**
 * `astraea`'s rule 15 (issue 20): a client's priority scales the response ratio, softly (aging
 * still serves a low-priority job), and a `kv.retain` in force keeps a waiting job's KV unless a
 * memory deficit needs it. Every expected value is worked out by hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import { AstraeaPolicy, priorityWeight } from '../../lib/sched/astraea.js';
import { FcfsPolicy } from '../../lib/sched/fcfs.js';
import type { MemoryView } from '../../lib/sched/kv-waste.js';
import type { SchedulingCandidate, SegmentEndView } from '../../lib/sched/policy.js';
import { cand, ids, waiting } from './scheduling-fixtures.js';

describe('astraea: priority (rule 15)', () => {
  // T = 1 s for every candidate (no segments ahead, memory uncontended), W = the job's age.
  const policy = () => new AstraeaPolicy({ serviceTime: () => 1 });

  it('weights 2^(p/10), clamped to ±10', () => {
    expect([-20, -10, 0, 5, 10, 20].map(priorityWeight)).toEqual([0.5, 0.5, 1, Math.SQRT2, 2, 2]);
  });

  it('of two jobs identical but for priority, the higher runs first', () => {
    // Same arrival, same W = 0, same T: a tie the job id breaks ('a' first). Ratios with b at
    // priority 5: a 1, b √2·1 → b first; with a at −5 instead: a 1/√2 < b 1 → b first.
    expect(ids(policy().order([cand('a'), cand('b')], 0))).toEqual(['a', 'b']);
    expect(ids(policy().order([cand('a'), cand('b', { priority: 5 })], 0))).toEqual(['b', 'a']);
    expect(ids(policy().order([cand('a', { priority: -5 }), cand('b')], 0))).toEqual(['b', 'a']);
  });

  it('is soft: a low-priority job overtakes fresh high-priority ones once W > 3 T', () => {
    // 'old' (priority −10: weight ½) arrived at 0; 'new' (+10: weight 2) arrives now.
    // Ratios: old ½·(W + 1), new 2·(0 + 1) = 2. At W = 2.9: 1.95 < 2; at W = 3.1: 2.05 > 2.
    const old = cand('old', { jobArrivalS: 0, priority: -10 });
    expect(ids(policy().order([old, cand('new', { jobArrivalS: 2.9, priority: 10 })], 2.9))).toEqual(['new', 'old']);
    expect(ids(policy().order([old, cand('new', { jobArrivalS: 3.1, priority: 10 })], 3.1))).toEqual(['old', 'new']);
  });

  it('is never starvation: under a stream of high-priority arrivals the low one is served at t = 3', () => {
    // Each second a fresh job at priority +10 arrives and the first in the order is served.
    // t = 0: old ½·1, n0 2 → n0. t = 1: old 1, n1 2 → n1. t = 2: old 1.5, n2 2 → n2.
    // t = 3: old ½·4 = 2 = n3's 2, a tie the earlier arrival wins → old.
    // Without priorities: t = 0 a tie of 1s, 'n0' < 'old' by id → n0; t = 1: old 2 > n1 1 → old.
    const run = (withPriority: boolean) => {
      const p = policy();
      let pending: SchedulingCandidate[] = [cand('old', { jobArrivalS: 0, ...(withPriority ? { priority: -10 } : {}) })];
      for (let t = 0; t < 10; t++) {
        pending.push(cand(`n${t}`, { jobArrivalS: t, ...(withPriority ? { priority: 10 } : {}) }));
        const first = p.order(pending, t)[0];
        if (first.jobId === 'old') return t;
        pending = pending.filter((c) => c !== first);
      }
      return -1;
    };
    expect(run(false)).toBe(1);
    expect(run(true)).toBe(3);
  });

  it("scales rule 1's aging too: a demoted low-priority job returns to Q0 once ½·(W + T)/T > 8", () => {
    // W is the accumulated wait here; 'old' moved to Q1 (300 tokens > Q0's 256). At W = 15.5:
    // ½·16.5 = 8.25 > 8 → Q0, and its 8.25 beats new's 1. At W = 14.5: ½·15.5 = 7.75 → stays in Q1.
    const order = (oldWaitS: number) => {
      const p = new AstraeaPolicy({ serviceTime: () => 1, waitBasis: 'accumulated' });
      const heavy: SegmentEndView = { jobId: 'old', kind: 'k', segmentIndex: 0, reason: 'tool_call', generatedTokens: 300, computedPromptTokens: 0, tool: 't' };
      p.onSegmentEnd(heavy, 0);
      return ids(p.order([cand('new'), cand('old', { accumulatedWaitS: oldWaitS, priority: -10 })], 0));
    };
    expect(order(15.5)).toEqual(['old', 'new']);
    expect(order(14.5)).toEqual(['new', 'old']);
  });

  it('fcfs (vLLM run as people run it, its default fcfs scheduling) ignores priority', () => {
    const early = cand('early', { segmentQueuedS: 0 });
    const late = cand('late', { segmentQueuedS: 1, priority: 10 });
    expect(ids(new FcfsPolicy().order([late, early]))).toEqual(['early', 'late']);
  });
});

/** 1 KiB of KV per token, 1 MB/s copies, 1 ms of prefill per token. */
function memory(waitingTokens: number, freeTokens: number): MemoryView {
  return { usedFraction: 0.5, waitingTokens, freeTokens, kvBytesPerToken: 1000, swapBytesPerS: 1e6, prefillSPerToken: 1e-3 };
}

describe('astraea: kv.retain (rule 15)', () => {
  // A 100-token job: a copy out and back takes 2 × 100 × 1000 / 1e6 = 0.2 s, a recompute 0.1 s.
  // A 5 s tool outlasts both, so without a hint its KV is discarded (the recompute is cheaper).
  const paused = { jobId: 'j', kind: 'k', contextTokens: 100, tool: 't' };
  const policy = (waitingTokens: number, freeTokens: number) => new AstraeaPolicy({ memory: () => memory(waitingTokens, freeTokens), toolTimeS: () => 5 });

  it('a retained job keeps its KV at the pause that would otherwise discard it', () => {
    expect(policy(500, 10).onToolWait(paused, 0)).toBe('discard');
    expect(policy(500, 10).onToolWait({ ...paused, retainPriority: 50 }, 0)).toBe('preserve');
  });

  it('is moved last by rule 3, and only while a deficit remains', () => {
    // Deficit 150 − 50 = 100 tokens. Every job has 100 tokens; remaining tool time 5 − waited:
    // r 4.5 s, a 4 s, b 1 s. Without the hint r goes first (100 ≥ 100: done). With r retained,
    // a goes instead and covers the deficit: r keeps its KV.
    const jobs = [waiting('r', 100, 0.5, 'device'), waiting('a', 100, 1, 'device'), waiting('b', 100, 4, 'device')];
    expect([...policy(150, 50).revisitToolWaits(jobs, 0).keys()]).toEqual(['r']);
    jobs[0] = waiting('r', 100, 0.5, 'device', { retainPriority: 50 });
    expect([...policy(150, 50).revisitToolWaits(jobs, 0).keys()]).toEqual(['a']);
    // Soft: a deficit of 350 − 50 = 300 needs all three; the retained one goes last.
    expect([...policy(350, 50).revisitToolWaits(jobs, 0).keys()]).toEqual(['a', 'b', 'r']);
  });

  it("the planner's reclaims take retained jobs last, the lower retain priority first", () => {
    // Remaining: x 4.5 s, y 4 s, z 1 s, w 0.5 s; x at retain priority 80, y at 20.
    const jobs = [
      waiting('x', 100, 0.5, 'device', { retainPriority: 80 }),
      waiting('y', 100, 1, 'device', { retainPriority: 20 }),
      waiting('z', 100, 4, 'device'),
      waiting('w', 100, 4.5, 'device'),
    ];
    expect(policy(0, 0).reclaimOrder(jobs, 0)).toEqual(['z', 'w', 'y', 'x']);
  });
});
