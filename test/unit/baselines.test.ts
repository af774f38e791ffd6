import { describe, expect, it } from 'vitest';
import { AutellixPolicy } from '../../lib/sched/autellix.js';
import { ContinuumPolicy } from '../../lib/sched/continuum.js';
import { InferCeptPolicy } from '../../lib/sched/infercept.js';
import type { MemoryView } from '../../lib/sched/kv-waste.js';
import type { PausedJobView, WaitingJobView } from '../../lib/sched/policy.js';
import { ToolTimePredictor } from '../../lib/predict/tool-time.js';
import { cand, ids } from './scheduling-fixtures.js';



function paused(jobId: string, contextTokens = 100, tool = 't'): PausedJobView {
  return { jobId, kind: 'k', contextTokens, tool };
}

function waiting(jobId: string, waitedS: number, kv: WaitingJobView['kv'] = 'device'): WaitingJobView {
  return { jobId, kind: 'k', contextTokens: 100, tool: 't', waitedS, kv, deviceBlocks: 0 };
}

/**
 * Memory for the InferCept waste cases. Context C_self = 100 tokens, waiting 100 → C_batch = 100,
 * M = 1000 B/token, prefill 0.001 s/token → T_recompute = 0.1 s.
 *   W_preserve = T_tool · 100 · 1000 = 1e5 · T_tool
 *   W_discard  = 0.1 · 100 · 1000    = 1e4
 *   W_swap     = 2 · T_swap · 100 · 1000, T_swap = 100 · 1000 / bandwidth
 * Bandwidth 1e7 B/s: T_swap = 0.01 → W_swap = 2000. Bandwidth 1e5 B/s: T_swap = 1 → W_swap = 2e5.
 */
function mem(swapBytesPerS: number): MemoryView {
  return { usedFraction: 0.5, waitingTokens: 100, kvBytesPerToken: 1000, swapBytesPerS, prefillSPerToken: 0.001 };
}

describe('InferCeptPolicy', () => {
  it('orders by original job arrival, running first, not by segment queue time', () => {
    const p = new InferCeptPolicy();
    expect(p.name).toBe('infercept');
    expect(p.preemption).toBe('recompute');
    const out = p.order(
      [
        cand('late', { jobArrivalS: 5, segmentQueuedS: 5 }),
        cand('resumed', { jobArrivalS: 1, segmentQueuedS: 9 }),
        cand('run', { jobArrivalS: 8, running: true }),
        cand('b', { jobArrivalS: 3 }),
        cand('a', { jobArrivalS: 3 }),
      ],
      10,
    );
    expect(ids(out)).toEqual(['run', 'resumed', 'a', 'b', 'late']);
  });

  it('picks the min-waste action at every tool wait, whatever the memory use', () => {
    // Bandwidth 1e7: W_swap = 2000, W_discard = 1e4.
    // T_tool = 0.001: W_preserve = 100 → preserve (even at usedFraction 0.5, no watermark).
    const fast = new InferCeptPolicy({ memory: () => mem(1e7), toolTimeS: () => 0.001 });
    expect(fast.onToolWait(paused('a'), 0)).toBe('preserve');
    // T_tool = 1: W_preserve = 1e5 > W_swap = 2000 < W_discard = 1e4 → swap (budget 1e7·0.02 = 2e5 B ≥ 1e5 B).
    const slowTool = new InferCeptPolicy({ memory: () => mem(1e7), toolTimeS: () => 1 });
    expect(slowTool.onToolWait(paused('b'), 0)).toBe('swap');
    // Bandwidth 1e5: W_swap = 2e5; T_tool = 1: W_preserve = 1e5, W_discard = 1e4 → discard.
    const slowLink = new InferCeptPolicy({ memory: () => mem(1e5), toolTimeS: () => 1 });
    expect(slowLink.onToolWait(paused('c'), 0)).toBe('discard');
  });

  it('with a budget for one job swaps the first and gives the second the cheaper of preserve/discard', () => {
    // Each job's KV is 100 · 1000 = 1e5 B; budget exactly 1e5 B.
    // T_tool = 1: W_preserve = 1e5, W_discard = 1e4 → the second job is discarded.
    const p = new InferCeptPolicy({ memory: () => mem(1e7), toolTimeS: () => 1, swapBudgetBytesPerStep: 1e5 });
    expect(p.onToolWait(paused('j1'), 0)).toBe('swap');
    expect(p.swappedBytes).toBe(1e5);
    expect(p.onToolWait(paused('j2'), 0)).toBe('discard');
    // order() marks a new step: the budget is available again.
    p.order([], 0.02);
    expect(p.swappedBytes).toBe(0);
    expect(p.onToolWait(paused('j3'), 0.02)).toBe('swap');

    // T_tool = 0.05: W_preserve = 5000 > W_swap = 2000, W_discard = 1e4 → over budget, preserve.
    const q = new InferCeptPolicy({ memory: () => mem(1e7), toolTimeS: () => 0.05, swapBudgetBytesPerStep: 1e5 });
    expect(q.onToolWait(paused('j1'), 0)).toBe('swap');
    expect(q.onToolWait(paused('j2'), 0)).toBe('preserve');
  });

  it('derives the default budget as swapBytesPerS × stepTimeS', () => {
    // 1e7 B/s × 0.01 s = 1e5 B: exactly one 1e5-byte job per step.
    const p = new InferCeptPolicy({ memory: () => mem(1e7), toolTimeS: () => 1, stepTimeS: () => 0.01 });
    expect(p.onToolWait(paused('j1'), 0)).toBe('swap');
    expect(p.onToolWait(paused('j2'), 0)).toBe('discard');
    // Default step 0.02 s → 2e5 B: two jobs fit, the third does not.
    const d = new InferCeptPolicy({ memory: () => mem(1e7), toolTimeS: () => 1 });
    expect(d.onToolWait(paused('j1'), 0)).toBe('swap');
    expect(d.onToolWait(paused('j2'), 0)).toBe('swap');
    expect(d.onToolWait(paused('j3'), 0)).toBe('discard');
  });
});

