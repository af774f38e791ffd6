/**
 * Astraea's rule 17, the batch width (lib/sched/batch-width.ts): the width m that minimises the
 * summed completion times S(m) = N²/(2μ) + N·R/2 of a backlog run in rounds of m — R = m·K + L,
 * μ = m/R, K = b·P + c·W, L = a·W + T, N = n/(1 − λ/μ) — set where S(m) < S(n), and its
 * use in admission, and the order its seats are given in. Every figure is worked out by hand in the comments.
 *
 * With λ = 0, S(m) = n²K/2 + n·L/2 + n²L/(2m) + n·m·K/2, least at m* = √(n·L/K).
 */
import { describe, expect, it } from 'vitest';
import { ArrivalRate } from '../../lib/sched/arrival-rate.js';
import { AstraeaPolicy } from '../../lib/sched/astraea.js';
import { BatchWidth, batchWidthFor } from '../../lib/sched/batch-width.js';
import type { MemoryView } from '../../lib/sched/kv-waste.js';
import { admitWorkingSet } from '../../lib/sched/working-set.js';
import { cand, ids } from './scheduling-fixtures.js';

// a = 8 ms a step, b = 1 ms a prompt token, c = 2 ms a decoding sequence.
const shape = { fixedS: 0.008, tokenS: 0.001, sequenceS: 0.002 };
// Four candidates, 10 tokens each to generate, no prompt: K = 0.02 s, L = 0.08 s.
const four = ['a', 'b', 'c', 'd'].map((id) => cand(id, { expectedOutputTokens: 10 }));

describe('batchWidthFor', () => {
  it('drains a backlog in rounds of √(n·L/K), where that does better than letting all in', () => {
    // n = 16: m* = √(16 × 0.08 / 0.02) = 8. S(8) = 2.56 + 0.64 + 1.28 + 1.28 = 5.76, S(16) = 6.4:
    // 10% less.
    expect(batchWidthFor(four, shape, { jobs: 16 })).toBe(8);
    // n = 4 (the candidates alone, or told fewer): m* = 4 = n, no width.
    expect(batchWidthFor(four, shape)).toBe(Infinity);
    expect(batchWidthFor(four, shape, { jobs: 2 })).toBe(Infinity);
    // 64 jobs: m* = √(64 × 4) = 16; with c = 0.5 ms (K = 0.005): √(64 × 16) = 32, S(32) = 23.04
    // against S(64) = 25.6 (10%).
    expect(batchWidthFor(four, shape, { jobs: 64 })).toBe(16);
    expect(batchWidthFor(four, { ...shape, sequenceS: 0.0005 }, { jobs: 64 })).toBe(32);
  });

  it('reads K and L from the candidates’ averages: prompts, and tokens past the expected', () => {
    // Two of the four with 40 prompt tokens: K = (0.001 × 80 + 0.002 × 40) / 4 = 0.04, L = 0.08;
    // n = 16: m* = √(16 × 2) = 5.66 — S's variable part 10.24/m + 0.32·m is 3.65 at 5, 3.63 at 6,
    // 3.70 at 7: 6.
    const prompted = four.map((c, i) => (i < 2 ? cand(c.jobId, { ...c, pendingPrefillTokens: 40 }) : c));
    expect(batchWidthFor(prompted, shape, { jobs: 16 })).toBe(6);
    // Past their expected 10 (12 out), a segment still has one token to come (not 0): W = 1 each,
    // P = 10 each: K = 0.012, L = 0.008; n = 64: m* = √(64 × 0.667) = 6.53 (S's variable part
    // 16.384/m + 0.384·m: 5.04 at 6, 4.99 at 7): 7. With W = 0 it would be 1 (L = 0).
    const pastEnd = four.map((c) => cand(c.jobId, { ...c, generatedTokens: 12, pendingPrefillTokens: 10 }));
    expect(batchWidthFor(pastEnd, shape, { jobs: 64 })).toBe(7);
    // At least 1: one job with 10,000 prompt tokens, n = 16: m* = √(16 × 0.08 / 10.02) = 0.36.
    expect(batchWidthFor([cand('a', { expectedOutputTokens: 10, pendingPrefillTokens: 10_000 })], shape, { jobs: 16 })).toBe(1);
    expect(batchWidthFor([], shape, { jobs: 16 })).toBe(Infinity);
  });

  it('widens for the tool time still ahead, which no width shortens', () => {
    // T = 0.02 s each: L = 0.1, n = 16: m* = √80 = 8.94; S's variable part 12.8/m + 0.16·m is
    // 2.862 at 9 against 2.88 at 8 and 10: 9, worth 7.4% (S(9) = 6.222, S(16) = 6.72).
    expect(batchWidthFor(four, shape, { jobs: 16, toolS: () => 0.02 })).toBe(9);
    // T = 0.1 s: L = 0.18, m* = 12: S(12) = 2.56 + 1.44 + 1.92 + 1.92 = 7.84 against S(16) = 8.0
    // (and 7.855 at 11, 7.852 at 13). T = 1 s: L = 1.08, m* = √864 = 29 > n: no width.
    expect(batchWidthFor(four, shape, { jobs: 16, toolS: () => 0.1 })).toBe(12);
    expect(batchWidthFor(four, shape, { jobs: 16, toolS: () => 1 })).toBe(Infinity);
  });

  it('prices the throughput a narrow batch gives up against the jobs arriving meanwhile', () => {
    // λ = 10/s, a fifth of the 1/K = 50/s the engine can do: N = 16/(0.8 − 0.8/m) = 20m/(m − 1),
    // S = (N·R/2)(N/m + 1): 10.58 at 8 (the drain's width), least 9.822 at 13, 9.956 at 16: 13,
    // wider than the drain's 8.
    expect(batchWidthFor(four, shape, { jobs: 16, arrivalsPerS: 10 })).toBe(13);
    // λ = 60/s ≥ 50/s: no width keeps up; the backlog is drained as if nothing more came (8).
    expect(batchWidthFor(four, shape, { jobs: 16, arrivalsPerS: 60 })).toBe(8);
  });
});

