/**
 * `astraea simulate`: the same comparison as `bench` on the simulator — the same scheduler, KV
 * policy and predictors on a virtual clock, the forward pass replaced by a calibrated cost model
 * — so thousands of jobs and a sweep of loads take seconds.
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { capacityTable, findCapacity, probeOutcome } from '../bench/capacity.js';
import { benchChartSpec, sweepChartSpec, writeChart } from '../bench/chart.js';
import { comparePolicies } from '../bench/compare.js';
import { progress } from '../bench/progress.js';
import type { RunSummary } from '../bench/summary.js';
import { comparisonTable, describeRun } from '../bench/table.js';
import { loadProfile } from '../sim/profile-file.js';
import { EngineError } from '../errors.js';
import { integerOption, positiveListOption, positiveOption } from './args.js';
import { movedCallsOption, replicaCapacityTable, replicasOption, replicaTable, routersOption, runReplicaCapacity, runReplicaSweep } from './simulate-replicas.js';
import { addWorkloadOptions, hintsFrom, policiesFrom, policyOptionsFrom, workloadFrom, type WorkloadFlags } from './workload-flags.js';

interface SimulateFlags extends WorkloadFlags {
  profile: string;
  kvBlocks?: string;
  hostBlocks?: string;
  loads?: string;
  capacity?: boolean;
  objective: string;
  windowS?: string;
  maxJobs: string;
  precision: string;
  bound?: boolean;
  replicas?: string;
  router?: string;
  movedCalls?: string;
}

/** Realistic GPU scale: the workloads as modelled (each generator's own job count), on the H100 profile. */
const SIMULATE_DEFAULTS = { workload: 'paper', jobs: undefined, load: 1, seed: 1, scale: { tokens: 1, time: 1 }, chart: 'astraea-simulate.svg' };

export function simulateCommand(): Command {
  const command = new Command('simulate').description('the bench comparison on the simulator (a calibrated cost model on a virtual clock): thousands of jobs, sweeps of loads');
  addWorkloadOptions(command, SIMULATE_DEFAULTS);
  return command
    .option('--profile <name|file>', 'cost profile: h100-llama3-8b, cpu-small, or a file from `astraea calibrate`', 'h100-llama3-8b')
    .option('--kv-blocks <n>', "device KV blocks of 16 tokens (default: the profile's)")
    .option('--host-blocks <n>', "host KV blocks (default: the profile's, and at least --kv-blocks; `astraea bench` gives the engine as many as --kv-blocks)")
    .option('--loads <list>', 'sweep these loads, e.g. 0.5,1,2,4 (overrides --load)')
    .option('--capacity', 'per policy, the jobs per hour at a JCT objective: the highest load (by bisection) whose p90 JCT stays within --objective × the unloaded p90')
    .option('--objective <x>', 'with --capacity: the p90 JCT allowed, as a multiple of the unloaded p90', '2')
    .option('--window-s <s>', 'with --capacity: seconds of arrivals per probe (default: 4 × the unloaded p90, at least 600); --jobs is the least per probe')
    .option('--max-jobs <n>', 'with --capacity: jobs per probe at most; heavier loads are not probed', '5000')
    .option('--precision <ratio>', 'with --capacity: bisect until the failing load is within this ratio of the passing one', '1.05')
    .option('--bound', 'with --capacity: also the capacity no schedule exceeds, however clairvoyant (an offline bound on the cost model)')
    .option('--replicas <list>', 'simulate N engines (each with --kv-blocks) behind a router, e.g. 1,2,4,8; loads and --jobs are then per replica')
    .option('--router <list>', 'with --replicas: round-robin, least-queue, kv-usage, prefix, session, mix (default mix, the inference gateway\'s default profile)')
    .option('--moved-calls <segments|history|fresh>', "with --replicas: what a call routed away from its job's replica tells the new one: the segments the job has run (default: what Astraea's server reads off the conversation), those and the job's age, or nothing (a fresh job)")
    .action(runSimulate);
}

/** The bisection's stopping ratio: above 1, or it never stops (each probe is a whole simulation). */
function precisionOption(text: string): number {
  const precision = positiveOption(text, 'precision', 1.05);
  if (!(precision > 1)) throw new EngineError('INVALID_ARGUMENT', '--precision must be above 1 (the ratio of the failing load to the passing one)');
  return precision;
}