describe('AutellixPolicy', () => {
  it('discretises attained tokens into levels at the default thresholds', () => {
    const p = new AutellixPolicy();
    expect(p.name).toBe('autellix');
    expect(p.preemption).toBe('recompute');
    // [256, 1024, 4096, 16384]: level = number of thresholds ≤ attained.
    expect([0, 255, 256, 1023, 1024, 4095, 4096, 16383, 16384, 1e6].map((t) => p.level(t))).toEqual([
      0, 0, 1, 1, 2, 2, 3, 3, 4, 4,
    ]);
  });

  it('runs lower levels first, FCFS by job arrival within a level', () => {
    const p = new AutellixPolicy();
    const out = p.order(
      [
        cand('heavy-early', { jobArrivalS: 0, attainedTokens: 5000 }), // level 3
        cand('mid', { jobArrivalS: 1, attainedTokens: 300 }), // level 1
        cand('light-late', { jobArrivalS: 4, attainedTokens: 10 }), // level 0
        cand('light-early', { jobArrivalS: 2, attainedTokens: 200, segmentQueuedS: 9 }), // level 0
      ],
      10,
    );
    expect(ids(out)).toEqual(['light-early', 'light-late', 'mid', 'heavy-early']);
  });

  it('promotes a starved candidate to the top level only once its wait exceeds starvationS', () => {
    const p = new AutellixPolicy({ starvationS: 10 });
    const base = [cand('fresh', { jobArrivalS: 5, attainedTokens: 0 })];
    // Wait exactly 10 s: not promoted, stays at level 2 behind the level-0 job.
    const atLimit = p.order([...base, cand('old', { jobArrivalS: 1, attainedTokens: 2000, accumulatedWaitS: 10 })], 20);
    expect(ids(atLimit)).toEqual(['fresh', 'old']);
    // Wait 10.5 s: promoted to level 0, where its earlier arrival puts it first.
    const over = p.order([...base, cand('old', { jobArrivalS: 1, attainedTokens: 2000, accumulatedWaitS: 10.5 })], 20);
    expect(ids(over)).toEqual(['old', 'fresh']);
  });

  it('ranks running candidates first', () => {
    const p = new AutellixPolicy();
    const out = p.order(
      [
        cand('new', { jobArrivalS: 9, attainedTokens: 0 }),
        cand('run-heavy', { jobArrivalS: 3, attainedTokens: 20000, running: true }),
        cand('run-light', { jobArrivalS: 4, attainedTokens: 10, running: true }),
      ],
      10,
    );
    expect(ids(out)).toEqual(['run-light', 'run-heavy', 'new']);
  });

  it('releases KV at tool waits', () => {
    expect(new AutellixPolicy().onToolWait(paused('a'), 0)).toBe('release');
  });
});