describe('BatchWidth.seatOrder', () => {
  it('while a width binds, seats go to started jobs first, then new ones least K = b·P + c·W first', () => {
    const width = new BatchWidth(() => shape, () => 10);
    const byPolicy = (a: { jobId: string }, b: { jobId: string }) => a.jobId.localeCompare(b.jobId);
    // No width yet: the policy's order, unchanged.
    expect(width.seatOrder(byPolicy)).toBe(byPolicy);
    // A job of kind k ended at t = 0; at t = 1,000 four candidates and 12 jobs in tool calls:
    // λ ≈ 4/10 = 0.4/s, λ·K = 0.008 — nearly a drain of 16, and a width binds (8 without λ).
    width.widthFor([cand('done')], 0);
    width.onJobClosed('done');
    for (let i = 0; i < 12; i++) width.onToolWait({ jobId: `t${i}`, kind: 'other', contextTokens: 10, tool: 't' });
    expect(width.widthFor(four, 1000)).toBeLessThan(16);
    // K: x 0.001 × 50 + 0.002 × 10 = 0.07, y 0.02; s and t have started (a later segment, prompt
    // tokens computed) and come first, in the policy's order (s before t).
    const x = cand('x', { expectedOutputTokens: 10, pendingPrefillTokens: 50 });
    const y = cand('y', { expectedOutputTokens: 10 });
    const t = cand('t', { attainedTokens: 5 });
    const s = cand('s', { segmentIndex: 1, pendingPrefillTokens: 100 });
    expect(ids([x, t, y, s].sort(width.seatOrder(byPolicy)))).toEqual(['s', 't', 'y', 'x']);
    // Once no width binds (every job closed but one: n = 1), the policy's order again.
    for (const jobId of ['a', 'b', 'c', 'd', ...Array.from({ length: 12 }, (_, i) => `t${i}`)]) width.onJobClosed(jobId);
    expect(width.widthFor([cand('solo')], 1001)).toBe(Infinity);
    expect(width.seatOrder(byPolicy)).toBe(byPolicy);
  });
});

