/**
 * The product policy's own rules, each against the paper's behaviour it changes (the ablation).
 */
import { describe, expect, it } from 'vitest';
import { AstraeaPolicy } from '../../lib/sched/astraea.js';
import { AstraeaPaperPolicy } from '../../lib/sched/astraea-paper.js';
import { Predictors } from '../../lib/predict/predictors.js';
import { createPolicy } from '../../lib/sched/registry.js';
import type { MemoryView } from '../../lib/sched/kv-waste.js';
import type { SchedulingCandidate, SegmentEndView } from '../../lib/sched/policy.js';
import { cand as fixture } from './scheduling-fixtures.js';

/** 'old' arrived at 0, anything else at 5. */
function cand(jobId: string, accumulatedWaitS: number): SchedulingCandidate {
  return fixture(jobId, { jobArrivalS: jobId === 'old' ? 0 : 5, accumulatedWaitS });
}

/** A segment of 300 generated tokens: past Q0's 256-token quota, so its job moves down to Q1. */
const heavySegment: SegmentEndView = { jobId: 'old', kind: 'k', segmentIndex: 0, reason: 'tool_call', generatedTokens: 300, computedPromptTokens: 0, tool: 't' };

function orderAfterDemotion(policy: AstraeaPaperPolicy, oldWaitS: number): string[] {
  policy.onSegmentEnd(heavySegment, 0);
  return policy.order([cand('new', 0), cand('old', oldWaitS)], 10).map((c) => c.jobId);
}

