/**
 * Predictors: output lengths (oracle, learned, fallbacks), tool-duration statistics and
 * conditional remaining time. Every expected value is worked out by hand in the comment beside
 * it. (The step-cost fit that gives service times: step-costs.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../lib/errors.js';
import { OutputLengthPredictor } from '../../lib/predict/output-length.js';
import { RunningStats } from '../../lib/predict/running-stats.js';
import { ToolTimePredictor } from '../../lib/predict/tool-time.js';

describe('OutputLengthPredictor', () => {
  it('oracle mode returns the true length, falling back to the learned estimate without one', () => {
    const p = new OutputLengthPredictor({ mode: 'oracle' });
    expect(p.predictDetailed({ kind: 'a', segmentIndex: 0, trueTokens: 48 })).toEqual({ tokens: 48, source: 'oracle' });
    expect(p.predictDetailed({ kind: 'a', segmentIndex: 0 })).toEqual({ tokens: 128, source: 'default' });
  });

  it('learned mode ignores the true length and falls back segment → kind → global → default', () => {
    const p = new OutputLengthPredictor({ minSamples: 2, defaultTokens: 64 });
    expect(p.predictDetailed({ kind: 'air', segmentIndex: 0, trueTokens: 5 })).toEqual({ tokens: 64, source: 'default' });
    p.observe('air', 0, 10);
    p.observe('air', 0, 20);
    p.observe('air', 1, 100);
    p.observe('shop', 0, 7);
    expect(p.predictDetailed({ kind: 'air', segmentIndex: 0 })).toEqual({ tokens: 15, source: 'segment' }); // (10+20)/2
    const kind = p.predictDetailed({ kind: 'air', segmentIndex: 1 }); // one sample < 2 → kind: 130/3
    expect(kind.source).toBe('kind');
    expect(kind.tokens).toBeCloseTo(130 / 3, 10);
    // 'retail' unseen → global: (10+20+100+7)/4 = 34.25
    expect(p.predictDetailed({ kind: 'retail', segmentIndex: 0 })).toEqual({ tokens: 34.25, source: 'global' });
  });

  it('uses a chosen quantile instead of the mean', () => {
    const p = new OutputLengthPredictor({ minSamples: 1, quantile: 0.9 });
    for (const t of [50, 10, 40, 20, 30]) p.observe('k', 0, t);
    // sorted [10,20,30,40,50]; h = 4·0.9 = 3.6 → 40 + 0.6·10 = 46
    expect(p.predict({ kind: 'k', segmentIndex: 0 })).toBeCloseTo(46, 10);
  });
});

describe('RunningStats', () => {
  it('keeps a bounded window while counting every observation', () => {
    const s = new RunningStats(3);
    for (const v of [1, 2, 3, 100]) s.observe(v);
    expect(s.count).toBe(4);
    expect(s.windowCount).toBe(3);
    expect(s.mean()).toBeCloseTo(35, 12); // window [2, 3, 100]
    expect(s.quantile(0)).toBe(2);
    expect(s.quantile(1)).toBe(100);
    expect(Number.isNaN(new RunningStats().mean())).toBe(true);
    // The mean is kept between observations and follows each new one.
    const t = new RunningStats(2);
    t.observe(4);
    expect(t.mean()).toBe(4);
    t.observe(6);
    expect(t.mean()).toBe(5);
    t.observe(10); // window [6, 10]
    expect(t.mean()).toBe(8);
    expect(() => s.quantile(1.5)).toThrow(EngineError);
    expect(() => s.observe(Number.NaN)).toThrow(EngineError);
  });
});

describe('ToolTimePredictor', () => {
  it('mean and type-7 quantiles on a small hand set', () => {
    const p = new ToolTimePredictor();
    for (const d of [4, 1, 3, 2, 10]) p.observe('search', d);
    // sorted [1,2,3,4,10]; mean 20/5 = 4
    // p50: h = 4·0.5 = 2 → 3;  p90: h = 3.6 → 4 + 0.6·6 = 7.6;  p99: h = 3.96 → 4 + 0.96·6 = 9.76
    const s = p.stats('search')!;
    expect(s.count).toBe(5);
    expect(s.meanS).toBeCloseTo(4, 12);
    expect(s.p50S).toBeCloseTo(3, 12);
    expect(s.p90S).toBeCloseTo(7.6, 12);
    expect(s.p99S).toBeCloseTo(9.76, 12);
    expect(p.quantileS('search', 0.25)).toBeCloseTo(2, 12); // h = 1
    expect(p.stats('other')).toBeUndefined();
    expect(p.quantileS('other', 0.5)).toBeUndefined();
  });

  it('conditional remaining time grows with elapsed time for a heavy tail', () => {
    const p = new ToolTimePredictor();
    for (const d of [1, 1, 1, 10]) p.observe('t', d);
    expect(p.remainingS('t', 0)).toBeCloseTo(3.25, 12); // 13/4
    expect(p.expectedDurationS('t')).toBeCloseTo(3.25, 12);
    expect(p.remainingS('t', 0.5)).toBeCloseTo(2.75, 12); // (3·0.5 + 9.5)/4 = 11/4
    expect(p.remainingS('t', 1)).toBeCloseTo(9, 12); // only 10 exceeds 1 → 10 − 1
    expect(p.estimate('t', 2)).toEqual({ remainingS: 8, source: 'observed' }); // 10 − 2
    // past every observation: overrunFactor · elapsed = 12
    expect(p.estimate('t', 12)).toEqual({ remainingS: 12, source: 'overrun' });
  });

  it('ski rental: keeping until some horizon beats paying now for a tool whose calls mostly return fast', () => {
    const s = new RunningStats();
    for (const v of [0.1, 0.1, 0.1, 10]) s.observe(v);
    // e = 0, cost 1 (mean 2.575, so the mean says "pay"). Horizon 0.1: E[min(X, 0.1)] =
    // (3·0.1 + 0.1)/4 = 0.1 < 1 · P(X ≤ 0.1) = 0.75 → waiting may pay.
    expect(s.waitingMayPay(0, 1)).toBe(true);
    // Past the quick calls only 10 is left: residual 9.9; 9.9 < 1 · 1 is false at the one horizon.
    expect(s.waitingMayPay(0.1, 1)).toBe(false);
    expect(s.waitingMayPay(10, 1)).toBeUndefined();
    // A point mass is a point: [2, 2, 2, 2] waits for cost 3 (2 < 3) and pays for cost 1 (2 > 1).
    const point = new RunningStats();
    for (let i = 0; i < 4; i++) point.observe(2);
    expect(point.waitingMayPay(0, 3)).toBe(true);
    expect(point.waitingMayPay(0, 1)).toBe(false);
    // [1, 1, 5], cost 0.8: horizon 1 gives (1 + 1 + 1)/3 = 1 against 0.8 · 2/3 = 0.533; horizon 5
    // gives 7/3 against 0.8: no horizon pays, though 1 of the 3 (ties counted together) is quick.
    const three = new RunningStats();
    for (const v of [1, 1, 5]) three.observe(v);
    expect(three.waitingMayPay(0, 0.8)).toBe(false);
    // With cost 1.6: horizon 1 gives 1 < 1.6 · 2/3 = 1.067.
    expect(three.waitingMayPay(0, 1.6)).toBe(true);
  });

  it('outlasts: a KV move is judged on the whole distribution when observed, on remaining time otherwise', () => {
    const p = new ToolTimePredictor();
    for (const d of [0.1, 0.1, 0.1, 10]) p.observe('t', d);
    // Mean 2.575 s > 1 s, but 3 calls in 4 are back in 0.1 s: keep (as the ski rental above).
    expect(p.remainingS('t', 0)).toBeCloseTo(2.575, 12);
    expect(p.outlasts('t', 0, 1)).toBe(false);
    // 0.2 s in, only the 10 s call is left: move.
    expect(p.outlasts('t', 0.2, 1)).toBe(true);
    // Past every observation: remaining = elapsed (12 s) > 1.
    expect(p.outlasts('t', 12, 1)).toBe(true);
    expect(p.outlasts('t', 0.5, 1, 1.2)).toBe(false); // hint: 1.2 − 0.5 = 0.7 s left < 1
    expect(p.outlasts('t', 0, 1, 3)).toBe(true); // hint: 3 s left > 1
    // Never observed: the 1 s default, memoryless.
    expect(p.outlasts('u', 0, 0.9)).toBe(true);
    expect(p.outlasts('u', 0, 1.1)).toBe(false);
  });

  it('overrun factor applies to an observed tool', () => {
    const p = new ToolTimePredictor({ overrunFactor: 0.5 });
    p.observe('t', 10);
    expect(p.remainingS('t', 12)).toBe(6); // 0.5 · 12
  });

  it('a client hint overrides until it is overrun', () => {
    const p = new ToolTimePredictor();
    for (const d of [1, 1, 1, 10]) p.observe('t', d);
    expect(p.estimate('t', 2, 5)).toEqual({ remainingS: 3, source: 'hint' }); // 5 − 2
    expect(p.expectedDurationS('t', 7)).toBe(7);
    expect(p.estimate('t', 6, 5)).toEqual({ remainingS: 4, source: 'observed' }); // hint overrun: 10 − 6
  });

  it('with no observations uses the prior or the default, memoryless', () => {
    const p = new ToolTimePredictor({ priorsS: { search: 0.8 } });
    expect(p.estimate('search', 0)).toEqual({ remainingS: 0.8, source: 'prior' });
    expect(p.estimate('search', 30)).toEqual({ remainingS: 0.8, source: 'prior' });
    expect(p.estimate('unknown', 0)).toEqual({ remainingS: 1, source: 'default' });
    expect(p.remainingS('unknown', 50)).toBe(1);
    expect(new ToolTimePredictor({ defaultDurationS: 2.5 }).expectedDurationS('x')).toBe(2.5);
    p.observe('search', 2); // an observation replaces the prior
    expect(p.estimate('search', 0)).toEqual({ remainingS: 2, source: 'observed' });
  });

  it('rejects bad inputs with EngineError', () => {
    const p = new ToolTimePredictor();
    expect(() => p.observe('t', -1)).toThrow(EngineError);
    expect(() => p.remainingS('t', Number.NaN)).toThrow(EngineError);
    expect(() => new ToolTimePredictor({ priorsS: { a: -1 } })).toThrow(EngineError);
  });
});
