/** The paired comparison the tail check (bench/policies/paired.ts) and `astraea bench --seeds` report. */
import { describe, expect, it } from 'vitest';
import { pairedDifference } from '../../lib/bench/paired.js';

describe('pairedDifference', () => {
  it('gives the mean and standard error of the per-seed differences', () => {
    // Differences 1, 0, 2: mean 1; sample variance (0 + 1 + 1) / 2 = 1; s.e. √(1/3).
    const d = pairedDifference([10, 12, 14], [9, 12, 12]);
    expect(d.seeds).toBe(3);
    expect(d.baseline).toBe(11);
    expect(d.meanDiff).toBe(1);
    expect(d.standardError).toBeCloseTo(Math.sqrt(1 / 3), 12);
  });

  it('refuses runs over different seeds', () => {
    expect(() => pairedDifference([1, 2], [1])).toThrow(/same seeds/);
  });
});
