/**
 * `astraea simulate --replicas N --router <name>`: N simulated engines behind a router on one
 * virtual clock (lib/sim/simulate-replicas.ts). Loads are per replica: load L offers the set
 * N × L × the workload's base rate, and a run has N × --jobs jobs (the generator's default when
 * --jobs is absent), so each replica sees what a single engine at load L sees. `--replicas` and
 * `--router` take lists; every combination runs, each policy in turn.
 */
import { probeOutcome } from '../bench/capacity.js';
import { summarizeRun, type RunSummary } from '../bench/summary.js';
import { progress } from '../bench/progress.js';
import { EngineError } from '../errors.js';
import type { PolicyName } from '../sched/registry.js';
import type { SimulationProfile } from '../sim/cost-model.js';
import { findReplicaCapacity, type ReplicaCapacityResult } from '../sim/replica-capacity.js';
import { MOVED_CALLS, type MovedCalls, type RoutingStats } from '../sim/replica-set.js';
import { ROUTER_NAMES } from '../sim/routers.js';
import { simulateReplicas } from '../sim/simulate-replicas.js';
import type { GeneratedWorkload } from '../workload/generators/types.js';
import { integerOption, listOption } from './args.js';

/** One JSON line of a replica run: the set's summary (JCTs over every job, stats summed) and what routing did. */
export interface ReplicaRunLine {
  replicas: number;
  router: string;
  load_per_replica: number;
  /** What moved calls told their new replica. */
  moved_calls: MovedCalls;
  routing: RoutingStats;
  summary: RunSummary;
}

export function replicasOption(text: string): number[] {
  return text.split(',').map((part) => integerOption(part.trim(), 'replicas', 1, 1));
}

export function routersOption(text: string): string[] {
  return listOption(text, 'router', ROUTER_NAMES);
}

export function movedCallsOption(text: string): MovedCalls {
  const found = MOVED_CALLS.find((m) => m === text);
  if (found === undefined) throw new EngineError('INVALID_ARGUMENT', `--moved-calls must be one of ${MOVED_CALLS.join(', ')}; got "${text}"`);
  return found;
}

interface Common {
  profile: SimulationProfile;
  kvBlocks?: number;
  hostBlocks?: number;
  policies: readonly PolicyName[];
  hints: 'oracle' | 'none';
  policyOptions: Partial<Record<PolicyName, Record<string, unknown>>>;
  replicas: readonly number[];
  routers: readonly string[];
  movedCalls: MovedCalls;
}

/** Runs every replicas × router × policy at each per-replica load; `workloadAt(total load, jobs)` makes the workload. */
export async function runReplicaSweep(
  common: Common,
  loads: readonly number[],
  workloadAt: (load: number, jobs: number | undefined) => GeneratedWorkload,
  jobsPerReplica: number | undefined,
  /** Each run's line as soon as it ends (a long sweep's finished runs survive its interruption). */
  onLine?: (line: ReplicaRunLine) => void,
): Promise<ReplicaRunLine[]> {
  const bar = progress();
  const lines: ReplicaRunLine[] = [];
  for (const load of loads) {
    for (const n of common.replicas) {
      const jobs = jobsPerReplica === undefined ? undefined : jobsPerReplica * n;
      // The generator's default count, times N, when --jobs is absent.
      const workload = workloadAt(load * n, jobs ?? workloadAt(load, undefined).jobs.length * n);
      for (const router of common.routers) {
        for (const policy of common.policies) {
          bar.start(`${policy} ${router} ×${n} @${load}`, workload.jobs.length);
          const started = Date.now();
          const r = await simulateReplicas(workload.jobs, {
            profile: common.profile,
            kvBlocks: common.kvBlocks,
            hostBlocks: common.hostBlocks,
            policy,
            policyOptions: common.policyOptions[policy],
            workloadScale: workload.params.scale,
            hints: common.hints,
            replicas: n,
            router,
            movedCalls: common.movedCalls,
            onJobDone: (_o, done) => bar.update(done),
          });
          const summary = summarizeRun(
            {
              policy,
              engine: 'sim',
              workload: workload.params,
              predictor: common.hints === 'oracle' ? 'oracle' : 'learned',
              model: common.profile.costs.name,
              kvBlocks: common.kvBlocks ?? common.profile.deviceBlocks,
              makespanS: r.makespanS,
              swapBytesPerS: common.profile.costs.swapBytesPerS,
            },
            r.outcomes,
            r.stats,
          );
          bar.stop(`${policy} ${router} ×${n} load ${load}/replica: mean JCT ${summary.jct_s.mean?.toFixed(2) ?? '–'} s, ${r.routing.moves} moves (${((Date.now() - started) / 1000).toFixed(1)} s wall)`);
          const line = { replicas: n, router, load_per_replica: load, moved_calls: common.movedCalls, routing: r.routing, summary };
          lines.push(line);
          onLine?.(line);
        }
      }
    }
  }
  return lines;
}

