/**
 * Block manager of the paged KV cache: block ids, reference counts, device and host free lists,
 * and automatic prefix caching. No tensors: the addon owns the memory, this class only decides
 * which block id holds what.
 *
 * (Over 500 lines, about 780, on purpose: it is the one record of where every block is — device,
 * cache, host, in flight, lent to an exchange — and allocation, prefix hits, swaps, forks and
 * their copies each move blocks between several of those lists at once; split apart, the
 * invariants checkInvariants proves would span files. The prefix index is already its own file,
 * lib/kv/prefix-cache.ts, and what KV events need is reported through ./cache-observer.ts.)
 *
 * Modelled on vLLM v1's KVCacheManager / BlockPool:
 * - A full block whose KV has been computed is keyed by a chained hash (lib/kv/prefix-hash.ts).
 *   When nobody references it any more it stays **cached** (content valid, evictable in LRU
 *   order); a later sequence with the same prefix takes it back (ref +1) and skips that prefill.
 * - Check, then commit: `blocksNeeded` + `canAllocate` answer exactly whether `ensure` will succeed;
 *   a commit that cannot succeed throws before touching anything.
 * - A sequence's blocks are released in reverse order, so its tail blocks are evicted first.
 * Departures: vLLM keeps one free queue mixing empty and cached blocks; here empty blocks are
 * always handed out before any cached block is evicted, which keeps cached content longer.
 * Swapping (device <-> host) is ours: vLLM v1 has no swap.
 *
 * Each device block is in exactly one state: free (no content, on the free stack), cached
 * (ref 0, hashed, on the LRU list) or owned (ref > 0). Every call costs O(blocks touched), except
 * that while client hints give cached blocks eviction priorities (./block-retention.ts) an
 * eviction also walks past the prioritized blocks ahead of the least recently used plain one.
 * Which content a block holds, and the LRU list, are ./prefix-cache.ts.
 */
import { EngineError } from '../errors.js';
import type { BlockPair } from '../step.js';
import { BlockRetention } from './block-retention.js';
import type { CacheObserver } from './cache-observer.js';
import { PrefixCache } from './prefix-cache.js';
import { hashBlock, type BlockHash } from './prefix-hash.js';

export interface BlockManagerOptions {
  deviceBlocks: number;
  hostBlocks: number;
  blockSize: number;
  /** Reuse computed full blocks across sequences (default true). */
  prefixCaching?: boolean;
  /** Seconds, for the lapse of eviction priorities (./block-retention.ts). Default: the monotonic clock. */
  nowS?: () => number;
}

export interface EnsureResult {
  /** The owner's device block table, positions 0.. . */
  table: readonly number[];
  /** Leading tokens whose KV is already present (computed before, or reused from the cache). */
  computedTokens: number;
}

export interface BlockManagerStats {
  deviceBlocks: number;
  freeBlocks: number;
  cachedBlocks: number;
  ownedBlocks: number;
  hostBlocks: number;
  hostFree: number;
  hostOwned: number;
  /** Device blocks held by swap-outs in flight (counted in ownedBlocks). */
  inFlightBlocks: number;
  /** Cumulative tokens served from the prefix cache by first `ensure` calls. */
  prefixHitTokens: number;
  /** Cumulative prompt tokens looked up in the prefix cache by first `ensure` calls. */
  prefixQueryTokens: number;
  /** Cumulative cached blocks evicted to make room. */
  evictions: number;
}


/** The block manager's record of one owner (exported for OwnerView's type; only the block manager writes it). */
export interface OwnerState {
  /** Device block ids, positions 0.. ; empty while swapped. */
  device: number[];
  /** Host block ids while swapped out, otherwise null. */
  host: number[] | null;
  /** Chain keys of this owner's leading full computed blocks (registered or found in the cache). */
  hashes: BlockHash[];
  /** Leading tokens whose KV is present. */
  computed: number;
  /** Parent key of block 0: null, or the root of the owner's cache salt (prefix-hash.ts, saltRoot). */
  root: BlockHash | null;
}

interface AllocationPlan {
  /** Prefix-cache hits to reference (first call only). */
  hits: readonly number[];
  hitHashes: readonly BlockHash[];
  /** Fresh blocks to take from the pool. */
  fresh: number;
  /** Blocks taken out of the free + evictable pool: fresh plus hits that were cached (ref 0). */
  take: number;
}

