/**
 * Capacity of N replicas behind a router: lib/bench/capacity.ts's search (the same objective,
 * window and bisection) with each probe a replica-set simulation (its `scaleOut`). The load
 * searched is per replica (load L offers N × L × the base rate to the set) and the reference stays
 * one engine's: the objective is `objective` × the p90 of fcfs on a single engine at the light
 * load, so every N is held to the same seconds. Probes run N × `minJobs` jobs at least, so each
 * replica sees as many as a single-engine probe. Capacity is reported for the whole set (jobs per
 * hour) and per replica.
 */
import { findCapacity, type CapacityOptions, type CapacityResult } from '../bench/capacity.js';
import type { PolicyName } from '../sched/registry.js';
import type { GeneratedWorkload } from '../workload/generators/types.js';
import type { SimulationProfile } from './cost-model.js';
import type { MovedCalls } from './replica-set.js';
import { simulateReplicas } from './simulate-replicas.js';
import type { SimulateOptions } from './simulate.js';

/** The single-engine search's options (lib/bench/capacity.ts), for a set of replicas behind a router. */
export interface ReplicaCapacityOptions extends Pick<CapacityOptions, 'objective' | 'lightLoad' | 'precision' | 'maxProbes' | 'windowS' | 'minJobs' | 'maxJobs' | 'policyOptions' | 'hints'> {
  replicas: number;
  router: string;
  /** What a moved call tells its new replica (lib/sim/replica-set.ts). Default 'segments'. */
  movedCalls?: MovedCalls;
  onProbe?: (policy: PolicyName, probe: Parameters<NonNullable<CapacityOptions['onProbe']>>[1]) => void;
}

export interface ReplicaCapacityResult extends CapacityResult {
  replicas: number;
  router: string;
  /** Whole-set jobs per hour over N. */
  jobsPerHourPerReplica: number;
}

export async function findReplicaCapacity(
  /** The workload at a total load (the generator's), with this many jobs. */
  workloadAt: (load: number, jobs: number) => GeneratedWorkload,
  policies: readonly PolicyName[],
  target: { profile: SimulationProfile; kvBlocks?: number; hostBlocks?: number },
  options: ReplicaCapacityOptions,
): Promise<ReplicaCapacityResult[]> {
  const { replicas, router, movedCalls, onProbe, ...search } = options;
  const run = async (policy: PolicyName, workload: GeneratedWorkload, giveUp: SimulateOptions['giveUp']) =>
    (
      await simulateReplicas(workload.jobs, {
        giveUp,
        ...target,
        hints: options.hints,
        policy,
        policyOptions: options.policyOptions?.[policy],
        workloadScale: workload.params.scale,
        replicas,
        router,
        movedCalls,
      })
    ).outcomes;
  const results = await findCapacity(workloadAt, policies, target, {
    ...search,
    scaleOut: { replicas, run },
    onProbe: onProbe && ((row, probe) => onProbe(row as PolicyName, probe)),
  });
  return results.map((r) => ({ ...r, replicas, router, jobsPerHourPerReplica: r.jobsPerHour / replicas }));
}
