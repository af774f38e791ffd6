/**
 * A simulated run of N replicas behind a router, on one virtual clock: each replica is the same
 * simulated engine `simulate()` builds (its own KV pools of the size asked, its own policy,
 * predictors and prefix cache), and the workload replay drives them all through a ReplicaSet.
 * With one replica every call stays where it is and the run is the single-engine simulation's,
 * JCT for JCT (test/unit/replica-set.test.ts).
 */
import type { EngineStats } from '../engine/types.js';
import { EngineError } from '../errors.js';
import type { WorkloadJob } from '../workload/format.js';
import { ReplicaSet, type MovedCalls, type RoutingStats } from './replica-set.js';
import type { Router } from './router.js';
import { createRouter, type RouterOptions } from './routers.js';
import { closingUnlessGaveUp, profileOf, replayOnClock, simulatedEngine, type SimulateOptions, type SimulationResult } from './simulate.js';
import { VirtualClock } from './virtual-clock.js';

export interface ReplicaSimulateOptions extends Omit<SimulateOptions, 'onStep'> {
  replicas: number;
  /** A router's name (lib/sim/routers.ts) or a router. */
  router: string | Router;
  routerOptions?: RouterOptions;
  /** What a call moved to another replica tells it (lib/sim/replica-set.ts). Default 'segments'. */
  movedCalls?: MovedCalls;
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
  const profile = profileOf(options);
  const clock = new VirtualClock();
  const engines = Array.from({ length: options.replicas }, () => simulatedEngine(profile, clock, options));
  const router = typeof options.router === 'string' ? createRouter(options.router, options.replicas, options.routerOptions) : options.router;
  const set = new ReplicaSet(engines, router, { movedCalls: options.movedCalls, now: () => clock.now() });
  return closingUnlessGaveUp(engines, async () => {
    const outcomes = await replayOnClock(set, jobs, clock, options);
    const replicaStats = engines.map((e) => e.stats());
    return { outcomes, stats: sumStats(replicaStats), replicaStats, routing: set.routing, makespanS: clock.now() };
  });
}