/** The plan of an owner that holds blocks and needs no more: shared, never changed. */
const NO_HITS: readonly number[] = Object.freeze([]);
const NO_HASHES: readonly BlockHash[] = Object.freeze([]);

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new EngineError('INVALID_ARGUMENT', `${name} must be an integer >= ${min}, got ${value}`);
  }
}

/** Where an owner's KV is. */
export type KvPlacement =
  /** No blocks owned (never computed, released to the prefix cache, or discarded). */
  | 'none'
  /** Device blocks owned. */
  | 'device'
  /** Host blocks owned (swapped out). */
  | 'host';

/** Where the KV of an owner with this record is. */
export function placementOf(state: OwnerState | undefined): KvPlacement {
  return state === undefined ? 'none' : state.host !== null ? 'host' : 'device';
}

/**
 * A live view of one owner's record (BlockManager.watch): the block manager points it at the
 * owner's current record (undefined while it holds nothing); its holder only reads it.
 */
export interface OwnerView {
  readonly state: OwnerState | undefined;
}

export class BlockManager {
  readonly blockSize: number;
  readonly deviceBlocks: number;
  readonly hostBlocks: number;
  readonly prefixCaching: boolean;

  private readonly refCount: Int32Array;
  /** Stack of empty device blocks; the next one handed out is at the end. */
  private readonly freeStack: number[] = [];
  private readonly hostFreeStack: number[] = [];

  /** Which blocks hold which computed content, and the LRU list of the cached ones. */
  private readonly cache: PrefixCache;
  /** Eviction priorities of cached content, from client hints. */
  private readonly retention: BlockRetention;
  /** Device blocks of deferred swap-outs, each still holding its reference (see swapOut). */
  private readonly inFlight: number[] = [];
  /** Source and destination blocks of fork copies not yet run, each holding a reference (see fork). */
  private readonly copyHolds: number[] = [];
  /** Host blocks of deferred swap-ins, not free until the step carrying the copy completes. */
  private readonly hostInFlight: number[] = [];
  /**
   * The host blocks of the job the step being planned brings back, lent before its swap-in is
   * issued to the swap-outs that make room for it (lendHostBlocks), and which of them were taken.
   */
  private lent: { owner: string; untaken: number[]; taken: Set<number> } | null = null;
  /** Owners swapped out into host blocks a swap-in of the unsettled step still reads. */
  private readonly exchangeReceivers = new Set<string>();

  private readonly owners = new Map<string, OwnerState>();
  /** Device tables handed out by `tableSnapshot`: never appended to again (copied first). */
  private readonly handedOut = new WeakSet<number[]>();
  private readonly views = new Map<string, { state: OwnerState | undefined }>();
  private prefixHitTokens = 0;
  private prefixQueryTokens = 0;
  /** Told what content is stored and removed, on the device and the host (KV events); null: nobody. */
  private observer: CacheObserver | null = null;

  constructor(options: BlockManagerOptions) {
    checkCount('deviceBlocks', options.deviceBlocks, 0);
    checkCount('hostBlocks', options.hostBlocks, 0);
    checkCount('blockSize', options.blockSize, 1);
    this.blockSize = options.blockSize;
    this.deviceBlocks = options.deviceBlocks;
    this.hostBlocks = options.hostBlocks;
    this.prefixCaching = options.prefixCaching ?? true;
    const n = options.deviceBlocks;
    this.refCount = new Int32Array(n);
    this.cache = new PrefixCache(n, options.blockSize);
    this.retention = new BlockRetention(n, options.nowS ?? (() => performance.now() / 1000));
    // Pushed in reverse so ids are handed out 0, 1, 2, ... (predictable plans and tests).
    for (let id = n - 1; id >= 0; id--) this.freeStack.push(id);
    for (let id = options.hostBlocks - 1; id >= 0; id--) this.hostFreeStack.push(id);
  }

  /**
   * Reports content stored and removed to `observer` from now on (null: to nobody). Attach it
   * before the first allocation: a listener attached later never hears of content already held.
   */
  observe(observer: CacheObserver | null): void {
    this.observer = observer;
    this.cache.observer = observer;
  }

  table(owner: string): readonly number[] {
    return this.owners.get(owner)?.device ?? [];
  }

