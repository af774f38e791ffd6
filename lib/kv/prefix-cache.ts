/**
 * The prefix cache's index of device blocks: which block holds which computed content — its
 * chained key (./prefix-hash.ts), its parent's key and its token ids, compared on every hit — and
 * the LRU list of cached blocks (content kept, referenced by nobody), evicted least recently used
 * first. It decides nothing about owners; the block manager asks it what a prefix would hit,
 * parks a block when its last reference goes, and takes the oldest when it needs room.
 */
import type { CacheObserver } from './cache-observer.js';
import { hashBlock, type BlockHash } from './prefix-hash.js';

/** Marks the end of the LRU list (block ids are >= 0). */
const NONE = -1;

/**
 * What `find` remembers of a token array: the chained keys of its full blocks, and the block each
 * key was last found in (a hint: checked against the block's key before use).
 */
interface LookupHints {
  root: BlockHash | null;
  keys: BlockHash[];
  ids: number[];
}

export class PrefixCache {
  /** Cumulative cached blocks evicted to make room. */
  evictions = 0;
  /** Told when content enters or leaves the index (KV events); null: nobody listens. */
  observer: CacheObserver | null = null;
  private readonly blockHash: (BlockHash | null)[];
  private readonly blockParent: (BlockHash | null)[];
  private readonly blockTokens: (number[] | null)[];
  /** Key -> the one device block holding that content (cached or owned). */
  private readonly byHash = new Map<BlockHash, number>();
  private readonly hints = new WeakMap<readonly number[], LookupHints>();
  // Doubly linked LRU list of cached blocks: head is least recently used (evicted first).
  private readonly lruPrev: Int32Array;
  private readonly lruNext: Int32Array;
  private readonly inLru: Uint8Array;
  private lruHead = NONE;
  private lruTail = NONE;
  private cached = 0;

  constructor(
    deviceBlocks: number,
    private readonly blockSize: number,
  ) {
    this.blockHash = new Array<BlockHash | null>(deviceBlocks).fill(null);
    this.blockParent = new Array<BlockHash | null>(deviceBlocks).fill(null);
    this.blockTokens = new Array<number[] | null>(deviceBlocks).fill(null);
    this.lruPrev = new Int32Array(deviceBlocks).fill(NONE);
    this.lruNext = new Int32Array(deviceBlocks).fill(NONE);
    this.inLru = new Uint8Array(deviceBlocks);
  }

  /** Blocks with content that nobody references (evictable). */
  get cachedBlocks(): number {
    return this.cached;
  }

  /** Whether the block holds indexed content (owned or cached). */
  holdsContent(id: number): boolean {
    return this.blockHash[id] !== null;
  }

  /**
   * Indexes block `id` as holding `tokens[start, start + blockSize)` under `key` (whose parent is
   * `parent`), unless it is indexed already or another block holds that key: then the first
   * computed copy stays the one the cache serves, and this block stays anonymous. `root` is the
   * chain's root (null or a salt root), for the observer only.
   */
  register(id: number, key: BlockHash, parent: BlockHash | null, tokens: readonly number[], start: number, root: BlockHash | null = null): void {
    if (this.blockHash[id] !== null || this.byHash.has(key)) return;
    this.blockHash[id] = key;
    this.blockParent[id] = parent;
    this.blockTokens[id] = tokens.slice(start, start + this.blockSize);
    this.byHash.set(key, id);
    this.observer?.deviceStored(key, parent, root, tokens, start);
  }

  /** A block whose last reference went: cached if it holds content (true), else it is empty (false). */
  park(id: number): boolean {
    if (this.blockHash[id] === null) return false;
    this.lruPrev[id] = this.lruTail;
    this.lruNext[id] = NONE;
    if (this.lruTail === NONE) this.lruHead = id;
    else this.lruNext[this.lruTail] = id;
    this.lruTail = id;
    this.inLru[id] = 1;
    this.cached++;
    return true;
  }

  /** A cached block is referenced again: it leaves the LRU list (its content stays indexed). */
  revive(id: number): void {
    if (!this.inLru[id]) return;
    const prev = this.lruPrev[id];
    const next = this.lruNext[id];
    if (prev === NONE) this.lruHead = next;
    else this.lruNext[prev] = next;
    if (next === NONE) this.lruTail = prev;
    else this.lruPrev[next] = prev;
    this.lruPrev[id] = NONE;
    this.lruNext[id] = NONE;
    this.inLru[id] = 0;
    this.cached--;
  }

  /**
   * Evicts the least recently used cached block, forgetting its content; its id, or null when none
   * is cached. With `priorityOf` (eviction priorities from client hints, ./block-retention.ts):
   * the least recently used of the lowest priority — the walk stops at the first block of
   * priority 0, so it costs only the declared blocks ahead of it.
   */
  evictOldest(priorityOf?: (id: number) => number): number | null {
    const id = priorityOf === undefined ? this.lruHead : this.lowestPriority(priorityOf);
    if (id === NONE) return null;
    this.revive(id);
    this.forget(id);
    this.evictions++;
    return id;
  }

