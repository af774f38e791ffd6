/**
 * Block-manager operations at the sizes the engine sees: the H100 / Llama-3-8B profile's pool
 * (25,000 device and 25,000 host blocks of 16 tokens), two-thirds owned by 300 running agent
 * contexts that share a 1,200-token system prompt, 3,072 blocks cached; 2,048-token sequences
 * (128 blocks).
 *
 * Each timed call leaves the pool as it found it, or in an equivalent state, so every call does
 * the same work: what it allocates it frees, what it swaps out it swaps back in, a growing
 * sequence starts over when it reaches its length. Where a call registers new content in the
 * prefix cache, the prompts come from a ring larger than the cache, so none is ever a hit and
 * every allocation evicts what the previous ones cached (the steady state of a full pool).
 */
import { BlockManager } from '../kv/block-manager.js';
import { grouped, sink, type MicroCase } from './harness.js';

const BLOCK = 16;
const VOCAB = 128256;
const DEVICE_BLOCKS = 25000;
const HOST_BLOCKS = 25000;
const PREFIX_TOKENS = 1200;
const BACKGROUND_OWNERS = 300;

/** Deterministic pseudo-random token ids (mulberry32). */
function tokens(seed: number, count: number): number[] {
  let a = seed >>> 0;
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) % VOCAB;
  }
  return out;
}

const SYSTEM_PROMPT = tokens(1, PREFIX_TOKENS);
const withPrefix = (seed: number, own: number) => [...SYSTEM_PROMPT, ...tokens(seed, own)];

/**
 * The pool under load: 300 owners of 2,048 computed tokens (the shared 1,200-token prefix + 848
 * of their own: 75 shared + 53 own blocks each, 15,975 blocks owned), and 24 finished sequences
 * of 128 blocks (3,072) left in the prefix cache.
 */
function loadedPool(): BlockManager {
  const blocks = new BlockManager({ deviceBlocks: DEVICE_BLOCKS, hostBlocks: HOST_BLOCKS, blockSize: BLOCK });
  const fill = (owner: string, context: number[]) => {
    blocks.ensure(owner, context);
    blocks.markComputed(owner, context, context.length);
  };
  for (let i = 0; i < BACKGROUND_OWNERS; i++) fill(`bg-${i}`, withPrefix(1000 + i, 2048 - PREFIX_TOKENS));
  for (let i = 0; i < 24; i++) {
    fill(`done-${i}`, tokens(5000 + i, 2048));
    blocks.free(`done-${i}`);
  }
  return blocks;
}

/** Describes the pool for the table. */
function poolNote(blocks: BlockManager): string {
  const s = blocks.stats();
  return `pool ${grouped(s.ownedBlocks)} owned + ${grouped(s.cachedBlocks)} cached + ${grouped(s.freeBlocks)} free of ${grouped(s.deviceBlocks)}`;
}

/** A ring of distinct prompts holding more blocks than the pool has free or cached. */
function promptRing(blocks: BlockManager, length: number, seed: number): number[][] {
  const s = blocks.stats();
  const count = Math.ceil((1.5 * (s.freeBlocks + s.cachedBlocks)) / Math.ceil(length / BLOCK));
  return Array.from({ length: count }, (_, i) => tokens(seed + i, length));
}