  /**
   * The owner's device table as it stands now, unchanged however the owner's blocks change later:
   * what a step in flight holds while the next one is planned. Copy-on-write: the manager copies a
   * handed-out table before it next appends to it, so a decode copies its table once per block of
   * tokens instead of every step (a long context's table is thousands of ids, and copying it per
   * step was the simulator's largest allocation).
   */
  tableSnapshot(owner: string): readonly number[] {
    const table = this.owners.get(owner)?.device ?? [];
    this.handedOut.add(table);
    return table;
  }

  /** References to a device block (0 when free or cached). */
  refCountOf(blockId: number): number {
    return this.refCount[blockId] ?? 0;
  }

  /** Where the owner's KV is: the one record of it. */
  placement(owner: string): KvPlacement {
    return placementOf(this.owners.get(owner));
  }

  /** Leading tokens of the owner whose KV exists (its blocks' computed prefix), 0 for none. */
  computedTokens(owner: string): number {
    return this.owners.get(owner)?.computed ?? 0;
  }

  /**
   * A live view of one owner's record, for a reader that asks at every step (the engine's job
   * records): it follows the owner through allocations, swaps and frees without a lookup by id,
   * and holds no copy of anything. `forget` drops it when the owner is gone for good.
   */
  watch(owner: string): OwnerView {
    let view = this.views.get(owner);
    if (view === undefined) {
      view = { state: this.owners.get(owner) };
      this.views.set(owner, view);
    }
    return view;
  }

  /** The owner will not come back: its view goes (its blocks must have been freed). */
  forget(owner: string): void {
    this.views.delete(owner);
  }

  isSwapped(owner: string): boolean {
    return this.owners.get(owner)?.host != null;
  }

  /**
   * Leading tokens a new sequence would find in the prefix cache. `root` is the sequence's salt
   * root (null: unsalted): only blocks cached under the same root can be hits, here and below.
   */
  cachedPrefixTokens(tokens: readonly number[], root: BlockHash | null = null): number {
    return this.findPrefix(tokens, tokens.length, root).hits.length * this.blockSize;
  }

  /** Blocks with computed content that nobody references (evictable). */
  private get cachedCount(): number {
    return this.cache.cachedBlocks;
  }

  /** Blocks `ensure` would take for the first `length` tokens (default: all of them). */
  blocksNeeded(owner: string, tokens: readonly number[], length = tokens.length, root: BlockHash | null = null): number {
    return this.plan(this.activeOwner(owner, false), tokens, length, root).take;
  }

  canAllocate(blocks: number): boolean {
    return this.freeStack.length + this.cachedCount >= blocks;
  }

  /**
   * Gives `owner` blocks for its first `length` tokens (default: all), reusing cached prefix
   * blocks for a sequence that holds none. `length` spares the caller a copy of a long context.
   */
  ensure(owner: string, tokens: readonly number[], length = tokens.length, root: BlockHash | null = null): EnsureResult {
    const existing = this.activeOwner(owner, false);
    if (existing !== undefined && existing.root !== root) {
      throw new EngineError('INVALID_ARGUMENT', `${owner} holds blocks under another cache salt`);
    }
    const plan = this.plan(existing, tokens, length, root);
    if (!this.canAllocate(plan.take)) {
      throw new EngineError(
        'OUT_OF_BLOCKS',
        `${owner} needs ${plan.take} device blocks, ${this.freeStack.length} free + ${this.cachedCount} cached available`,
      );
    }
    const state: OwnerState = existing ?? { device: [], host: null, hashes: [], computed: 0, root };
    if (state.device.length === 0) {
      this.prefixQueryTokens += length;
      this.prefixHitTokens += plan.hits.length * this.blockSize;
    }
    // Revive hits before taking fresh blocks, so an eviction can never pick a block being reused.
    const table = plan.hits.length + plan.fresh > 0 ? this.appendable(state) : state.device;
    for (const id of plan.hits) {
      this.cache.revive(id);
      this.refCount[id]++;
      table.push(id);
    }
    if (plan.hits.length > 0) {
      state.hashes = plan.hitHashes as BlockHash[]; // a fresh array from findPrefix
      state.computed = Math.max(state.computed, plan.hits.length * this.blockSize);
    }
    for (let i = 0; i < plan.fresh; i++) {
      const id = this.takeBlock();
      this.refCount[id] = 1;
      table.push(id);
    }
    if (existing === undefined) this.setOwner(owner, state);
    return { table: state.device, computedTokens: Math.min(state.computed, length) };
  }

