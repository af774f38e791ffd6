import { describe, expect, it } from 'vitest';
import { BlockManager, type BlockManagerOptions } from '../../lib/kv/block-manager.js';
import { chainHashes, hashBlock } from '../../lib/kv/prefix-hash.js';
import { expectCode } from './expect-code.js';

// Block size 4 throughout. Fresh device ids come off a stack that starts as 0, 1, 2, ...; a block
// released without content goes back on top of it (so it is the next one handed out).

function manager(options: Partial<BlockManagerOptions> = {}): BlockManager {
  return new BlockManager({ deviceBlocks: 8, hostBlocks: 8, blockSize: 4, ...options });
}

/** [start, start + 1, ..., start + n - 1] */
function range(start: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => start + i);
}


const P9 = range(1, 9); // 2 full blocks [1..4] [5..8] + 1 token [9]

describe('prefix hash', () => {
  it('is deterministic, 64 bits, and chained', () => {
    const first = hashBlock(null, [1, 2, 3, 4], 0, 4);
    expect(first).toHaveLength(4); // four 16-bit code units
    expect([...Array(4).keys()].every((i) => first.charCodeAt(i) <= 0xffff)).toBe(true);
    expect(hashBlock(null, [9, 1, 2, 3, 4], 1, 5)).toBe(first);
    // The same four tokens after a different prefix (or as the first block) get a different key.
    const afterA = hashBlock(first, [5, 6, 7, 8], 0, 4);
    const afterB = hashBlock(hashBlock(null, [0, 0, 0, 0], 0, 4), [5, 6, 7, 8], 0, 4);
    const asFirst = hashBlock(null, [5, 6, 7, 8], 0, 4);
    expect(new Set([afterA, afterB, asFirst]).size).toBe(3);
    expect(chainHashes(P9, 4, 2)).toEqual([first, afterA]);
  });

  it('has no collisions over 200k chained and 200k single-token-apart blocks', () => {
    const keys = new Set<string>();
    let parent: string | null = null;
    const tokens = range(1_000_000, 4);
    for (let i = 0; i < 200_000; i++) {
      tokens[i % 4] = i; // each block holds the new value i, so all 200k are distinct; neighbours differ in one token
      keys.add(hashBlock(null, tokens, 0, 4));
      parent = hashBlock(parent, [7, 7, 7, 7], 0, 4); // identical tokens, only the chain differs
      keys.add(parent);
    }
    expect(keys.size).toBe(400_000);
  });
});

