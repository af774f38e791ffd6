/**
 * A simulated run of N replicas behind a router, on one virtual clock: each replica is the same
 * simulated engine `simulate()` builds (its own KV pools of the size asked, its own policy,
 * predictors and prefix cache), and the workload replay drives them all through a ReplicaSet.
 * With one replica every call stays where it is and the run is the single-engine simulation's,
 * JCT for JCT (test/unit/replica-set.test.ts).
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { Engine } from '../engine/engine.js';
import type { EngineStats } from '../engine/types.js';
import { EngineError } from '../errors.js';
import type { WorkloadJob } from '../workload/format.js';
import { runWorkload } from '../workload/replay.js';
import { simulationProfile } from './cost-model.js';
import { ReplicaSet, type RoutingStats } from './replica-set.js';
import type { Router } from './router.js';
import { createRouter, type RouterOptions } from './routers.js';
import { SimulatedBackend } from './sim-backend.js';
import type { SimulateOptions, SimulationResult } from './simulate.js';
import { VirtualClock } from './virtual-clock.js';

export interface ReplicaSimulateOptions extends Omit<SimulateOptions, 'onStep'> {
  replicas: number;
  /** A router's name (lib/sim/routers.ts) or a router. */
  router: string | Router;
  routerOptions?: RouterOptions;
}

export interface ReplicaSimulationResult extends SimulationResult {
  /** Per replica, its engine's stats; `stats` is their sum. */
  replicaStats: EngineStats[];
  routing: RoutingStats;
}

/** Adds numbers field by field (nested objects and arrays alike): the set's stats from the replicas'. */
function sumStats<T>(parts: readonly T[]): T {
  const add = (a: unknown, b: unknown): unknown => {
    if (typeof a === 'number' && typeof b === 'number') return a + b;
    if (Array.isArray(a) && Array.isArray(b)) return a.map((x, i) => add(x, b[i] ?? 0));
    if (a !== null && typeof a === 'object' && b !== null && typeof b === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(a)) out[k] = add((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]);
      return out;
    }
    return a;
  };
  return parts.slice(1).reduce((acc, p) => add(acc, p) as T, parts[0]);
}

export async function simulateReplicas(jobs: readonly WorkloadJob[], options: ReplicaSimulateOptions): Promise<ReplicaSimulationResult> {
  if (!(Number.isInteger(options.replicas) && options.replicas >= 1)) throw new EngineError('INVALID_ARGUMENT', `replicas must be an integer ≥ 1, got ${options.replicas}`);
  const profile = typeof options.profile === 'object' ? options.profile : simulationProfile(options.profile ?? 'h100-llama3-8b');
  const clock = new VirtualClock();
  const blockSize = 16;
  // The engine options simulate() gives its one engine (lib/sim/simulate.ts), per replica.
  const engines = Array.from({ length: options.replicas }, () =>
    Engine.withBackend(new SimulatedBackend(profile.model, profile.costs, blockSize, clock), {
      policy: options.policy,
      policyOptions: options.policyOptions,
      workloadScale: options.workloadScale,
      kvBlocks: options.kvBlocks ?? profile.deviceBlocks,
      hostBlocks: options.hostBlocks ?? Math.max(profile.hostBlocks, options.kvBlocks ?? 0),
      blockSize,
      maxBatchTokens: options.maxBatchTokens ?? profile.maxBatchTokens,
      maxBatchSequences: options.maxBatchSequences ?? profile.maxBatchSequences,
      prefixCaching: options.prefixCaching,
      clock,
    }),
  );
  const router = typeof options.router === 'string' ? createRouter(options.router, options.replicas, options.routerOptions) : options.router;
  const set = new ReplicaSet(engines, router);
  try {
    let finished = false;
    // The replay uses only modelInfo and createJob of its engine, which the set provides (hook: a
    // narrower parameter type on runWorkload would make this cast unnecessary).
    const running = runWorkload(set as unknown as Engine, jobs, clock, { hints: options.hints, onJobDone: options.onJobDone }).finally(() => {
      finished = true;
    });
    await clock.run();
    await nextMacrotask();
    if (!finished) throw new EngineError('INTERNAL', 'the simulation stalled: jobs are unfinished but nothing is scheduled');
    const outcomes = await running;
    const replicaStats = engines.map((e) => e.stats());
    return { outcomes, stats: sumStats(replicaStats), replicaStats, routing: set.routing, makespanS: clock.now() };
  } finally {
    for (const engine of engines) await engine.close();
  }
}