  markComputed(owner: string, tokens: readonly number[], numComputed: number): void {
    const state = this.activeOwner(owner, true) as OwnerState;
    const capacity = state.device.length * this.blockSize;
    if (!Number.isInteger(numComputed) || numComputed < 0 || numComputed > tokens.length || numComputed > capacity) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `numComputed ${numComputed} must be within 0..min(${tokens.length} tokens, ${capacity} slots) for ${owner}`,
      );
    }
    state.computed = numComputed;
    if (!this.prefixCaching) return;
    const fullBlocks = Math.floor(numComputed / this.blockSize);
    for (let i = state.hashes.length; i < fullBlocks; i++) {
      const parent = i > 0 ? state.hashes[i - 1] : state.root;
      const start = i * this.blockSize;
      const key = hashBlock(parent, tokens, start, start + this.blockSize);
      state.hashes.push(key);
      // A block already hashed is a prefix hit; a key already present means another sequence
      // computed the same content first: keep theirs, this block stays anonymous (freed, not cached).
      this.cache.register(state.device[i], key, parent, tokens, start, state.root);
    }
  }

  /**
   * Raises the eviction priority of the owner's device blocks that hold computed content and
   * overlap tokens [start, end) to `priority` until `untilS` (./block-retention.ts): once cached,
   * they are evicted after lower-priority blocks. Soft: nothing is pinned.
   */
  retainBlocks(owner: string, start: number, end: number, priority: number, untilS: number): void {
    const device = this.owners.get(owner)?.device ?? [];
    const last = Math.min(device.length, Math.ceil(end / this.blockSize));
    for (let i = Math.floor(start / this.blockSize); i < last; i++) {
      if (this.cache.holdsContent(device[i])) this.retention.declare(device[i], priority, untilS);
    }
  }

  /** Device blocks carrying an eviction priority (lapsed ones until their content is evicted). */
  get retainedBlocks(): number {
    return this.retention.declaredBlocks;
  }

  free(owner: string): void {
    const state = this.owners.get(owner);
    if (state === undefined) return;
    this.releaseDevice(state.device);
    if (state.host !== null) {
      for (let i = state.host.length - 1; i >= 0; i--) this.hostFreeStack.push(state.host[i]);
      if (state.hashes.length > 0) this.observer?.hostRemoved(state.hashes);
    }
    this.setOwner(owner, undefined);
  }

  canSwapOut(owner: string): boolean {
    const state = this.owners.get(owner);
    return state !== undefined && state.host === null && this.hostFreeStack.length >= state.device.length;
  }

  /**
   * Device -> host for the whole table. The returned copies must run before any block freed here
   * is written again (the addon executes swap-outs first in a step).
   *
   * `deferRelease`: the device blocks stay held (in flight) until `settleSwaps()`, so nothing
   * can be written into them while the copy runs beside the next step's compute. Without it
   * they are free at once, and the step that carries the copy must finish it before computing.
   */
  swapOut(owner: string, options: { deferRelease?: boolean } = {}): BlockPair[] {
    const state = this.activeOwner(owner, true) as OwnerState;
    if (this.hostFreeStack.length < state.device.length) {
      throw new EngineError(
        'OUT_OF_BLOCKS',
        `${owner} needs ${state.device.length} host blocks, ${this.hostFreeStack.length} free`,
      );
    }
    const pairs: BlockPair[] = [];
    const host: number[] = [];
    for (const deviceId of state.device) {
      const hostId = this.hostFreeStack.pop() as number;
      host.push(hostId);
      pairs.push([deviceId, hostId]);
    }
    if (options.deferRelease) {
      for (const id of state.device) this.inFlight.push(id);
    } else {
      this.releaseDevice(state.device);
    }
    state.device = [];
    state.host = host;
    if (state.hashes.length > 0) this.observer?.hostStored(state.hashes);
    return pairs;
  }

  /**
   * Room in the host pool for a swap-out that makes room for the step's swap-ins: the free
   * blocks, and the host blocks its swap-ins read — those issued so far and the lent ones.
   */
  canSwapOutMakingRoom(owner: string): boolean {
    const state = this.owners.get(owner);
    return state !== undefined && state.host === null && this.vacatableHostBlocks() >= state.device.length;
  }

  /**
   * Device -> host for the whole table, its device blocks free at once, to make room for the
   * step's swap-ins. When the free host blocks run short it fills host blocks those swap-ins read
   * (an exchange): `toVacated` are those pairs, which the step must write only after its swap-ins
   * have read them (the native plan's `swapOutToVacated`). The owner cannot be swapped back in
   * until the step settles.
   */
  swapOutMakingRoom(owner: string): { pairs: BlockPair[]; toVacated: BlockPair[] } {
    const state = this.activeOwner(owner, true) as OwnerState;
    if (state.host !== null) throw new EngineError('INVALID_ARGUMENT', `${owner} is already swapped out`);
    if (this.vacatableHostBlocks() < state.device.length) {
      throw new EngineError('OUT_OF_BLOCKS', `${owner} needs ${state.device.length} host blocks, ${this.vacatableHostBlocks()} free or vacated`);
    }
    const pairs: BlockPair[] = [];
    const toVacated: BlockPair[] = [];
    const host: number[] = [];
    for (const deviceId of state.device) {
      let hostId = this.hostFreeStack.pop();
      if (hostId !== undefined) {
        pairs.push([deviceId, hostId]);
      } else {
        // Its swap-in's release of it is taken over: an in-flight block leaves the list settled
        // at the step's end, a lent one is kept back when the swap-in is issued.
        hostId = this.hostInFlight.pop();
        if (hostId === undefined) {
          hostId = this.lent!.untaken.pop() as number;
          this.lent!.taken.add(hostId);
        }
        toVacated.push([deviceId, hostId]);
      }
      host.push(hostId);
    }
    if (toVacated.length > 0) this.exchangeReceivers.add(owner);
    this.releaseDevice(state.device);
    state.device = [];
    state.host = host;
    if (state.hashes.length > 0) this.observer?.hostStored(state.hashes);
    return { pairs, toVacated };
  }

  /**
   * Lends the host blocks of `owner` (swapped out, about to be swapped in by the step being
   * planned) to swap-outs making room for it, until its swapIn is issued or the loan is ended.
   */
  lendHostBlocks(owner: string): void {
    const state = this.owners.get(owner);
    if (state?.host == null) throw new EngineError('NOT_SWAPPED', `${owner} is not swapped out`);
    if (this.lent !== null) throw new EngineError('INVALID_ARGUMENT', `${this.lent.owner}'s host blocks are already lent`);
    this.lent = { owner, untaken: [...state.host].reverse(), taken: new Set() };
  }

  /** Ends a loan whose swap-in was not issued; none of the blocks may have been taken. */
  endHostLoan(): void {
    if (this.lent !== null && this.lent.taken.size > 0) {
      throw new EngineError('INVARIANT', `${this.lent.owner}'s lent host blocks were taken but it was not swapped in`);
    }
    this.lent = null;
  }

  /** Whether `owner` went into host blocks a swap-in of the unsettled step still reads. */
  awaitsExchange(owner: string): boolean {
    return this.exchangeReceivers.has(owner);
  }

  /** Device blocks that would become free or cached if `owner` gave its table back (those only it references). */
  exclusiveDeviceBlocks(owner: string): number {
    const state = this.owners.get(owner);
    if (state === undefined) return 0;
    let n = 0;
    for (const id of state.device) if (this.refCount[id] === 1) n++;
    return n;
  }

  /** Device blocks a new owner or a swap-in can take now: free or only cached. */
  get availableBlocks(): number {
    return this.freeStack.length + this.cachedCount;
  }

  /** Host blocks `owner` holds (0 when its KV is not on the host). */
  hostBlockCount(owner: string): number {
    return this.owners.get(owner)?.host?.length ?? 0;
  }

  private vacatableHostBlocks(): number {
    return this.hostFreeStack.length + this.hostInFlight.length + (this.lent?.untaken.length ?? 0);
  }

  /**
   * Copy-on-write fork: the new owner `child` takes `parent`'s KV for its first `length` tokens
   * (at most what the parent has computed). Full blocks are shared — one more reference each;
   * computed positions are never written again — and a partly filled last block is copied into a
   * fresh one, since both owners will write past `length` into it. The copy must run before the
   * child's next step; its source and destination stay held until `copyDone()`, so neither can be
   * reused (an owner closed meanwhile) before the copy has run. Null when there is nothing to
   * share or no room for the copy (the child then starts as a new owner would).
   */
  fork(parent: string, child: string, length: number): { copy: BlockPair | null } | null {
    const from = this.activeOwner(parent, true) as OwnerState;
    if (this.owners.has(child)) throw new EngineError('INVALID_ARGUMENT', `${child} already holds blocks`);
    if (!Number.isInteger(length) || length < 0 || length > from.computed) {
      throw new EngineError('INVALID_ARGUMENT', `cannot fork ${length} tokens of ${parent}: ${from.computed} are computed`);
    }
    const full = Math.floor(length / this.blockSize);
    const partial = length % this.blockSize !== 0;
    if (length === 0 || (partial && !this.canAllocate(1))) return null;
    const device = from.device.slice(0, full);
    for (const id of device) this.refCount[id]++;
    let copy: BlockPair | null = null;
    if (partial) {
      const source = from.device[full];
      const destination = this.takeBlock();
      this.refCount[destination] = 1;
      device.push(destination);
      this.refCount[source]++;
      this.refCount[destination]++;
      this.copyHolds.push(source, destination);
      copy = [source, destination];
    }
    this.setOwner(child, { device, host: null, hashes: from.hashes.slice(0, full), computed: length, root: from.root });
    return { copy };
  }

  /** A fork's copy has run: the two blocks it held are released (to their owners, or freed). */
  copyDone(copy: BlockPair): void {
    for (const id of copy) {
      const at = this.copyHolds.indexOf(id);
      if (at < 0) throw new EngineError('INVALID_ARGUMENT', `block ${id} is not held by a copy`);
      this.copyHolds.splice(at, 1);
    }
    this.releaseDevice(copy);
  }

  /** Device blocks held by swap-outs in flight. */
  get inFlightBlocks(): number {
    return this.inFlight.length;
  }

  /**
   * The swaps issued so far have completed: the device blocks of deferred swap-outs are free (or
   * cached) again, and the host blocks of deferred swap-ins are free.
   */
  settleSwaps(): void {
    for (let i = this.hostInFlight.length - 1; i >= 0; i--) this.hostFreeStack.push(this.hostInFlight[i]);
    this.hostInFlight.length = 0;
    this.exchangeReceivers.clear();
    if (this.inFlight.length === 0) return;
    this.releaseDevice(this.inFlight);
    this.inFlight.length = 0;
  }

  canSwapIn(owner: string): boolean {
    const state = this.owners.get(owner);
    // (Not one swapped out into blocks a swap-in of this step still reads: its KV is not there yet.)
    return state !== undefined && state.host !== null && !this.awaitsExchange(owner) && this.canAllocate(state.host.length);
  }

  /**
   * Host -> device into fresh blocks. The host blocks are released at once, or with
   * `deferRelease` held until `settleSwaps()`, so that no swap-out of the same step can be
   * written into them before they are read (the native step runs every swap-out first): the
   * engine always defers.
   */
  swapIn(owner: string, options: { deferRelease?: boolean } = {}): BlockPair[] {
    const state = this.owners.get(owner);
    if (state === undefined) throw new EngineError('UNKNOWN_SEQUENCE', `no sequence ${owner}`);
    if (state.host === null) throw new EngineError('NOT_SWAPPED', `${owner} is not swapped out`);
    if (!this.canAllocate(state.host.length)) {
      throw new EngineError(
        'OUT_OF_BLOCKS',
        `${owner} needs ${state.host.length} device blocks, ${this.freeStack.length} free + ${this.cachedCount} cached available`,
      );
    }
    const pairs: BlockPair[] = [];
    const table = this.appendable(state);
    for (const hostId of state.host) {
      const deviceId = this.takeBlock();
      this.refCount[deviceId] = 1;
      table.push(deviceId);
      pairs.push([hostId, deviceId]);
    }
    if (this.exchangeReceivers.has(owner)) throw new EngineError('INVALID_ARGUMENT', `${owner}'s KV is still being exchanged onto the host`);
    let released = state.host;
    if (this.lent?.owner === owner) {
      // The lent blocks swap-outs took are theirs now; their copies run after this one.
      const taken = this.lent.taken;
      released = released.filter((id) => !taken.has(id));
      this.lent = null;
    }
    if (options.deferRelease) this.hostInFlight.push(...released);
    else for (let i = released.length - 1; i >= 0; i--) this.hostFreeStack.push(released[i]);
    state.host = null;
    if (state.hashes.length > 0) this.observer?.hostRemoved(state.hashes);
    // The fresh blocks carry no keys until their copy lands: `restoreKeys` (or the next
    // markComputed) rehashes from block 0 and registers whichever keys the cache lacks.
    state.hashes = [];
    return pairs;
  }

  /**
   * A swap-in's copy has landed: the owner's blocks hold its computed tokens again, so they get
   * their content keys back now, not at the owner's next compute. A job swapped in ahead of
   * running and then preempted before it ran would otherwise leave its blocks anonymous, and its
   * whole context was recomputed (issue 19: 333 of 338 tokens on the policies bench's seed 1).
   * Nothing for an owner no longer on the device.
   */
  restoreKeys(owner: string, tokens: readonly number[]): void {
    const state = this.owners.get(owner);
    if (state === undefined || state.host !== null || state.hashes.length >= Math.floor(state.computed / this.blockSize)) return;
    this.markComputed(owner, tokens, state.computed);
  }

  /**
   * vLLM's reset_prefix_cache: forgets every cached block's content (an observer hears one
   * `cleared()`). Only when nothing is held — no owner, no swap or copy in flight — else false
   * and nothing changes: owned content cannot be forgotten, and a listener told "all cleared"
   * must not still be owed removals.
   */
  resetPrefixCache(): boolean {
    if (this.owners.size > 0 || this.inFlight.length > 0 || this.copyHolds.length > 0 || this.hostInFlight.length > 0) return false;
    for (const id of this.cache.clearCached()) {
      this.retention.clear(id);
      this.freeStack.push(id);
    }
    return true;
  }

  /**
   * The content this manager can serve (tests compare a KV-event mirror with it): the keys
   * indexed on the device, owned or cached, and the keys of which some swapped-out owner holds a
   * host copy (each once).
   */
  storedContent(): { device: BlockHash[]; host: BlockHash[] } {
    const host = new Set<BlockHash>();
    for (const state of this.owners.values()) if (state.host !== null) for (const key of state.hashes) host.add(key);
    return { device: this.cache.indexedKeys(), host: [...host] };
  }

  stats(): BlockManagerStats {
    return {
      deviceBlocks: this.deviceBlocks,
      freeBlocks: this.freeStack.length,
      cachedBlocks: this.cachedCount,
      ownedBlocks: this.deviceBlocks - this.freeStack.length - this.cachedCount,
      hostBlocks: this.hostBlocks,
      hostFree: this.hostFreeStack.length,
      hostOwned: this.hostBlocks - this.hostFreeStack.length,
      inFlightBlocks: this.inFlight.length,
      prefixHitTokens: this.prefixHitTokens,
      prefixQueryTokens: this.prefixQueryTokens,
      evictions: this.cache.evictions,
    };
  }

  /** Full scan (tests and debugging only): throws EngineError('INVARIANT') on the first violation. */
  checkInvariants(): void {
    const fail = (message: string): never => {
      throw new EngineError('INVARIANT', message);
    };
    const FREE = 1;
    const CACHED = 2;
    const seen = new Uint8Array(this.deviceBlocks);
    for (const id of this.freeStack) {
      if (!(id >= 0 && id < this.deviceBlocks)) fail(`free stack holds invalid id ${id}`);
      if (seen[id]) fail(`block ${id} is on the free stack twice`);
      seen[id] = FREE;
      if (this.refCount[id] !== 0) fail(`free block ${id} has ref ${this.refCount[id]}`);
      if (this.cache.holdsContent(id) || this.cache.isCached(id)) fail(`free block ${id} has content or is on the LRU`);
    }
    this.cache.checkInvariants(fail, (id) => {
      if (seen[id]) fail(`block ${id} is cached and also free (or listed twice)`);
      seen[id] = CACHED;
      if (this.refCount[id] !== 0) fail(`cached block ${id} has ref ${this.refCount[id]}`);
    });

    const expectedRefs = new Int32Array(this.deviceBlocks);
    const hostSeen = new Uint8Array(this.hostBlocks);
    const claimHost = (id: number, who: string): void => {
      if (!(id >= 0 && id < this.hostBlocks)) fail(`${who} holds invalid host id ${id}`);
      if (hostSeen[id]) fail(`host block ${id} is double-owned (${who})`);
      hostSeen[id] = 1;
    };
    for (const id of this.hostFreeStack) claimHost(id, 'host free stack');
    for (const id of this.hostInFlight) claimHost(id, 'a swap-in in flight');
    for (const [owner, state] of this.owners) {
      if (state.host !== null) {
        if (state.device.length > 0) fail(`swapped ${owner} still holds device blocks`);
        for (const id of state.host) claimHost(id, owner);
      }
      if (state.host === null && state.hashes.length > state.device.length) fail(`${owner} has more keys than blocks`);
      for (const id of state.device) {
        if (!(id >= 0 && id < this.deviceBlocks)) fail(`${owner} holds invalid block id ${id}`);
        expectedRefs[id]++;
      }
    }
    for (const id of this.inFlight) expectedRefs[id]++;
    for (const id of this.copyHolds) expectedRefs[id]++;
    for (let id = 0; id < this.hostBlocks; id++) if (!hostSeen[id]) fail(`host block ${id} is lost`);
    for (let id = 0; id < this.deviceBlocks; id++) {
      if (this.refCount[id] !== expectedRefs[id]) {
        fail(`block ${id} has ref ${this.refCount[id]} but tables reference it ${expectedRefs[id]} times`);
      }
      if (expectedRefs[id] > 0 && seen[id]) fail(`owned block ${id} is also free or cached`);
      if (expectedRefs[id] === 0 && !seen[id]) fail(`block ${id} is lost (ref 0, neither free nor cached)`);
    }
  }

  /** Records (or, with undefined, removes) an owner's state; a view of it follows. */
  private setOwner(owner: string, state: OwnerState | undefined): void {
    if (state === undefined) this.owners.delete(owner);
    else this.owners.set(owner, state);
    const view = this.views.get(owner);
    if (view !== undefined) view.state = state;
  }

  /** The owner's state; unknown owners are undefined, or an error when `required`. Swapped owners throw. */
  private activeOwner(owner: string, required: boolean): OwnerState | undefined {
    const state = this.owners.get(owner);
    if (state === undefined) {
      if (required) throw new EngineError('UNKNOWN_SEQUENCE', `no sequence ${owner}`);
      return undefined;
    }
    if (state.host !== null) {
      throw new EngineError('SEQUENCE_SWAPPED', `${owner} is swapped out; swap it in first`);
    }
    return state;
  }

  private plan(state: OwnerState | undefined, tokens: readonly number[], length: number, root: BlockHash | null): AllocationPlan {
    if (!Number.isInteger(length) || length < 0 || length > tokens.length) {
      throw new EngineError('INVALID_ARGUMENT', `length ${length} must be within 0..${tokens.length}`);
    }
    const needed = Math.ceil(length / this.blockSize);
    const held = state?.device.length ?? 0;
    if (held > 0) {
      const fresh = Math.max(0, needed - held);
      return { hits: NO_HITS, hitHashes: NO_HASHES, fresh, take: fresh };
    }
    const prefix = this.findPrefix(tokens, length, root);
    let revived = 0;
    for (const id of prefix.hits) if (this.refCount[id] === 0) revived++;
    const fresh = needed - prefix.hits.length;
    return { hits: prefix.hits, hitHashes: prefix.hashes, fresh, take: fresh + revived };
  }

  /** The prefix-cache hits of a sequence that holds no blocks (none with prefix caching off). */
  private findPrefix(tokens: readonly number[], length: number, root: BlockHash | null): { hits: number[]; hashes: BlockHash[] } {
    return this.prefixCaching ? this.cache.find(tokens, length, root) : { hits: [], hashes: [] };
  }

  /** An empty block if any, else the least recently used cached block, evicted. Caller checked room. */
  private takeBlock(): number {
    const fromFree = this.freeStack.pop();
    if (fromFree !== undefined) return fromFree;
    const id = this.cache.evictOldest(this.retention.inUse ? (b) => this.retention.priorityOf(b) : undefined);
    if (id === null) throw new EngineError('OUT_OF_BLOCKS', 'no free or cached device block left');
    this.retention.clear(id);
    return id;
  }

  /** The owner's device table, ready to append to: a copy if the current one was handed out. */
  private appendable(state: OwnerState): number[] {
    if (this.handedOut.has(state.device)) state.device = state.device.slice();
    return state.device;
  }

  /** Drops one reference to each block, tail first, so a sequence's tail blocks are evicted first. */
  private releaseDevice(ids: readonly number[]): void {
    for (let i = ids.length - 1; i >= 0; i--) {
      const id = ids[i];
      if (--this.refCount[id] > 0) continue;
      if (!this.cache.park(id)) this.freeStack.push(id);
    }
  }
}
