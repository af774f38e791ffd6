/**
 * The whole native surface, declared once. Nothing outside lib/native/ touches the addon; the
 * shapes here match cpp/napi/ exactly. Every rejection and throw is an EngineError.
 */
import type { GgmlTypeName } from '../model/gguf-file.js';

export type WeightDtypeOption = 'auto' | 'f32' | 'f16' | 'bf16' | 'q8';
export type TensorDtype = 'F32' | 'F16' | 'BF16' | 'Q8_0';
/**
 * Element type of the KV cache's pools. 'auto': BF16 when the weights are 16-bit or 8-bit (their
 * own rounding already exceeds BF16's) and on the GPU, F32 when the weights are F32.
 */
export type KvDtypeOption = 'auto' | 'f32' | 'bf16';
export type KvDtype = 'F32' | 'BF16';
/**
 * What the CPU's matrices multiply: 'f32' activations, or 'bf16' — activations rounded to BF16, as
 * llama.cpp and GPU engines multiply a BF16 model (BF16 weights only): on AVX-512 BF16 a batch's
 * matmuls run twice the multiply-adds per instruction and one token's read x as one term, for 8
 * bits of x's mantissa. 'auto' (default): 'bf16' where every matrix is BF16 and the CPU has
 * AVX-512 BF16 in effect (ASTRAEA_SIMD honoured), 'f32' elsewhere — where rounding would cost
 * accuracy for no speed. The model's info says which was chosen.
 */
export type ActivationsOption = 'auto' | 'f32' | 'bf16';

export interface NativeLoadOptions {
  /** Hugging Face model directory (config.json, *.safetensors). */
  dir?: string;
  /** config.json text, used instead of dir/config.json (a dummy load needs nothing else). */
  configJson?: string;
  /** Seeded random weights instead of weight files, at the config's real shapes. */
  dummy?: boolean;
  seed?: number;
  /** Weight dtype in memory: 'auto' keeps the stored dtype (dummy loads: F32). */
  dtype?: WeightDtypeOption;
  /** Default 'auto'; 'bf16' needs BF16 weights (INVALID_ARGUMENT otherwise). */
  activations?: ActivationsOption;
  /** Kernel threads; 0 or absent: one per hardware thread. */
  threads?: number;
  /** A GGUF file to read the weights from (with configJson and ggufTensors; no dir). */
  ggufPath?: string;
  /** The file's tensors the model uses, under their Hugging Face names. */
  ggufTensors?: NativeGgufTensor[];
}

/** One tensor of a GGUF file, as the native loader takes it (see lib/model/gguf-config.ts). */
export interface NativeGgufTensor {
  /** Hugging Face name. */
  name: string;
  /** The ggml type it is stored as (Q8_0 in GGUF's 34-byte blocks; see GGML_TYPES). */
  dtype: GgmlTypeName;
  /** Hugging Face shape, outermost first. */
  shape: number[];
  /** Absolute byte offset in the file. */
  offset: number;
  /** Heads whose rows are in llama.cpp's RoPE order; 0 for other tensors. */
  ropeHeads: number;
}

export interface NativeModelInfo {
  architecture: string;
  modelType: 'llama' | 'mistral' | 'qwen2';
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  slidingWindow: number | null;
  tieWordEmbeddings: boolean;
  eosTokenIds: number[];
  bosTokenId: number | null;
  /** KV cache bytes one token occupies (all layers, K and V) in a cache of the 'auto' dtype. */
  kvBytesPerToken: number;
  /** The dtype createKvCache gives a cache by default ('auto'). */
  kvDtype: KvDtype;
  /** Weight bytes a decode step must stream: every layer matrix plus the LM head. */
  decodeStreamBytes: number;
  weightDtype: TensorDtype;
  /** What the CPU's matrices multiply (ActivationsOption). */
  activations: 'F32' | 'BF16';
  threads: number;
  parameters: number;
}

export interface NativeKvCacheOptions {
  /** Tokens per block; default 16. */
  blockSize?: number;
  deviceBlocks: number;
  /** Blocks in the host swap pool; default 0. */
  hostBlocks?: number;
  /** Element type of both pools; default 'auto' (see KvDtypeOption). */
  dtype?: KvDtypeOption;
}

