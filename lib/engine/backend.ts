/**
 * What the engine needs from whatever runs its steps: the model's shape, its tokenizer, and a
 * step that takes the planned sequences and block copies and returns one sampled token per
 * sequence. The native addon is one backend (./native-backend.ts); the simulator (lib/sim) is
 * another, which prices each step with a cost model on a virtual clock. The step loop, the
 * scheduler and the block manager are the same code for both.
 */
import type { Tokenizer } from '../model/tokenizer.js';
import type { BlockPair, PlannedSequence, SampledLogprobs } from '../step.js';

export interface BackendModelInfo {
  vocabSize: number;
  maxPositionEmbeddings: number;
  eosTokenIds: number[];
  /** KV cache bytes one token occupies (all layers, K and V). */
  kvBytesPerToken: number;
}

export interface BackendStep {
  sequences: PlannedSequence[];
  /** Device → host copies, then host → device copies (the native plan's order). */
  swapOut: BlockPair[];
  swapIn: BlockPair[];
  /** Device → device block copies (a fork's partial block), after the swaps, before the compute. */
  copy?: BlockPair[];
  /** Device → host into host blocks `swapIn` reads, written after it has (NativeStepPlan.swapOutToVacated). */
  swapOutToVacated?: BlockPair[];
}

/**
 * The token a step gives a sequence whose logits were not all finite (NaN or infinite: broken
 * weights, or an overflow): nothing was drawn, and the engine fails that sequence alone
 * (EngineError NON_FINITE_LOGITS). The native backends' kNonFiniteLogits (cpp/core/sampler.h).
 */
export const NON_FINITE_LOGITS = -1;

export interface BackendStepResult {
  /** One sampled token per sequence (NON_FINITE_LOGITS where nothing could be drawn). */
  tokens: ArrayLike<number>;
  /** When some sequence asked (SamplingOptions.logprobs): per sequence, its token's logprobs, or null where not asked. */
  logprobs?: (SampledLogprobs | null)[];
  /** Wall time of the step (virtual time for the simulator). */
  elapsedS: number;
  /** Time the step waited on swaps before computing (swaps its own sequences needed). */
  blockingSwapS: number;
  /** Time of the swaps that ran alongside the compute, and how many blocks they moved. */
  overlappedSwapS: number;
  overlappedSwapBlocks: number;
}

export interface EngineBackend {
  /** Where steps run: the native addon's 'cpu' or 'cuda' backend, or 'sim' for the simulator. */
  readonly kind: 'cpu' | 'cuda' | 'sim';
  readonly info: BackendModelInfo;
  /** null: the model has no tokenizer (token jobs only). */
  readonly tokenizer: Tokenizer | null;
  /** Bytes of one KV block (all layers, K and V). */
  readonly blockBytes: number;
  /** Bytes per second of a block copy between the pools, one direction (the KV policies' swap costs; measured on the native backend). */
  readonly swapBytesPerS: number;
  step(step: BackendStep): Promise<BackendStepResult>;
  /** Frees what the backend holds; called once, when no step is in flight. */
  dispose(): void;
}
