/**
 * The vocabulary of one engine step, shared by every layer that plans, prices or runs one — the
 * block manager, the step planner, the simulator and the native plan builder. It imports nothing,
 * so no layer is typed by another's internals.
 */

export interface SamplingOptions {
  /** 0 (default): greedy. */
  temperature?: number;
  /** 0 (default): no top-k cut. */
  topK?: number;
  /** 1 (default): no nucleus cut. */
  topP?: number;
  seed?: number;
}

/** One sequence's part of a step. */
export interface PlannedSequence {
  /** The new tokens: a prefill chunk, or one decode token. */
  tokens: readonly number[];
  /** Position of the first new token (tokens before it are already in the cache). */
  startPosition: number;
  /** Device block ids holding positions 0, blockSize, 2*blockSize, ... */
  blocks: readonly number[];
  sampling?: SamplingOptions;
}

/**
 * A block copy: (source, destination). Swap-outs are (device, host), swap-ins (host, device),
 * copies (device, device).
 */
export type BlockPair = readonly [source: number, destination: number];
