/**
 * `astraea calibrate`: measures the real engine and fits the simulator's cost model to it
 * (lib/sim/cost-model.ts). The engine runs probe batches — b jobs with P-token prompts decoding
 * D tokens each, over a grid of b and P — through its normal step loop, on a backend wrapper
 * that records every step's shape and time. Then:
 * Optionally workloads are replayed after the probes and their steps join the fit (isolated
 * probes run faster than the same batches amid arrivals, tool returns and timers): the CLI
 * replays the bench's workload and a long-context one, whose totals set the level of the weight
 * and the attention terms apart (fit-costs.ts). Then:
 * - compute: fit-costs.ts (relative least squares; the sum or the roofline form, whichever fits);
 * - control plane: the mean time per step the engine's loop spends outside the backend during
 *   the replays (planning, bookkeeping, promise hops), charged per step (stepOverheadS),
 *   because a simulated step must cost what a real one costs between two steps;
 * - swaps: block copies device → host and back, timed on the backend alone.
 * The result is a profile file `astraea simulate --profile FILE` reads.
 */
import { cpus } from 'node:os';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BackendStep, BackendStepResult, EngineBackend } from '../engine/backend.js';
import { Engine } from '../engine/engine.js';
import { NativeBackend } from '../engine/native-backend.js';
import { loadModel, type LoadModelOptions } from '../model/load.js';
import type { KvDtypeOption } from '../native/types.js';
import { runWorkload, wallTimers } from '../workload/replay.js';
import type { WorkloadJob } from '../workload/format.js';
import { mulberry32 } from '../workload/random.js';
import { computeShape } from './cost-model.js';
import { fitStepCosts, type MeasuredStep } from './fit-costs.js';
import type { ProfileFile } from './profile-file.js';
import { median } from '../util/median.js';
import { stepOverheadS } from '../engine/engine-accounts.js';
import type { EngineStats } from '../engine/types.js';

export interface StepSample extends MeasuredStep {
  /** Wall time from the previous step's end to this one's start; null for a phase's first step. */
  gapS: number | null;
}

/** A replayed workload, built once the model is loaded (a long-context one fits its positions). */
export type WorkloadReplay = (model: { maxPositionEmbeddings: number }) => readonly WorkloadJob[];

export interface CalibrateOptions {
  model: LoadModelOptions;
  /** The KV cache's element type (default 'auto'). */
  kvDtype?: KvDtypeOption;
  /** The name the profile carries (e.g. 'cpu-small'). */
  name: string;
  kvBlocks: number;
  hostBlocks?: number;
  maxBatchTokens?: number;
  maxBatchSequences?: number;
  /** Probe grid (defaults sized for a 2-core CPU and the small preset: about a minute). */
  probes?: { batch: number; promptTokens: number; decodeTokens: number }[];
  onProbe?: (done: number, total: number) => void;
  /**
   * Workloads replayed one after another (policy fcfs, real timers) after the probes, their
   * steps fitted with theirs: steps measured while jobs arrive, tools return and the control
   * plane works between steps cost what a serving engine's steps cost, which isolated probes
   * alone underestimate. Each replay's total is matched (two or more: the weight and attention
   * terms' levels apart).
   */
  workloads?: readonly WorkloadReplay[];
  onWorkloadJob?: (done: number, total: number, replay: number) => void;
}

/**
 * Decode at every batch size dominates, as it dominates an agent workload's steps; a few long
 * prompts pin down the attention and prefill terms.
 */
export const DEFAULT_PROBES = [
  ...[1, 2, 4, 8, 16, 32, 64].map((batch) => ({ batch, promptTokens: 48, decodeTokens: 32 })),
  ...[1, 4, 16].map((batch) => ({ batch, promptTokens: 480, decodeTokens: 16 })),
  ...[1, 4].map((batch) => ({ batch, promptTokens: 1900, decodeTokens: 8 })),
  // Up to the small preset's 4,096 positions: prefill attention grows with the square of the
  // context and each decode step reads the whole context, so long contexts (coding agents) need
  // their own points or the fit extrapolates those two terms.
  ...[1, 2].map((batch) => ({ batch, promptTokens: 3800, decodeTokens: 16 })),
];

/** Records each step the engine runs; everything else is the wrapped backend's. */
export class RecordingBackend implements EngineBackend {
  readonly samples: StepSample[] = [];
  private lastEnd: number | null = null;
  constructor(private readonly inner: EngineBackend) {}
  get kind() { return this.inner.kind; }
  get info() { return this.inner.info; }
  get tokenizer() { return this.inner.tokenizer; }
  get blockBytes() { return this.inner.blockBytes; }
  get swapBytesPerS() { return this.inner.swapBytesPerS; }

  /** The next step starts a phase: its gap includes idle time, not control-plane work. */
  phaseStart(): void {
    this.lastEnd = null;
  }

  async step(step: BackendStep): Promise<BackendStepResult> {
    const start = performance.now() / 1000;
    const result = await this.inner.step(step);
    const shape = computeShape(step.sequences);
    if (shape.tokens > 0) {
      this.samples.push({ ...shape, computeS: result.elapsedS - result.blockingSwapS, gapS: this.lastEnd === null ? null : start - this.lastEnd });
    }
    this.lastEnd = performance.now() / 1000;
    return result;
  }

  dispose(): void {
    this.inner.dispose();
  }
}

