import { describe, expect, it } from 'vitest';
import { BlockManager, type BlockManagerOptions } from '../../lib/kv/block-manager.js';
import { expectCode } from './expect-code.js';

// Block size 4 throughout. Fresh device ids come off a stack that starts 0, 1, 2, ...; host ids
// likewise. P9 is two full blocks [1..4] [5..8] plus one token [9].

function manager(options: Partial<BlockManagerOptions> = {}): BlockManager {
  return new BlockManager({ deviceBlocks: 8, hostBlocks: 8, blockSize: 4, ...options });
}

function range(start: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => start + i);
}


const P9 = range(1, 9);

/** Owner 'a' holds P9 fully computed: blocks 0 and 1 hashed (full), block 2 anonymous (1 token). */
function withComputedP9(options: Partial<BlockManagerOptions> = {}): BlockManager {
  const bm = manager(options);
  expect(bm.ensure('a', P9).table).toEqual([0, 1, 2]);
  bm.markComputed('a', P9, 9);
  return bm;
}

describe('BlockManager deferred swap-out', () => {
  it('keeps the device blocks held, neither free nor allocatable, until settleSwaps()', () => {
    const bm = withComputedP9();
    const pairs = bm.swapOut('a', { deferRelease: true });
    // Device 0, 1, 2 copy to host 0, 1, 2 (host ids also come off the stack in order).
    expect(pairs).toEqual([[0, 0], [1, 1], [2, 2]]);
    expect(bm.isSwapped('a')).toBe(true);
    expect(bm.table('a')).toEqual([]);
    expect(bm.inFlightBlocks).toBe(3);
    // 8 blocks: 3 in flight (owned), 5 free, none cached yet (the hashed blocks are still held).
    expect(bm.stats()).toMatchObject({ freeBlocks: 5, cachedBlocks: 0, ownedBlocks: 3, inFlightBlocks: 3, hostFree: 5, hostOwned: 3 });
    expect(bm.refCountOf(0)).toBe(1);
    expect(bm.refCountOf(2)).toBe(1);
    expect(bm.canAllocate(5)).toBe(true);
    expect(bm.canAllocate(6)).toBe(false);
    bm.checkInvariants();

    // Another owner takes all 5 allocatable blocks: ids 3..7, never one of the in-flight 0..2.
    const b = range(100, 20); // 5 blocks
    expect(bm.blocksNeeded('b', b)).toBe(5);
    expect(bm.ensure('b', b).table).toEqual([3, 4, 5, 6, 7]);
    expect(bm.canAllocate(1)).toBe(false);
    expectCode(() => bm.ensure('c', [50]), 'OUT_OF_BLOCKS');
    bm.checkInvariants();

    bm.settleSwaps();
    // Released tail first: block 2 (no key) to the free list, blocks 1 and 0 (keyed) to the cache.
    expect(bm.inFlightBlocks).toBe(0);
    expect(bm.stats()).toMatchObject({ freeBlocks: 1, cachedBlocks: 2, ownedBlocks: 5, inFlightBlocks: 0 });
    expect(bm.refCountOf(0)).toBe(0);
    expect(bm.canAllocate(3)).toBe(true);
    expect(bm.canAllocate(4)).toBe(false);
    // The cached blocks still hold P9's first two blocks: 8 tokens are reusable.
    expect(bm.cachedPrefixTokens(P9)).toBe(8);
    bm.checkInvariants();

    // 'c' (1 block) gets the free block 2 first; the cached ones are not evicted.
    expect(bm.ensure('c', [50]).table).toEqual([2]);
    expect(bm.stats().evictions).toBe(0);
    bm.checkInvariants();
  });

  it('without deferRelease the blocks are free (or cached) at once', () => {
    const bm = withComputedP9();
    bm.swapOut('a');
    expect(bm.inFlightBlocks).toBe(0);
    expect(bm.stats()).toMatchObject({ freeBlocks: 6, cachedBlocks: 2, ownedBlocks: 0, inFlightBlocks: 0, hostOwned: 3 });
    bm.checkInvariants();
  });

  it('sends unhashed blocks to the free list when prefix caching is off', () => {
    const bm = withComputedP9({ prefixCaching: false });
    bm.swapOut('a', { deferRelease: true });
    expect(bm.stats()).toMatchObject({ freeBlocks: 5, cachedBlocks: 0, ownedBlocks: 3, inFlightBlocks: 3 });
    bm.settleSwaps();
    expect(bm.stats()).toMatchObject({ freeBlocks: 8, cachedBlocks: 0, ownedBlocks: 0, inFlightBlocks: 0 });
    bm.checkInvariants();
  });

  it('settleSwaps() with nothing in flight changes nothing', () => {
    const bm = withComputedP9();
    const before = bm.stats();
    bm.settleSwaps();
    expect(bm.stats()).toEqual(before);
    bm.checkInvariants();
  });

  it('a swap-in after a deferred swap-out of the same step gets other device blocks', () => {
    const bm = withComputedP9();
    bm.swapOut('a', { deferRelease: true });
    const pairs = bm.swapIn('a');
    // Host 0, 1, 2 come back into fresh device blocks 3, 4, 5 — not 0, 1, 2, whose outbound copy
    // may still be reading them.
    expect(pairs).toEqual([[0, 3], [1, 4], [2, 5]]);
    for (const [, device] of pairs) expect([0, 1, 2]).not.toContain(device);
    expect(bm.table('a')).toEqual([3, 4, 5]);
    expect(bm.isSwapped('a')).toBe(false);
    // 3 in flight + 3 owned by 'a'; the host blocks are back.
    expect(bm.stats()).toMatchObject({ freeBlocks: 2, cachedBlocks: 0, ownedBlocks: 6, inFlightBlocks: 3, hostFree: 8 });
    bm.checkInvariants();
    bm.settleSwaps();
    expect(bm.stats()).toMatchObject({ freeBlocks: 3, cachedBlocks: 2, ownedBlocks: 3, inFlightBlocks: 0 });
    bm.checkInvariants();
  });

  it('cannot swap back in while only in-flight blocks would make room', () => {
    // 4 device blocks: 'a' holds 3; after a deferred swap-out only 1 is free.
    const bm = withComputedP9({ deviceBlocks: 4 });
    bm.swapOut('a', { deferRelease: true });
    expect(bm.canSwapIn('a')).toBe(false);
    expectCode(() => bm.swapIn('a'), 'OUT_OF_BLOCKS');
    bm.checkInvariants();
    bm.settleSwaps();
    // 1 free + 2 cached = 3: enough now.
    expect(bm.canSwapIn('a')).toBe(true);
    expect(bm.swapIn('a').length).toBe(3);
    bm.checkInvariants();
  });

  it('freeing a swapped owner releases its host blocks but not the blocks still in flight', () => {
    const bm = withComputedP9();
    bm.swapOut('a', { deferRelease: true });
    bm.free('a');
    expect(bm.stats()).toMatchObject({ freeBlocks: 5, ownedBlocks: 3, inFlightBlocks: 3, hostFree: 8 });
    bm.checkInvariants();
    bm.settleSwaps();
    expect(bm.stats()).toMatchObject({ freeBlocks: 6, cachedBlocks: 2, ownedBlocks: 0, inFlightBlocks: 0 });
    bm.checkInvariants();
  });

  it('accumulates several deferred swap-outs and settles them all at once', () => {
    const bm = manager();
    bm.ensure('a', range(1, 5)); // 2 blocks: 0, 1
    bm.ensure('b', range(200, 8)); // 2 blocks: 2, 3
    bm.swapOut('a', { deferRelease: true });
    bm.swapOut('b', { deferRelease: true });
    expect(bm.inFlightBlocks).toBe(4);
    expect(bm.stats()).toMatchObject({ freeBlocks: 4, ownedBlocks: 4, inFlightBlocks: 4, hostOwned: 4 });
    bm.checkInvariants();
    bm.settleSwaps();
    // Nothing was marked computed, so no block has a key: all go to the free list.
    expect(bm.stats()).toMatchObject({ freeBlocks: 8, cachedBlocks: 0, ownedBlocks: 0, inFlightBlocks: 0, hostOwned: 4 });
    bm.checkInvariants();
  });
});

