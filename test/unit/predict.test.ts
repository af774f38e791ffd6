/**
 * Predictors: prefill fit and online refresh, token cost, output lengths (oracle, learned,
 * fallbacks), tool-duration statistics and conditional remaining time. Every expected value is
 * worked out by hand in the comment beside it.
 */
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../lib/errors.js';
import { OutputLengthPredictor } from '../../lib/predict/output-length.js';
import { RunningStats } from '../../lib/predict/running-stats.js';
import { ServiceTimePredictor, type ProfilePoint } from '../../lib/predict/service-time.js';
import { ToolTimePredictor } from '../../lib/predict/tool-time.js';

const points = (f: (n: number) => number, ns: number[]): ProfilePoint[] => ns.map((tokens) => ({ tokens, seconds: f(tokens) }));
// f(n) = 0.002 + 1e-4·n at 100, 200, 400, 800 → 0.012, 0.022, 0.042, 0.082
const linear = points((n) => 0.002 + 1e-4 * n, [100, 200, 400, 800]);

describe('ServiceTimePredictor: fitting', () => {
  it('recovers a linear prefill cost from exact points', () => {
    const p = ServiceTimePredictor.fromProfile(linear, 0.02);
    expect(p.coefficients.aS).toBeCloseTo(0.002, 10);
    expect(p.coefficients.bSPerToken).toBeCloseTo(1e-4, 12);
    expect(p.coefficients.cSPerToken2).toBeCloseTo(0, 14);
    expect(p.prefillS(300)).toBeCloseTo(0.032, 10); // 0.002 + 0.03
    expect(p.prefillS(1600)).toBeCloseTo(0.162, 10); // beyond the profile: 0.002 + 0.16
  });

  it('recovers a quadratic prefill cost from exact points', () => {
    // f(n) = 0.01 + 1e-5·n + 1e-8·n²: f(0)=0.01, f(1000)=0.03, f(2000)=0.07, f(4000)=0.21
    const p = ServiceTimePredictor.fromProfile(points((n) => 0.01 + 1e-5 * n + 1e-8 * n * n, [0, 1000, 2000, 4000]), 0.02);
    expect(p.coefficients.aS).toBeCloseTo(0.01, 10);
    expect(p.coefficients.bSPerToken).toBeCloseTo(1e-5, 12);
    expect(p.coefficients.cSPerToken2).toBeCloseTo(1e-8, 15);
    expect(p.prefillS(3000)).toBeCloseTo(0.13, 10); // 0.01 + 0.03 + 0.09
    expect(p.prefillS(8000)).toBeCloseTo(0.73, 10); // 0.01 + 0.08 + 0.64 (convex: keeps the curve)
  });

  it('fits a line through two lengths and a line through the origin from one', () => {
    // (100, 0.02), (300, 0.04): b = 0.02/200 = 1e-4, a = 0.02 − 0.01 = 0.01 → f(200) = 0.03
    expect(ServiceTimePredictor.fromProfile([{ tokens: 100, seconds: 0.02 }, { tokens: 300, seconds: 0.04 }], 0.02).prefillS(200)).toBeCloseTo(0.03, 10);
    // (500, 0.05): b = 1e-4 → f(1000) = 0.1
    expect(ServiceTimePredictor.fromProfile([{ tokens: 500, seconds: 0.05 }], 0.02).prefillS(1000)).toBeCloseTo(0.1, 10);
  });

  it('never returns a negative time and never bends down beyond the profile', () => {
    // (100, 0), (200, 0.1), (300, 0.2): a = −0.1, b = 0.001 → f(50) = −0.05 → clamped to 0
    const neg = ServiceTimePredictor.fromProfile([{ tokens: 100, seconds: 0 }, { tokens: 200, seconds: 0.1 }, { tokens: 300, seconds: 0.2 }], 0.02);
    expect(neg.prefillS(50)).toBe(0);
    expect(neg.prefillS(0)).toBe(0);
    // f(n) = 0.002·n − 1e-6·n² at 0, 500, 1000 → 0, 0.75, 1.0. Slope at 1000: 0.002 − 0.002 = 0,
    // so f(3000) stays at 1.0 (the polynomial itself would give 6 − 9 = −3).
    const concave = ServiceTimePredictor.fromProfile(points((n) => 0.002 * n - 1e-6 * n * n, [0, 500, 1000]), 0.02);
    expect(concave.prefillS(3000)).toBeCloseTo(1.0, 10);
  });

  it('segment service time is prefill plus nGen decode steps', () => {
    // 0.082 + 50 · 0.02 = 1.082
    expect(ServiceTimePredictor.fromProfile(linear, 0.02).serviceTimeS(800, 50)).toBeCloseTo(1.082, 10);
  });

  it('rejects bad inputs with EngineError', () => {
    expect(() => ServiceTimePredictor.fromProfile([], 0.02)).toThrow(EngineError);
    expect(() => ServiceTimePredictor.fromProfile(linear, 0)).toThrow(EngineError);
    expect(() => ServiceTimePredictor.fromProfile([{ tokens: -1, seconds: 1 }], 0.02)).toThrow(EngineError);
    expect(() => ServiceTimePredictor.fromProfile(linear, 0.02).observeDecode(-1)).toThrow(EngineError);
  });
});

