/**
 * The simulator's backend: it prices each step with a cost model and lets that much virtual time
 * pass, instead of computing. Sampled tokens are a fixed function of the sequence's position and
 * last token, so runs are reproducible; workloads force segment lengths (ignoreEos), so what the
 * tokens are never changes the schedule.
 *
 * Swaps follow the native rule (./swap-schedule.ts, the copy of cpp/core/swap_schedule.h, which a
 * test pins to the native one): a swap the forward pass must wait for — one touching a block of the
 * step's block tables or copies, or chained with a swap the other way — is paid before the compute;
 * any other runs beside it. A fork's
 * block copy (device to device) is priced as a blocking swap of one block: an over-estimate on a
 * GPU (its memory copies far faster than PCIe), of one block per fork.
 */
import type { BackendModelInfo, BackendStep, BackendStepResult, EngineBackend } from '../engine/backend.js';
import { fmix32 } from '../util/hash.js';
import { computeShape, stepSeconds, type SimulatedModelShape, type StepCostModel } from './cost-model.js';
import { splitSwaps } from './swap-schedule.js';
import type { VirtualClock } from './virtual-clock.js';

/** Sees each step the simulated backend prices, with its price. */
export type StepObserver = (step: BackendStep, result: BackendStepResult) => void;

export class SimulatedBackend implements EngineBackend {
  readonly kind = 'sim' as const;
  readonly info: BackendModelInfo;
  readonly tokenizer = null;
  readonly blockBytes: number;
  readonly swapBytesPerS: number;

  constructor(
    model: SimulatedModelShape,
    private readonly costs: StepCostModel,
    blockSize: number,
    private readonly clock: VirtualClock,
    private readonly onStep?: StepObserver,
  ) {
    this.info = { vocabSize: model.vocabSize, maxPositionEmbeddings: model.maxPositionEmbeddings, eosTokenIds: [], kvBytesPerToken: model.kvBytesPerToken };
    this.blockBytes = model.kvBytesPerToken * blockSize;
    this.swapBytesPerS = costs.swapBytesPerS;
  }

  async step(step: BackendStep): Promise<BackendStepResult> {
    const swaps = splitSwaps(step);
    const overlapped = swaps.background;
    const blocking = swaps.blocking + (step.copy?.length ?? 0);
    const time = stepSeconds(this.costs, this.blockBytes, { ...computeShape(step.sequences), blockingSwapBlocks: blocking, overlappedSwapBlocks: overlapped });
    await this.clock.sleep(time.elapsedS);
    const sampled = step.sequences.map((s) => fmix32((s.tokens[s.tokens.length - 1] ^ Math.imul(s.startPosition + s.tokens.length, 0x9e3779b1)) >>> 0) % this.info.vocabSize);
    const result = { tokens: sampled, ...time, overlappedSwapBlocks: overlapped };
    this.onStep?.(step, result);
    return result;
  }

  dispose(): void {}
}