describe('BlockManager', () => {
  it('grows the table as tokens are appended', () => {
    const bm = manager();
    expect(bm.table('a')).toEqual([]);
    expect(bm.blocksNeeded('a', range(1, 3))).toBe(1); // ceil(3/4)
    expect(bm.ensure('a', range(1, 3))).toEqual({ table: [0], computedTokens: 0 });
    expect(bm.blocksNeeded('a', range(1, 5))).toBe(1); // 2 blocks needed, 1 held
    expect(bm.ensure('a', range(1, 5)).table).toEqual([0, 1]);
    expect(bm.blocksNeeded('a', range(1, 8))).toBe(0); // 8 tokens fit in 2 blocks
    expect(bm.ensure('a', range(1, 8)).table).toEqual([0, 1]);
    bm.markComputed('a', range(1, 8), 8);
    expect(bm.ensure('a', range(1, 9))).toEqual({ table: [0, 1, 2], computedTokens: 8 });
    expect(bm.stats()).toMatchObject({ freeBlocks: 5, cachedBlocks: 0, ownedBlocks: 3 });
    bm.checkInvariants();
  });

  it('shares the full blocks of a common 9-token prompt', () => {
    const bm = manager();
    expect(bm.ensure('a', P9)).toEqual({ table: [0, 1, 2], computedTokens: 0 });
    expect(bm.cachedPrefixTokens(P9)).toBe(0); // nothing computed yet
    bm.markComputed('a', P9, 9); // blocks 0 and 1 are full and registered; block 2 holds 1 token
    expect(bm.cachedPrefixTokens(P9)).toBe(8);
    expect(bm.blocksNeeded('b', P9)).toBe(1); // hits on owned blocks cost nothing; 1 fresh block
    expect(bm.ensure('b', P9)).toEqual({ table: [0, 1, 3], computedTokens: 8 });
    expect([0, 1, 2, 3].map((id) => bm.refCountOf(id))).toEqual([2, 2, 1, 1]);
    // 3 + 4 distinct blocks owned, 8 - 4 free; queries 9 + 9 tokens, hits 8.
    expect(bm.stats()).toMatchObject({ ownedBlocks: 4, freeBlocks: 4, prefixHitTokens: 8, prefixQueryTokens: 18 });
    bm.checkInvariants();
    bm.free('a');
    expect([0, 1, 2, 3].map((id) => bm.refCountOf(id))).toEqual([1, 1, 0, 1]);
    bm.free('b');
    expect(bm.stats()).toMatchObject({ ownedBlocks: 0, cachedBlocks: 2, freeBlocks: 6 });
    bm.checkInvariants();
  });

  it('leaves at least one token to compute: an 8-token prompt reuses only 1 block', () => {
    const bm = manager();
    const p8 = range(1, 8);
    bm.ensure('a', p8);
    bm.markComputed('a', p8, 8); // both blocks registered
    expect(bm.cachedPrefixTokens(p8)).toBe(4); // floor((8 - 1) / 4) = 1 block
    expect(bm.ensure('b', p8)).toEqual({ table: [0, 2], computedTokens: 4 });
    expect(bm.refCountOf(0)).toBe(2);
    expect(bm.refCountOf(1)).toBe(1);
    bm.checkInvariants();
  });

  it('keeps freed full blocks cached and revives them on a hit', () => {
    const bm = manager();
    bm.ensure('a', P9);
    bm.markComputed('a', P9, 9);
    bm.free('a');
    // Released tail first: block 2 (1 token, no key) -> free stack; blocks 1 then 0 -> cached.
    expect(bm.table('a')).toEqual([]);
    expect(bm.stats()).toMatchObject({ freeBlocks: 6, cachedBlocks: 2, ownedBlocks: 0 });
    expect(bm.refCountOf(0)).toBe(0);
    bm.checkInvariants();
    // Reviving two cached blocks takes them out of the evictable pool: 1 fresh + 2 revived.
    expect(bm.blocksNeeded('b', P9)).toBe(3);
    // Fresh block: 2, the top of the free stack. Cached 0 and 1 come back with ref 1.
    expect(bm.ensure('b', P9)).toEqual({ table: [0, 1, 2], computedTokens: 8 });
    expect([0, 1, 2].map((id) => bm.refCountOf(id))).toEqual([1, 1, 1]);
    expect(bm.stats()).toMatchObject({ cachedBlocks: 0, freeBlocks: 5, evictions: 0, prefixHitTokens: 8 });
    bm.checkInvariants();
  });

  it('evicts cached blocks in LRU order and never a referenced one', () => {
    const bm = manager({ deviceBlocks: 4 });
    const x = [10, 11, 12, 13];
    const y = [20, 21, 22, 23];
    const z = [30, 31, 32, 33];
    for (const [owner, tokens] of [['x', x], ['y', y], ['z', z]] as const) {
      bm.ensure(owner, tokens);
      bm.markComputed(owner, tokens, 4);
      bm.free(owner);
    }
    // x -> block 0, y -> 1, z -> 2, freed in that order: LRU (oldest first) = [0, 1, 2]; free = [3].
    expect(bm.stats()).toMatchObject({ cachedBlocks: 3, freeBlocks: 1 });
    // x's block is referenced again (hit + 1 fresh block, which is the free block 3).
    expect(bm.blocksNeeded('x2', [...x, 14])).toBe(2);
    expect(bm.ensure('x2', [...x, 14])).toEqual({ table: [0, 3], computedTokens: 4 });
    // Pressure: no free block; the least recently freed cached block (y's 1) goes first, not 0.
    expect(bm.ensure('w', [40, 41, 42])).toEqual({ table: [1], computedTokens: 0 });
    expect(bm.stats()).toMatchObject({ evictions: 1, cachedBlocks: 1, freeBlocks: 0, ownedBlocks: 3 });
    expect(bm.cachedPrefixTokens([...y, 24])).toBe(0);
    expect(bm.cachedPrefixTokens([...z, 34])).toBe(4);
    expect(bm.cachedPrefixTokens([...x, 14])).toBe(4);
    expect(bm.canAllocate(1)).toBe(true);
    expect(bm.canAllocate(2)).toBe(false);
    // Next one evicts z's block 2; block 0 (ref 1) is still never handed out.
    expect(bm.ensure('v', [50]).table).toEqual([2]);
    expect(bm.stats()).toMatchObject({ evictions: 2, cachedBlocks: 0 });
    expect(bm.refCountOf(0)).toBe(1);
    expectCode(() => bm.ensure('u', [60]), 'OUT_OF_BLOCKS');
    bm.checkInvariants();
  });

  it('never reuses blocks with prefixCaching: false', () => {
    const bm = manager({ prefixCaching: false });
    bm.ensure('a', P9);
    bm.markComputed('a', P9, 9);
    expect(bm.cachedPrefixTokens(P9)).toBe(0);
    bm.free('a');
    expect(bm.stats()).toMatchObject({ cachedBlocks: 0, freeBlocks: 8 });
    // Freed tail first, so the stack top is 0, then 1, then 2.
    expect(bm.ensure('b', P9)).toEqual({ table: [0, 1, 2], computedTokens: 0 });
    expect(bm.stats().prefixHitTokens).toBe(0);
    bm.checkInvariants();
  });

  it('does not cache a duplicate of content another sequence registered first', () => {
    const bm = manager();
    bm.ensure('a', P9); // [0, 1, 2]
    bm.ensure('b', P9); // nothing computed yet: [3, 4, 5]
    bm.markComputed('a', P9, 9);
    bm.markComputed('b', P9, 9); // keys already held by blocks 0 and 1
    bm.free('b');
    expect(bm.stats()).toMatchObject({ cachedBlocks: 0, freeBlocks: 5 });
    bm.free('a');
    expect(bm.stats()).toMatchObject({ cachedBlocks: 2, freeBlocks: 6 });
    bm.checkInvariants();
  });

  it('throws OUT_OF_BLOCKS without changing anything', () => {
    const bm = manager({ deviceBlocks: 3 });
    bm.ensure('a', P9);
    bm.markComputed('a', P9, 9);
    bm.free('a'); // free [2], LRU [1, 0]
    bm.ensure('c', [50, 51, 52, 53]); // takes free block 2
    const before = bm.stats();
    // b's prompt hits the 2 cached blocks but needs a third: 1 fresh + 2 revived = 3 > 2 available.
    expect(bm.blocksNeeded('b', P9)).toBe(3);
    expect(bm.canAllocate(3)).toBe(false);
    expectCode(() => bm.ensure('b', P9), 'OUT_OF_BLOCKS');
    expect(bm.table('b')).toEqual([]);
    expect(bm.stats()).toEqual(before);
    expectCode(() => bm.ensure('c', range(50, 13)), 'OUT_OF_BLOCKS'); // 4 blocks, holds 1, 2 available
    expect(bm.table('c')).toEqual([2]);
    expect(bm.stats()).toEqual(before);
    expect(bm.cachedPrefixTokens(P9)).toBe(8);
    bm.checkInvariants();
  });

  it('swaps out and back in', () => {
    const bm = manager({ deviceBlocks: 4, hostBlocks: 4 });
    const tokens = range(1, 6);
    expect(bm.ensure('a', tokens).table).toEqual([0, 1]);
    bm.markComputed('a', tokens, 6); // block 0 full and registered, block 1 holds 2 tokens
    expect(bm.canSwapOut('a')).toBe(true);
    expect(bm.swapOut('a')).toEqual([[0, 0], [1, 1]]);
    expect(bm.isSwapped('a')).toBe(true);
    expect(bm.table('a')).toEqual([]);
    // Device refs dropped as in free: block 0 stays cached, block 1 is free again.
    expect(bm.stats()).toMatchObject({ ownedBlocks: 0, cachedBlocks: 1, freeBlocks: 3, hostFree: 2, hostOwned: 2 });
    bm.checkInvariants();
    expectCode(() => bm.ensure('a', tokens), 'SEQUENCE_SWAPPED');
    expect(bm.canSwapOut('a')).toBe(false);
    bm.ensure('b', [9]); // takes block 1 (top of the free stack)
    expect(bm.canSwapIn('a')).toBe(true);
    // Fresh blocks 2 then 3 (the rest of the free stack).
    expect(bm.swapIn('a')).toEqual([[0, 2], [1, 3]]);
    expect(bm.isSwapped('a')).toBe(false);
    expect(bm.table('a')).toEqual([2, 3]);
    expect(bm.stats()).toMatchObject({ ownedBlocks: 3, cachedBlocks: 1, freeBlocks: 0, hostFree: 4, hostOwned: 0 });
    expect(bm.ensure('a', tokens)).toEqual({ table: [2, 3], computedTokens: 6 });
    bm.markComputed('a', tokens, 6); // block 0 still holds the key, so block 2 stays anonymous
    bm.checkInvariants();
    bm.free('a');
    expect(bm.stats()).toMatchObject({ ownedBlocks: 1, cachedBlocks: 1, freeBlocks: 2 });
    bm.checkInvariants();
  });

  it('hands out table snapshots that later appends, swaps and frees leave as they were', () => {
    const bm = manager({ deviceBlocks: 8, hostBlocks: 8 });
    const tokens = range(1, 12);
    bm.ensure('a', tokens, 6); // blocks 0, 1
    const first = bm.tableSnapshot('a');
    expect(first).toEqual([0, 1]);
    // A second snapshot with no change in between is the same table (nothing copied).
    expect(bm.tableSnapshot('a')).toBe(first);
    bm.ensure('a', tokens, 12); // one more block: 2
    expect(bm.table('a')).toEqual([0, 1, 2]);
    expect(first).toEqual([0, 1]); // the snapshot did not grow
    const second = bm.tableSnapshot('a');
    expect(second).toEqual([0, 1, 2]);
    // An ensure that needs no new block copies nothing: the live table is still the snapshot.
    bm.ensure('a', tokens, 12);
    expect(bm.table('a')).toBe(second);
    bm.markComputed('a', tokens, 12);
    bm.swapOut('a');
    bm.swapIn('a'); // fresh blocks 3, 4, 5 (2 went back first: a partial block, freed, not cached)
    expect(second).toEqual([0, 1, 2]);
    expect(bm.table('a')).toHaveLength(3);
    bm.free('a');
    expect(first).toEqual([0, 1]);
    expect(second).toEqual([0, 1, 2]);
    bm.checkInvariants();
  });

  it('gives swapped-in blocks their content keys back once the copy lands (restoreKeys)', () => {
    // P9 computed: 2 full blocks (8 tokens) keyed, 1 token in a third. After a round trip through
    // the host the fresh device blocks carry no keys, so a free before the job computes again
    // leaves nothing in the prefix cache; after restoreKeys the 2 full blocks are found again.
    const lost = manager();
    lost.ensure('a', P9);
    lost.markComputed('a', P9, 9);
    lost.swapOut('a');
    lost.ensure('b', range(100, 16)); // 4 blocks, and c's 4: the whole pool, so a's 2 cached blocks are evicted
    lost.ensure('c', range(200, 16));
    lost.free('b');
    lost.free('c');
    lost.swapIn('a');
    lost.free('a');
    expect(lost.cachedPrefixTokens(P9)).toBe(0);

    const kept = manager();
    kept.ensure('a', P9);
    kept.markComputed('a', P9, 9);
    kept.swapOut('a');
    kept.ensure('b', range(100, 16));
    kept.ensure('c', range(200, 16));
    kept.free('b');
    kept.free('c');
    kept.swapIn('a');
    kept.restoreKeys('a', P9);
    expect(kept.computedTokens('a')).toBe(9); // unchanged
    kept.free('a');
    expect(kept.cachedPrefixTokens(P9)).toBe(8);
    kept.checkInvariants();
    // Nothing for an owner that is gone or still on the host; a second call changes nothing.
    expect(() => kept.restoreKeys('nobody', P9)).not.toThrow();
    kept.ensure('d', P9);
    kept.swapOut('d');
    expect(() => kept.restoreKeys('d', P9)).not.toThrow();
    expect(kept.isSwapped('d')).toBe(true);
    kept.checkInvariants();
  });

  it('checks room before swapping and rejects unknown owners', () => {
    const bm = manager({ deviceBlocks: 2, hostBlocks: 1 });
    bm.ensure('a', range(1, 5)); // 2 blocks
    expect(bm.canSwapOut('a')).toBe(false); // 1 host block
    expectCode(() => bm.swapOut('a'), 'OUT_OF_BLOCKS');
    expect(bm.table('a')).toEqual([0, 1]);
    bm.free('a');
    bm.ensure('s', [1, 2]);
    bm.swapOut('s');
    bm.ensure('t', range(1, 5)); // fills the device
    expect(bm.canSwapIn('s')).toBe(false);
    expectCode(() => bm.swapIn('s'), 'OUT_OF_BLOCKS');
    expect(bm.isSwapped('s')).toBe(true);
    bm.free('s'); // releases its host block
    expect(bm.stats()).toMatchObject({ hostFree: 1, hostOwned: 0 });
    expectCode(() => bm.swapOut('nobody'), 'UNKNOWN_SEQUENCE');
    expectCode(() => bm.swapIn('nobody'), 'UNKNOWN_SEQUENCE');
    expectCode(() => bm.markComputed('nobody', [1], 1), 'UNKNOWN_SEQUENCE');
    expect(() => bm.free('nobody')).not.toThrow();
    bm.checkInvariants();
  });

  it('keeps the other owner intact when swapping out shared blocks', () => {
    const bm = manager();
    bm.ensure('a', P9); // [0, 1, 2]
    bm.markComputed('a', P9, 9);
    expect(bm.ensure('b', P9).table).toEqual([0, 1, 3]);
    expect(bm.swapOut('b')).toEqual([[0, 0], [1, 1], [3, 2]]);
    expect(bm.table('a')).toEqual([0, 1, 2]);
    expect([0, 1, 2, 3].map((id) => bm.refCountOf(id))).toEqual([1, 1, 1, 0]);
    expect(bm.stats()).toMatchObject({ ownedBlocks: 3, cachedBlocks: 0, freeBlocks: 5, hostOwned: 3 });
    bm.checkInvariants();
    // Block 3 went back on top of the free stack, then 4 and 5 follow.
    expect(bm.swapIn('b')).toEqual([[0, 3], [1, 4], [2, 5]]);
    expect(bm.table('b')).toEqual([3, 4, 5]);
    expect(bm.table('a')).toEqual([0, 1, 2]);
    bm.checkInvariants();
  });

  it('matches a block only after the same prefix (chained hash)', () => {
    const bm = manager();
    bm.ensure('a', P9);
    bm.markComputed('a', P9, 9);
    // Block [5, 6, 7, 8] is cached after [1, 2, 3, 4] only.
    expect(bm.cachedPrefixTokens([0, 0, 0, 0, 5, 6, 7, 8, 9])).toBe(0);
    expect(bm.cachedPrefixTokens([5, 6, 7, 8, 9])).toBe(0);
    expect(bm.cachedPrefixTokens([1, 2, 3, 4, 5, 6, 7, 0, 9])).toBe(4); // diverges in block 1
    expect(bm.ensure('c', [5, 6, 7, 8, 9])).toEqual({ table: [3, 4], computedTokens: 0 });
    bm.checkInvariants();
  });

  it('detects a corrupted state', () => {
    const bm = manager();
    bm.ensure('a', P9);
    (bm as unknown as { refCount: Int32Array }).refCount[1] = 2;
    expectCode(() => bm.checkInvariants(), 'INVARIANT');
  });
});