export interface NativeKvCacheInfo {
  blockSize: number;
  deviceBlocks: number;
  hostBlocks: number;
  blockBytes: number;
  dtype: KvDtype;
}

/**
 * One step. Block operations run first (swapOut, swapIn, copy, each a flat list of
 * (source, destination) block pairs), then the forward pass over the sequences. Every swapOut happens
 * before every swapIn (a block may be swapped out and reused by a swap-in in one step). Swaps the
 * forward pass cannot observe run beside it on a copy thread, with the same result. The arrays are
 * borrowed by the native side: do not modify them until the step's promise settles.
 */
export interface NativeStepPlan {
  swapOut?: Int32Array;
  swapIn?: Int32Array;
  copy?: Int32Array;
  /**
   * Device → host pairs into host blocks this step's swap-ins read (an exchange: a job swapped in
   * leaves its host blocks to the KV moved out to make room for it). Each device block is read
   * before anything of the step writes one; each host block is written after the swap-ins have
   * read it (and after every swapOut). Every host block must be a swap-in's source.
   */
  swapOutToVacated?: Int32Array;
  /** New tokens per sequence; absent or empty for a plan of block operations only. */
  queryLens?: Int32Array;
  /** All new tokens, sequence after sequence. */
  tokens?: Int32Array;
  /** Position of each sequence's first new token. */
  startPositions?: Int32Array;
  /** Sequence s's block table is blockIds[blockTableOffsets[s] .. blockTableOffsets[s + 1]). */
  blockTableOffsets?: Int32Array;
  blockIds?: Int32Array;
  /** 0: greedy. */
  temperature?: Float32Array;
  /** 0: off. */
  topK?: Int32Array;
  /** 1: off. */
  topP?: Float32Array;
  seeds?: Uint32Array;
  /*
   * The optional sampling fields (cpp/core/step_plan.h): an absent array is off for every
   * sequence. The order they apply in is cpp/core/sampler.h's.
   */
  /** In [0, 1]; 0: off. */
  minP?: Float32Array;
  /** In [-2, 2]. */
  presencePenalty?: Float32Array;
  frequencyPenalty?: Float32Array;
  /**
   * What the penalties count: sequence s's generated tokens as (id, count) pairs at
   * penaltyIds / penaltyCounts[penaltyOffsets[s] .. penaltyOffsets[s + 1]), each id once, counts >= 1.
   */
  penaltyOffsets?: Int32Array;
  penaltyIds?: Int32Array;
  penaltyCounts?: Int32Array;
  /**
   * Allowed-token masks: sequence s's bitset is allowedMasks[allowedMaskOffsets[s] ..
   * allowedMaskOffsets[s + 1]), either no words (no mask) or ceil(vocabSize / 32); bit i % 32 of
   * word i >> 5 set: id i may be drawn. It must allow some id below sampleableIds.
   */
  allowedMaskOffsets?: Int32Array;
  allowedMasks?: Uint32Array;
  /** Ids at or past this are never drawn (1 to vocabSize); absent: the whole head. */
  sampleableIds?: number;
  /** 1: return the sampled token's log-probability. */
  logprobs?: Uint8Array;
  /** With logprobs: this many of the most likely ids' too (0 to 20). */
  topLogprobs?: Int32Array;
  /** Logits to return: none (default), each sequence's last token, or every token. */
  logits?: 'none' | 'last' | 'all';
}

