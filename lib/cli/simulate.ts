/**
 * `astraea simulate`: the same comparison as `bench` on the simulator — the same scheduler, KV
 * policy and predictors on a virtual clock, the forward pass replaced by a calibrated cost model
 * — so thousands of jobs and a sweep of loads take seconds.
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { benchChartSpec, sweepChartSpec, writeChart } from '../bench/chart.js';
import { comparePolicies } from '../bench/compare.js';
import { progress } from '../bench/progress.js';
import type { RunSummary } from '../bench/summary.js';
import { comparisonTable, describeRun } from '../bench/table.js';
import { loadProfile } from '../sim/profile-file.js';
import { integerOption, positiveListOption } from './args.js';
import { addWorkloadOptions, hintsFrom, policiesFrom, policyOptionsFrom, workloadFrom, type WorkloadFlags } from './workload-flags.js';

interface SimulateFlags extends WorkloadFlags {
  profile: string;
  kvBlocks?: string;
  loads?: string;
}

/** Realistic GPU scale: the workloads as modelled (each generator's own job count), on the H100 profile. */
const SIMULATE_DEFAULTS = { workload: 'paper', jobs: undefined, load: 1, seed: 1, scale: { tokens: 1, time: 1 }, chart: 'astraea-simulate.svg' };

export function simulateCommand(): Command {
  const command = new Command('simulate').description('the bench comparison on the simulator (a calibrated cost model on a virtual clock): thousands of jobs, sweeps of loads');
  addWorkloadOptions(command, SIMULATE_DEFAULTS);
  return command
    .option('--profile <name|file>', 'cost profile: h100-llama3-8b, cpu-small, or a file from `astraea calibrate`', 'h100-llama3-8b')
    .option('--kv-blocks <n>', "device KV blocks of 16 tokens (default: the profile's)")
    .option('--loads <list>', 'sweep these loads, e.g. 0.5,1,2,4 (overrides --load)')
    .action(runSimulate);
}

async function runSimulate(values: SimulateFlags): Promise<void> {
  const profile = await loadProfile(values.profile);
  const policies = policiesFrom(values);
  const hints = hintsFrom(values);
  const policyOptions = policyOptionsFrom(values);
  const kvBlocks = values.kvBlocks === undefined ? undefined : integerOption(values.kvBlocks, 'kv-blocks', 0, 1);
  const loads = values.loads === undefined ? [undefined] : positiveListOption(values.loads, 'loads');
  const bar = progress();
  const summaries: RunSummary[] = [];
  for (const load of loads) {
    const workload = workloadFrom(values, SIMULATE_DEFAULTS, load);
    const runs = await comparePolicies(workload, policies, { kind: 'sim', profile, kvBlocks }, {
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