describe('ArrivalRate', () => {
  it('is an exponentially weighted count read against the time observed (10 s window, 1 s least)', () => {
    const r = new ArrivalRate();
    expect(r.perS(0)).toBe(0);
    for (let i = 0; i < 5; i++) r.add(0);
    // Five at t = 0, read over the least 1 s: 5 / (10 × (1 − e^−0.1)) = 5.254.
    expect(r.perS(0)).toBeCloseTo(5 / (10 * (1 - Math.exp(-0.1))), 9);
    // Twenty seconds on: 5·e^−2 / (10 × (1 − e^−2)) = 0.0783.
    expect(r.perS(20)).toBeCloseTo((5 * Math.exp(-2)) / (10 * (1 - Math.exp(-2))), 9);
  });

  it('reads a steady rate as itself, a sampled one within the discrete sum’s 5%', () => {
    const r = new ArrivalRate();
    for (let t = 0; t < 100; t++) r.add(t);
    // Σ_{k<100} e^(−k/10) / (10 × (1 − e^−9.9)) = ((1 − e^−10)/(1 − e^−0.1)) / 9.9995 = 1.0508.
    const expected = (1 - Math.exp(-10)) / (1 - Math.exp(-0.1)) / (10 * (1 - Math.exp(-9.9)));
    expect(r.perS(99)).toBeCloseTo(expected, 9);
    expect(expected).toBeCloseTo(1.0508, 4);
  });
});

