/**
 * What the block manager tells a listener about the content it holds, for KV events
 * (lib/kv-events: vLLM's BlockStored / BlockRemoved / AllBlocksCleared). It reports content by
 * its chained key (./prefix-hash.ts), never by block id: a listener mirrors which content this
 * engine can serve, not where it sits.
 *
 * Nobody listening costs one null check per call site. The calls arrive synchronously, in the
 * order the block manager changes its record, so a mirror that replays them in order ends up
 * equal to `BlockManager.storedContent()`.
 */
import type { BlockHash } from './prefix-hash.js';

export interface CacheObserver {
  /**
   * A device block now holds the indexed content `key`: `tokens[start, start + blockSize)` whose
   * prefix has key `parent` (for the first block, `start` 0, the chain's root). `root` is the
   * chain's root: null, or the root of a cache salt (./prefix-hash.ts, saltRoot). `tokens` is the
   * owner's whole context (not copied; read it during the call only): blocks before `start` are
   * its prefix.
   */
  deviceStored(key: BlockHash, parent: BlockHash | null, root: BlockHash | null, tokens: readonly number[], start: number): void;
  /** The device copy of `key` was evicted: its content is gone from the prefix cache. */
  deviceRemoved(key: BlockHash): void;
  /** One owner's KV went to host blocks: each key is one more host copy of that content. */
  hostStored(keys: readonly BlockHash[]): void;
  /** One owner's host copies were released (swapped back in, or freed): one copy fewer of each. */
  hostRemoved(keys: readonly BlockHash[]): void;
  /** Every cached block was dropped at once (BlockManager.resetPrefixCache). */
  cleared(): void;
}
