// The routers' choices on hand-built replica states (lib/sim/routers.ts): each expected replica
// is worked out by hand from the scorers' definitions (docs/scale-out.md, "The routers").
import { describe, expect, it } from 'vitest';
import { PrefixIndex } from '../../lib/sim/prefix-index.js';
import { kvScores, queueScores, type ReplicaView, type RouteRequest } from '../../lib/sim/router.js';
import { createRouter, MIX_WEIGHTS } from '../../lib/sim/routers.js';
import { expectCode } from './expect-code.js';

const views = (waiting: number[], kvUsage: number[] = waiting.map(() => 0)): ReplicaView[] => waiting.map((w, index) => ({ index, waiting: w, kvUsage: kvUsage[index] }));
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const call = (jobId: string, tokens: number[] = range(0, 64)): RouteRequest => ({ jobId, sessionId: jobId, tokens });

/** Routes and records, as the replica set does. */
function route(router: ReturnType<typeof createRouter>, request: RouteRequest, replicas: ReplicaView[]): number {
  const r = router.pick(request, replicas);
  router.routed?.(request, r);
  return r;
}

describe('scorers', () => {
  it('queue: (max − waiting) / (max − min), all 1 when equal', () => {
    // The inference extension's own example: queues 0, 4, 8 score 1, 0.5, 0.
    expect(queueScores(views([0, 4, 8]))).toEqual([1, 0.5, 0]);
    expect(queueScores(views([3, 3]))).toEqual([1, 1]);
  });

  it('KV usage: 1 − usage', () => {
    expect(kvScores(views([0, 0], [0.25, 0.9]))).toEqual([0.75, 1 - 0.9]);
  });

  it('prefix: matched leading blocks over the prompt’s blocks, capped at maxBlocks', () => {
    const index = new PrefixIndex(2, { blockTokens: 16, maxBlocks: 256 });
    index.record(1, index.blockHashes(range(0, 64))); // 4 blocks on replica 1
    // Shares the first 32 tokens (2 blocks) then differs: 2 of its 4 blocks match.
    const b = index.blockHashes([...range(0, 32), ...range(1000, 32)]);
    expect(index.score(1, b)).toBe(0.5);
    expect(index.score(0, b)).toBe(0);
    // A 20-token tail is not a block: 70 tokens are 4 blocks, all matched.
    expect(index.score(1, index.blockHashes(range(0, 70)))).toBe(1);
    // Past 256 blocks (4,096 tokens) nothing is hashed: two prompts agreeing on 4,096 tokens are one.
    const long = new PrefixIndex(1);
    long.record(0, long.blockHashes(range(0, 5000)));
    expect(long.score(0, long.blockHashes([...range(0, 4096), ...range(9000, 3000)]))).toBe(1);
  });

  it('prefix: the per-replica LRU forgets the least recently sent block first', () => {
    const index = new PrefixIndex(1, { blockTokens: 16, capacityPerReplica: 3 });
    const a = index.blockHashes(range(0, 48)); // 3 blocks
    index.record(0, a);
    index.record(0, index.blockHashes(range(500, 16))); // a 4th block evicts a's first
    expect(index.matchedBlocks(0, a)).toBe(0); // the leading block is gone, so nothing leads
  });
});

