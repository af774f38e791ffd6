/**
 * vLLM's block hash in its `sha256_cbor_64bit` form — the one llm-d's KV-cache indexer computes
 * for itself from a prompt's tokens (pkg/kvcache/kvblock/token_processor.go), so the keys this
 * engine publishes are the keys the router looks up:
 *
 *   hash(x)        = the low 64 bits of SHA-256(canonical CBOR of x), i.e. digest bytes 24..31
 *                    read big-endian (vLLM: `int.from_bytes(digest, "big") & (2**64 - 1)`)
 *   NONE_HASH      = hash(seed), the seed a text string: vLLM hashes `PYTHONHASHSEED` (and uses
 *                    random bytes when it is unset — then nobody can agree with it); llm-d's
 *                    `HashSeed`, "" by default
 *   block 0        = hash([NONE_HASH, [t0 … t(B-1)], extra])
 *   block i        = hash([hash of block i-1, [tokens of block i], extra])
 *   extra          = null, or vLLM's extra keys as an array: here only a cache salt, on block 0
 *                    alone (`[salt]`), as vLLM's `generate_block_hash_extra_keys` adds it
 *
 * vLLM's newer default (`sha256_cbor`) chains the full 32-byte digests and cuts to 64 bits only
 * when publishing; a router that hashes prompts itself (llm-d) implements the 64-bit chain
 * above, which is why this is the one published. A salted chain is published as vLLM would hash
 * it, though a router that passes no extra keys (llm-d) will not find it — the point of a salt.
 */
import { createHash } from 'node:crypto';
import { encodeCbor, type CborValue } from './cbor.js';

/** A 64-bit block hash, unsigned. */
export type VllmBlockHash = bigint;

/** The low 64 bits of SHA-256 over the canonical CBOR of `value`. */
export function sha256Cbor64bit(value: CborValue): VllmBlockHash {
  const digest = createHash('sha256').update(encodeCbor(value)).digest();
  return digest.readBigUInt64BE(24);
}

/** The parent hash of every chain's first block, from the hash seed (vLLM's NONE_HASH). */
export function noneHash(seed: string): VllmBlockHash {
  return sha256Cbor64bit(seed);
}

/** vLLM's `hash_block_tokens` with the 64-bit hash: one block's hash from its parent's. */
export function hashBlockTokens(parent: VllmBlockHash, tokens: readonly number[], extraKeys: readonly CborValue[] | null = null): VllmBlockHash {
  return sha256Cbor64bit([parent, tokens, extraKeys]);
}
