import { describe, expect, it } from 'vitest';
import { AstraeaPaperPolicy } from '../../lib/sched/astraea-paper.js';
import { kvWaste, kvWasteInputs, type MemoryView } from '../../lib/sched/kv-waste.js';
import { StatefulMlfq } from '../../lib/sched/mlfq.js';
import type { SegmentEndView } from '../../lib/sched/policy.js';
import { EngineError } from '../../lib/errors.js';
import { cand, ids } from './scheduling-fixtures.js';


function seg(jobId: string, generatedTokens: number, computedPromptTokens: number, reason: SegmentEndView['reason']): SegmentEndView {
  return { jobId, kind: 'k', segmentIndex: 0, reason, generatedTokens, computedPromptTokens, tool: reason === 'tool_call' ? 't' : null };
}

/** A policy whose T_proc is read from a table by job id. */
function withT(table: Record<string, number>, options = {}): AstraeaPaperPolicy {
  return new AstraeaPaperPolicy({ serviceTime: (c) => table[c.jobId], ...options });
}


describe('astraea-paper: HRRN within a queue', () => {
  it('orders by (W + T)/T, highest first', () => {
    // a: (10+2)/2 = 6, b: (3+1)/1 = 4, c: (0+5)/5 = 1, d: (20+10)/10 = 3
    const p = withT({ a: 2, b: 1, c: 5, d: 10 });
    const cs = [
      cand('c', { accumulatedWaitS: 0 }),
      cand('d', { accumulatedWaitS: 20 }),
      cand('b', { accumulatedWaitS: 3 }),
      cand('a', { accumulatedWaitS: 10 }),
    ];
    expect(cs.map((c) => p.score(c))).toEqual([1, 3, 4, 6]);
    expect(ids(p.order(cs, 0))).toEqual(['a', 'b', 'd', 'c']);
  });

  it('default T_proc = max(1, prefill×0.1 + 128 − generated) × 0.02 s', () => {
    const p = new AstraeaPaperPolicy();
    // (1000×0.1 + 128 − 28) × 0.02 = 200 × 0.02 = 4 s; W = 4 → (4 + 4)/4 = 2
    expect(p.score(cand('x', { pendingPrefillTokens: 1000, generatedTokens: 28, accumulatedWaitS: 4 }))).toBeCloseTo(2, 12);
    // past the assumed output: max(1, 128 − 500) × 0.02 = 0.02 s; W = 0.2 → (0.2 + 0.02)/0.02 = 11
    expect(p.score(cand('y', { generatedTokens: 500, accumulatedWaitS: 0.2 }))).toBeCloseTo(11, 9);
  });
});

describe('astraea-paper: Stateful-MLFQ moves', () => {
  it('demotes above the threshold, promotes on a tool call within quota', () => {
    const q = new StatefulMlfq(); // thresholds [256, 1024, 4096, ∞], prefill token = 0.1
    expect(q.thresholds).toEqual([256, 1024, 4096, Infinity]);
    expect(q.level('j')).toBe(0);
    // Q0: 200 + 1000×0.1 = 300 > 256 → down
    expect(q.onSegmentEnd(seg('j', 200, 1000, 'tool_call'))).toBe('down');
    expect(q.level('j')).toBe(1);
    // Q1: 1000 + 300×0.1 = 1030 > 1024 → down
    expect(q.onSegmentEnd(seg('j', 1000, 300, 'stop'))).toBe('down');
    expect(q.level('j')).toBe(2);
    // Q2: 4000 + 1000×0.1 = 4100 > 4096 → down
    expect(q.onSegmentEnd(seg('j', 4000, 1000, 'length'))).toBe('down');
    expect(q.level('j')).toBe(3);
    // Q3 has no way down
    expect(q.onSegmentEnd(seg('j', 100000, 0, 'length'))).toBe('stay');
    expect(q.level('j')).toBe(3);
    // Q3 (∞): a tool call → up
    expect(q.onSegmentEnd(seg('j', 100000, 0, 'tool_call'))).toBe('up');
    expect(q.level('j')).toBe(2);
    // Q2: 4000 + 960×0.1 = 4096, not above 4096 → within quota, tool call → up
    expect(q.onSegmentEnd(seg('j', 4000, 960, 'tool_call'))).toBe('up');
    expect(q.level('j')).toBe(1);
    // within quota but a final answer: stays
    expect(q.onSegmentEnd(seg('j', 10, 0, 'stop'))).toBe('stay');
    expect(q.level('j')).toBe(1);
    expect(q.onSegmentEnd(seg('j', 10, 0, 'tool_call'))).toBe('up');
    // Q0 has no way up
    expect(q.onSegmentEnd(seg('j', 10, 0, 'tool_call'))).toBe('stay');
    expect(q.level('j')).toBe(0);
  });

  it('derives default thresholds from m and checks options', () => {
    expect(new StatefulMlfq({ levels: 2 }).thresholds).toEqual([256, Infinity]);
    expect(new StatefulMlfq({ thresholds: [10, 20, 30] }).levels).toBe(3);
    expect(() => new StatefulMlfq({ levels: 3, thresholds: [1, 2] })).toThrow(EngineError);
    expect(() => new StatefulMlfq({ levels: 0 })).toThrow(EngineError);
  });

  it('policy forwards segment ends and drops closed jobs', () => {
    const p = new AstraeaPaperPolicy();
    p.onSegmentEnd(seg('j', 300, 0, 'stop'), 0); // 300 > 256 → Q1
    expect(p.mlfq.peek('j')).toBe(1);
    p.onGroupClosed('j'); // a job alone is its own group, closed with it
    expect(p.mlfq.peek('j')).toBeUndefined();
  });

  it('keeps one queue per group: a branch’s segment moves the whole fan-out', () => {
    const p = new AstraeaPaperPolicy();
    p.onSegmentEnd({ ...seg('branch-2', 300, 0, 'stop'), groupId: 'run' }, 0); // 300 > 256 → Q1
    expect(p.queueLevel('run')).toBe(1);
    expect(p.mlfq.peek('branch-2')).toBeUndefined();
    expect(p.order([cand('branch-1', { groupId: 'run' }), cand('solo')], 0).map((c) => c.jobId)).toEqual(['solo', 'branch-1']);
    p.onGroupClosed('run');
    expect(p.mlfq.peek('run')).toBeUndefined();
  });
});

