/**
 * Eviction priorities of cached blocks (lib/kv/block-retention.ts through BlockManager.retainBlocks):
 * what vLLM's `kv.retain` and `vllm.set_priority` hints become in the prefix cache. Block ids and
 * the LRU order are worked out by hand: ids are handed out 0, 1, 2, ..., and a freed owner's
 * blocks join the LRU list tail first.
 */
import { describe, expect, it } from 'vitest';
import { BlockManager } from '../../lib/kv/block-manager.js';

/** 4 device blocks of 4 tokens; 'b' (blocks 0, 1) then 'a' (blocks 2, 3), each 8 computed tokens. */
function twoCachedOwners() {
  let now = 0;
  const bm = new BlockManager({ deviceBlocks: 4, hostBlocks: 0, blockSize: 4, nowS: () => now });
  const b = [11, 12, 13, 14, 15, 16, 17, 18];
  const a = [1, 2, 3, 4, 5, 6, 7, 8];
  for (const [owner, tokens] of [['b', b], ['a', a]] as const) {
    bm.ensure(owner, tokens);
    bm.markComputed(owner, tokens, 8);
  }
  // Leading tokens of each found in the cache (one more token, so both full blocks can hit).
  const cached = (tokens: number[]) => bm.cachedPrefixTokens([...tokens, 99]);
  return { bm, a, b, cached, setNow: (t: number) => (now = t) };
}

describe('block retention: eviction priorities from hints', () => {
  it('without declarations, the least recently used goes first (as before)', () => {
    const { bm, a, b, cached } = twoCachedOwners();
    bm.free('b'); // LRU: 1, 0
    bm.free('a'); // LRU: 1, 0, 3, 2
    bm.ensure('c', [21, 22, 23, 24, 25, 26, 27, 28]); // evicts 1 then 0: b's
    expect(bm.table('c')).toEqual([1, 0]);
    expect([cached(b), cached(a)]).toEqual([0, 8]);
    bm.checkInvariants();
  });

  it('a prioritized block outlives an LRU-older unprioritized one', () => {
    const { bm, a, b, cached } = twoCachedOwners();
    bm.retainBlocks('b', 0, 8, 50, 10); // b's blocks 0 and 1 at priority 50 until t = 10
    expect(bm.retainedBlocks).toBe(2);
    bm.free('b');
    bm.free('a'); // LRU: 1, 0 (priority 50), 3, 2 (none)
    bm.ensure('c', [21, 22, 23, 24, 25, 26, 27, 28]); // a's go: 3, then 2
    expect(bm.table('c')).toEqual([3, 2]);
    expect([cached(b), cached(a)]).toEqual([8, 0]);
    bm.checkInvariants();
  });

  it('after the ttl it does not', () => {
    const { bm, a, b, cached, setNow } = twoCachedOwners();
    bm.retainBlocks('b', 0, 8, 50, 10);
    bm.free('b');
    bm.free('a');
    setNow(10); // the declaration lapses at t = 10: plain LRU again
    bm.ensure('c', [21, 22, 23, 24, 25, 26, 27, 28]);
    expect(bm.table('c')).toEqual([1, 0]);
    expect([cached(b), cached(a)]).toEqual([0, 8]);
    // The evicted blocks' declarations went with their content.
    expect(bm.retainedBlocks).toBe(0);
  });

  it('never pins: when only prioritized blocks are left, the lowest priority goes, then the higher', () => {
    const { bm, a, b, cached } = twoCachedOwners();
    bm.retainBlocks('b', 0, 8, 50, 10);
    bm.retainBlocks('a', 0, 8, 20, 10);
    bm.free('b');
    bm.free('a'); // LRU: 1, 0 (50), 3, 2 (20)
    bm.ensure('c', [21, 22, 23, 24, 25, 26, 27, 28]); // the 20s: 3, 2
    expect(bm.table('c')).toEqual([3, 2]);
    expect([cached(b), cached(a), bm.retainedBlocks]).toEqual([8, 0, 2]);
    bm.free('c'); // anonymous blocks (never computed), to the free stack tail first: 2, 3 (3 on top)
    bm.ensure('d', [31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46]); // 3, 2 free, then 1, 0
    expect(bm.table('d')).toEqual([3, 2, 1, 0]);
    expect([cached(b), bm.retainedBlocks]).toEqual([0, 0]);
    bm.checkInvariants();
  });

  it('declares only blocks with computed content in the range, and a weaker declaration in force loses', () => {
    let now = 0;
    const bm = new BlockManager({ deviceBlocks: 4, hostBlocks: 0, blockSize: 4, nowS: () => now });
    const tokens = [1, 2, 3, 4, 5, 6];
    bm.ensure('x', tokens); // blocks 0 (full) and 1 (2 tokens)
    bm.markComputed('x', tokens, 6); // only block 0 holds content
    bm.retainBlocks('x', 0, 6, 40, 5);
    expect(bm.retainedBlocks).toBe(1);
    bm.retainBlocks('x', 4, 6, 90, 5); // block 1 only: no content, nothing declared
    expect(bm.retainedBlocks).toBe(1);
    bm.retainBlocks('x', 0, 4, 30, 100); // weaker than the 40 in force: dropped, so it lapses at 5
    bm.free('x'); // block 1 to the free stack (on top of 3, 2), block 0 cached
    const y = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
    bm.ensure('y', y); // the 3 free blocks: 1, 2, 3
    expect(bm.table('y')).toEqual([1, 2, 3]);
    bm.markComputed('y', y, 12);
    bm.free('y'); // LRU: 0 (40 until 5), 3, 2, 1
    now = 5; // the 40 lapses; had the 30 (until 100) replaced it, block 3 would go instead
    bm.ensure('z', [8, 8, 8, 8]);
    expect(bm.table('z')).toEqual([0]);
    expect(bm.retainedBlocks).toBe(0);
    bm.checkInvariants();
  });
});
