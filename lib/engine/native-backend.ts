/**
 * The engine's backend on the native addon: a loaded model and its paged KV cache. It reports
 * what it runs on (`kind`, from the addon's backendInfo: the CPU build, or the CUDA build on a
 * GPU) and the swap bandwidth it measured once when it opened, so summaries and the KV policies'
 * swap costs tell the truth on every backend instead of assuming one.
 */
import type { LoadedModel } from '../model/load.js';
import { median } from '../util/median.js';
import { native } from '../native/index.js';
import { buildStepPlan, stepLogprobs } from '../native/plan.js';
import type { NativeBackendInfo, NativeKvCache, NativeKvCacheOptions } from '../native/types.js';
import type { BackendStep, BackendStepResult, EngineBackend } from './backend.js';

/** Blocks moved per direction by the start-up probe (fewer when a pool is smaller). */
const SWAP_PROBE_BLOCKS = 64;
const SWAP_PROBE_ROUNDS = 5;

/**
 * The swap rate reported when the cache has no host pool, so no swap can ever happen: a
 * device↔host copy on a PCIe 4 x16 link. It never prices a swap that runs.
 */
const NO_HOST_POOL_SWAP_BYTES_PER_S = 25e9;

export class NativeBackend implements EngineBackend {
  readonly blockBytes: number;
  /** The model's info, with the KV figures of this backend's cache (its dtype may not be the model's default). */
  readonly info: LoadedModel['info'];
  /** null, or a mask of the ids the tokenizer can spell when some id below its size has no token. */
  private readonly spellable: Uint32Array | null;

  private constructor(
    readonly model: LoadedModel,
    private readonly cache: NativeKvCache,
    readonly kind: NativeBackendInfo['backend'],
    /** Device↔host block copies, bytes per second, one direction, as measured at start-up. */
    readonly swapBytesPerS: number,
  ) {
    const { blockBytes, blockSize, dtype } = cache.info();
    this.blockBytes = blockBytes;
    this.info = { ...model.info, kvBytesPerToken: blockBytes / blockSize, kvDtype: dtype };
    this.spellable = spellableMask(model);
  }

  /**
   * Creates the KV cache on the model and measures the swap bandwidth on it (a few
   * milliseconds: 64 blocks out and back in, five times, on pools that hold nothing yet). On
   * failure the cache is freed; the model stays the caller's.
   */
  static async open(model: LoadedModel, cacheOptions: NativeKvCacheOptions, kind: NativeBackendInfo['backend'] = native().backendInfo().backend): Promise<NativeBackend> {
    const cache = model.native.createKvCache(cacheOptions);
    try {
      const { deviceBlocks, hostBlocks, blockBytes } = cache.info();
      const probeBlocks = Math.min(SWAP_PROBE_BLOCKS, deviceBlocks, hostBlocks);
      const swapBytesPerS =
        probeBlocks > 0 ? await measureSwapBytesPerS((plan) => model.native.step(cache, buildStepPlan(plan)), probeBlocks, blockBytes) : NO_HOST_POOL_SWAP_BYTES_PER_S;
      return new NativeBackend(model, cache, kind, swapBytesPerS);
    } catch (error) {
      cache.dispose();
      throw error;
    }
  }

  get tokenizer() {
    return this.model.tokenizer;
  }

  async step(step: BackendStep): Promise<BackendStepResult> {
    const sampleableIds = this.sampleableIds;
    const spellable = this.spellable;
    // A vocabulary with gaps: every row samples only ids the tokenizer can spell (a constraint's
    // mask already leaves the gaps out: it is built from the spellings).
    const sequences = spellable ? step.sequences.map((s) => (s.allowedTokens ? s : { ...s, allowedTokens: spellable })) : step.sequences;
    const plan = buildStepPlan({ ...step, sequences, ...(sampleableIds === null ? {} : { sampleableIds }) });
    const result = await this.model.native.step(this.cache, plan);
    const { tokens, elapsedS, blockingSwapS, overlappedSwapS, overlappedSwapBlocks } = result;
    const logprobs = result.sampledLogprobs ? stepLogprobs(result, step.sequences.length) : undefined;
    return { tokens, elapsedS, blockingSwapS, overlappedSwapS, overlappedSwapBlocks, ...(logprobs ? { logprobs } : {}) };
  }

  /**
   * Checkpoints may declare more output rows than their tokenizer has ids: Qwen's configs say
   * vocab_size 151,936 for a tokenizer of 151,669 (the head is padded to a multiple the GPU
   * likes). The rows past the tokenizer are untrained, or random under a dummy load, and no text
   * exists for them: the native sampler never draws them when the plan says where the tokenizer
   * ends (exactly, before any top_k / top_p / min_p cut). null: nothing to mask.
   */
  private get sampleableIds(): number | null {
    const tokenizerIds = this.model.tokenizer?.vocabSize;
    return tokenizerIds !== undefined && tokenizerIds < this.model.info.vocabSize ? tokenizerIds : null;
  }

  dispose(): void {
    this.cache.dispose();
    this.model.dispose();
  }
}

/** The ids below the tokenizer's size that have a token, as a step mask; null when that is all of them. */
function spellableMask(model: LoadedModel): Uint32Array | null {
  const tokenizer = model.tokenizer;
  const gaps = tokenizer?.unspellableIds() ?? [];
  if (!tokenizer || gaps.length === 0) return null;
  const mask = new Uint32Array(Math.ceil(model.info.vocabSize / 32));
  for (let id = 0; id < tokenizer.vocabSize; id++) mask[id >>> 5] |= 1 << (id & 31);
  for (const id of gaps) mask[id >>> 5] &= ~(1 << (id & 31));
  return mask;
}

/**
 * Bytes per second of block copies between the pools, one direction: `blocks` blocks out and the
 * same blocks back in, timed by the native step; the median of the rounds' rates.
 */
export async function measureSwapBytesPerS(
  step: (plan: BackendStep) => Promise<{ elapsedS: number }>,
  blocks: number,
  blockBytes: number,
  rounds = SWAP_PROBE_ROUNDS,
): Promise<number> {
  const pairs: [number, number][] = Array.from({ length: blocks }, (_, i) => [i, i]);
  const rates: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const out = await step({ sequences: [], swapOut: pairs, swapIn: [] });
    const back = await step({ sequences: [], swapOut: [], swapIn: pairs });
    const seconds = out.elapsedS + back.elapsedS;
    if (seconds > 0) rates.push((2 * blocks * blockBytes) / seconds);
  }
  // Too fast for the step's clock in every round: any large finite rate prices such copies near zero.
  return rates.length > 0 ? median(rates) : NO_HOST_POOL_SWAP_BYTES_PER_S;
}
