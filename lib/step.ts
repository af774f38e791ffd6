/**
 * The vocabulary of one engine step, shared by every layer that plans, prices or runs one — the
 * block manager, the step planner, the simulator and the native plan builder. It imports nothing,
 * so no layer is typed by another's internals.
 */

/**
 * How a sequence's next token is drawn. The native sampler applies, in this order (vLLM v1's):
 * the mask (ids past the step's `sampleableIds` and outside the sequence's `allowedTokens` are
 * never drawn), the penalties, then greedy (temperature 0 or topK 1) or a softmax at the
 * temperature cut by minP, topK and topP (cpp/core/sampler.h; docs/architecture.md, "Sampling").
 */
export interface SamplingOptions {
  /** 0 (default): greedy. */
  temperature?: number;
  /** 0 (default): no top-k cut. */
  topK?: number;
  /** 1 (default): no nucleus cut. */
  topP?: number;
  /** 0 (default): no cut. Else keeps the ids whose probability (after temperature) is >= minP × the top id's. In [0, 1]. */
  minP?: number;
  /** OpenAI's: subtracted once from the logit of every id this segment has generated. In [-2, 2], default 0. */
  presencePenalty?: number;
  /** OpenAI's: subtracted from an id's logit once per time this segment generated it. In [-2, 2], default 0. */
  frequencyPenalty?: number;
  seed?: number;
  /**
   * Return each sampled token's log-probability, over the ids the sequence may draw and before
   * penalties, temperature and cuts (cpp/core/logprobs.h).
   */
  logprobs?: boolean;
  /** With logprobs: also this many of the most likely ids' (0 to 20, default 0). */
  topLogprobs?: number;
}

/** The log-probability of one id (SamplingOptions.logprobs). */
export interface TokenLogprob {
  id: number;
  logprob: number;
}

/** What a sequence that asked for logprobs gets with its sampled token. */
export interface SampledLogprobs {
  /** The sampled token's log-probability. */
  logprob: number;
  /** The most likely ids, most likely first (lowest id among equals): topLogprobs of them. */
  top: TokenLogprob[];
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
  /** The tokens this segment has generated so far: what the presence and frequency penalties count. */
  outputTokens?: readonly number[];
  /**
   * Only these ids may be drawn (constrained decoding's hook): a bitset over the model's
   * vocabulary, ceil(vocabSize / 32) words, id i allowed when bit i % 32 of word i >> 5 is set.
   * Absent: every id below the step's sampleableIds.
   */
  allowedTokens?: Uint32Array;
}

/**
 * A block copy: (source, destination). Swap-outs are (device, host), swap-ins (host, device),
 * copies (device, device).
 */
export type BlockPair = readonly [source: number, destination: number];