describe('BlockManager ensure / blocksNeeded with a length', () => {
  const T20 = range(1, 20); // 5 full blocks of 4

  it('allocates ceil(length / blockSize) blocks for the first length tokens', () => {
    const bm = manager();
    // length 9 → ceil(9/4) = 3; length 0 → 0; length 20 (all) → 5; default = all.
    expect(bm.blocksNeeded('a', T20, 9)).toBe(3);
    expect(bm.blocksNeeded('a', T20, 0)).toBe(0);
    expect(bm.blocksNeeded('a', T20, 20)).toBe(5);
    expect(bm.blocksNeeded('a', T20)).toBe(5);
    expect(bm.blocksNeeded('a', T20, 8)).toBe(2);
    const r = bm.ensure('a', T20, 9);
    expect(r.table).toEqual([0, 1, 2]);
    expect(r.computedTokens).toBe(0);
    // Held 3; length 13 needs ceil(13/4) = 4 → 1 more; length 12 needs 3 → 0 more.
    expect(bm.blocksNeeded('a', T20, 13)).toBe(1);
    expect(bm.blocksNeeded('a', T20, 12)).toBe(0);
    expect(bm.ensure('a', T20, 13).table).toEqual([0, 1, 2, 3]);
    bm.checkInvariants();
  });

  it('reports computed tokens capped at length', () => {
    const bm = manager();
    bm.ensure('a', T20, 12);
    bm.markComputed('a', T20, 12);
    // 12 tokens are computed; asking about the first 10 reports 10 of them, the first 16 reports 12.
    expect(bm.ensure('a', T20, 10).computedTokens).toBe(10);
    expect(bm.ensure('a', T20, 16).computedTokens).toBe(12);
    bm.checkInvariants();
  });

  it('looks up the prefix cache only within the first length tokens', () => {
    const bm = manager();
    bm.ensure('x', T20);
    bm.markComputed('x', T20, 20); // 5 keyed blocks 0..4
    bm.free('x'); // all 5 cached
    expect(bm.stats().cachedBlocks).toBe(5);
    // A hit must leave at least one token to compute: with length 9 at most floor((9-1)/4) = 2
    // leading blocks are reused; with length 8 at most floor(7/4) = 1.
    const y = bm.ensure('y', T20, 9);
    expect(y.computedTokens).toBe(8);
    expect(y.table.length).toBe(3); // ceil(9/4): 2 hits + 1 fresh
    expect(y.table.slice(0, 2)).toEqual([0, 1]);
    // Length 8: 1 hit (block 0 is now owned by y: ref 1, nothing to revive) + 1 fresh.
    expect(bm.blocksNeeded('z', T20, 8)).toBe(1);
    const z = bm.ensure('z', T20, 8);
    expect(z.computedTokens).toBe(4);
    expect(z.table.length).toBe(2);
    expect(z.table[0]).toBe(0);
    expect(bm.refCountOf(0)).toBe(2);
    bm.checkInvariants();
  });

  it('ignores tokens beyond length when matching the prefix cache', () => {
    const bm = manager();
    bm.ensure('x', range(1, 9));
    bm.markComputed('x', range(1, 9), 9); // blocks [1..4] [5..8] keyed
    bm.free('x');
    // Same first 9 tokens, different tail: with length 9 both cached blocks are hits.
    const other = [...range(1, 9), 77, 78, 79, 80, 81, 82, 83];
    expect(bm.blocksNeeded('w', other, 9)).toBe(3); // 2 revived from the cache + 1 fresh
    expect(bm.ensure('w', other, 9).computedTokens).toBe(8);
    bm.checkInvariants();
  });

  it('rejects a length outside 0..tokens.length (or not an integer) with INVALID_ARGUMENT, changing nothing', () => {
    const bm = manager();
    bm.ensure('a', T20, 4);
    const before = bm.stats();
    for (const bad of [-1, 21, 2.5, NaN, Infinity]) {
      expectCode(() => bm.ensure('b', T20, bad), 'INVALID_ARGUMENT');
      expectCode(() => bm.blocksNeeded('b', T20, bad), 'INVALID_ARGUMENT');
      expectCode(() => bm.ensure('a', T20, bad), 'INVALID_ARGUMENT');
    }
    expect(bm.stats()).toEqual(before);
    expect(bm.table('b')).toEqual([]);
    expect(bm.table('a')).toEqual([0]);
    bm.checkInvariants();
  });
});