async function runSimulate(values: SimulateFlags): Promise<void> {
  const profile = await loadProfile(values.profile);
  const policies = policiesFrom(values);
  const hints = hintsFrom(values);
  const policyOptions = policyOptionsFrom(values);
  const kvBlocks = values.kvBlocks === undefined ? undefined : integerOption(values.kvBlocks, 'kv-blocks', 0, 1);
  const hostBlocks = values.hostBlocks === undefined ? undefined : integerOption(values.hostBlocks, 'host-blocks', 0, 0);
  if (values.replicas !== undefined) return runReplicas(values, { profile, kvBlocks, hostBlocks, policies, hints, policyOptions, replicas: replicasOption(values.replicas), routers: routersOption(values.router ?? 'mix'), movedCalls: movedCallsOption(values.movedCalls ?? 'segments') });
  if (values.router !== undefined) throw new EngineError('INVALID_ARGUMENT', '--router routes between replicas: give --replicas with it');
  if (values.movedCalls !== undefined) throw new EngineError('INVALID_ARGUMENT', '--moved-calls is about calls routed between replicas: give --replicas with it');
  if (values.capacity) {
    if (values.loads !== undefined) throw new EngineError('INVALID_ARGUMENT', '--capacity searches the load itself: give no --loads');
    if (values.arrivals === 'burst') throw new EngineError('INVALID_ARGUMENT', '--capacity measures steady arrivals: a burst has no rate to search');
    const objective = positiveOption(values.objective, 'objective', 2);
    if (!(objective > 1)) throw new EngineError('INVALID_ARGUMENT', '--objective must be above 1 (a multiple of the unloaded p90)');
    const workloadAt = (load: number, jobs: number) => workloadFrom({ ...values, jobs: String(jobs) }, SIMULATE_DEFAULTS, load);
    const results = await findCapacity(workloadAt, policies, { profile, kvBlocks, hostBlocks }, {
      objective,
      windowS: values.windowS === undefined ? undefined : positiveOption(values.windowS, 'window-s', 600),
      minJobs: values.jobs === undefined ? undefined : integerOption(values.jobs, 'jobs', 200, 1),
      maxJobs: integerOption(values.maxJobs, 'max-jobs', 5000, 1),
      precision: precisionOption(values.precision),
      hints,
      policyOptions,
      bound: values.bound,
      onProbe: (policy, p) => {
        const measured =
          p.utilization === undefined
            ? probeOutcome(p)
            : `relaxed work ${p.utilization.toFixed(2)} of the arrivals' span, ${p.enoughOnTime ? 'enough' : 'too few'} jobs can finish in time`;
        process.stderr.write(`${policy} load ${p.load.toFixed(3)}: ${measured} → ${p.pass ? 'meets' : 'misses'} the objective\n`);
      },
    });
    if (values.json) for (const r of results) process.stdout.write(JSON.stringify(r) + '\n');
    else process.stdout.write(`\n${workloadAt(1, 1).params.name}, profile ${profile.costs.name}\n${capacityTable(results)}`);
    return;
  }
  if (values.bound) throw new EngineError('INVALID_ARGUMENT', '--bound is a capacity: give --capacity with it');
  const loads = values.loads === undefined ? [undefined] : positiveListOption(values.loads, 'loads');
  const bar = progress();
  const summaries: RunSummary[] = [];
  for (const load of loads) {
    const workload = workloadFrom(values, SIMULATE_DEFAULTS, load);
    const runs = await comparePolicies(workload, policies, { kind: 'sim', profile, kvBlocks, hostBlocks }, {
      hints,
      policyOptions,
      onPolicyStart: (policy) => bar.start(`${policy}${load === undefined ? '' : ` @${load}`}`, workload.jobs.length),
      onJobDone: (_policy, _outcome, done) => bar.update(done),
      onPolicyDone: (s, wallS) => bar.stop(`${s.policy} load ${s.workload_params.load}: mean JCT ${s.jct_s.mean?.toFixed(2) ?? '–'} s (${wallS.toFixed(1)} s wall)`),
    });
    summaries.push(...runs.map((r) => r.summary));
  }
  if (values.json) {
    for (const s of summaries) process.stdout.write(JSON.stringify(s) + '\n');
  } else {
    for (const load of loads) {
      const group = summaries.filter((s) => load === undefined || s.workload_params.load === load);
      process.stdout.write(`\n${describeRun(group[0])}\nJCT = job end − arrival, tool time included (simulated seconds)\n\n${comparisonTable(group)}`);
    }
  }
  if (values.chart !== false) {
    const path = resolve(values.chart);
    await writeChart(path, loads.length > 1 ? sweepChartSpec(summaries) : benchChartSpec(summaries));
    process.stderr.write(`chart: ${path}\n`);
  }
}

/** `--replicas`: the sweep or the capacity search over replicas × routers × policies (lib/cli/simulate-replicas.ts). */
async function runReplicas(values: SimulateFlags, common: Parameters<typeof runReplicaSweep>[0]): Promise<void> {
  if (values.bound) throw new EngineError('INVALID_ARGUMENT', '--bound is a single-engine figure: give no --replicas with it');
  const workloadAt = (load: number, jobs: number | undefined) => workloadFrom({ ...values, jobs: jobs === undefined ? undefined : String(jobs) }, SIMULATE_DEFAULTS, load);
  if (values.capacity) {
    if (values.loads !== undefined) throw new EngineError('INVALID_ARGUMENT', '--capacity searches the load itself: give no --loads');
    if (values.arrivals === 'burst') throw new EngineError('INVALID_ARGUMENT', '--capacity measures steady arrivals: a burst has no rate to search');
    const objective = positiveOption(values.objective, 'objective', 2);
    if (!(objective > 1)) throw new EngineError('INVALID_ARGUMENT', '--objective must be above 1 (a multiple of the unloaded p90)');
    const search = {
      objective,
      windowS: values.windowS === undefined ? undefined : positiveOption(values.windowS, 'window-s', 600),
      minJobs: values.jobs === undefined ? undefined : integerOption(values.jobs, 'jobs', 200, 1),
      maxJobs: integerOption(values.maxJobs, 'max-jobs', 5000, 1),
      precision: precisionOption(values.precision),
    };
    // --json: each line as its search ends, so an interrupted search keeps what it finished.
    const results = await runReplicaCapacity(common, (load, jobs) => workloadAt(load, jobs), search, (r) => values.json && process.stdout.write(JSON.stringify(r) + '\n'));
    if (!values.json) process.stdout.write(`\n${workloadAt(1, 1).params.name}, profile ${common.profile.costs.name}\n${replicaCapacityTable(results)}`);
    return;
  }
  const loads = values.loads === undefined ? [positiveOption(values.load, 'load', 1)] : positiveListOption(values.loads, 'loads');
  const jobsPerReplica = values.jobs === undefined ? undefined : integerOption(values.jobs, 'jobs', 0, 1);
  const lines = await runReplicaSweep(common, loads, workloadAt, jobsPerReplica, (l) => values.json && process.stdout.write(JSON.stringify(l) + '\n'));
  if (!values.json) process.stdout.write(`\n${replicaTable(lines)}`);
}