export interface NativeStepResult {
  /** One sampled token per sequence; -1 where the sequence's logits were not all finite (nothing drawn). */
  tokens: Int32Array;
  /** logitsRows x vocabSize, when asked for. */
  logits: Float32Array | null;
  logitsRows: number;
  /**
   * When some sequence asked for logprobs (else null and the others absent): the sampled token's
   * log-probability per sequence (NaN where not asked), and sequence s's most likely ids and their
   * log-probabilities at [topLogprobOffsets[s], topLogprobOffsets[s + 1]), most likely first.
   */
  sampledLogprobs: Float32Array | null;
  topLogprobOffsets?: Int32Array;
  topLogprobIds?: Int32Array;
  topLogprobValues?: Float32Array;
  /** Wall time of the native step, everything included. */
  elapsedS: number;
  /**
   * Seconds spent before the forward pass on swaps it had to wait for: swap-outs of blocks in a
   * block table or written by a copy, swap-ins into blocks in a block table or a copy pair, and
   * swap-outs and swap-ins that share a block (cpp/core/swap_schedule.h).
   */
  blockingSwapS: number;
  /**
   * Seconds the copy thread spent on the other swaps, run beside the forward pass (the step waits
   * for them before it returns, so they are inside elapsedS but overlap the compute). 0 when none.
   */
  overlappedSwapS: number;
  /** Block pairs (swap-outs plus swap-ins) that ran on the copy thread beside the forward pass. */
  overlappedSwapBlocks: number;
}

/** What sampleLogits returns: a step result's sampling part. */
export type NativeSampleResult = Pick<NativeStepResult, 'tokens' | 'sampledLogprobs' | 'topLogprobOffsets' | 'topLogprobIds' | 'topLogprobValues'>;

export interface NativeTensorInfo {
  /** The Hugging Face name, e.g. model.layers.0.self_attn.q_proj.weight. */
  name: string;
  dtype: TensorDtype;
  shape: number[];
}

export interface NativeKvCache {
  info(): NativeKvCacheInfo;
  /** A copy of one block's contents, widened to F32, for tests and debugging. */
  readBlock(pool: 'device' | 'host', id: number): Float32Array;
  /** Frees the pools (once no step still uses them). */
  dispose(): void;
}

export interface NativeModel {
  info(): NativeModelInfo;
  createKvCache(options: NativeKvCacheOptions): NativeKvCache;
  step(cache: NativeKvCache, plan: NativeStepPlan): Promise<NativeStepResult>;
  /** Every tensor the model holds (norms and biases as F32). */
  tensors(): NativeTensorInfo[];
  /**
   * A copy of one tensor's bytes, little-endian. A Q8_0 matrix [rows, cols] (dtype 'q8'): its int8
   * quants [rows][cols], then its F16 scales [rows][cols / 32] (one per block of 32 along a row).
   */
  tensorData(name: string): Uint8Array;
  /** Frees the weights (once no step still uses them). Later calls fail with code DISPOSED. */
  dispose(): void;
}

export interface NativeBackendInfo {
  /** Where KV caches and steps run: 'cuda' only in the CUDA build (npm run build:cuda) with a usable GPU. */
  backend: 'cpu' | 'cuda';
  /** The CUDA build only: the GPU in use, or why it runs on the CPU. */
  cuda?: string;
  simd: 'avx512' | 'avx2' | 'scalar';
  /** Whether the CPU multiplies BF16 pairs natively (AVX-512 BF16 in effect): where activations 'auto' is 'bf16'. */
  bf16Dot: boolean;
  hardwareThreads: number;
}

/** Bytes held by live native allocations: they return to their earlier values after dispose(). */
export interface NativeMemoryStats {
  /** KV pools and weights held in anonymous memory (dummy or converted weights). */
  anonymousBytes: number;
  /** Weight files mapped in place. */
  mappedFileBytes: number;
}

export interface NativeAddon {
  setErrorClass(cls: new (code: string, message: string) => Error): void;
  loadModel(options: NativeLoadOptions): Promise<NativeModel>;
  backendInfo(): NativeBackendInfo;
  memoryStats(): NativeMemoryStats;
  /** Best read bandwidth (bytes/s) over `repeats` passes of a `megabytes` buffer: the decode bound. */
  measureReadBandwidth(options?: { megabytes?: number; threads?: number; repeats?: number }): Promise<number>;
  /**
   * The step's sampler (the CPU's, whichever build) on the caller's logits, plan.queryLens.length
   * rows of vocabSize, synchronously: only the plan's sequence count, positions (a row's sampled
   * token is at startPosition + its token count) and sampling fields are read. For tests and tools.
   */
  sampleLogits(logits: Float32Array, vocabSize: number, plan: NativeStepPlan): NativeSampleResult;
}
