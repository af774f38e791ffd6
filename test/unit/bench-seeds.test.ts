/** `astraea bench --seeds`: the seed list, the alternating order, and the paired table (lib/bench/seeds.ts). */
import { describe, expect, it } from 'vitest';
import { counterbalanced, referencePolicy, seedsTable, type SeedRun } from '../../lib/bench/seeds.js';
import { seedsOption } from '../../lib/cli/args.js';

/** The fields seedsTable reads (a RunSummary has them, and more). */
function run(policy: string, seed: number, mean: number | null): SeedRun {
  return { policy, jct_s: { mean }, workload_params: { seed } };
}

describe('--seeds', () => {
  it('reads seeds and ranges in the order given, and refuses what is not one', () => {
    expect(seedsOption('1-8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(seedsOption('5, 1-3 ,0')).toEqual([5, 1, 2, 3, 0]);
    expect(seedsOption('7')).toEqual([7]);
    for (const bad of ['', '3-1', 'a', '1,,2', '-1', '1.5', '2-']) expect(() => seedsOption(bad), bad).toThrow(/--seeds takes seeds and ranges/);
    expect(() => seedsOption('1-3,2')).toThrow(/names a seed twice/);
  });

  it('runs the policies as given on the first seed, reversed on the second, and so on', () => {
    const order = ['fcfs', 'astraea', 'mori'];
    expect(counterbalanced(order, 0)).toEqual(['fcfs', 'astraea', 'mori']);
    expect(counterbalanced(order, 1)).toEqual(['mori', 'astraea', 'fcfs']);
    expect(counterbalanced(order, 2)).toEqual(order);
    expect(order).toEqual(['fcfs', 'astraea', 'mori']); // not reversed in place
  });

  it('pairs with astraea when it ran, else with the first policy', () => {
    expect(referencePolicy(['fcfs', 'astraea'])).toBe('astraea');
    expect(referencePolicy(['mori', 'fcfs'])).toBe('mori');
  });

  it('gives each policy its mean per seed and over the seeds, and its paired difference from the reference', () => {
    const table = seedsTable(
      [run('fcfs', 3, 5), run('astraea', 3, 2), run('continuum', 3, 3), run('astraea', 9, 4), run('continuum', 9, 4.5), run('fcfs', 9, null)],
      'astraea',
    );
    const rows = table.trimEnd().split('\n').map((l) => l.trim().split(/\s{2,}/));
    expect(rows[0]).toEqual(['policy', 'seed 3', 'seed 9', 'mean s', 'vs astraea, s', 'slower on']);
    // Best mean first: astraea (2 + 4) / 2 = 3, continuum (3 + 4.5) / 2 = 3.75, fcfs none (a seed with no mean).
    expect(rows.slice(2).map((r) => r[0])).toEqual(['astraea', 'continuum', 'fcfs']);
    expect(rows[2]).toEqual(['astraea', '2.00', '4.00', '3.00']);
    // continuum − astraea: 1 and 0.5; mean 0.75; sample variance (0.25² + 0.25²) / 1 = 0.125; s.e. √(0.125 / 2) = 0.25.
    expect(rows[3]).toEqual(['continuum', '3.00', '4.50', '3.75', '+0.750 ± 0.250', '2 of 2']);
    expect(rows[4]).toEqual(['fcfs', '5.00', '–', '–']);
  });

  it('writes a policy faster than the reference with a minus sign, and one seed with no standard error', () => {
    const rows = seedsTable([run('astraea', 1, 2), run('mori', 1, 1.5)], 'astraea')
      .trimEnd()
      .split('\n')
      .map((l) => l.trim().split(/\s{2,}/));
    expect(rows[2]).toEqual(['mori', '1.50', '1.50', '−0.500', '0 of 1']);
  });
});