describe('BlockManager under random operations', () => {
  it('keeps its invariants and conserves blocks', () => {
    // Deterministic LCG; prompts share prefixes drawn from 3 families so the cache gets hits.
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const bm = manager({ deviceBlocks: 24, hostBlocks: 12 });
    const history = new Map<string, number[]>();
    for (let step = 0; step < 3000; step++) {
      const owner = `j${rand(8)}`;
      const op = rand(10);
      const tokens = history.get(owner);
      if (tokens === undefined) {
        const family = rand(3);
        const prompt = [...range(family * 100, 4 + rand(9)), ...range(1000 + step * 10, 1 + rand(3))];
        if (bm.canAllocate(bm.blocksNeeded(owner, prompt))) {
          const { computedTokens } = bm.ensure(owner, prompt);
          expect(computedTokens % 4).toBe(0);
          expect(computedTokens).toBeLessThan(prompt.length);
          history.set(owner, prompt);
        } else {
          expectCode(() => bm.ensure(owner, prompt), 'OUT_OF_BLOCKS');
        }
      } else if (bm.isSwapped(owner)) {
        if (op < 5 && bm.canSwapIn(owner)) bm.swapIn(owner);
        else if (op >= 8) {
          bm.free(owner);
          history.delete(owner);
        }
      } else if (op < 5) {
        bm.markComputed(owner, tokens, tokens.length);
        const next = [...tokens, 5000 + rand(50)];
        if (bm.canAllocate(bm.blocksNeeded(owner, next))) {
          bm.ensure(owner, next);
          history.set(owner, next);
        }
      } else if (op < 7) {
        if (bm.canSwapOut(owner)) bm.swapOut(owner);
      } else {
        bm.free(owner);
        history.delete(owner);
      }
      bm.checkInvariants();
      const s = bm.stats();
      expect(s.freeBlocks + s.cachedBlocks + s.ownedBlocks).toBe(24);
      expect(s.hostFree + s.hostOwned).toBe(12);
    }
    expect(bm.stats().prefixHitTokens).toBeGreaterThan(0);
    expect(bm.stats().evictions).toBeGreaterThan(0);
  });
});
