/** lib/predict/job-length.ts: expected segments after the current one, from finished jobs' counts. */
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

  it('rejects a negative or non-finite count', () => {
    expectCode(() => new JobLengthPredictor().observe('k', -1), 'INVALID_ARGUMENT');
    expectCode(() => new JobLengthPredictor().observe('k', NaN), 'INVALID_ARGUMENT');
  });
});