  /**
   * Forgets every cached block's content at once (vLLM's reset_prefix_cache), tells the observer
   * `cleared()` and returns their ids, to go back to the free stack. Only when no block is owned:
   * the caller checks, as the index would otherwise keep owned content the observer was told is gone.
   */
  clearCached(): number[] {
    const ids: number[] = [];
    for (let id = this.lruHead; id !== NONE; id = this.lruNext[id]) ids.push(id);
    for (const id of ids) {
      this.revive(id);
      const key = this.blockHash[id] as BlockHash;
      this.byHash.delete(key);
      this.blockHash[id] = null;
      this.blockParent[id] = null;
      this.blockTokens[id] = null;
    }
    this.observer?.cleared();
    return ids;
  }

  /** The keys of every indexed block, owned or cached (what a KV-event mirror holds as "GPU"). */
  indexedKeys(): BlockHash[] {
    return [...this.byHash.keys()];
  }

  /** Drops block `id`'s content from the index and tells the observer. */
  private forget(id: number): void {
    const key = this.blockHash[id] as BlockHash;
    this.byHash.delete(key);
    this.blockHash[id] = null;
    this.blockParent[id] = null;
    this.blockTokens[id] = null;
    this.observer?.deviceRemoved(key);
  }

  /**
   * Longest run of leading full blocks of `tokens[0, length)` whose content the cache holds under
   * the chain rooted at `root`, leaving at least one token to compute (so the last token's logits
   * exist). Each hit is verified against the stored tokens and parent.
   */
  find(tokens: readonly number[], length: number, root: BlockHash | null): { hits: number[]; hashes: BlockHash[] } {
    const hits: number[] = [];
    const hashes: BlockHash[] = [];
    if (length === 0) return { hits, hashes };
    const maxBlocks = Math.floor((length - 1) / this.blockSize);
    let parent: BlockHash | null = root;
    const hints = this.hintsOf(tokens, root);
    for (let i = 0; i < maxBlocks; i++) {
      const start = i * this.blockSize;
      if (hints.keys.length === i) hints.keys.push(hashBlock(parent, tokens, start, start + this.blockSize));
      const key = hints.keys[i];
      // The block that held this key last time still does (one block per key), else look it up.
      let id: number | undefined = i < hints.ids.length ? hints.ids[i] : undefined;
      if (id === undefined || this.blockHash[id] !== key) {
        id = this.byHash.get(key);
        if (id !== undefined && i <= hints.ids.length) hints.ids[i] = id;
      }
      if (id === undefined || this.blockParent[id] !== parent || !this.sameTokens(id, tokens, start)) break;
      hits.push(id);
      hashes.push(key);
      parent = key;
    }
    return { hits, hashes };
  }

  /**
   * Checks the index and the LRU list (tests and debugging): calls `cached(id)` for each cached
   * block in LRU order, and `fail` on the first inconsistency.
   */
  checkInvariants(fail: (message: string) => never, cached: (id: number) => void): void {
    let count = 0;
    let prev = NONE;
    for (let id = this.lruHead; id !== NONE; id = this.lruNext[id]) {
      cached(id);
      if (this.lruPrev[id] !== prev) fail(`LRU back link of ${id} is broken`);
      if (!this.inLru[id]) fail(`block ${id} on the LRU is not flagged`);
      const key = this.blockHash[id];
      if (key === null || this.byHash.get(key) !== id) fail(`cached block ${id} is not indexed by its key`);
      prev = id;
      count++;
      if (count > this.blockHash.length) fail('LRU list has a cycle');
    }
    if (prev !== this.lruTail) fail('LRU tail is wrong');
    if (count !== this.cached) fail(`cached count ${this.cached} but LRU holds ${count}`);
    this.blockHash.forEach((key, id) => {
      if (key !== null && this.byHash.get(key) !== id) fail(`hashed block ${id} is not indexed by its key`);
    });
    for (const [key, id] of this.byHash) {
      if (this.blockHash[id] !== key) fail(`key ${key} points at block ${id} holding other content`);
    }
  }

  /** The least recently used cached block of the lowest priority (NONE when none is cached). */
  private lowestPriority(priorityOf: (id: number) => number): number {
    let best = NONE;
    let bestPriority = Infinity;
    for (let id = this.lruHead; id !== NONE; id = this.lruNext[id]) {
      const p = priorityOf(id);
      if (p <= 0) return id;
      if (p < bestPriority) {
        best = id;
        bestPriority = p;
      }
    }
    return best;
  }

  /** Whether the block is on the LRU list (cached). */
  isCached(id: number): boolean {
    return this.inLru[id] === 1;
  }

  /**
   * The chained keys of `tokens`' full blocks computed so far, and where each was last found,
   * kept by array identity: a job waiting for memory is looked up every step, and its context
   * only grows. A stale entry (an array changed in place, a block evicted) can only cause a miss
   * or a lookup: every hit is checked token by token, from the first block on.
   */
  private hintsOf(tokens: readonly number[], root: BlockHash | null): LookupHints {
    let hints = this.hints.get(tokens);
    if (hints === undefined || hints.root !== root) {
      hints = { root, keys: [], ids: [] };
      this.hints.set(tokens, hints);
    }
    return hints;
  }

  private sameTokens(id: number, tokens: readonly number[], start: number): boolean {
    const stored = this.blockTokens[id];
    if (stored === null) return false;
    for (let j = 0; j < this.blockSize; j++) if (stored[j] !== tokens[start + j]) return false;
    return true;
  }
}
