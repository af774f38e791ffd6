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
  /**
   * Stop as soon as `lateJobs` jobs are still unfinished `afterS` seconds after they arrived,
   * throwing GAVE_UP: a capacity probe that has already missed its JCT objective need not run its
   * overloaded tail, the longest part of it (lib/bench/capacity.ts).
   */
  giveUp?: { afterS: number; lateJobs: number };
}

/** The code of the error a run stopped by `giveUp` throws. */
export const GAVE_UP = 'GAVE_UP';

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

/**
 * Replays `jobs` on `target` until the virtual clock has nothing left to run; every job must end.
 * With `giveUp`, the clock runs from one job's deadline (arrival + afterS) to the next, counting
 * the jobs unfinished at theirs, and stops at the `lateJobs`-th — stopping between timers changes
 * nothing a run does, so a run that never reaches it is the plain one. A run that gives up is
 * left mid-step: its engines cannot be closed (they would wait on the abandoned clock) and need
 * not be (a simulated engine holds nothing outside the heap).
 */
export async function replayOnClock(target: WorkloadTarget, jobs: readonly WorkloadJob[], clock: VirtualClock, options: SimulateOptions): Promise<JobOutcome[]> {
  let finished = false;
  const ended = new Set<string>();
  const onJobDone: RunOptions['onJobDone'] = (outcome, done, total) => {
    ended.add(outcome.id);
    options.onJobDone?.(outcome, done, total);
  };
  const running = runWorkload(target, jobs, clock, { hints: options.hints, onJobDone }).finally(() => {
    finished = true;
  });
  if (options.giveUp) {
    const { afterS, lateJobs } = options.giveUp;
    const byDeadline = [...jobs].sort((a, b) => a.arrivalS - b.arrivalS);
    let late = 0;
    for (const job of byDeadline) {
      const deadline = job.arrivalS + afterS;
      await clock.run(deadline);
      if (finished) break;
      if (!ended.has(job.id) && ++late >= lateJobs) {
        throw new EngineError(GAVE_UP, `gave up at ${deadline.toFixed(2)} s: ${late} jobs were unfinished ${afterS.toFixed(2)} s after arriving`);
      }
    }
  }
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
  return closingUnlessGaveUp([engine], async () => {
    const outcomes = await replayOnClock(engine, jobs, clock, options);
    return { outcomes, stats: engine.stats(), makespanS: clock.now() };
  });
}

/** Runs `replay` (the run and what is read off its engines), then closes the engines — unless the run gave up (replayOnClock says why). */
export async function closingUnlessGaveUp<T>(engines: readonly Engine[], replay: () => Promise<T>): Promise<T> {
  let gaveUp = false;
  try {
    return await replay();
  } catch (error) {
    gaveUp = error instanceof EngineError && error.code === GAVE_UP;
    throw error;
  } finally {
    if (!gaveUp) for (const engine of engines) await engine.close();
  }
}
