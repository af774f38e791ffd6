/**
 * Capacity of N replicas behind a router: lib/bench/capacity.ts's search (the same objective,
 * window and bisection) with each probe a replica-set simulation. The load searched is per
 * replica (load L offers N × L × the base rate to the set) and the reference stays one engine's:
 * the objective is `objective` × the p90 of fcfs on a single engine at the light load, so every
 * N is held to the same seconds. Probes run N × `minJobs` jobs at least, so each replica sees as
 * many as a single-engine probe. Capacity is reported for the whole set (jobs per hour).
 *
 * (Hook: findCapacity could take the probe's simulation as a parameter and this file would shrink
 * to that function; lib/bench is not this change's to edit.)
 */
import { searchCapacity, type CapacityOptions, type CapacityProbe, type CapacityResult } from '../bench/capacity.js';
import { jctSummary } from '../bench/summary.js';
import { EngineError } from '../errors.js';
import type { PolicyName } from '../sched/registry.js';
import type { GeneratedWorkload } from '../workload/generators/types.js';
import type { SimulationProfile } from './cost-model.js';
import { simulate } from './simulate.js';
import type { MovedCalls } from './replica-set.js';
import { simulateReplicas } from './simulate-replicas.js';

/** The single-engine search's options (lib/bench/capacity.ts), for a set of replicas behind a router. */
export interface ReplicaCapacityOptions extends Pick<CapacityOptions, 'objective' | 'lightLoad' | 'precision' | 'maxProbes' | 'windowS' | 'minJobs' | 'maxJobs' | 'policyOptions' | 'hints'> {
  replicas: number;
  router: string;
  /** What a moved call tells its new replica (lib/sim/replica-set.ts). Default 'history'. */
  movedCalls?: MovedCalls;
  onProbe?: (policy: PolicyName, probe: CapacityProbe) => void;
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
  const n = options.replicas;
  const objective = options.objective ?? 2;
  const minJobs = (options.minJobs ?? 200) * n;
  const maxJobs = options.maxJobs ?? 5000;
  const perReplica = (load: number, jobs: number) => workloadAt(load * n, jobs);
  const rateAt = (load: number) => perReplica(load, 1).params.arrivalRatePerS;
  const base = { profile: target.profile, kvBlocks: target.kvBlocks, hostBlocks: target.hostBlocks, hints: options.hints };

  const lightWorkload = workloadAt(options.lightLoad ?? 0.1, options.minJobs ?? 200);
  const light = await simulate(lightWorkload.jobs, { ...base, policy: 'fcfs', workloadScale: lightWorkload.params.scale });
  const lightP90 = jctSummary(light.outcomes).p90;
  if (!Number.isFinite(lightP90) || light.outcomes.some((o) => o.error !== null)) throw new EngineError('INVALID_ARGUMENT', 'capacity: the workload does not complete even at the light load');
  const objectiveP90S = objective * lightP90;
  const windowS = options.windowS ?? Math.max(600, 4 * lightP90);
  const jobsAt = (load: number) => Math.max(minJobs, Math.ceil(rateAt(load) * windowS));

  const results: ReplicaCapacityResult[] = [];
  for (const policy of policies) {
    const probes: CapacityProbe[] = [];
    const probe = async (load: number): Promise<boolean | null> => {
      const jobs = jobsAt(load);
      if (jobs > maxJobs) return null;
      const workload = perReplica(load, jobs);
      const { outcomes } = await simulateReplicas(workload.jobs, {
        ...base,
        policy,
        policyOptions: options.policyOptions?.[policy],
        workloadScale: workload.params.scale,
        replicas: n,
        router: options.router,
        movedCalls: options.movedCalls,
      });
      const p90 = jctSummary(outcomes).p90;
      const failed = outcomes.filter((o) => o.error !== null).length;
      const p = { load, p90S: Number.isFinite(p90) ? p90 : null, failed, pass: failed === 0 && Number.isFinite(p90) && p90 <= objectiveP90S };
      probes.push(p);
      options.onProbe?.(policy, p);
      return p.pass;
    };
    const start = Math.min(1, maxJobs / Math.max(1e-12, rateAt(1) * windowS));
    const { pass, fail } = await searchCapacity(probe, { start, precision: options.precision ?? 1.05, maxProbes: options.maxProbes ?? 14 });
    const jobsPerHour = pass === null ? 0 : rateAt(pass) * 3600;
    results.push({
      policy,
      replicas: n,
      router: options.router,
      jobsPerHour,
      jobsPerHourPerReplica: jobsPerHour / n,
      bracket: { pass, fail },
      windowS,
      objectiveP90S,
      unloadedP90S: lightP90,
      p90S: pass === null ? null : (probes.find((p) => p.load === pass)?.p90S ?? null),
      probes,
    });
  }
  return results;
}
