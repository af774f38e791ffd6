/** The engine's backend on the native addon: a loaded model and its paged KV cache. */
import type { LoadedModel } from '../model/load.js';
import { buildStepPlan } from '../native/plan.js';
import type { NativeKvCache } from '../native/types.js';
import type { BackendStep, BackendStepResult, EngineBackend } from './backend.js';

/** Host-to-host block copies on the CPU backend: one memcpy stream (a conservative figure). */
const CPU_SWAP_BYTES_PER_S = 10e9;

export class NativeBackend implements EngineBackend {
  readonly kind = 'cpu' as const;
  readonly blockBytes: number;
  readonly swapBytesPerS = CPU_SWAP_BYTES_PER_S;

  constructor(
    readonly model: LoadedModel,
    private readonly cache: NativeKvCache,
  ) {
    this.blockBytes = cache.info().blockBytes;
  }

  get info() {
    return this.model.info;
  }

  get tokenizer() {
    return this.model.tokenizer;
  }

  async step(step: BackendStep): Promise<BackendStepResult> {
    const result = await this.model.native.step(this.cache, buildStepPlan(step));
    const { tokens, elapsedS, blockingSwapS, overlappedSwapS, overlappedSwapBlocks } = result;
    return { tokens, elapsedS, blockingSwapS, overlappedSwapS, overlappedSwapBlocks };
  }

  dispose(): void {
    this.cache.dispose();
    this.model.dispose();
  }
}