describe('routers', () => {
  it('round-robin: 0, 1, 2, 0 whatever the load', () => {
    const r = createRouter('round-robin', 3);
    expect([0, 1, 2, 3].map(() => route(r, call('a'), views([9, 0, 5])))).toEqual([0, 1, 2, 0]);
  });

  it('least-queue: the fewest waiting; ties rotate', () => {
    const r = createRouter('least-queue', 3);
    expect(route(r, call('a'), views([4, 1, 2]))).toBe(1);
    // 0 and 1 tie at 2 waiting; the cursor sits past replica 1, so 0 (wrapping), then 1.
    expect(route(r, call('b'), views([2, 2, 5]))).toBe(0);
    expect(route(r, call('c'), views([2, 2, 5]))).toBe(1);
  });

  it('kv-usage: the emptiest pool', () => {
    expect(route(createRouter('kv-usage', 3), call('a'), views([0, 0, 0], [0.9, 0.2, 0.5]))).toBe(1);
  });

  it('prefix: where the prompt’s prefix was sent; ties rotate', () => {
    const r = createRouter('prefix', 3);
    expect(route(r, call('a', range(0, 64)), views([0, 0, 0]))).toBe(0); // all 0: first at the cursor
    expect(route(r, call('b', range(100, 64)), views([0, 0, 0]))).toBe(1); // 0 for all: rotates on
    expect(route(r, call('a', [...range(0, 64), ...range(7, 32)]), views([5, 0, 0]))).toBe(0); // a's blocks are on 0
  });

  it('session: back to the session’s replica unless it has 4 more waiting than the least', () => {
    const r = createRouter('session', 2);
    expect(route(r, call('a'), views([1, 0]))).toBe(1); // first call: least-queue
    expect(route(r, call('a'), views([0, 3]))).toBe(1); // 3 more waiting: stays
    expect(route(r, call('a'), views([0, 4]))).toBe(0); // 4 more: spills to the least-waiting, its new home
    expect(route(r, call('a'), views([2, 0]))).toBe(0);
    // Subagents share the session: they follow it.
    expect(route(r, { jobId: 'a/1.0', sessionId: 'a', tokens: range(0, 64) }, views([1, 0]))).toBe(0);
    r.sessionEnded?.('a');
    expect(route(r, call('a'), views([1, 0]))).toBe(1); // a new session again: least-queue
  });

  it('mix: 2 × queue + 2 × KV + 3 × prefix', () => {
    expect(MIX_WEIGHTS).toEqual({ queue: 2, kvUsage: 2, prefix: 3 });
    const r = createRouter('mix', 2);
    const prompt = range(0, 64);
    // Idle and empty: all tie at 2 + 2 + 0 = 4; the first goes to 0, which now holds the prefix.
    expect(route(r, call('a', prompt), views([0, 0]))).toBe(0);
    // Replica 0: queue 0 (3 waiting, the most), KV 1 − 0.9, prefix 1 → 0 + 0.2 + 3 = 3.2.
    // Replica 1: queue 1, KV 1 − 0.1, prefix 0 → 2 + 1.8 + 0 = 3.8. Load beats the prefix.
    expect(route(r, call('a', prompt), views([3, 0], [0.9, 0.1]))).toBe(1);
    // Now both hold it (prefix 1 each); replica 0: 2 + 1 + 3 = 6, replica 1: 0 + 0.4 + 3 = 3.4.
    expect(route(r, call('a', prompt), views([0, 2], [0.5, 0.8]))).toBe(0);
  });

  it('prefix alone piles every job onto the replica that first got the shared prompt', () => {
    const shared = range(0, 5000);
    for (const name of ['prefix', 'prefix-full'] as const) {
      const r = createRouter(name, 2);
      expect(route(r, call('a', [...shared, ...range(10_000, 800)]), views([0, 0]))).toBe(0); // a tie: the cursor's 0
      // b shares a's first 5,000 tokens, held on 0 only: 0 scores above 1 however loaded it is.
      expect(route(r, call('b', [...shared, ...range(20_000, 800)]), views([9, 0]))).toBe(0);
    }
  });

  it('prefix-full and mix-full tell jobs apart past 4,096 shared tokens; the defaults cannot', () => {
    // Jobs a and b share a 5,000-token prompt (coding's shared agent prompt, shrunk), a is on
    // replica 0 and b on 1. a's next call is its 5,800 tokens plus 300: 6,100 tokens, 381 blocks.
    const shared = range(0, 5000);
    const a = [...shared, ...range(10_000, 800)];
    const b = [...shared, ...range(20_000, 800)];
    const next = [...a, ...range(30_000, 300)];
    const capped = new PrefixIndex(2);
    const full = new PrefixIndex(2, { maxBlocks: 8192 });
    for (const index of [capped, full]) {
      index.record(0, index.blockHashes(a));
      index.record(1, index.blockHashes(b));
    }
    // The default hashes 256 blocks, all inside the shared prompt: 1 on both.
    expect([0, 1].map((i) => capped.score(i, capped.blockHashes(next)))).toEqual([1, 1]);
    // Whole prompts: a's ⌊5,800 / 16⌋ = 362 blocks on 0, the ⌊5,000 / 16⌋ = 312 shared on 1.
    expect([0, 1].map((i) => full.score(i, full.blockHashes(next)))).toEqual([362 / 381, 312 / 381]);
    for (const [name, expected] of [['mix', 1], ['mix-full', 0]] as const) {
      const r = createRouter(name, 2);
      r.routed?.(call('a', a), 0);
      r.routed?.(call('b', b), 1);
      expect(r.pick(call('x', range(50_000, 64)), views([0, 0]))).toBe(0); // a tie: moves the cursor to 1
      // Equal load: mix ties (2 + 2 + 3 each) and the cursor picks 1; mix-full's prefix term
      // is 3 × 362/381 on 0 against 3 × 312/381 on 1, so 0.
      expect(r.pick(call('a', next), views([0, 0]))).toBe(expected);
    }
  });

  it('an unknown router is INVALID_ARGUMENT', () => {
    expectCode(() => createRouter('random', 2), 'INVALID_ARGUMENT');
  });
});
