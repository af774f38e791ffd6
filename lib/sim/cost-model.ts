/**
 * What a step costs on a machine, for the simulator. A step streams the weights once (`fixedS`),
 * computes every token it runs (`tokenS`: a prefill token and a decode token cost the same
 * matrix work), reads the KV of every sequence's context for attention (`contextTokenS` per
 * context token, once per sequence), and computes attention for every pair of a token it runs
 * and a position that token attends to (`attentionPairS`): one pair per context token for a
 * decode token, but tokens × (start + tokens/2) for a prefill chunk, which is what makes long
 * prompts cost more than their length; and pays per sequence for its row of logits (the LM head
 * runs on each sequence's last token only) and its sampling (`sequenceS`). Swaps move `blockBytes` per block at `swapBytesPerS`;
 * those the step's own sequences need are paid before the compute, the rest run beside it.
 *
 * Profiles carry their provenance. The GPU one is derived from public hardware figures; the CPU
 * one was fitted to this project's engine by `astraea calibrate` (lib/sim/calibrate.ts), which
 * writes a profile file for any machine.
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
  /** Per (token run, position it attends to) pair: attention's compute. Default 0. */
  attentionPairS?: number;
  /** Per sequence in the step: its logits row and sampling. Default 0. */
  sequenceS?: number;
  /**
   * How the weights and the token work combine. false (default): fixedS + tokens·tokenS, each
   * paid in turn. true (roofline): max(fixedS, tokens·tokenS) — a small batch is bound by
   * streaming the weights, a large one by the arithmetic, and the two overlap (what a CPU's
   * matrix-vector to matrix-matrix transition looks like).
   */
  roofline?: boolean;
  /** Per step, whatever the batch: the control plane's planning and bookkeeping. Default 0. */
  stepOverheadS?: number;
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
 * - attentionPairS 1 ns: QKᵀ and PV are 4 × 32 layers × 32 heads × 128 = 524,288 FLOP per pair,
 *   at ~500 TFLOP/s (FlashAttention-3 reports 600–740 TFLOP/s BF16 forward on H100).
 * - swap 25 GB/s: pinned-memory copies over PCIe (half of PCIe 5 x16's 64 GB/s theoretical).
 * - KV pool: 80 GB × 0.9 − 16 GB weights − ~4 GB activations ≈ 52 GB → 400k tokens → 25,000
 *   blocks; host pool the same size (CPU DRAM is plentiful).
 * - batch limits: vLLM's defaults for chunked prefill (8192 tokens, 256 sequences).
 */
export const H100_LLAMA3_8B: SimulationProfile = {
  model: { name: 'llama-3.1-8b', vocabSize: 128256, maxPositionEmbeddings: 131072, kvBytesPerToken: 131072 },
  costs: { name: 'h100-llama3-8b', fixedS: 6.5e-3, tokenS: 27e-6, contextTokenS: 0.05e-6, attentionPairS: 1e-9, swapBytesPerS: 25e9 },
  deviceBlocks: 25000,
  hostBlocks: 25000,
  maxBatchTokens: 8192,
  maxBatchSequences: 256,
};

/**
 * The `small` preset (100M parameters, BF16 weights, the BF16 KV cache and — where the CPU has
 * AVX-512 BF16, as this VM does — the BF16 activations and 64-row weight panels the engine gives
 * them by default) on this project's 2-core CPU VM, as `astraea calibrate` measured it on
 * 2026-12-07 after the weights went into panels (`node bin/astraea.js calibrate --seed 100 --name
 * cpu-small --kv-blocks 256`, the machine otherwise idle;
 * docs/results/issue-23/calibration/cpu-small-panels.json; docs/simulator.md): 3.97 ms per step +
 * 0.274 ms per token + 0.580 µs per context token + 0.166 µs per attention pair + 0.062 ms per
 * sequence, plus 0.98 ms of control plane per step (the mean over the calibration's replays);
 * block copies at 17.3 GB/s (the VM's bandwidth is bimodal: earlier calibrations read 18.7 and
 * 29.2). KV: 12 KiB per token. The pool and batch limits are the calibration's (256 blocks of 16
 * tokens, 512 tokens and 64 sequences per step).
 */
export const CPU_SMALL: SimulationProfile = {
  model: { name: 'small', vocabSize: 32000, maxPositionEmbeddings: 4096, kvBytesPerToken: 12288 },
  costs: {
    name: 'cpu-small',
    fixedS: 3.97e-3,
    tokenS: 0.274e-3,
    contextTokenS: 0.580e-6,
    attentionPairS: 0.166e-6,
    sequenceS: 0.062e-3,
    stepOverheadS: 0.98e-3,
    swapBytesPerS: 17.3e9,
  },
  deviceBlocks: 256,
  hostBlocks: 256,
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
  /** Sum over the tokens run of the positions each attends to (see attentionPairs()). Default 0. */
  attentionPairs?: number;
  /** Sequences in the step. Default 0. */
  sequences?: number;
  blockingSwapBlocks: number;
  overlappedSwapBlocks: number;
}

/**
 * Query–key pairs of a sequence running `tokens` tokens from `startPosition`: token i (0-based)
 * attends to startPosition + i + 1 positions, so tokens·start + tokens·(tokens + 1)/2.
 */
export function attentionPairs(startPosition: number, tokens: number): number {
  return tokens * startPosition + (tokens * (tokens + 1)) / 2;
}

/** The compute shape of a step's sequences: what the cost model prices. */
export function computeShape(sequences: readonly { tokens: ArrayLike<number>; startPosition: number }[]) {
  let tokens = 0;
  let contextTokens = 0;
  let pairs = 0;
  for (const s of sequences) {
    tokens += s.tokens.length;
    contextTokens += s.startPosition + s.tokens.length;
    pairs += attentionPairs(s.startPosition, s.tokens.length);
  }
  return { tokens, contextTokens, attentionPairs: pairs, sequences: sequences.length };
}

/** Seconds of one step: blocking swaps, then the compute with the other swaps beside it. */
export function stepSeconds(costs: StepCostModel, blockBytes: number, shape: StepShape) {
  const swapS = (blocks: number) => (blocks * blockBytes) / costs.swapBytesPerS;
  const blockingSwapS = swapS(shape.blockingSwapBlocks);
  const overlappedSwapS = swapS(shape.overlappedSwapBlocks);
  const perSequenceS = (shape.attentionPairs ?? 0) * (costs.attentionPairS ?? 0) + (shape.sequences ?? 0) * (costs.sequenceS ?? 0);
  const matrixS = costs.roofline ? Math.max(costs.fixedS, shape.tokens * costs.tokenS) : costs.fixedS + shape.tokens * costs.tokenS;
  const computeS = shape.tokens > 0 ? (costs.stepOverheadS ?? 0) + matrixS + shape.contextTokens * costs.contextTokenS + perSequenceS : 0;
  return { elapsedS: blockingSwapS + Math.max(computeS, overlappedSwapS), blockingSwapS, overlappedSwapS };
}
