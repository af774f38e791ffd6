/**
 * A simulated run: the real engine (step loop, scheduler, block manager, predictors) on the
 * simulated backend and a virtual clock, replaying a workload. Seconds of virtual time cost
 * microseconds of wall time, so policies can be compared over many seeds, loads and pool sizes.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { Engine } from '../engine/engine.js';
import type { EngineOptions, EngineStats } from '../engine/types.js';
import { EngineError } from '../errors.js';
import type { Policy } from '../sched/policy.js';
import type { PolicyName } from '../sched/registry.js';
import type { WorkloadJob } from '../workload/format.js';
import { runWorkload, type JobOutcome, type RunOptions, type WorkloadTarget } from '../workload/replay.js';
import { simulationProfile, type SimulationProfile } from './cost-model.js';
import { SimulatedBackend, type StepObserver } from './sim-backend.js';
import { VirtualClock } from './virtual-clock.js';

export interface SimulateOptions {
  /** A profile or its name (default 'h100-llama3-8b'). */
  profile?: SimulationProfile | string;
  policy?: PolicyName | Policy;
  policyOptions?: Record<string, unknown>;
  /** The workload's scale (EngineOptions.workloadScale); default full scale. */
  workloadScale?: EngineOptions['workloadScale'];
  /** Override the profile's pools (16-token blocks) and batch limits. */
  kvBlocks?: number;
  hostBlocks?: number;
  maxBatchTokens?: number;
  maxBatchSequences?: number;
  prefixCaching?: boolean;
  hints?: RunOptions['hints'];
  onJobDone?: RunOptions['onJobDone'];
  /** Sees every simulated step and its price (diagnostics: bench/policies/step-mix.ts). */
  onStep?: StepObserver;
}

export interface SimulationResult {
  outcomes: JobOutcome[];
  stats: EngineStats;
  /** Virtual seconds from the start to the last job's end. */
  makespanS: number;
}

/**
 * The host pool when none is given: the profile's, and never smaller than the device pool asked
 * for — the real bench gives its engine as many host blocks as device blocks, so a CPU profile
 * calibrated on a 96-block pool must not hold a 512-block run's swaps to 96 (it did until issue
 * 18: the swapping policies then discarded and recomputed what the real engine swapped).
 */
function hostPool(profile: SimulationProfile, kvBlocks: number | undefined): number {
  return Math.max(profile.hostBlocks, kvBlocks ?? 0);
}

/** The simulated engine simulate() runs (and simulateReplicas() runs one of per replica). */
export function simulatedEngine(profile: SimulationProfile, clock: VirtualClock, options: SimulateOptions): Engine {
  const blockSize = 16;
  return Engine.withBackend(new SimulatedBackend(profile.model, profile.costs, blockSize, clock, options.onStep), {
    policy: options.policy,
    policyOptions: options.policyOptions,
    workloadScale: options.workloadScale,
    kvBlocks: options.kvBlocks ?? profile.deviceBlocks,
    hostBlocks: options.hostBlocks ?? hostPool(profile, options.kvBlocks),
    blockSize,
    maxBatchTokens: options.maxBatchTokens ?? profile.maxBatchTokens,
    maxBatchSequences: options.maxBatchSequences ?? profile.maxBatchSequences,
    prefixCaching: options.prefixCaching,
    clock,
  });
}

/** Replays `jobs` on `target` until the virtual clock has nothing left to run; every job must end. */
export async function replayOnClock(target: WorkloadTarget, jobs: readonly WorkloadJob[], clock: VirtualClock, options: SimulateOptions): Promise<JobOutcome[]> {
  let finished = false;
  const running = runWorkload(target, jobs, clock, { hints: options.hints, onJobDone: options.onJobDone }).finally(() => {
    finished = true;
  });
  await clock.run();
  await nextMacrotask();
  if (!finished) throw new EngineError('INTERNAL', 'the simulation stalled: jobs are unfinished but nothing is scheduled');
  return running;
}

/** The profile the options give or name (default: h100-llama3-8b). */
export function profileOf(options: SimulateOptions): SimulationProfile {
  return typeof options.profile === 'object' ? options.profile : simulationProfile(options.profile ?? 'h100-llama3-8b');
}

export async function simulate(jobs: readonly WorkloadJob[], options: SimulateOptions = {}): Promise<SimulationResult> {
  const clock = new VirtualClock();
  const engine = simulatedEngine(profileOf(options), clock, options);
  try {
    const outcomes = await replayOnClock(engine, jobs, clock, options);
    return { outcomes, stats: engine.stats(), makespanS: clock.now() };
  } finally {
    await engine.close();
  }
}