const fmt = (x: number | null | undefined, digits = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));

/** Mean JCT and routing per line; `vs ×1` is the mean over the same policy and router's one-replica mean at the same load. */
export function replicaTable(lines: readonly ReplicaRunLine[]): string {
  const rows = ['| load/replica | replicas | router | policy | jobs | mean JCT s | p90 s | vs ×1 | moves | moved tokens computed | preemptions |', '| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'];
  for (const l of lines) {
    const one = lines.find((o) => o.replicas === 1 && o.router === l.router && o.summary.policy === l.summary.policy && o.load_per_replica === l.load_per_replica);
    const ratio = one?.summary.jct_s.mean && l.summary.jct_s.mean !== null ? (l.summary.jct_s.mean / one.summary.jct_s.mean).toFixed(3) : '';
    rows.push(
      `| ${l.load_per_replica} | ${l.replicas} | ${l.router} | ${l.summary.policy} | ${l.summary.jobs} | ${fmt(l.summary.jct_s.mean)} | ${fmt(l.summary.jct_s.p90)} | ${ratio} | ${l.routing.moves} | ${l.routing.movedComputedTokens} | ${l.summary.preemptions} |`,
    );
  }
  return `${rows.join('\n')}\n`;
}

/** Capacity per replicas × router × policy. */
export async function runReplicaCapacity(
  common: Common,
  workloadAt: (load: number, jobs: number) => GeneratedWorkload,
  search: { objective: number; windowS?: number; minJobs?: number; maxJobs: number; precision: number },
  onResult?: (result: ReplicaCapacityResult) => void,
): Promise<ReplicaCapacityResult[]> {
  const results: ReplicaCapacityResult[] = [];
  for (const n of common.replicas) {
    for (const router of common.routers) {
      // One policy at a time, so each result is out as soon as its search ends.
      for (const policy of common.policies) {
        const [result] = await findReplicaCapacity(workloadAt, [policy], common, {
          ...search,
          replicas: n,
          router,
          movedCalls: common.movedCalls,
          hints: common.hints,
          policyOptions: common.policyOptions,
          onProbe: (_policy, p) => process.stderr.write(`${policy} ${router} ×${n} load ${p.load.toFixed(3)}/replica: ${probeOutcome(p)} → ${p.pass ? 'meets' : 'misses'} the objective\n`),
        });
        results.push(result);
        onResult?.(result);
      }
    }
  }
  return results;
}

export function replicaCapacityTable(results: readonly ReplicaCapacityResult[]): string {
  if (results.length === 0) throw new EngineError('INTERNAL', 'no capacity results');
  const r0 = results[0];
  const rows = [
    `capacity: the highest per-replica load whose p90 JCT stays within ${fmt(r0.objectiveP90S)} s (${fmt(r0.objectiveP90S / r0.unloadedP90S)} × one engine's unloaded p90 of ${fmt(r0.unloadedP90S)} s), arrivals over ${fmt(r0.windowS, 0)} s per probe`,
    '',
    '| replicas | router | policy | jobs/hour (set) | per replica | load/replica (pass … fail) | p90 s at capacity |',
    '| ---: | --- | --- | ---: | ---: | --- | ---: |',
  ];
  for (const r of results) {
    const bracket = r.bracket.fail === null ? `≥ ${fmt(r.bracket.pass, 3)} (probe limit)` : `${fmt(r.bracket.pass, 3)} … ${r.bracket.fail.toFixed(3)}`;
    rows.push(`| ${r.replicas} | ${r.router} | ${r.policy} | ${r.jobsPerHour.toFixed(1)} | ${r.jobsPerHourPerReplica.toFixed(1)} | ${bracket} | ${fmt(r.p90S)} |`);
  }
  return `${rows.join('\n')}\n`;
}
