/**
 * Copy-on-write forks in the block manager (block size 4): the child shares the parent's full
 * computed blocks (one more reference each) and gets a copy of the partial last block; the copy's
 * blocks stay held until it has run, whoever closes meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { BlockManager } from '../../lib/kv/block-manager.js';
import { saltRoot } from '../../lib/kv/prefix-hash.js';
import { expectCode } from './expect-code.js';

const T10 = Array.from({ length: 10 }, (_, i) => 100 + i); // blocks [0..3] [4..7] [8, 9]

/** A parent that computed all of T10 in blocks 0, 1, 2. */
function withParent(deviceBlocks = 8): BlockManager {
  const bm = new BlockManager({ deviceBlocks, hostBlocks: 4, blockSize: 4 });
  expect(bm.ensure('p', T10).table).toEqual([0, 1, 2]);
  bm.markComputed('p', T10, 10);
  return bm;
}

describe('BlockManager.fork', () => {
  it('shares full blocks and copies the partial one', () => {
    const bm = withParent();
    const forked = bm.fork('p', 'c', 10);
    // Blocks 0 and 1 shared; the partial block 2 copied into the next free block, 3.
    expect(forked).toEqual({ copy: [2, 3] });
    expect(bm.table('c')).toEqual([0, 1, 3]);
    expect(bm.refCountOf(0)).toBe(2);
    expect(bm.refCountOf(1)).toBe(2);
    expect(bm.refCountOf(2)).toBe(2); // the parent's, and the copy's hold on its source
    expect(bm.refCountOf(3)).toBe(2); // the child's, and the copy's hold on its destination
    bm.checkInvariants();
    bm.copyDone([2, 3]);
    expect([bm.refCountOf(2), bm.refCountOf(3)]).toEqual([1, 1]);
    // The child continues where the parent stopped: its next token needs no new block (10 of 12 slots).
    expect(bm.ensure('c', [...T10, 7]).computedTokens).toBe(10);
    expect(bm.table('c')).toEqual([0, 1, 3]);
    bm.checkInvariants();
  });

  it('shares whole blocks only when the length ends on a block boundary', () => {
    const bm = withParent();
    expect(bm.fork('p', 'c', 8)).toEqual({ copy: null });
    expect(bm.table('c')).toEqual([0, 1]);
    expect(bm.stats().freeBlocks).toBe(5); // nothing taken
    bm.checkInvariants();
  });

  it('keeps the copy’s blocks until it has run, though parent and child close first', () => {
    const bm = withParent();
    bm.fork('p', 'c', 10);
    bm.free('p');
    bm.free('c');
    // Blocks 2 (source) and 3 (destination) are still held by the copy; 0 and 1 are cached.
    expect(bm.stats().ownedBlocks).toBe(2);
    bm.checkInvariants();
    bm.copyDone([2, 3]);
    expect(bm.stats().ownedBlocks).toBe(0);
    bm.checkInvariants();
  });

  it('refuses what it cannot share, and gives nothing when there is no room for the copy', () => {
    const bm = withParent(3);
    expectCode(() => bm.fork('p', 'c', 11), 'INVALID_ARGUMENT'); // past what the parent computed
    expectCode(() => bm.fork('nobody', 'c', 4), 'UNKNOWN_SEQUENCE');
    expect(bm.fork('p', 'c', 0)).toBeNull();
    expect(bm.fork('p', 'c', 10)).toBeNull(); // all 3 blocks are the parent's: no room to copy
    expect(bm.fork('p', 'c', 8)).toEqual({ copy: null }); // whole blocks need none
    expectCode(() => bm.fork('p', 'c', 4), 'INVALID_ARGUMENT'); // 'c' exists now
    bm.checkInvariants();
  });

  it('a fork keeps its parent’s cache salt, and its blocks key the same chain', () => {
    const bm = new BlockManager({ deviceBlocks: 8, hostBlocks: 0, blockSize: 4 });
    const root = saltRoot('tenant');
    bm.ensure('p', T10, 10, root);
    bm.markComputed('p', T10, 10);
    bm.fork('p', 'c', 8);
    expectCode(() => bm.ensure('c', T10), 'INVALID_ARGUMENT'); // unsalted: not its chain
    bm.ensure('c', T10, 10, root);
    bm.markComputed('c', T10, 10);
    bm.free('p');
    bm.free('c');
    expect(bm.cachedPrefixTokens(T10, root)).toBe(8);
    bm.checkInvariants();
  });
});