describe('admission by width', () => {
  // Each needs 100 + 128 = 228 tokens; 10,000 free: memory admits every one.
  const device = cand('dev', { kv: 'device', running: true, expectedOutputTokens: 1 });
  const outside = ['x', 'y', 'z'].map((id) => cand(id));
  const room = { freeTokens: 10_000, parkableTokens: 0 };

  it('admitWorkingSet lets in new jobs only to the seats the width leaves beside the jobs on the device', () => {
    expect(ids(admitWorkingSet([device, ...outside], room))).toEqual(['dev', 'x', 'y', 'z']);
    expect(ids(admitWorkingSet([device, ...outside], room, undefined, 'round', 3))).toEqual(['dev', 'x', 'y']);
    expect(ids(admitWorkingSet([device, ...outside], room, undefined, 'round', 1))).toEqual(['dev']);
    // Never fewer than the jobs on the device: they are in whatever the width.
    expect(ids(admitWorkingSet([device, cand('dev2', { kv: 'device' }), ...outside], room, undefined, 'round', 1))).toEqual(['dev', 'dev2']);
  });

  it('never keeps out a job that has started (back from a tool call, or part-computed), but counts its seat', () => {
    const back = cand('back', { segmentIndex: 1, kv: 'host' });
    const partial = cand('partial', { attainedTokens: 50 });
    // Width 1, taken by dev: back and partial still come in; x does not.
    expect(ids(admitWorkingSet([device, back, partial, ...outside], room, undefined, 'round', 1))).toEqual(['dev', 'back', 'partial']);
    // Width 3: dev and back take two seats, x the last.
    expect(ids(admitWorkingSet([device, back, ...outside], room, undefined, 'round', 3))).toEqual(['dev', 'back', 'x']);
  });

  const memory = (): MemoryView => ({ usedFraction: 0.5, waitingTokens: 0, freeTokens: 10_000, kvBytesPerToken: 1000, swapBytesPerS: 1e6, prefillSPerToken: 1e-3, stepS: 0.05 });
  const policy = (options: { batchWidth?: 'fit' | 'all'; sequenceS?: number; known?: boolean } = {}) =>
    new AstraeaPolicy({ serviceTime: () => 1, memory, toolTimeS: () => 10, batchWidth: options.batchWidth, batchShape: () => (options.known === false ? null : { ...shape, sequenceS: options.sequenceS ?? 0.002 }) });
  const all = [device, ...outside];
  /** A job of kind k seen and closed at t = 10: the width's predictions rest on a whole job of the kind. */
  const warm = (p: AstraeaPolicy) => {
    p.order([cand('done')], 10);
    p.onJobClosed('done');
    return p;
  };

  it('AstraeaPolicy admits by the width by default once the step costs are known, by memory alone with batchWidth all', () => {
    // Four candidates, W̄ = (1 + 3 × 128)/4 = 96.25, P = 0. c = 2 ms: K = 0.1925, L = 0.77, n = 4:
    // m* = √(4 × 4) = 4, all in (5 arrivals in the first second, λ = 5/0.9516 = 5.25/s, λ·K ≥ 1).
    expect(ids(warm(policy()).order(all, 10))).toEqual(['dev', 'x', 'y', 'z']);
    // c = 8 ms: K = L = 0.77, m* = √4 = 2 (drained as a backlog), S(2) = 13.86 against S(4) = 15.4:
    // dev and x.
    expect(ids(warm(policy({ sequenceS: 0.008 })).order(all, 10))).toEqual(['dev', 'x']);
    expect(ids(warm(policy({ batchWidth: 'all', sequenceS: 0.008 })).order(all, 10))).toEqual(['dev', 'x', 'y', 'z']);
    expect(ids(warm(policy({ sequenceS: 0.008, known: false })).order(all, 10))).toEqual(['dev', 'x', 'y', 'z']); // costs not yet fitted
    // Before a job of kind k has ended, its predictions are priors: no width.
    expect(ids(policy({ sequenceS: 0.008 }).order(all, 10))).toEqual(['dev', 'x', 'y', 'z']);
  });

  it('counts the jobs in tool calls among those the width is for, and forgets closed ones', () => {
    // c = 8 ms: m* = √n. Four candidates: 2 seats, dev and x (above). With five jobs in tool calls
    // besides, n = 9: 3 seats, dev, x and y (λ at t = 11: 5·e^−0.1 / 0.9516 = 4.75/s, λ·K ≥ 1).
    const p = warm(policy({ sequenceS: 0.008 }));
    expect(ids(p.order(all, 10))).toEqual(['dev', 'x']);
    const away = ['t1', 't2', 't3', 't4', 't5'];
    for (const jobId of away) p.onToolWait({ jobId, kind: 'other', contextTokens: 10, tool: 't' }, 10);
    expect(p.liveJobCount).toBe(9);
    expect(ids(p.order(all, 11))).toEqual(['dev', 'x', 'y']);
    for (const jobId of [...away, ...ids(all)]) p.onJobClosed(jobId);
    expect(p.liveJobCount).toBe(0);
    // Off, nothing is tracked.
    const off = policy({ batchWidth: 'all' });
    off.order(all, 10);
    off.onToolWait({ jobId: 't1', kind: 'k', contextTokens: 10, tool: 't' }, 10);
    expect(off.liveJobCount).toBe(0);
  });

  it('gives the seats a width leaves to the new jobs that add least to the others’ steps', () => {
    // c = 8 ms, x with 50 prompt tokens: K̄ = (0.05 + 0.008 × 385)/4 = 0.7825, L̄ = 0.77, n = 4:
    // S's variable part 6.16/m + 1.565·m is 7.73 at 1, 6.21 at 2, 6.75 at 3: width 2 (S(2) =
    // 14.01 against S(4) = 15.6). dev holds one seat; the other goes to y (K = 1.024), not to x,
    // first in the policy's order (K = 1.074).
    const prompted = [device, cand('x', { pendingPrefillTokens: 50 }), cand('y'), cand('z')];
    expect(ids(warm(policy({ sequenceS: 0.008 })).order(prompted, 10))).toEqual(['dev', 'y']);
    // Under memory pressure (20,000 tokens waiting, 10,000 free) the seats go by the policy's
    // order, which memory decides there: x, the first.
    const pressed = (): MemoryView => ({ ...memory(), waitingTokens: 20_000 });
    const underPressure = new AstraeaPolicy({ serviceTime: () => 1, memory: pressed, toolTimeS: () => 10, batchShape: () => ({ ...shape, sequenceS: 0.008 }) });
    expect(ids(warm(underPressure).order(prompted, 10))).toEqual(['dev', 'x']);
  });

  it('takes T from the mean tool call of the kind, times the segments still expected', () => {
    // c = 8 ms, x, y and z each with one segment to come, after one 10 s call of kind k was seen:
    // T̄ = 3 × 10 / 4 = 7.5, L = 0.77 + 7.5 = 8.27, and n = 5 (the job in the call counts):
    // m* = √(5 × 8.27 / 0.77) = 7.3 ≥ 5: all in.
    // Before any call of the kind is seen, T = 0 and the width is 2 (above).
    const ahead = [device, ...['x', 'y', 'z'].map((id) => cand(id, { expectedFutureSegments: 1 }))];
    expect(ids(warm(policy({ sequenceS: 0.008 })).order(ahead, 10))).toEqual(['dev', 'x']);
    const p = warm(policy({ sequenceS: 0.008 }));
    p.onToolWait({ jobId: 'w', kind: 'k', contextTokens: 10, tool: 't' }, 9);
    expect(ids(p.order(ahead, 10))).toEqual(['dev', 'x', 'y', 'z']);
  });
});
