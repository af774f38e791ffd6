/** lib/predict/job-length.ts: segments after the current one, and the chance it is the last, from finished jobs' counts. */
import { describe, expect, it } from 'vitest';
import { JobLengthPredictor } from '../../lib/predict/job-length.js';
import { expectCode } from './expect-code.js';

describe('JobLengthPredictor', () => {
  it('is E[N − i − 1 | N > i] over the counts seen for the kind', () => {
    const p = new JobLengthPredictor();
    for (const n of [2, 4, 6, 12]) p.observe('airline', n);
    // i = 0: all four are > 0: mean of (2, 4, 6, 12) − 1 = 6 − 1 = 5.
    expect(p.futureSegments('airline', 0)).toBe(5);
    // i = 3: counts > 3 are 4, 6, 12 → mean excess (1 + 3 + 9)/3 = 13/3, less 1 = 10/3.
    expect(p.futureSegments('airline', 3)).toBeCloseTo(10 / 3, 12);
    // i = 5: 6 and 12 → (1 + 7)/2 − 1 = 3. i = 11: only 12 → 1 − 1 = 0.
    expect(p.futureSegments('airline', 5)).toBe(3);
    expect(p.futureSegments('airline', 11)).toBe(0);
  });

  it('is 0 past every count seen, and for a kind never seen', () => {
    const p = new JobLengthPredictor();
    p.observe('k', 3);
    expect(p.futureSegments('k', 3)).toBe(0);
    expect(p.futureSegments('other', 0)).toBe(0);
  });

  it('keeps kinds apart and forgets beyond its window', () => {
    const p = new JobLengthPredictor(2);
    p.observe('a', 10);
    p.observe('b', 1);
    p.observe('a', 2);
    p.observe('a', 4); // the window of 'a' is now (2, 4)
    expect(p.futureSegments('a', 0)).toBe(2); // (2 + 4)/2 − 1
    expect(p.futureSegments('b', 0)).toBe(0); // 1 − 1
  });

  it('gives the chance that segment i is the last: P(N = i + 1 | N > i), 1 past every count and for a kind never seen', () => {
    const p = new JobLengthPredictor();
    for (const n of [1, 1, 2, 4, 4, 9]) p.observe('coder', n);
    // i = 0: all six ran more than 0 segments; two ran exactly 1: 2/6.
    expect(p.lastSegmentChance('coder', 0)).toBeCloseTo(1 / 3, 12);
    // i = 1: 2, 4, 4, 9 ran more than 1; one ran exactly 2: 1/4. i = 3: 4, 4, 9; two ran 4: 2/3.
    expect(p.lastSegmentChance('coder', 1)).toBe(0.25);
    expect(p.lastSegmentChance('coder', 3)).toBeCloseTo(2 / 3, 12);
    // i = 4: only 9 ran more than 4, and not exactly 5: 0. i = 9: none ran more than 9.
    expect(p.lastSegmentChance('coder', 4)).toBe(0);
    expect(p.lastSegmentChance('coder', 9)).toBe(1);
    expect(p.lastSegmentChance('other', 0)).toBe(1);
  });

  it('rejects a negative or non-finite count', () => {
    expectCode(() => new JobLengthPredictor().observe('k', -1), 'INVALID_ARGUMENT');
    expectCode(() => new JobLengthPredictor().observe('k', NaN), 'INVALID_ARGUMENT');
  });
});