export function blockManagerCases(): MicroCase[] {
  let note = '';
  const cases: MicroCase[] = [
    {
      name: 'ensure + free: 2,048-token prompt, no prefix hit (128 blocks)',
      prepare: () => {
        const blocks = loadedPool();
        const ring = promptRing(blocks, 2048, 20000);
        let i = 0;
        note = poolNote(blocks);
        return () => {
          blocks.ensure('new', ring[i]);
          blocks.free('new');
          i = (i + 1) % ring.length;
        };
      },
    },
    {
      name: 'prefill commit: ensure + markComputed + free, 2,048 tokens (128 blocks hashed, 128 evicted)',
      prepare: () => {
        const blocks = loadedPool();
        const ring = promptRing(blocks, 2048, 30000);
        for (const prompt of ring) {
          blocks.ensure('new', prompt);
          blocks.markComputed('new', prompt, prompt.length);
          blocks.free('new');
        }
        let i = 0;
        note = `${poolNote(blocks)}; ring of ${ring.length} prompts`;
        return () => {
          const prompt = ring[i];
          blocks.ensure('new', prompt);
          blocks.markComputed('new', prompt, prompt.length);
          blocks.free('new');
          i = (i + 1) % ring.length;
        };
      },
    },
    {
      name: 'shared-prefix fork: ensure + free, 1,200 cached prefix tokens + 300 own (75 hits, 19 fresh)',
      prepare: () => {
        const blocks = loadedPool();
        const prompt = withPrefix(40000, 300);
        note = `${blocks.cachedPrefixTokens(prompt)} tokens found in the cache`;
        return () => {
          blocks.ensure('fork', prompt);
          blocks.free('fork');
        };
      },
    },
    {
      name: 'decode append: ensure + markComputed of one token, context 2,048 → 4,096',
      prepare: () => {
        const blocks = loadedPool();
        const context = withPrefix(50000, 4096 - PREFIX_TOKENS);
        blocks.ensure('grow', context, 2048);
        blocks.markComputed('grow', context, 2048);
        let length = 2048;
        note = 'a new block every 16 tokens, hashed when full; at 4,096 the sequence is freed and starts over (its blocks then come back from the cache)';
        return () => {
          if (length === context.length) {
            blocks.free('grow');
            blocks.ensure('grow', context, 2048);
            blocks.markComputed('grow', context, 2048);
            length = 2048;
          }
          length++;
          blocks.ensure('grow', context, length);
          blocks.markComputed('grow', context, length);
        };
      },
    },
    {
      name: 'swap out + swap in: 2,048-token context (128 blocks each way)',
      prepare: () => {
        const blocks = loadedPool();
        note = 'device blocks released at once (a preemption by swap)';
        return () => {
          blocks.swapOut('bg-0');
          blocks.swapIn('bg-0');
        };
      },
    },
    {
      name: 'swap out deferred + settleSwaps + swap in: 2,048-token context',
      prepare: () => {
        const blocks = loadedPool();
        note = 'device blocks held until the step carrying the copy completes (a tool wait)';
        return () => {
          blocks.swapOut('bg-1', { deferRelease: true });
          blocks.settleSwaps();
          blocks.swapIn('bg-1');
        };
      },
    },
    {
      name: 'planner check: cachedPrefixTokens + blocksNeeded + canAllocate, waiting 4,000-token job',
      prepare: () => {
        const blocks = loadedPool();
        const context = withPrefix(60000, 4000 - PREFIX_TOKENS);
        note = `${blocks.cachedPrefixTokens(context)} of its tokens cached: what the planner asks of each waiting job it reaches`;
        return () => {
          const cached = blocks.cachedPrefixTokens(context);
          sink.value = blocks.canAllocate(blocks.blocksNeeded('waiting', context, Math.min(context.length, cached + 8192)));
        };
      },
    },
    {
      name: 'cachedPrefixTokens: 8,192-token context, all of it cached (511 blocks)',
      prepare: () => {
        const blocks = loadedPool();
        const context = withPrefix(70000, 8192 - PREFIX_TOKENS);
        blocks.ensure('long', context);
        blocks.markComputed('long', context, context.length);
        blocks.free('long');
        note = `${blocks.cachedPrefixTokens(context)} tokens found`;
        return () => {
          sink.value = blocks.cachedPrefixTokens(context);
        };
      },
    },
    {
      name: 'stats()',
      prepare: () => {
        const blocks = loadedPool();
        note = poolNote(blocks);
        return () => {
          sink.value = blocks.stats();
        };
      },
    },
  ];
  // Each note is written by its own prepare(), which runs just before the case is timed.
  return cases.map((c) => ({ ...c, note: () => note }));
}
