/**
 * The router's own guess at which prefixes each replica holds, as the Gateway API Inference
 * Extension's approximate prefix-cache scorer keeps it (kubernetes-sigs/gateway-api-inference-extension,
 * pkg/epp/.../plugins/prefix: DefaultBlockSizeTokens 16, DefaultMaxPrefixBlocks 256,
 * DefaultLRUCapacityPerServer 31,250). The router never asks a replica what it caches: it
 * remembers the leading blocks of every prompt it sent there, per replica, in an LRU of bounded
 * size, and scores a replica by how many of a new prompt's leading blocks it remembers there.
 *
 * Only the first `maxBlocks` blocks are hashed: two prompts that agree on their first
 * maxBlocks × blockTokens tokens (4,096 by default) look the same to the scorer. On `coding`,
 * whose 17,000-token agent prompt every request shares, the default therefore sees no job's own
 * history at all (docs/scale-out.md).
 */
import { fmix32 } from '../util/hash.js';

export interface PrefixIndexOptions {
  /** Tokens per hashed block (default 16, vLLM's block). */
  blockTokens?: number;
  /** Leading blocks hashed per prompt (default 256). */
  maxBlocks?: number;
  /** Block hashes remembered per replica, least recently used dropped first (default 31,250). */
  capacityPerReplica?: number;
}

export const PREFIX_DEFAULTS = { blockTokens: 16, maxBlocks: 256, capacityPerReplica: 31_250 } as const;

export class PrefixIndex {
  readonly blockTokens: number;
  readonly maxBlocks: number;
  readonly capacityPerReplica: number;
  /** Per replica: block hash → present; a Map's insertion order is its recency. */
  private readonly lru: Map<string, true>[];

  constructor(replicas: number, options: PrefixIndexOptions = {}) {
    this.blockTokens = options.blockTokens ?? PREFIX_DEFAULTS.blockTokens;
    this.maxBlocks = options.maxBlocks ?? PREFIX_DEFAULTS.maxBlocks;
    this.capacityPerReplica = options.capacityPerReplica ?? PREFIX_DEFAULTS.capacityPerReplica;
    this.lru = Array.from({ length: replicas }, () => new Map());
  }

  /**
   * Chained hashes of the prompt's full leading blocks (a block's key depends on every token
   * before it, as vLLM's and the scorer's do), at most maxBlocks of them.
   */
  blockHashes(tokens: readonly number[]): string[] {
    const blocks = Math.min(this.maxBlocks, Math.floor(tokens.length / this.blockTokens));
    const hashes: string[] = [];
    let a = 0x9747b28c;
    let b = 0x2545f491;
    for (let k = 0; k < blocks; k++) {
      for (let i = k * this.blockTokens; i < (k + 1) * this.blockTokens; i++) {
        a = fmix32((a ^ tokens[i]) + 0x9e3779b9);
        b = fmix32(Math.imul(b ^ tokens[i], 0x85ebca6b) + 0x27d4eb2f);
      }
      hashes.push(`${a.toString(36)}.${b.toString(36)}`);
    }
    return hashes;
  }

  /** Leading blocks of `hashes` the replica is remembered to hold. */
  matchedBlocks(replica: number, hashes: readonly string[]): number {
    const lru = this.lru[replica];
    let n = 0;
    while (n < hashes.length && lru.has(hashes[n])) n++;
    return n;
  }

  /** The scorer's value: matched leading blocks over the prompt's blocks (0 for a prompt shorter than a block). */
  score(replica: number, hashes: readonly string[]): number {
    return hashes.length === 0 ? 0 : this.matchedBlocks(replica, hashes) / hashes.length;
  }

  /** The prompt was sent to `replica`: remember (or refresh) its blocks there. */
  record(replica: number, hashes: readonly string[]): void {
    const lru = this.lru[replica];
    for (const h of hashes) {
      lru.delete(h);
      lru.set(h, true);
    }
    while (lru.size > this.capacityPerReplica) lru.delete(lru.keys().next().value!);
  }
}