describe('ServiceTimePredictor: online refresh', () => {
  it('moves the prefill estimate toward observations at the stated decay', () => {
    const p = ServiceTimePredictor.fromProfile(linear, 0.02, { prefillAlpha: 0.5 });
    // fitted(1000) = 0.102; observed 0.204 → ratio 2; scale = 0.5·1 + 0.5·2 = 1.5
    p.observePrefill(1000, 0.204);
    expect(p.prefillScale).toBeCloseTo(1.5, 10);
    expect(p.prefillS(1000)).toBeCloseTo(0.153, 10); // 0.102 · 1.5
    // again ratio 2: scale = 0.5·1.5 + 0.5·2 = 1.75; f(200) = 0.022 · 1.75 = 0.0385
    p.observePrefill(1000, 0.204);
    expect(p.prefillS(200)).toBeCloseTo(0.0385, 10);
  });

  it('moves the decode estimate toward observations, overall and per batch-size bucket', () => {
    const p = ServiceTimePredictor.fromProfile(linear, 0.02, { decodeAlpha: 0.25 });
    p.observeDecode(0.04); // 0.75·0.02 + 0.25·0.04 = 0.025
    expect(p.decodeSPerToken()).toBeCloseTo(0.025, 12);
    // bucket 5–8 seeded from 0.025: 0.75·0.025 + 0.25·0.04 = 0.02875; overall the same
    p.observeDecode(0.04, 8);
    expect(p.decodeSPerToken(8)).toBeCloseTo(0.02875, 12);
    // bucket 1 seeded from 0.02875: 0.75·0.02875 + 0.25·0.02 = 0.0265625; overall the same
    p.observeDecode(0.02, 1);
    expect(p.decodeSPerToken(1)).toBeCloseTo(0.0265625, 12);
    expect(p.decodeSPerToken(5)).toBeCloseTo(0.02875, 12); // same bucket as 8
    expect(p.decodeSPerToken(16)).toBeCloseTo(0.0265625, 12); // no bucket yet: overall
  });
});

describe('ServiceTimePredictor: token cost', () => {
  it('is prefill seconds per token over decode seconds per token', () => {
    // f(n) = 1e-4·n, decode 0.02 s → 1e-4 / 0.02 = 0.005 at any length
    const p = ServiceTimePredictor.fromProfile(points((n) => 1e-4 * n, [100, 200, 400]), 0.02);
    expect(p.prefillTokenCostInDecodeTokens()).toBeCloseTo(0.005, 10);
    // with an intercept, at 1000 tokens: 0.102 / 1000 / 0.02 = 0.0051
    expect(ServiceTimePredictor.fromProfile(linear, 0.02).prefillTokenCostInDecodeTokens(1000)).toBeCloseTo(0.0051, 10);
    // decode halves to 0.01 after one observation at alpha 1 → the cost doubles to 0.01
    const q = ServiceTimePredictor.fromProfile(points((n) => 1e-4 * n, [100, 200, 400]), 0.02, { decodeAlpha: 1 });
    q.observeDecode(0.01);
    expect(q.prefillTokenCostInDecodeTokens()).toBeCloseTo(0.01, 10);
  });
});

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
