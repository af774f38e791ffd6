/**
 * `astraea bench`: the main job. Replays an agent workload against the real engine under every
 * policy (one job list for all, a fresh engine each) and prints JCT per policy with the ratio to
 * fcfs, plus a chart. With no arguments: the embedded default model (built once into the cache)
 * and the default workload (lib/bench/defaults.ts).
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { benchChartSpec, writeChart } from '../bench/chart.js';
import { comparePolicies } from '../bench/compare.js';
import { benchDefaults, DEFAULT_BENCH } from '../bench/defaults.js';
import { ensureDefaultModel } from '../bench/default-model.js';
import { progress } from '../bench/progress.js';
import { comparisonTable, describeRun } from '../bench/table.js';
import { ACTIVATIONS_HELP, activationsOption, dtypeOption, integerOption, KV_DTYPE_HELP, kvDtypeOption } from './args.js';
import { addWorkloadOptions, hintsFrom, policiesFrom, policyOptionsFrom, workloadFrom, type WorkloadFlags } from './workload-flags.js';

interface BenchFlags extends WorkloadFlags {
  model?: string;
  dtype?: string;
  activations?: string;
  kvDtype?: string;
  threads?: string;
  kvBlocks?: string;
}

export function benchCommand(): Command {
  const command = new Command('bench').description('replay an agent workload against the real engine under every policy; JCT per policy');
  addWorkloadOptions(command, { ...DEFAULT_BENCH, chart: 'astraea-bench.svg', perWorkloadDefaults: true });
  return command
    .option('--model <dir|preset>', 'model to serve (default: the embedded small model, built once into ~/.cache/astraea)')
    .option('--dtype <auto|f32|f16|bf16|q8>', 'weight type in memory')
    .option('--activations <auto|f32|bf16>', ACTIVATIONS_HELP)
    .option('--kv-dtype <auto|f32|bf16>', KV_DTYPE_HELP)
    .option('--threads <n>', 'CPU threads (default: one per core)')
    .option('--kv-blocks <n>', `device KV blocks of 16 tokens (default: per workload; ${DEFAULT_BENCH.kvBlocks} for ${DEFAULT_BENCH.workload})`)
    .action(runBench);
}

async function runBench(values: BenchFlags): Promise<void> {
  // Each workload has its own CPU scale, load and pool (lib/bench/defaults.ts); flags override them.
  const defaults = benchDefaults(values.workload);
  const workload = workloadFrom(values, defaults, values.load === undefined ? defaults.load : undefined);
  const policies = policiesFrom(values);
  const hints = hintsFrom(values);
  const policyOptions = policyOptionsFrom(values);
  const kvBlocks = integerOption(values.kvBlocks, 'kv-blocks', defaults.kvBlocks, 1);
  const model = values.model ?? (await ensureDefaultModel((dir) => process.stderr.write(`astraea bench: building the default model into ${dir} (once)\n`)));
  const bar = progress();
  const runs = await comparePolicies(
    workload,
    policies,
    {
      kind: 'engine',
      engine: { model, dtype: dtypeOption(values.dtype, 'auto'), activations: activationsOption(values.activations), kvDtype: kvDtypeOption(values.kvDtype), threads: integerOption(values.threads, 'threads', 0), kvBlocks, hostBlocks: kvBlocks },
      modelName: values.model ?? 'small (default)',
    },
    {
      hints,
      policyOptions,
      onPolicyStart: (policy) => bar.start(policy, workload.jobs.length),
      onJobDone: (_policy, _outcome, done) => bar.update(done),
      onPolicyDone: (s, wallS) => bar.stop(`${s.policy}: ${s.completed}/${s.jobs} jobs, mean JCT ${s.jct_s.mean?.toFixed(2) ?? '–'} s (${wallS.toFixed(0)} s)`),
    },
  );
  const summaries = runs.map((r) => r.summary);
  if (values.json) {
    for (const s of summaries) process.stdout.write(JSON.stringify(s) + '\n');
  } else {
    process.stdout.write(`\n${describeRun(summaries[0])}\nJCT = job end − arrival, tool time included (seconds)\n\n${comparisonTable(summaries)}`);
  }
  if (values.chart !== false) {
    const path = resolve(values.chart);
    await writeChart(path, benchChartSpec(summaries));
    process.stderr.write(`chart: ${path}\n`);
  }
}
