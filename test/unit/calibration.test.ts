/**
 * The pieces of `astraea calibrate` that need no model: the non-negative least-squares fit and
 * the profile file format.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attentionPairs, H100_LLAMA3_8B } from '../../lib/sim/cost-model.js';
import { fitStepCosts, matchTotal, matchTotals, predictComputeS, type MeasuredStep } from '../../lib/sim/fit-costs.js';
import { nonNegativeLeastSquares, solveLinear } from '../../lib/sim/least-squares.js';
import { loadProfile, parseProfile, writeProfile } from '../../lib/sim/profile-file.js';

describe('least squares', () => {
  it('solves a small system exactly (worked by hand)', () => {
    // 2x + y = 5, x + 3y = 10 → x = 1, y = 3.
    const [x, y] = solveLinear([[2, 1], [1, 3]], [5, 10]);
    expect(x).toBeCloseTo(1, 12);
    expect(y).toBeCloseTo(3, 12);
  });

  it('recovers the step-cost terms from exact samples', () => {
    // t = 0.006 + 0.0008·tokens + 2e-8·context, sampled on a grid: the fit must give them back.
    const rows: number[][] = [];
    const y: number[] = [];
    for (const tokens of [1, 4, 16, 64, 256]) {
      for (const context of [100, 1000, 20000]) {
        rows.push([1, tokens, context]);
        y.push(0.006 + 0.0008 * tokens + 2e-8 * context);
      }
    }
    const [fixed, perToken, perContext] = nonNegativeLeastSquares(rows, y);
    expect(fixed).toBeCloseTo(0.006, 10);
    expect(perToken).toBeCloseTo(0.0008, 12);
    expect(perContext).toBeCloseTo(2e-8, 14);
  });

  it('fixes at zero a term the data would make negative, and refits the rest', () => {
    // y = 2 + 3a − 0.5b at (a, b) = (0, 0), (1, 2), (2, 1), (3, 3): y = 2, 4, 7.5, 9.5. Unconstrained
    // the fit is exact with b's coefficient −0.5; held at 0, y on (1, a): mean a 1.5, mean y 5.75,
    // Sxy = 1.5·3.75 + 0.5·1.75 + 0.5·1.75 + 1.5·3.75 = 13, Sxx = 5 → slope 2.6, intercept 1.85.
    const rows = [[1, 0, 0], [1, 1, 2], [1, 2, 1], [1, 3, 3]];
    const [c, ca, cb] = nonNegativeLeastSquares(rows, [2, 4, 7.5, 9.5]);
    expect(c).toBeCloseTo(1.85, 12);
    expect(ca).toBeCloseTo(2.6, 12);
    expect(cb).toBe(0);
  });
});

describe('profile files', () => {
  const good = { ...H100_LLAMA3_8B, provenance: { tool: 'test' } };

  it('round-trips through writeProfile and loadProfile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'astraea-profile-'));
    try {
      const path = join(dir, 'p.json');
      writeProfile(path, good);
      expect(await loadProfile(path)).toEqual(good);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads a built-in profile by name', async () => {
    expect(await loadProfile('h100-llama3-8b')).toBe(H100_LLAMA3_8B);
  });

  const rejects = (promise: Promise<unknown>, message: RegExp) => expect(promise).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });

  it('rejects a bad file with a message naming the file and the field', async () => {
    await rejects(parseProfile('{"model":', 'p.json'), /p\.json: not valid JSON/);
    const negative = { ...good, costs: { ...good.costs, tokenS: -1 } };
    await rejects(parseProfile(JSON.stringify(negative), 'p.json'), /p\.json: \/costs\/tokenS/);
    const { deviceBlocks: _, ...missing } = good;
    await rejects(parseProfile(JSON.stringify(missing), 'p.json'), /p\.json:.*deviceBlocks/);
    await rejects(loadProfile('no-such-profile'), /neither a built-in profile .* nor a file/);
    const dir = mkdtempSync(join(tmpdir(), 'astraea-profile-'));
    try {
      writeFileSync(join(dir, 'bad.json'), '[]');
      await rejects(loadProfile(join(dir, 'bad.json')), /bad\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fitting step costs', () => {
  // Steps priced exactly by a known model: every term must come back.
  const truth = { fixedS: 0.005, tokenS: 0.0006, contextTokenS: 1.5e-6, attentionPairS: 5e-7, sequenceS: 1e-4, roofline: false };
  const grid: MeasuredStep[] = [];
  for (const sequences of [1, 2, 4, 8, 16, 32]) {
    for (const start of [0, 100, 1000]) {
      for (const chunk of [1, 16, 64]) {
        const tokens = sequences * chunk;
        const step = { tokens, contextTokens: sequences * (start + chunk), attentionPairs: sequences * attentionPairs(start, chunk), sequences, computeS: 0 };
        grid.push({ ...step, computeS: predictComputeS(truth, step) });
      }
    }
  }

  it('recovers an exact sum-form model', () => {
    const { costs, medianRelativeError } = fitStepCosts(grid);
    expect(costs.roofline).toBe(false);
    expect(costs.fixedS).toBeCloseTo(truth.fixedS, 9);
    expect(costs.tokenS).toBeCloseTo(truth.tokenS, 10);
    expect(costs.contextTokenS).toBeCloseTo(truth.contextTokenS, 12);
    expect(costs.attentionPairS).toBeCloseTo(truth.attentionPairS, 13);
    expect(costs.sequenceS).toBeCloseTo(truth.sequenceS, 10);
    expect(medianRelativeError).toBeLessThan(1e-9);
  });

  it('matchTotal scales every term so the predicted total equals the measured one', () => {
    // Measured steps twice as slow as the model: every coefficient doubles.
    const slow = grid.map((s) => ({ ...s, computeS: 2 * s.computeS }));
    const scaled = matchTotal(truth, slow);
    expect(scaled.fixedS).toBeCloseTo(0.01, 12);
    expect(scaled.tokenS).toBeCloseTo(0.0012, 12);
    expect(scaled.sequenceS).toBeCloseTo(2e-4, 12);
    const total = (c: typeof truth) => slow.reduce((sum, s) => sum + predictComputeS(c, s), 0);
    expect(total(scaled)).toBeCloseTo(slow.reduce((sum, s) => sum + s.computeS, 0), 9);
  });

  it('reports the level stage 2 applied to the fitted shape', () => {
    // The shape from exact steps, the level from a replay twice as slow: one factor of 2.
    const slow = grid.map((s) => ({ ...s, computeS: 2 * s.computeS }));
    const { costs, level } = fitStepCosts(grid, [slow]);
    expect(level.weights).toBeCloseTo(2, 9);
    expect(level.attention).toBeCloseTo(2, 9);
    expect(costs.fixedS).toBeCloseTo(2 * truth.fixedS, 9);
  });
});

describe('levelling weight and attention terms apart', () => {
  const truth = { fixedS: 0.005, tokenS: 0.0006, contextTokenS: 1.5e-6, attentionPairS: 5e-9, sequenceS: 1e-4, roofline: false };
  // Decode steps of 8 sequences: short contexts (300 tokens each) and long ones (3,600).
  const decode = (context: number): MeasuredStep => ({ tokens: 8, contextTokens: 8 * context, attentionPairs: 8 * attentionPairs(context - 1, 1), sequences: 8, computeS: 0 });
  // Measured: the weight terms 1.2× the shape's, the attention terms 1.5×.
  const measure = (s: MeasuredStep): MeasuredStep => {
    const attention = truth.contextTokenS * s.contextTokens + truth.attentionPairS * s.attentionPairs;
    return { ...s, computeS: 1.2 * (predictComputeS(truth, s) - attention) + 1.5 * attention };
  };
  const short = Array.from({ length: 20 }, () => measure(decode(300)));
  const long = Array.from({ length: 5 }, () => measure(decode(3600)));

  it('recovers one factor for each from two replays of different attention shares', () => {
    const levelled = matchTotals(truth, [short, long]);
    expect(levelled.fixedS).toBeCloseTo(0.006, 12);
    expect(levelled.tokenS).toBeCloseTo(0.00072, 12);
    expect(levelled.sequenceS).toBeCloseTo(1.2e-4, 12);
    expect(levelled.contextTokenS).toBeCloseTo(2.25e-6, 14);
    expect(levelled.attentionPairS).toBeCloseTo(7.5e-9, 16);
    // Each replay's total comes out right, which one factor cannot do.
    const total = (c: typeof truth, steps: MeasuredStep[]) => steps.reduce((sum, s) => sum + predictComputeS(c, s), 0);
    const measured = (steps: MeasuredStep[]) => steps.reduce((sum, s) => sum + s.computeS, 0);
    for (const steps of [short, long]) expect(total(levelled, steps) / measured(steps)).toBeCloseTo(1, 12);
    const one = matchTotal(truth, [...short, ...long]);
    expect(Math.abs(total(one, long) / measured(long) - 1)).toBeGreaterThan(0.01);
  });

  it('falls back to one factor when the replays cannot tell them apart', () => {
    const all = [...short, ...long];
    expect(matchTotals(truth, [short])).toEqual(matchTotal(truth, short));
    // Two replays of the same steps: the same attention share.
    expect(matchTotals(truth, [short, short.slice(0, 10)])).toEqual(matchTotal(truth, [...short, ...short.slice(0, 10)]));
    expect(matchTotals(truth, [all, [], long.slice(0, 0)])).toEqual(matchTotal(truth, all));
  });
});
