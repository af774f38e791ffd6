/**
 * The simulator's swap schedule on hand-made plans (test/native/swap-schedule-agreement.test.ts
 * checks it against the native rule on random ones): a swap blocks the forward pass when its
 * device block is in a block table, however long the tables are and wherever in them it sits.
 */
import { describe, expect, it } from 'vitest';
import { splitSwaps } from '../../lib/sim/swap-schedule.js';

/** Block ids [from, from + n). */
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('splitSwaps', () => {
  it('counts a swap blocking when a table holds its device block, wherever in the table', () => {
    // Two long tables (ids 0..9999 and 10000..19999); swap-out of 19999 (the last entry of the
    // second table) blocks; swap-out of 20000 (in no table) runs beside; swap-in into 5 (in the
    // first table) blocks; swap-in into 30000 runs beside.
    const plan = {
      sequences: [{ blocks: range(0, 10_000) }, { blocks: range(10_000, 10_000) }],
      swapOut: [
        [19_999, 0],
        [20_000, 1],
      ] as const,
      swapIn: [
        [2, 5],
        [3, 30_000],
      ] as const,
    };
    expect(splitSwaps(plan)).toEqual({ blocking: 2, background: 2 });
  });

  it('with no sequences, only the chains between the swaps block', () => {
    // Swap-out 7 → host 1, then swap-in host 1 → 8: the swap-in reads a host block the swap-out
    // writes, so both block (rule: a swap-out whose host block is a swap-in's source, and a
    // swap-in whose host block is a swap-out's destination).
    expect(splitSwaps({ sequences: [], swapOut: [[7, 1]], swapIn: [[1, 8]] })).toEqual({ blocking: 2, background: 0 });
    expect(splitSwaps({ sequences: [], swapOut: [[7, 1]], swapIn: [[2, 8]] })).toEqual({ blocking: 0, background: 2 });
    expect(splitSwaps({ sequences: [{ blocks: [1, 2] }], swapOut: [], swapIn: [] })).toEqual({ blocking: 0, background: 0 });
  });
});