describe('ContinuumPolicy', () => {
  it('orders job-level FCFS, running first', () => {
    const p = new ContinuumPolicy();
    expect(p.name).toBe('continuum');
    expect(p.preemption).toBe('recompute');
    const out = p.order(
      [
        cand('c', { jobArrivalS: 3, segmentQueuedS: 3 }),
        cand('resumed', { jobArrivalS: 1, segmentQueuedS: 8 }),
        cand('run', { jobArrivalS: 7, running: true }),
      ],
      10,
    );
    expect(ids(out)).toEqual(['run', 'resumed', 'c']);
  });

  it('preserves with a TTL at the 0.9 quantile of the tool durations', () => {
    const predictor = new ToolTimePredictor();
    for (const d of [4, 1, 10, 2, 3]) predictor.observe('search', d);
    const p = new ContinuumPolicy({ toolTimeQuantileS: (tool, q) => predictor.quantileS(tool, q) });
    // Sorted [1, 2, 3, 4, 10], type 7: h = (5 − 1) · 0.9 = 3.6 → 4 + 0.6 · (10 − 4) = 7.6 s.
    expect(p.onToolWait(paused('j', 100, 'search'), 0)).toBe('preserve');
    expect(p.ttlS('j')).toBeCloseTo(7.6, 12);
    // ttlQuantile 0.5: h = 2 → 3 s.
    const median = new ContinuumPolicy({ ttlQuantile: 0.5, toolTimeQuantileS: (t, q) => predictor.quantileS(t, q) });
    median.onToolWait(paused('j', 100, 'search'), 0);
    expect(median.ttlS('j')).toBe(3);
    // A tool never observed: defaultTtlS (2 s).
    p.onToolWait(paused('k', 100, 'unseen'), 0);
    expect(p.ttlS('k')).toBe(2);
  });

  it('uses defaultTtlS with no history, and the option when given', () => {
    const p = new ContinuumPolicy();
    p.onToolWait(paused('a'), 0);
    expect(p.ttlS('a')).toBe(2);
    const q = new ContinuumPolicy({ defaultTtlS: 0.5 });
    q.onToolWait(paused('a'), 0);
    expect(q.ttlS('a')).toBe(0.5);
  });

  it('revisit releases exactly the jobs on the device whose wait exceeds their TTL', () => {
    const ttl: Record<string, number> = { short: 1, long: 5 };
    const p = new ContinuumPolicy({ toolTimeQuantileS: (tool) => ttl[tool] });
    p.onToolWait(paused('a', 100, 'short'), 0); // TTL 1
    p.onToolWait(paused('b', 100, 'short'), 0); // TTL 1
    p.onToolWait(paused('c', 100, 'long'), 0); // TTL 5
    p.onToolWait(paused('d', 100, 'short'), 0); // TTL 1
    const out = p.revisitToolWaits(
      [
        waiting('a', 1.5), // 1.5 > 1: expired
        waiting('b', 1), // exactly the TTL: kept
        waiting('c', 4), // 4 ≤ 5: kept
        waiting('d', 3, 'none'), // expired but already off the device
        waiting('unknown', 100), // never paused through this policy
      ],
      10,
    );
    expect([...out.entries()]).toEqual([['a', 'release']]);
  });

  it('drops a job’s TTL when it is closed', () => {
    const p = new ContinuumPolicy({ defaultTtlS: 1 });
    p.onToolWait(paused('a'), 0);
    expect(p.ttlS('a')).toBe(1);
    p.onJobClosed('a');
    expect(p.ttlS('a')).toBeUndefined();
    expect(p.revisitToolWaits([waiting('a', 50)], 50).size).toBe(0);
  });
});