describe('astraea-paper: strict queue priority', () => {
  it('a Q0 segment beats a Q1 segment with a far higher HRRN score', () => {
    const p = withT({ high: 1, low: 1 });
    p.onSegmentEnd(seg('low', 300, 0, 'stop'), 0); // 300 > 256 → Q1
    // low: (100 + 1)/1 = 101 in Q1; high: (0 + 1)/1 = 1 in Q0
    const out = p.order([cand('low', { accumulatedWaitS: 100 }), cand('high')], 0);
    expect(ids(out)).toEqual(['high', 'low']);
  });
});

describe('astraea-paper: aging', () => {
  it('moves a lowest-queue job to Q0 only once (W + T)/T exceeds 8', () => {
    const p = withT({ s: 2, n: 1 });
    // s → Q3 by three demotions (4100 > 4096 at Q2)
    for (const g of [300, 1100, 4100]) p.onSegmentEnd(seg('s', g, 0, 'stop'), 0);
    expect(p.mlfq.peek('s')).toBe(3);
    // W = 14, T = 2: (14 + 2)/2 = 8, not above 8 → stays, and n (Q0) goes first
    expect(ids(p.order([cand('s', { accumulatedWaitS: 14 }), cand('n')], 0))).toEqual(['n', 's']);
    expect(p.mlfq.peek('s')).toBe(3);
    // W = 14.5: (14.5 + 2)/2 = 8.25 > 8 → Q0 this cycle; score 8.25 > n's (0+1)/1 = 1
    expect(ids(p.order([cand('s', { accumulatedWaitS: 14.5 }), cand('n')], 1))).toEqual(['s', 'n']);
    expect(p.mlfq.peek('s')).toBe(0);
  });

  it('does not age jobs above the lowest queue', () => {
    const p = withT({ s: 1 });
    p.onSegmentEnd(seg('s', 300, 0, 'stop'), 0); // Q1
    p.order([cand('s', { accumulatedWaitS: 1000 })], 0); // ratio 1001 but not in Q3
    expect(p.mlfq.peek('s')).toBe(1);
  });
});

describe('astraea-paper: segment-level preemption', () => {
  it("runningFirst 'all': a running Q2 segment stays ahead of a waiting Q0 one", () => {
    const p = withT({ r: 1, w: 1 });
    p.onSegmentEnd(seg('r', 300, 0, 'stop'), 0);
    p.onSegmentEnd(seg('r', 1100, 0, 'stop'), 0); // Q2
    expect(ids(p.order([cand('w', { accumulatedWaitS: 50 }), cand('r', { running: true })], 0))).toEqual(['r', 'w']);
  });

  it("runningFirst 'queue': running first within its queue only", () => {
    const p = withT({ r: 1, w: 1, v: 1 }, { runningFirst: 'queue' });
    p.onSegmentEnd(seg('r', 300, 0, 'stop'), 0); // r in Q1
    p.onSegmentEnd(seg('v', 300, 0, 'stop'), 0); // v in Q1, waiting with score 51 > r's 1
    const out = p.order(
      [cand('v', { accumulatedWaitS: 50 }), cand('r', { running: true }), cand('w')],
      0,
    );
    expect(ids(out)).toEqual(['w', 'r', 'v']);
    expect(p.preemption).toBe('recompute');
  });
});

