/**
 * Turns the block manager's reports (lib/kv/cache-observer.ts) into vLLM's KV events, with vLLM's
 * 64-bit block hashes (./block-hash.ts) in place of the engine's own content keys.
 *
 * What is emitted, and when (each call is one event; the publisher merges runs):
 * - a block's content indexed on the device → BlockStored, medium "GPU", with its parent's hash
 *   and its tokens (the moment vLLM's block pool caches a full block);
 * - that content evicted from the device → BlockRemoved "GPU";
 * - an owner swapped out → BlockStored "CPU" for each key of which no host copy existed yet
 *   (parent nil, no tokens: a router indexes hashes only, and the block manager keeps no
 *   tokens for host copies); released from the host (swapped back in, or the job closed while
 *   swapped) → BlockRemoved "CPU" for each key whose last host copy that was. A swap therefore
 *   shows as CPU stored while the device copy stays cached, then GPU removed when it is evicted:
 *   a move, seen as the two halves that really happen;
 * - BlockManager.resetPrefixCache, and the engine closing → AllBlocksCleared.
 * Not emitted: partial blocks (never indexed, in vLLM either), content computed while prefix
 * caching is off, a second device block computing content already indexed (it is not servable).
 *
 * Hash bookkeeping: the vLLM hash of every key stored on some medium is kept (`live`), and of
 * keys no longer stored a bounded number more (`retired`), because a swapped-out owner may hold
 * content whose indexed device copy was evicted meanwhile (an owner whose block was a duplicate
 * of another's). A device store whose parent's hash is unknown recomputes the chain from the
 * owner's tokens; a host key whose hash is unknown — nothing to recompute it from — is left out
 * and counted in `unresolvedKeys`, as is a salted chain whose salt was never noted.
 */
import type { BlockManager } from '../kv/block-manager.js';
import type { CacheObserver } from '../kv/cache-observer.js';
import type { BlockHash } from '../kv/prefix-hash.js';
import { hashBlockTokens, noneHash, type VllmBlockHash } from './block-hash.js';
import type { KvEvent, KvMedium } from './events.js';
import type { KvEventsSink } from './sink.js';

/** Where events go (KvEventPublisher, or a test's list). */
export interface KvEventQueue {
  push(event: KvEvent): void;
  close(): Promise<void>;
}

export interface KvEventSourceOptions {
  /** vLLM's PYTHONHASHSEED / llm-d's HashSeed: NONE_HASH is the hash of this string (default ""). */
  hashSeed?: string;
  /** Hashes of keys no longer stored kept for host copies (default 65,536). */
  retiredCapacity?: number;
}

interface LiveKey {
  hash: VllmBlockHash;
  onDevice: boolean;
  hostCopies: number;
}

export class KvEventSource implements CacheObserver, KvEventsSink {
  /** Keys left out of the events because their vLLM hash could not be worked out (see above). */
  unresolvedKeys = 0;
  private readonly none: VllmBlockHash;
  private readonly retiredCapacity: number;
  private readonly live = new Map<BlockHash, LiveKey>();
  private readonly retired = new Map<BlockHash, VllmBlockHash>();
  private readonly salts = new Map<BlockHash, string>();
  private blockSize = 0;

  constructor(
    private readonly queue: KvEventQueue,
    options: KvEventSourceOptions = {},
  ) {
    this.none = noneHash(options.hashSeed ?? '');
    this.retiredCapacity = options.retiredCapacity ?? 65_536;
  }

  attach(blocks: BlockManager): void {
    this.blockSize = blocks.blockSize;
    blocks.observe(this);
  }

  noteSalt(root: BlockHash, salt: string): void {
    this.salts.set(root, salt);
  }

  /** The vLLM hash published for content `key`, or undefined when none is known (tests). */
  hashOf(key: BlockHash): VllmBlockHash | undefined {
    return this.live.get(key)?.hash ?? this.retired.get(key);
  }

  async close(): Promise<void> {
    this.queue.push({ type: 'AllBlocksCleared' });
    await this.queue.close();
  }

