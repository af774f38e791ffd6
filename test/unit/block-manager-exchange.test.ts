/**
 * An exchange: a swap-out that makes room for a swap-in of the same step may take the host
 * blocks that swap-in reads, when the host pool has no free ones. The block manager hands them
 * out (free blocks first, then those of swap-ins already issued, then those lent by the job about
 * to be swapped in), reports which pairs must be written after the swap-ins, and keeps the owner
 * that received them from coming back before the step has settled.
 */
import { describe, expect, it } from 'vitest';
import { BlockManager } from '../../lib/kv/block-manager.js';
import { expectCode } from './expect-code.js';

const range = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);
const R = range(1, 12); // 3 full blocks of 4
const K = range(100, 12);

/**
 * 8 device blocks, a host pool of exactly 3 and no prefix caching (a released block is free):
 * 'r' computed 3 blocks and went to the host, filling it; 'k' holds 3 computed device blocks.
 */
function hostFull() {
  const bm = new BlockManager({ deviceBlocks: 8, hostBlocks: 3, blockSize: 4, prefixCaching: false });
  bm.ensure('r', R);
  bm.markComputed('r', R, 12);
  expect(bm.swapOut('r')).toEqual([[0, 0], [1, 1], [2, 2]]);
  bm.ensure('k', K);
  bm.markComputed('k', K, 12);
  const kDevice = bm.table('k').slice();
  expect(kDevice).toHaveLength(3);
  expect(bm.stats()).toMatchObject({ hostFree: 0, hostOwned: 3 });
  return { bm, kDevice };
}

describe('BlockManager exchange', () => {
  it("the job coming back lends its host blocks to the swap-out that makes room for it", () => {
    const { bm, kDevice } = hostFull();
    expect(bm.canSwapOut('k')).toBe(false);
    expect(bm.canSwapOutMakingRoom('k')).toBe(false); // nothing lent, nothing in flight
    bm.lendHostBlocks('r');
    expect(bm.canSwapOutMakingRoom('k')).toBe(true);
    const { pairs, toVacated } = bm.swapOutMakingRoom('k');
    // No free host block: all three of k's blocks go into r's, lent in r's order (0, 1, 2).
    expect(pairs).toEqual([]);
    expect(toVacated).toEqual([[kDevice[0], 0], [kDevice[1], 1], [kDevice[2], 2]]);
    expect(bm.isSwapped('k')).toBe(true);
    // k's KV is not on the host until the step has run: it cannot come back before that.
    expect(bm.canSwapIn('k')).toBe(false);
    expect(bm.awaitsExchange('k')).toBe(true);
    expect(bm.canSwapIn('r')).toBe(true);
    bm.swapIn('r', { deferRelease: true });
    // r's host blocks are k's now: none is released when the step settles.
    expect(bm.stats()).toMatchObject({ hostFree: 0, hostOwned: 3 });
    bm.settleSwaps();
    expect(bm.stats()).toMatchObject({ hostFree: 0, hostOwned: 3 });
    expect(bm.canSwapIn('k')).toBe(true);
    expect(bm.awaitsExchange('k')).toBe(false);
    bm.checkInvariants();
  });

  it('takes free host blocks first, then those of swap-ins already issued', () => {
    const bm = new BlockManager({ deviceBlocks: 8, hostBlocks: 4, blockSize: 4, prefixCaching: false });
    bm.ensure('r', R);
    bm.markComputed('r', R, 12);
    expect(bm.swapOut('r')).toEqual([[0, 0], [1, 1], [2, 2]]); // host block 3 stays free
    bm.ensure('k', K);
    bm.markComputed('k', K, 12);
    const kDevice = bm.table('k').slice();
    bm.swapIn('r', { deferRelease: true }); // r's host 0, 1, 2 in flight: read by this step
    expect(bm.canSwapOut('k')).toBe(false); // 1 free host block for 3
    const { pairs, toVacated } = bm.swapOutMakingRoom('k');
    expect(pairs).toEqual([[kDevice[0], 3]]);
    // Then the in-flight blocks, last issued first.
    expect(toVacated).toEqual([[kDevice[1], 2], [kDevice[2], 1]]);
    bm.settleSwaps();
    // Host block 0 was the only in-flight block left to release.
    expect(bm.stats()).toMatchObject({ hostFree: 1, hostOwned: 3 });
    bm.checkInvariants();
  });

  it('a loan ended without the swap-in must not have been drawn on', () => {
    const { bm } = hostFull();
    bm.lendHostBlocks('r');
    bm.endHostLoan(); // nothing taken: fine
    expect(bm.canSwapOutMakingRoom('k')).toBe(false);
    bm.lendHostBlocks('r');
    bm.swapOutMakingRoom('k');
    expectCode(() => bm.endHostLoan(), 'INVARIANT');
    expectCode(() => bm.lendHostBlocks('k'), 'INVALID_ARGUMENT'); // one loan at a time
  });
});
