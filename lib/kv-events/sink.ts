/**
 * What the engine needs of a KV-event publisher (EngineOptions.kvEvents): types only, so the
 * engine loads nothing of lib/kv-events — nor its optional packages — unless events are asked for.
 */
import type { BlockManager } from '../kv/block-manager.js';
import type { BlockHash } from '../kv/prefix-hash.js';

export interface KvEventsSink {
  /** Starts listening to the engine's block manager: once, before its first allocation. */
  attach(blocks: BlockManager): void;
  /** A job with a cache salt was opened: its chain's root is `root` (vLLM hashes the salt itself). */
  noteSalt(root: BlockHash, salt: string): void;
  /** The engine is closing: a last AllBlocksCleared, the pending batches sent, the socket closed. */
  close(): Promise<void>;
}
