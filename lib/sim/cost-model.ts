/**
 * What a step costs on a machine, for the simulator. A step streams the weights once (`fixedS`),
 * computes every token it runs (`tokenS`: a prefill token and a decode token cost the same
 * matrix work), and reads the KV of every sequence's context for attention
 * (`contextTokenS` per token attended). Swaps move `blockBytes` per block at `swapBytesPerS`;
 * those the step's own sequences need are paid before the compute, the rest run beside it.
 *
 * Profiles carry their provenance. The GPU one is derived from public hardware figures; the CPU
 * one was measured on this project's engine (docs/performance.md). `astraea simulate` can fit a
 * profile to the real engine (issue 5); these are the defaults.
 */
import { EngineError } from '../errors.js';

export interface StepCostModel {
  name: string;
  /** Per-step floor: the weights streamed once, launch overheads. */
  fixedS: number;
  /** Per token run (prefill chunk tokens and decode tokens alike). */
  tokenS: number;
  /** Per token of context each sequence attends over (its KV read once per step). */
  contextTokenS: number;
  /** Bytes per second of a block copy between device and host pools. */
  swapBytesPerS: number;
}

/** The model a simulation serves: what the engine needs of its shape. */
export interface SimulatedModelShape {
  name: string;
  vocabSize: number;
  maxPositionEmbeddings: number;
  /** KV cache bytes per token, all layers, K and V. */
  kvBytesPerToken: number;
}

export interface SimulationProfile {
  model: SimulatedModelShape;
  costs: StepCostModel;
  /** Device KV blocks of 16 tokens the machine has room for after the weights. */
  deviceBlocks: number;
  hostBlocks: number;
  maxBatchTokens: number;
  maxBatchSequences: number;
}

/**
 * Llama-3.1-8B (BF16) on one H100 SXM (80 GB HBM3, 3.35 TB/s; ~990 dense BF16 TFLOP/s; PCIe 5).
 * - fixedS 6.5 ms: 16 GB of weights at 3.35 TB/s is 4.8 ms; at the ~75% of peak bandwidth decode
 *   kernels reach, plus launch overhead, ≈ 6.5 ms (vLLM reports ~7 ms batch-1 ITL for 8B on H100).
 * - tokenS 27 µs: 2 × 8e9 FLOP per token at ~600 TFLOP/s achieved.
 * - contextTokenS 0.05 µs: 128 KiB of BF16 KV per token (32 layers × 8 KV heads × 128 × 2 × 2 B)
 *   at ~2.6 TB/s.
 * - swap 25 GB/s: pinned-memory copies over PCIe (half of PCIe 5 x16's 64 GB/s theoretical).
 * - KV pool: 80 GB × 0.9 − 16 GB weights − ~4 GB activations ≈ 52 GB → 400k tokens → 25,000
 *   blocks; host pool the same size (CPU DRAM is plentiful).
 * - batch limits: vLLM's defaults for chunked prefill (8192 tokens, 256 sequences).
 */
export const H100_LLAMA3_8B: SimulationProfile = {
  model: { name: 'llama-3.1-8b', vocabSize: 128256, maxPositionEmbeddings: 131072, kvBytesPerToken: 131072 },
  costs: { name: 'h100-llama3-8b', fixedS: 6.5e-3, tokenS: 27e-6, contextTokenS: 0.05e-6, swapBytesPerS: 25e9 },
  deviceBlocks: 25000,
  hostBlocks: 25000,
  maxBatchTokens: 8192,
  maxBatchSequences: 256,
};

/**
 * The `small` preset (100M parameters, BF16 weights, F32 KV) on this project's 2-core CPU VM,
 * from docs/performance.md: batch-1 decode 7.3 ms per step, batch-32 38.9 ms (≈ 1.0 ms per extra
 * token), prefill ≈ 0.77 ms per token; KV 24 KiB per token (12 layers × 4 KV heads × 64 × 2 × 4 B).
 * Swaps are memcpy at ~10 GB/s.
 */
export const CPU_SMALL: SimulationProfile = {
  model: { name: 'small', vocabSize: 32000, maxPositionEmbeddings: 4096, kvBytesPerToken: 24576 },
  costs: { name: 'cpu-small', fixedS: 6.3e-3, tokenS: 0.8e-3, contextTokenS: 0.02e-6, swapBytesPerS: 10e9 },
  deviceBlocks: 1024,
  hostBlocks: 1024,
  maxBatchTokens: 512,
  maxBatchSequences: 64,
};

export const SIMULATION_PROFILES: Readonly<Record<string, SimulationProfile>> = {
  'h100-llama3-8b': H100_LLAMA3_8B,
  'cpu-small': CPU_SMALL,
};

export function simulationProfile(name: string): SimulationProfile {
  const profile = Object.hasOwn(SIMULATION_PROFILES, name) ? SIMULATION_PROFILES[name] : undefined;
  if (!profile) {
    throw new EngineError('INVALID_ARGUMENT', `unknown simulation profile "${name}" (available: ${Object.keys(SIMULATION_PROFILES).join(', ')})`);
  }
  return profile;
}

export interface StepShape {
  /** Tokens the step runs (prefill chunks and decode tokens). */
  tokens: number;
  /** Sum over sequences of the context each attends over (start position + tokens run). */
  contextTokens: number;
  blockingSwapBlocks: number;
  overlappedSwapBlocks: number;
}

/** Seconds of one step: blocking swaps, then the compute with the other swaps beside it. */
export function stepSeconds(costs: StepCostModel, blockBytes: number, shape: StepShape) {
  const swapS = (blocks: number) => (blocks * blockBytes) / costs.swapBytesPerS;
  const blockingSwapS = swapS(shape.blockingSwapBlocks);
  const overlappedSwapS = swapS(shape.overlappedSwapBlocks);
  const computeS = shape.tokens > 0 ? costs.fixedS + shape.tokens * costs.tokenS + shape.contextTokens * costs.contextTokenS : 0;
  return { elapsedS: blockingSwapS + Math.max(computeS, overlappedSwapS), blockingSwapS, overlappedSwapS };
}
