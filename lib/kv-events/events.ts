/**
 * KV events as vLLM defines them (vllm/distributed/kv_events.py), and the exact arrays its
 * msgspec encoder writes for them.
 *
 * vLLM declared the events as msgspec Structs with `array_like=True, omit_defaults=True,
 * tag=True`: each is a msgpack array whose first element is the tag (the class name), then every
 * field in declaration order, None as nil. (`omit_defaults` thins maps only: msgspec still writes
 * a defaulted field of an array-like struct, msgspec issue #720.) In the last release line with
 * that layout and the `medium` field:
 *
 *   BlockStored:      ["BlockStored", block_hashes, parent_block_hash, token_ids, block_size,
 *                      lora_id, medium, lora_name, extra_keys, group_idx]
 *   BlockRemoved:     ["BlockRemoved", block_hashes, medium, group_idx]
 *   AllBlocksCleared: ["AllBlocksCleared"]
 *
 * llm-d's indexer (pkg/kvcache/kvevents/pool.go) reads exactly this: tag first, the rest as a
 * positional struct whose trailing extras it skips, `medium` lowercased as the device tier
 * ("gpu" when nil). vLLM's main branch has since moved to tagged maps ({"type": …, field: value},
 * more fields); the positional form is what routers decode, so it is the one written here.
 * `group_idx` is 0: one KV-cache group (full attention), as vLLM numbers a single group.
 */
import type { VllmBlockHash } from './block-hash.js';

/** Where a block's content is: vLLM's device pool, or a copy in host memory. */
export type KvMedium = 'GPU' | 'CPU';

export interface BlockStored {
  type: 'BlockStored';
  /** Consecutive blocks of one chain, first to last. */
  blockHashes: VllmBlockHash[];
  /** The hash of the block before the first, or null when the first starts its chain. */
  parentBlockHash: VllmBlockHash | null;
  /** The blocks' tokens, concatenated (empty for host copies: see event-source.ts). */
  tokenIds: number[];
  blockSize: number;
  medium: KvMedium;
}

export interface BlockRemoved {
  type: 'BlockRemoved';
  blockHashes: VllmBlockHash[];
  medium: KvMedium;
}

export interface AllBlocksCleared {
  type: 'AllBlocksCleared';
}

export type KvEvent = BlockStored | BlockRemoved | AllBlocksCleared;

/** A msgpack-ready value: numbers, 64-bit hashes as bigint, strings, nil, arrays. */
export type WireValue = number | bigint | string | null | WireValue[];

/**
 * The event as msgspec's positional array. Hashes below 2^32 become plain numbers so the
 * encoder picks the shortest integer form, as msgspec does for a Python int; larger ones stay
 * bigint (written as uint64, as msgspec does above 2^32; @msgpack/msgpack with useBigInt64 would
 * write a larger plain number as a float).
 */
export function eventToWire(event: KvEvent): WireValue[] {
  switch (event.type) {
    case 'BlockStored':
      return [
        'BlockStored',
        event.blockHashes.map(hashToWire),
        event.parentBlockHash === null ? null : hashToWire(event.parentBlockHash),
        event.tokenIds,
        event.blockSize,
        null, // lora_id: no adapters here
        event.medium,
        null, // lora_name
        null, // extra_keys: vLLM's per-block hash inputs beyond the tokens (block-hash.ts)
        0, // group_idx
      ];
    case 'BlockRemoved':
      return ['BlockRemoved', event.blockHashes.map(hashToWire), event.medium, 0];
    case 'AllBlocksCleared':
      return ['AllBlocksCleared'];
  }
}

function hashToWire(hash: VllmBlockHash): number | bigint {
  return hash <= 0xffffffffn ? Number(hash) : hash;
}