/** Steps and loop times between two snapshots of the engine's books. */
function difference(after: EngineStats, before: EngineStats): Pick<EngineStats, 'steps' | 'time'> {
  return { steps: after.steps - before.steps, time: { loopS: after.time.loopS - before.time.loopS, nativeS: after.time.nativeS - before.time.nativeS } };
}

export interface Calibration {
  profile: ProfileFile;
  samples: StepSample[];
}

export async function calibrate(options: CalibrateOptions): Promise<Calibration> {
  const blockSize = 16;
  const hostBlocks = options.hostBlocks ?? options.kvBlocks;
  const maxBatchTokens = options.maxBatchTokens ?? 512;
  const maxBatchSequences = options.maxBatchSequences ?? 64;
  const model = await loadModel(options.model);
  let native: NativeBackend;
  try {
    native = await NativeBackend.open(model, { blockSize, deviceBlocks: options.kvBlocks, hostBlocks, dtype: options.kvDtype ?? 'auto' });
  } catch (error) {
    model.dispose();
    throw error;
  }
  const info = native.info;
  // Only the probes the model's positions and the pool can hold (the tiny preset has 2,048).
  const fits = (p: { batch: number; promptTokens: number; decodeTokens: number }) =>
    p.promptTokens + p.decodeTokens <= info.maxPositionEmbeddings && p.batch * Math.ceil((p.promptTokens + p.decodeTokens) / blockSize) <= options.kvBlocks;
  const probes = (options.probes ?? DEFAULT_PROBES).filter(fits);
  const modelName = basename(options.model.model);
  const swapBytesPerS = native.swapBytesPerS;
  const recorder = new RecordingBackend(native);
  const engine = Engine.withBackend(recorder, { policy: 'fcfs', kvBlocks: options.kvBlocks, hostBlocks, blockSize, maxBatchTokens, maxBatchSequences, prefixCaching: false });
  const rng = mulberry32(7);
  /** Each replay's [first, end) indices in the samples. */
  const replays: [number, number][] = [];
  /** The engine's books before and after the replays (their control-plane time per step). */
  let booksBefore: EngineStats | null = null;
  let booksAfter: EngineStats | null = null;
  try {
    // Warm up (first-touch page faults, thread start-up, JIT) on a probe that is not recorded.
    const runProbe = async (probe: { batch: number; promptTokens: number; decodeTokens: number }) => {
      recorder.phaseStart();
      const jobs = Array.from({ length: probe.batch }, () => engine.createJob({ kind: 'calibrate' }));
      const runs = jobs.map(
        (job) =>
          job.generate({
            tokens: Array.from({ length: probe.promptTokens }, () => Math.floor(rng() * info.vocabSize)),
            maxTokens: probe.decodeTokens,
            ignoreEos: true,
          }).done,
      );
      await Promise.all(runs);
      for (const job of jobs) job.close();
    };
    await runProbe({ batch: 4, promptTokens: 64, decodeTokens: 8 });
    recorder.samples.length = 0;
    for (let p = 0; p < probes.length; p++) {
      const probe = probes[p];
      await runProbe(probe);
      options.onProbe?.(p + 1, probes.length);
    }
    booksBefore = engine.stats();
    for (const [index, replay] of (options.workloads ?? []).entries()) {
      const workload = replay(info);
      if (workload.length === 0) continue;
      const from = recorder.samples.length;
      recorder.phaseStart();
      await runWorkload(engine, workload, wallTimers, { onJobDone: (_o, done, total) => options.onWorkloadJob?.(done, total, index) });
      replays.push([from, recorder.samples.length]);
    }
    booksAfter = engine.stats();
  } finally {
    await engine.close();
  }
  const samples = recorder.samples;
  const fit = fitStepCosts(samples, replays.length > 0 ? replays.map(([from, end]) => samples.slice(from, end)) : [samples]);
  // The control plane's time per step: the mean over the replays' steps, measured by the engine
  // (its loop's time less the backend's), since a simulated run is a sum of steps and the gaps
  // are right-skewed (a garbage collection, a burst of tool returns to settle); without replays,
  // the median gap between the probes' steps (the gaps of a probe's batch are alike).
  const medianGapS = median(samples.filter((s) => s.gapS !== null).map((s) => s.gapS!));
  const replayOverheadS = replays.length > 0 && booksBefore && booksAfter ? stepOverheadS(difference(booksAfter, booksBefore)) : null;
  const overheadS = replayOverheadS ?? medianGapS;
  const profile: ProfileFile = {
    model: { name: modelName, vocabSize: info.vocabSize, maxPositionEmbeddings: info.maxPositionEmbeddings, kvBytesPerToken: info.kvBytesPerToken },
    costs: { name: options.name, ...fit.costs, stepOverheadS: overheadS, swapBytesPerS },
    deviceBlocks: options.kvBlocks,
    hostBlocks,
    maxBatchTokens,
    maxBatchSequences,
    provenance: {
      tool: 'astraea calibrate',
      date: new Date().toISOString(),
      cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
      steps: samples.length,
      workloadSteps: replays.map(([from, end]) => end - from),
      medianRelativeError: fit.medianRelativeError,
      levelFactors: fit.level,
      medianStepGapS: medianGapS,
      alternativeForm: fit.alternative,
      probes,
    },
  };
  return { profile, samples };
}