describe('astraea: aging from every queue', () => {
  // T_proc = 1 s for both. 'old' is in Q1 of 4 queues; 'new' is fresh in Q0. W is the paper's
  // accumulated wait here (rule 5, W = job age, has its own tests below).
  const options = { serviceTime: () => 1, waitBasis: 'accumulated' as const };

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

/** A memory view: 1 KiB of KV per token, 1 MB/s copies, 1 ms of prefill per token. */
function memory(waitingTokens: number, freeTokens: number, usedFraction = 0.5): MemoryView {
  return { usedFraction, waitingTokens, freeTokens, kvBytesPerToken: 1000, swapBytesPerS: 1e6, prefillSPerToken: 1e-3 };
}

describe('astraea: KV at a tool wait by contention (rule 2)', () => {
  // A 100-token job: a copy out and back takes 2 × 100 × 1000 / 1e6 = 0.2 s; recomputing 0.1 s.
  const paused = { jobId: 'j', kind: 'k', contextTokens: 100, tool: 't' };

  it('keeps the KV while the waiting work fits in free memory, however full the pool', () => {
    const policy = new AstraeaPolicy({ memory: () => memory(50, 60, 0.99), toolTimeS: () => 100 });
    expect(policy.onToolWait(paused, 0)).toBe('preserve');
    // Or sends it to the prefix cache, if told to.
    expect(new AstraeaPolicy({ uncontendedKv: 'release', memory: () => memory(50, 60, 0.99), toolTimeS: () => 100 }).onToolWait(paused, 0)).toBe('release');
  });

  it('with work waiting beyond free memory: away if the tool outlasts the cheaper of copy and recompute', () => {
    // Recompute (0.1 s) is cheaper than the 0.2 s round trip here, so 'discard'; a tool of 0.1 s
    // or less is back before either pays off, so 'preserve'.
    const slowCopy = (toolS: number) => new AstraeaPolicy({ memory: () => memory(500, 10), toolTimeS: () => toolS });
    expect(slowCopy(5).onToolWait(paused, 0)).toBe('discard');
    expect(slowCopy(0.1).onToolWait(paused, 0)).toBe('preserve');
    // With copies 10× faster (round trip 0.02 s < recompute 0.1 s) the choice is 'swap'.
    const fast = new AstraeaPolicy({ memory: () => ({ ...memory(500, 10), swapBytesPerS: 1e7 }), toolTimeS: () => 5 });
    expect(fast.onToolWait(paused, 0)).toBe('swap');
  });

  it("the paper's watermark rule (the ablation) preserves below 0.8 used even with work waiting", () => {
    const policy = new AstraeaPolicy({ kvRule: 'watermark', memory: () => memory(500, 10, 0.5), toolTimeS: () => 5 });
    expect(policy.onToolWait(paused, 0)).toBe('preserve');
  });

  it('uses the client hint for the tool time when the engine passes one', () => {
    const policy = new AstraeaPolicy({ memory: () => ({ ...memory(500, 10), swapBytesPerS: 1e7 }) });
    // Default predictor: the hint, else 1 s. Hint 0.01 s < round trip 0.02 s → preserve.
    expect(policy.onToolWait({ ...paused, expectedToolS: 0.01 }, 0)).toBe('preserve');
    expect(policy.onToolWait({ ...paused, expectedToolS: 3 }, 0)).toBe('swap');
  });
});

describe('astraea: reclaiming preserved KV by remaining tool time (rule 3)', () => {
  const view = (jobId: string, contextTokens: number, waitedS: number, kv: 'device' | 'host' = 'device') => ({ jobId, kind: 'k', contextTokens, tool: 't', waitedS, kv, deviceBlocks: 0 });
  // Every tool takes 10 s: remaining = 10 − waited. Copies fast (round trip 2 ms per 100 tokens).
  const options = (waiting: number, free: number) => ({ memory: () => ({ ...memory(waiting, free), swapBytesPerS: 1e8 }), toolTimeS: () => 10 });

  it('swaps out the jobs expected back last until the waiting work fits', () => {
    // Deficit 250 − 50 = 200 tokens. Remaining: a 9 s, b 2 s, c 6 s → a (100), then c (150): 250 ≥ 200.
    const policy = new AstraeaPolicy(options(250, 50));
    const out = policy.revisitToolWaits([view('a', 100, 1), view('b', 100, 8), view('c', 150, 4), view('h', 500, 0, 'host')], 0);
    expect([...out.entries()]).toEqual([['a', 'swap'], ['c', 'swap']]);
  });

  it('leaves a job alone once it is due back before a copy round trip', () => {
    // Deficit 1000; 'soon' has 0.001 s left, less than its 2 ms round trip.
    const policy = new AstraeaPolicy(options(1050, 50));
    expect([...policy.revisitToolWaits([view('late', 100, 0), view('soon', 100, 9.999)], 0).keys()]).toEqual(['late']);
  });

  it('does nothing without contention, or when turned off (the ablation)', () => {
    expect(new AstraeaPolicy(options(50, 60)).revisitToolWaits([view('a', 100, 0)], 0).size).toBe(0);
    expect(new AstraeaPolicy({ ...options(250, 50), reclaim: 'off' }).revisitToolWaits([view('a', 100, 0)], 0).size).toBe(0);
  });
});

describe("astraea: keep or move by the tool's whole distribution (rule 14)", () => {
  // Built as the engine builds it, from the predictors' environment. Memory as above: for a
  // 100-token job a move costs the cheaper of a 0.2 s round trip and a 0.1 s recompute: 0.1 s.
  function policyFor(toolWaitRule?: 'mean') {
    const predictors = new Predictors();
    // 'quick' returns in 0.01 s three times in four, once in 10 s: mean 2.5075 s, well over 0.1.
    for (const d of [0.01, 0.01, 0.01, 10]) predictors.toolTimes.observe('quick', d);
    // 'steady' always takes 1 s.
    for (let i = 0; i < 4; i++) predictors.toolTimes.observe('steady', 1);
    const policy = createPolicy('astraea', predictors.policyEnvironment(() => memory(500, 10)), toolWaitRule ? { toolWaitRule } : {});
    return policy as AstraeaPolicy;
  }
  const paused = { jobId: 'j', kind: 'k', contextTokens: 100, tool: 'quick' };
  const view = (jobId: string, tool: string, waitedS: number) => ({ jobId, kind: 'k', contextTokens: 100, tool, waitedS, kv: 'device' as const, deviceBlocks: 0 });

  it('keeps the KV of a call that is likely back before a move pays off, though its mean says move', () => {
    // Keep until 0.01 s: E[min(R, 0.01)] = 0.01 < 0.1 s · P(R ≤ 0.01) = 0.075, so keeping may pay.
    expect(policyFor().onToolWait(paused, 0)).toBe('preserve');
    // The ablation compares the mean, 2.5075 s, with 0.1 s: it moves (recompute, the cheaper).
    expect(policyFor('mean').onToolWait(paused, 0)).toBe('discard');
  });

  it('prices a move by what it will be: a recompute when the host pool cannot take the KV', () => {
    // Copies 10× faster: a 0.02 s round trip, against a 0.1 s recompute. A 0.05 s call outlasts
    // the round trip (swap) while the host has room for the 100 tokens; with 50 tokens free there
    // a swap would discard, so the move costs the 0.1 s recompute and the 0.05 s call is kept.
    const withHost = (hostFreeTokens: number) => new AstraeaPolicy({ memory: () => ({ ...memory(500, 10), swapBytesPerS: 1e7, hostFreeTokens }), toolTimeS: () => 0.05 });
    expect(withHost(100).onToolWait(paused, 0)).toBe('swap');
    expect(withHost(50).onToolWait(paused, 0)).toBe('preserve');
    // Two 100-token jobs 5 s into 10 s calls, 150 tokens free on the host: the first swap leaves
    // 50, so the second is priced by its recompute (0.1 s, still under its 5 s) and discarded.
    const policy = new AstraeaPolicy({ memory: () => ({ ...memory(500, 10), swapBytesPerS: 1e7, hostFreeTokens: 150 }), toolTimeS: () => 10 });
    const waiting = (jobId: string) => ({ jobId, kind: 'k', contextTokens: 100, tool: 't', waitedS: 5, kv: 'device' as const, deviceBlocks: 0 });
    expect([...policy.revisitToolWaits([waiting('a'), waiting('b')], 0).entries()]).toEqual([
      ['a', 'swap'],
      ['b', 'discard'],
    ]);
  });

  it('moves it once the quick returns are behind it, and does not stop at a kept job', () => {
    // Deficit 490. 'q0' has waited 0 s (kept, as above); 'q1' 0.05 s (only the 10 s call is left:
    // 9.95 s to go, moved); 's' 0 s of a steady 1 s call (1 > 0.1, moved). Sorted by mean
    // remaining — q1 9.95, q0 2.5075, s 1 — a kept q0 does not stop the walk before s.
    const out = policyFor().revisitToolWaits([view('q0', 'quick', 0), view('q1', 'quick', 0.05), view('s', 'steady', 0)], 0);
    expect([...out.entries()]).toEqual([
      ['q1', 'discard'],
      ['s', 'discard'],
    ]);
  });
});

describe('astraea: W is the job age (rule 5) and preemption swaps (rule 4)', () => {
  // T_proc = 1 s. At t = 10: 'old' arrived at 0 and spent 9 s in tool calls (accumulated wait 1 s);
  // 'new' arrived at 5 and has waited 2 s in the queue.
  const old = { ...cand('old', 1), jobArrivalS: 0 };
  const fresh = { ...cand('new', 2), jobArrivalS: 5 };

  it('ranks by (age + T)/T: old (10 + 1)/1 = 11 before new (5 + 1)/1 = 6', () => {
    expect(new AstraeaPolicy({ serviceTime: () => 1 }).order([fresh, old], 10).map((c) => c.jobId)).toEqual(['old', 'new']);
  });

  it("the paper's accumulated wait (the ablation) ranks new (2 + 1) before old (1 + 1)", () => {
    const policy = new AstraeaPolicy({ serviceTime: () => 1, waitBasis: 'accumulated' });
    expect(policy.order([old, fresh], 10).map((c) => c.jobId)).toEqual(['new', 'old']);
  });

  it('returns the candidates themselves, not copies with the age written in', () => {
    const out = new AstraeaPolicy({ serviceTime: () => 1 }).order([fresh, old], 10);
    expect(out[0]).toBe(old);
    expect(out[0].accumulatedWaitS).toBe(1);
  });

  it('preempts by recomputing, like the paper (swap preemption was tried and dropped)', () => {
    expect(new AstraeaPolicy().preemption).toBe('recompute');
    expect(new AstraeaPolicy({ preemption: 'swap' }).preemption).toBe('swap');
  });
});

describe('astraea: tail protection against an arrival order (rule 6)', () => {
  // T_proc (segment) = 10 s for 'long', 1 s for the others. 'long' queues first, with nothing
  // ahead of it: it is owed 10 s of work. With tailSlack 2 it is overdue once more than 20 s of
  // work has started since. HRRN (W 5 s each) prefers x: (5 + 1)/1 = 6 against (5 + 10)/10 = 1.5.
  const serviceTime = (c: SchedulingCandidate) => (c.jobId === 'long' ? 10 : 1);
  const long = fixture('long', { segmentQueuedS: 0, accumulatedWaitS: 5 });
  const x = fixture('x', { jobArrivalS: 50, segmentQueuedS: 50, accumulatedWaitS: 5 });
  const setup = (tailSlack?: number) => {
    const policy = new AstraeaPolicy({ serviceTime, waitBasis: 'accumulated', tailSlack });
    policy.order([long], 0);
    const start = (i: number) => policy.order([long, fixture(`s${i}`, { segmentQueuedS: 1 + i, running: true })], 1 + i);
    return { policy, start };
  };

  it('serves a segment that an arrival order would have started long ago first', () => {
    const { policy, start } = setup(2);
    for (let i = 0; i < 20; i++) start(i); // 20 s started since 'long' queued: 2 × 10, not more
    expect(policy.order([x, long], 60).map((c) => c.jobId)).toEqual(['x', 'long']);
    start(20); // 21 s > 20 s
    expect(policy.order([x, long], 60).map((c) => c.jobId)).toEqual(['long', 'x']);
    // Once started it stays overdue: first among the running, so the last a shortage preempts.
    const runningLong = { ...long, running: true };
    const runningShort = fixture('short', { segmentQueuedS: 40, running: true });
    expect(policy.order([runningShort, runningLong, x], 61).map((c) => c.jobId)).toEqual(['long', 'short', 'x']);
  });

  it('is off by default (the ablation): HRRN alone', () => {
    const { policy, start } = setup();
    for (let i = 0; i < 40; i++) start(i);
    expect(policy.order([x, long], 60).map((c) => c.jobId)).toEqual(['x', 'long']);
  });

  it('forgets closed jobs', () => {
    const { policy, start } = setup(2);
    for (let i = 0; i < 3; i++) start(i);
    expect(policy.ledgerSize).toBe(4);
    for (const id of ['long', 's0', 's1', 's2']) policy.onJobClosed(id);
    expect(policy.ledgerSize).toBe(0);
  });
});

describe('astraea: swap or discard (rule 7)', () => {
  // 100 tokens, 1 KiB each: a one-way copy at 1e6 B/s takes 0.1 s; recomputing takes 0.1 s.
  const paused = { jobId: 'j', kind: 'k', contextTokens: 100, tool: 't' };
  const view = (waiting: number, free: number, stepS: number, swapBytesPerS = 1e6) => () => ({ ...memory(waiting, free), stepS, swapBytesPerS });

  it("by default ('copy') weighs the whole round trip against a whole recompute", () => {
    // Round trip 0.2 s > recompute 0.1 s: discard. With copies 4× faster (0.05 s) it swaps.
    expect(new AstraeaPolicy({ memory: view(500, 10, 0.09), toolTimeS: () => 5 }).onToolWait(paused, 0)).toBe('discard');
    expect(new AstraeaPolicy({ memory: view(500, 10, 0.09, 4e6), toolTimeS: () => 5 }).onToolWait(paused, 0)).toBe('swap');
  });

  const stall = { swapCost: 'stall' as const };

  it("the ablation ('stall') discards when the waiting work would evict little of the context", () => {
    // Deficit 20 tokens → recompute at most 20 × 1 ms = 0.02 s; copying (stall 2 × (0.1 − 0.01)
    // = 0.18 s) costs more.
    expect(new AstraeaPolicy({ ...stall, memory: view(30, 10, 0.01), toolTimeS: () => 5 }).onToolWait(paused, 0)).toBe('discard');
  });

  it("the ablation ('stall') swaps when a step hides most of the copy", () => {
    // Deficit 490 → the whole context (0.1 s) is recomputed; the copy stalls 2 × (0.1 − 0.09) = 0.02 s.
    expect(new AstraeaPolicy({ ...stall, memory: view(500, 10, 0.09), toolTimeS: () => 5 }).onToolWait(paused, 0)).toBe('swap');
  });
});

describe("astraea: the planner's reclaim order (rule 3)", () => {
  it('names the jobs expected back last first', () => {
    // Every tool takes 10 s: remaining a 9, b 2, c 6 → a, c, b.
    const v = (jobId: string, waitedS: number) => ({ jobId, kind: 'k', contextTokens: 100, tool: 't', waitedS, kv: 'device' as const, deviceBlocks: 0 });
    const policy = new AstraeaPolicy({ toolTimeS: () => 10 });
    expect(policy.reclaimOrder([v('a', 1), v('b', 8), v('c', 4)], 0)).toEqual(['a', 'c', 'b']);
    expect(new AstraeaPolicy({ toolTimeS: () => 10, reclaim: 'off' }).reclaimOrder([v('a', 1)], 0)).toEqual([]);
  });
});

describe("astraea: swap or discard when the planner takes KV back (rule 7)", () => {
  // 100 tokens, 1 KiB each at 1e6 B/s: a copy out takes 0.1 s and stalls the step whole.
  const v = { jobId: 'j', kind: 'k', contextTokens: 100, tool: 't', waitedS: 0, kv: 'device' as const, deviceBlocks: 0 };
  const with_ = (waiting: number, free: number, stepS: number) => new AstraeaPolicy({ swapCost: 'stall', memory: () => ({ ...memory(waiting, free), stepS }) });

  it("by default ('copy') always swaps, like the planner's default", () => {
    expect(new AstraeaPolicy({ memory: () => ({ ...memory(30, 10), stepS: 0.05 }) }).reclaimAction(v, 0)).toBe('swap');
  });

  it("the ablation ('stall') discards when the new work overwrites less than the copy would cost", () => {
    // Deficit 20 → 0.02 s recomputed later; stall 0.1 + (0.1 − 0.05) = 0.15 s.
    expect(with_(30, 10, 0.05).reclaimAction(v, 0)).toBe('discard');
  });

  it("the ablation ('stall') swaps when nearly all of it would be overwritten and recomputing costs more than the copy", () => {
    // Deficit 490 → all 100 tokens recomputed at 2 ms each: 0.2 s, against a stall of 0.1 s
    // (the copy out; the 0.2 s step hides the copy back).
    expect(new AstraeaPolicy({ swapCost: 'stall', memory: () => ({ ...memory(500, 10), prefillSPerToken: 2e-3, stepS: 0.2 }) }).reclaimAction(v, 0)).toBe('swap');
  });
});

describe("astraea: T is the job's remaining service (rule 9)", () => {
  it('ranks a job on its last segment before one with segments ahead, at equal age', () => {
    // T_proc 1 s each; 'ahead' expects 3 more segments → T = 4 s. At age 4: last (4 + 1)/1 = 5,
    // ahead (4 + 4)/4 = 2.
    const last = { ...cand('last', 0), jobArrivalS: 6 };
    const ahead = { ...cand('ahead', 0), jobArrivalS: 6, expectedFutureSegments: 3 };
    expect(new AstraeaPolicy({ serviceTime: () => 1 }).order([ahead, last], 10).map((c) => c.jobId)).toEqual(['last', 'ahead']);
    // The segment-scoped ablation sees two equal segments: ties go to the earlier arrival, then id.
    expect(new AstraeaPolicy({ serviceTime: () => 1, serviceScope: 'segment' }).order([last, ahead], 10).map((c) => c.jobId)).toEqual(['ahead', 'last']);
  });
});

describe('astraea: rule 9 counts every segment expected ahead', () => {
  // T_proc 1 s; W 6 s. 'far' expects 20 more segments: T = 1 × (1 + 20) = 21 s, score
  // (6 + 21)/21 = 27/21. 'mid' expects 5: T = 6 s, score (6 + 6)/6 = 2. (With the deleted cap of
  // 5 both had T = 6 s and tied, and the earlier arrival, 'far', went first.)
  const far = fixture('far', { jobArrivalS: 0, accumulatedWaitS: 6, expectedFutureSegments: 20 });
  const mid = fixture('mid', { jobArrivalS: 1, accumulatedWaitS: 6, expectedFutureSegments: 5 });

  it('the job with more ahead waits, though it arrived first', () => {
    const policy = new AstraeaPolicy({ serviceTime: () => 1, waitBasis: 'accumulated' });
    expect(policy.score(far)).toBeCloseTo(27 / 21, 12);
    expect(policy.score(mid)).toBeCloseTo(2, 12);
    expect(policy.order([far, mid], 10).map((c) => c.jobId)).toEqual(['mid', 'far']);
  });
});

describe('astraea: T counts the KV a job holds while memory is contended (rule 10)', () => {
  // Both take T_proc = 1 s and have waited 3 s. 'big' holds 1,000 tokens (+ 100 expected output,
  // half on average: 1,050), 'small' 100 (150). Mean footprint 600: big's T = 1 × 1050/600 = 1.75 s,
  // small's stays 1 s (the scale is at least 1). Scores: big (3 + 1.75)/1.75 = 2.71, small 4.
  const big = fixture('big', { jobArrivalS: 0, accumulatedWaitS: 3, contextTokens: 1000, expectedOutputTokens: 100 });
  const small = fixture('small', { jobArrivalS: 1, accumulatedWaitS: 3, contextTokens: 100, expectedOutputTokens: 100 });
  // The order alone: every candidate let in (rule 11 would hold back what does not fit in 100 free tokens).
  const options = { serviceTime: () => 1, waitBasis: 'accumulated' as const, admission: 'all' as const };

  it('under contention the job holding less KV goes first', () => {
    const policy = new AstraeaPolicy({ ...options, memory: () => memory(500, 100) });
    expect(policy.order([big, small], 10).map((c) => c.jobId)).toEqual(['small', 'big']);
    expect(policy.score(big)).toBeCloseTo(4, 10); // outside order(), T is the compute time alone
  });

  it('without contention, or with the rule off (the ablation), equal scores fall back to arrival order', () => {
    expect(new AstraeaPolicy({ ...options, memory: () => memory(50, 100) }).order([small, big], 10).map((c) => c.jobId)).toEqual(['big', 'small']);
    expect(new AstraeaPolicy({ ...options, memory: () => memory(500, 100), memoryWeight: 'off' }).order([small, big], 10).map((c) => c.jobId)).toEqual(['big', 'small']);
  });
});
