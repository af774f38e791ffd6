/**
 * The cache salt (vLLM's `cache_salt`) in the block manager: a sequence finds in the prefix cache
 * only blocks computed under its own salt; unsalted sequences share as before. Block size 4.
 */
import { describe, expect, it } from 'vitest';
import { BlockManager } from '../../lib/kv/block-manager.js';
import { chainHashes, hashBlock, saltRoot } from '../../lib/kv/prefix-hash.js';
import { expectCode } from './expect-code.js';

const P9 = Array.from({ length: 9 }, (_, i) => i + 1); // 2 full blocks and 1 token

function manager(): BlockManager {
  return new BlockManager({ deviceBlocks: 16, hostBlocks: 4, blockSize: 4 });
}

/** Owner `id` computes P9 under `root` and finishes: its two full blocks go to the prefix cache. */
function computeAndFree(bm: BlockManager, id: string, root: string | null): void {
  bm.ensure(id, P9, P9.length, root);
  bm.markComputed(id, P9, P9.length);
  bm.free(id);
}

describe('salt roots', () => {
  it('are 64-bit keys, one per salt, unlike any unsalted chain', () => {
    const a = saltRoot('tenant-a');
    expect(a).toHaveLength(4);
    expect(saltRoot('tenant-a')).toBe(a);
    expect(saltRoot('tenant-b')).not.toBe(a);
    // The first block under a salt chains from the root, so every key of the chain differs.
    const salted = chainHashes(P9, 4, 2, a);
    const plain = chainHashes(P9, 4, 2);
    expect(salted[0]).toBe(hashBlock(a, P9, 0, 4));
    expect(salted.some((k) => plain.includes(k))).toBe(false);
  });
});

describe('the block manager under salts', () => {
  it('a salted prefix is a hit for the same salt only', () => {
    const bm = manager();
    const a = saltRoot('a');
    computeAndFree(bm, 'x', a);
    expect(bm.cachedPrefixTokens(P9, a)).toBe(8);
    expect(bm.cachedPrefixTokens(P9, saltRoot('b'))).toBe(0);
    expect(bm.cachedPrefixTokens(P9)).toBe(0);
    expect(bm.ensure('other-tenant', P9, P9.length, saltRoot('b')).computedTokens).toBe(0);
    expect(bm.ensure('unsalted', P9).computedTokens).toBe(0);
    expect(bm.ensure('same-tenant', P9, P9.length, a).computedTokens).toBe(8);
    bm.checkInvariants();
  });

  it('unsalted sequences share as before, and a salted one does not see them', () => {
    const bm = manager();
    computeAndFree(bm, 'x', null);
    expect(bm.cachedPrefixTokens(P9)).toBe(8);
    expect(bm.cachedPrefixTokens(P9, saltRoot('a'))).toBe(0);
    expect(bm.ensure('y', P9).computedTokens).toBe(8);
    expect(bm.stats().prefixHitTokens).toBe(8);
  });

  it('blocksNeeded counts hits under the asked salt only', () => {
    const bm = manager();
    computeAndFree(bm, 'x', saltRoot('a'));
    // 3 blocks for 9 tokens: both cached blocks revive under 'a' (they are taken off the LRU), none under 'b'.
    expect(bm.blocksNeeded('n', P9, P9.length, saltRoot('a'))).toBe(3);
    expect(bm.blocksNeeded('n', P9, P9.length, saltRoot('b'))).toBe(3);
    bm.ensure('n', P9, P9.length, saltRoot('b'));
    expect(bm.stats().cachedBlocks).toBe(2); // nothing of 'a' was taken by 'b'
  });

  it('an owner keeps the salt it started with', () => {
    const bm = manager();
    bm.ensure('x', P9.slice(0, 4), 4, saltRoot('a'));
    expectCode(() => bm.ensure('x', P9, P9.length, saltRoot('b')), 'INVALID_ARGUMENT');
    expectCode(() => bm.ensure('x', P9), 'INVALID_ARGUMENT');
    expect(bm.ensure('x', P9, P9.length, saltRoot('a')).table).toHaveLength(3);
  });

  it('a swapped owner rehashes under its salt when it comes back', () => {
    const bm = manager();
    const a = saltRoot('a');
    bm.ensure('x', P9.slice(0, 8), 8, a);
    bm.markComputed('x', P9.slice(0, 8), 8);
    bm.swapOut('x');
    bm.swapIn('x');
    bm.markComputed('x', P9.slice(0, 8), 8);
    bm.free('x');
    expect(bm.cachedPrefixTokens(P9, a)).toBe(8);
    expect(bm.cachedPrefixTokens(P9)).toBe(0);
    bm.checkInvariants();
  });
});
