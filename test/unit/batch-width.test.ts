/**
 * The batch width of astraea's option `batchWidth: 'fit'` (lib/sched/batch-width.ts): the width m
 * that minimises the summed completion times of n jobs run in rounds of m, √(n·a·W / (b·P + c·W)),
 * and its use in admission. Every figure is worked out by hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import { AstraeaPolicy } from '../../lib/sched/astraea.js';
import { batchWidthFor } from '../../lib/sched/batch-width.js';
import type { MemoryView } from '../../lib/sched/kv-waste.js';
import { admitWorkingSet } from '../../lib/sched/working-set.js';
import { cand, ids } from './scheduling-fixtures.js';

// a = 8 ms a step, b = 1 ms a prompt token, c = 2 ms a decoding sequence.
const shape = { fixedS: 0.008, tokenS: 0.001, sequenceS: 0.002 };

describe('batchWidthFor', () => {
  it('is √(n·a·W / (b·P + c·W)) rounded up, over the candidates’ sums', () => {
    // Four jobs, 10 tokens each to generate, no prompt left: W = 40, P = 0.
    // √(4 × 0.008 × 40 / (0.002 × 40)) = √16 = 4.
    const four = ['a', 'b', 'c', 'd'].map((id) => cand(id, { expectedOutputTokens: 10 }));
    expect(batchWidthFor(four, shape)).toBe(4);
    // Two of them with 40 prompt tokens each: P = 80, b·P = 0.08, and c·W = 0.08:
    // √(4 × 0.32 / 0.16) = √8 = 2.83, so 3.
    const prompted = four.map((c, i) => (i < 2 ? cand(c.jobId, { ...c, pendingPrefillTokens: 40 }) : c));
    expect(batchWidthFor(prompted, shape)).toBe(3);
    // Tokens generated count against the expected, and a segment has at least one still to come:
    // four past their expected 10 (12 out) with 10 prompt tokens each: W = 4 (not 0), P = 40:
    // √(4 × 0.008 × 4 / (0.001 × 40 + 0.002 × 4)) = √2.67 = 1.63, so 2 (with W = 0 it would be 1).
    const pastEnd = four.map((c) => cand(c.jobId, { ...c, generatedTokens: 12, pendingPrefillTokens: 10 }));
    expect(batchWidthFor(pastEnd, shape)).toBe(2);
  });

  it('counts the jobs in tool calls as n when told (never fewer than the candidates)', () => {
    // The four above with 12 more in tool calls: n = 16, √(16 × 4) = 8; told 2, n stays 4.
    const four = ['a', 'b', 'c', 'd'].map((id) => cand(id, { expectedOutputTokens: 10 }));
    expect(batchWidthFor(four, shape, 16)).toBe(8);
    expect(batchWidthFor(four, shape, 2)).toBe(4);
  });

  it('is at least 1, and grows as √n and with a against c', () => {
    expect(batchWidthFor([cand('a', { expectedOutputTokens: 10, pendingPrefillTokens: 10_000 })], shape)).toBe(1);
    // 16 jobs: √(16 × 4) = 8. With a 100× c (a GPU's weights against a sequence): √(16 × 100) = 40.
    const sixteen = Array.from({ length: 16 }, (_, i) => cand(`j${i}`, { expectedOutputTokens: 10 }));
    expect(batchWidthFor(sixteen, shape)).toBe(8);
    expect(batchWidthFor(sixteen, { ...shape, sequenceS: 0.00008 })).toBe(40);
  });
});

describe('admission by width', () => {
  // Each needs 100 + 128 = 228 tokens; 10,000 free: memory admits every one.
  const device = cand('dev', { kv: 'device', running: true, expectedOutputTokens: 1 });
  const outside = ['x', 'y', 'z'].map((id) => cand(id));
  const room = { freeTokens: 10_000, parkableTokens: 0 };

  it('admitWorkingSet lets in from outside only the seats the width leaves beside the jobs on the device', () => {
    expect(ids(admitWorkingSet([device, ...outside], room))).toEqual(['dev', 'x', 'y', 'z']);
    expect(ids(admitWorkingSet([device, ...outside], room, undefined, 'round', 3))).toEqual(['dev', 'x', 'y']);
    expect(ids(admitWorkingSet([device, ...outside], room, undefined, 'round', 1))).toEqual(['dev']);
    // Never fewer than the jobs on the device: they are in whatever the width.
    expect(ids(admitWorkingSet([device, cand('dev2', { kv: 'device' }), ...outside], room, undefined, 'round', 1))).toEqual(['dev', 'dev2']);
  });

  it("AstraeaPolicy admits by the width with batchWidth 'fit' and a known shape, by memory alone otherwise", () => {
    // Four candidates, W = 1 + 3 × 128 = 385, P = 0: √(4 × 0.008 / 0.002) = 4 seats: all in.
    // With c = 8 ms: √(4 × 0.008 / 0.008) = 2: dev and x.
    const memory = (): MemoryView => ({ usedFraction: 0.5, waitingTokens: 0, freeTokens: 10_000, kvBytesPerToken: 1000, swapBytesPerS: 1e6, prefillSPerToken: 1e-3, stepS: 0.05 });
    const policy = (batchWidth?: 'fit' | 'all', sequenceS = 0.002, known = true) =>
      new AstraeaPolicy({ serviceTime: () => 1, memory, toolTimeS: () => 10, batchWidth, batchShape: () => (known ? { ...shape, sequenceS } : null) });
    const all = [device, ...outside];
    expect(ids(policy('fit').order(all, 10))).toEqual(['dev', 'x', 'y', 'z']);
    expect(ids(policy('fit', 0.008).order(all, 10))).toEqual(['dev', 'x']);
    expect(ids(policy(undefined, 0.008).order(all, 10))).toEqual(['dev', 'x', 'y', 'z']); // default 'all'
    expect(ids(policy('fit', 0.008, false).order(all, 10))).toEqual(['dev', 'x', 'y', 'z']); // costs not yet fitted
  });

  it("counts the jobs in tool calls among those the width is for, and forgets closed ones", () => {
    const memory = (): MemoryView => ({ usedFraction: 0.5, waitingTokens: 0, freeTokens: 10_000, kvBytesPerToken: 1000, swapBytesPerS: 1e6, prefillSPerToken: 1e-3, stepS: 0.05 });
    // c = 8 ms: √(n × 0.008 / 0.008) = √n. Four candidates: 2 seats, dev and x (above). With five
    // jobs in tool calls besides, n = 9: 3 seats, dev, x and y.
    const p = new AstraeaPolicy({ serviceTime: () => 1, memory, toolTimeS: () => 10, batchWidth: 'fit', batchShape: () => ({ ...shape, sequenceS: 0.008 }) });
    const all = [device, ...outside];
    expect(ids(p.order(all, 10))).toEqual(['dev', 'x']);
    const away = ['t1', 't2', 't3', 't4', 't5'];
    for (const jobId of away) p.onToolWait({ jobId, kind: 'k', contextTokens: 10, tool: 't' }, 10);
    expect(p.liveJobCount).toBe(9);
    expect(ids(p.order(all, 11))).toEqual(['dev', 'x', 'y']);
    for (const jobId of [...away, ...ids(all)]) p.onJobClosed(jobId);
    expect(p.liveJobCount).toBe(0);
    // Off (the default), nothing is tracked.
    const off = new AstraeaPolicy({ serviceTime: () => 1, memory, toolTimeS: () => 10 });
    off.order(all, 10);
    off.onToolWait({ jobId: 't1', kind: 'k', contextTokens: 10, tool: 't' }, 10);
    expect(off.liveJobCount).toBe(0);
  });
});