describe('astraea-paper: adaptive KV manager', () => {
  it('kvWaste picks preserve, discard and swap by hand-computed wastes', () => {
    // preserve = 1·1000·100 = 1e5; discard = 2·1000·100 = 2e5; swap = 2·1.5·1000·100 = 3e5
    expect(kvWaste({ toolTimeS: 1, selfTokens: 1000, batchTokens: 1000, kvBytesPerToken: 100, recomputeS: 2, swapS: 1.5 })).toEqual({
      preserve: 1e5,
      discard: 2e5,
      swap: 3e5,
      choice: 'preserve',
    });
    // preserve = 10·1000·100 = 1e6; discard = 2·500·100 = 1e5; swap = 2·3·500·100 = 3e5
    expect(kvWaste({ toolTimeS: 10, selfTokens: 1000, batchTokens: 500, kvBytesPerToken: 100, recomputeS: 2, swapS: 3 })).toEqual({
      preserve: 1e6,
      discard: 1e5,
      swap: 3e5,
      choice: 'discard',
    });
    // preserve = 1e6; discard = 1e5; swap = 2·0.5·500·100 = 5e4
    expect(kvWaste({ toolTimeS: 10, selfTokens: 1000, batchTokens: 500, kvBytesPerToken: 100, recomputeS: 2, swapS: 0.5 })).toEqual({
      preserve: 1e6,
      discard: 1e5,
      swap: 5e4,
      choice: 'swap',
    });
    // tie preserve = swap = 1e5 → preserve
    expect(kvWaste({ toolTimeS: 1, selfTokens: 1000, batchTokens: 1000, kvBytesPerToken: 100, recomputeS: 5, swapS: 0.5 }).choice).toBe(
      'preserve',
    );
  });

  it('kvWasteInputs: C_batch = min(waiting, C_self), T_recompute and T_swap from the context', () => {
    const m: MemoryView = { usedFraction: 0.9, waitingTokens: 300, kvBytesPerToken: 100, swapBytesPerS: 1e6, prefillSPerToken: 0.001 };
    // T_recompute = 1000 × 0.001 = 1 s; T_swap = 1000 × 100 / 1e6 = 0.1 s
    expect(kvWasteInputs(1000, 5, m)).toEqual({ toolTimeS: 5, selfTokens: 1000, batchTokens: 300, kvBytesPerToken: 100, recomputeS: 1, swapS: 0.1 });
    expect(kvWasteInputs(1000, 5, { ...m, waitingTokens: 4000 }).batchTokens).toBe(1000);
  });

  it('onToolWait: preserve at or below the watermark, argmin above it', () => {
    let mem: MemoryView = { usedFraction: 0.9, waitingTokens: 4000, kvBytesPerToken: 100, swapBytesPerS: 1e6, prefillSPerToken: 0.001 };
    let toolS = 5;
    const p = new AstraeaPaperPolicy({ memory: () => mem, toolTimeS: () => toolS });
    const job = { jobId: 'j', kind: 'k', contextTokens: 1000, tool: 't' };
    // C_batch = 1000, T_recompute = 1 s, T_swap = 0.1 s:
    // preserve = 5·1000·100 = 5e5; discard = 1·1000·100 = 1e5; swap = 2·0.1·1000·100 = 2e4 → swap
    expect(p.onToolWait(job, 0)).toBe('swap');
    // T_swap = 1000·100/1e5 = 1 s → swap = 2e5 > discard = 1e5 → discard
    mem = { ...mem, swapBytesPerS: 1e5 };
    expect(p.onToolWait(job, 0)).toBe('discard');
    // T_tool = 0.1 → preserve = 0.1·1000·100 = 1e4 < 1e5 → preserve
    toolS = 0.1;
    expect(p.onToolWait(job, 0)).toBe('preserve');
    // below (at) the 0.8 watermark: preserve even when a 5 s tool would discard
    toolS = 5;
    mem = { ...mem, usedFraction: 0.8 };
    expect(p.onToolWait(job, 0)).toBe('preserve');
    // default memory view reports an empty device → preserve
    expect(new AstraeaPaperPolicy().onToolWait(job, 0)).toBe('preserve');
  });
});