  deviceStored(key: BlockHash, parent: BlockHash | null, root: BlockHash | null, tokens: readonly number[], start: number): void {
    const blockTokens = tokens.slice(start, start + this.blockSize);
    let parentHash: VllmBlockHash | null = null;
    let hash: VllmBlockHash | undefined;
    if (start === 0) {
      const extra = this.extraKeys(root);
      if (extra !== undefined) hash = hashBlockTokens(this.none, blockTokens, extra);
    } else {
      parentHash = (parent === null ? undefined : this.hashOf(parent)) ?? this.chainHash(tokens, start, root) ?? null;
      if (parentHash !== null) hash = hashBlockTokens(parentHash, blockTokens);
    }
    if (hash === undefined) {
      this.unresolvedKeys++;
      return;
    }
    const entry = this.entry(key, hash);
    entry.onDevice = true;
    this.queue.push({ type: 'BlockStored', blockHashes: [hash], parentBlockHash: parentHash, tokenIds: blockTokens, blockSize: this.blockSize, medium: 'GPU' });
  }

  deviceRemoved(key: BlockHash): void {
    const entry = this.live.get(key);
    if (entry === undefined || !entry.onDevice) return; // its store was never announced
    entry.onDevice = false;
    this.queue.push({ type: 'BlockRemoved', blockHashes: [entry.hash], medium: 'GPU' });
    if (entry.hostCopies === 0) this.retire(key, entry);
  }

  hostStored(keys: readonly BlockHash[]): void {
    const added: VllmBlockHash[] = [];
    for (const key of keys) {
      const hash = this.hashOf(key);
      if (hash === undefined) {
        this.unresolvedKeys++;
        continue;
      }
      const entry = this.entry(key, hash);
      if (entry.hostCopies++ === 0) added.push(hash);
    }
    if (added.length > 0) this.queue.push({ type: 'BlockStored', blockHashes: added, parentBlockHash: null, tokenIds: [], blockSize: this.blockSize, medium: 'CPU' });
  }

  hostRemoved(keys: readonly BlockHash[]): void {
    const removed: VllmBlockHash[] = [];
    for (const key of keys) {
      const entry = this.live.get(key);
      if (entry === undefined || entry.hostCopies === 0) continue; // its copy was never announced
      if (--entry.hostCopies > 0) continue;
      removed.push(entry.hash);
      if (!entry.onDevice) this.retire(key, entry);
    }
    if (removed.length > 0) this.removed(removed, 'CPU');
  }

  cleared(): void {
    for (const [key, entry] of this.live) {
      entry.onDevice = false;
      if (entry.hostCopies === 0) this.retire(key, entry);
    }
    this.queue.push({ type: 'AllBlocksCleared' });
  }

  private removed(hashes: VllmBlockHash[], medium: KvMedium): void {
    this.queue.push({ type: 'BlockRemoved', blockHashes: hashes, medium });
  }

  /** The live record of `key` (made, from the retired ones if need be, with `hash`). */
  private entry(key: BlockHash, hash: VllmBlockHash): LiveKey {
    let entry = this.live.get(key);
    if (entry === undefined) {
      entry = { hash, onDevice: false, hostCopies: 0 };
      this.live.set(key, entry);
      this.retired.delete(key);
    }
    return entry;
  }

  private retire(key: BlockHash, entry: LiveKey): void {
    this.live.delete(key);
    this.retired.set(key, entry.hash);
    if (this.retired.size > this.retiredCapacity) this.retired.delete(this.retired.keys().next().value as BlockHash);
  }

  /** vLLM's extra keys of a chain's first block: null unsalted, [salt] salted, undefined for an unknown salt. */
  private extraKeys(root: BlockHash | null): string[] | null | undefined {
    if (root === null) return null;
    const salt = this.salts.get(root);
    return salt === undefined ? undefined : [salt];
  }

  /** The vLLM hash of the block ending at `end` in `tokens`, from the chain's start (a parent whose hash was forgotten). */
  private chainHash(tokens: readonly number[], end: number, root: BlockHash | null): VllmBlockHash | undefined {
    const extra = this.extraKeys(root);
    if (extra === undefined) return undefined;
    let hash = this.none;
    for (let start = 0; start < end; start += this.blockSize) {
      hash = hashBlockTokens(hash, tokens.slice(start, start + this.blockSize), start === 0 ? extra : null);
    }
    return hash;
  }
}
