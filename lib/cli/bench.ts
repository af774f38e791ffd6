/**
 * `astraea bench`: the main job. Replays an agent workload against the real engine under every
 * policy (one job list for all, a fresh engine each) and prints JCT per policy with the ratio to
 * fcfs, plus a chart. With no arguments: the embedded default model (built once into the cache)
 * and the default workload (lib/bench/defaults.ts). With `--seeds`, the same over several seeds,
 * each policy paired with astraea seed by seed (lib/bench/seeds.ts).
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { benchChartSpec, writeChart } from '../bench/chart.js';
import { comparePolicies } from '../bench/compare.js';
import { benchDefaults, DEFAULT_BENCH } from '../bench/defaults.js';
import { ensureDefaultModel } from '../bench/default-model.js';
import { isGeneratorName } from '../bench/workload-source.js';
import { EngineError } from '../errors.js';
import { progress } from '../bench/progress.js';
import { counterbalanced, referencePolicy, seedsTable } from '../bench/seeds.js';
import type { RunSummary } from '../bench/summary.js';
import type { PolicyName } from '../sched/registry.js';
import type { GeneratedWorkload } from '../workload/generators/types.js';
import { comparisonTable, describeRun } from '../bench/table.js';
import { ACTIVATIONS_HELP, activationsOption, dtypeOption, integerOption, KV_DTYPE_HELP, kvDtypeOption, seedsOption } from './args.js';
import { addWorkloadOptions, hintsFrom, policiesFrom, policyOptionsFrom, workloadFrom, type WorkloadFlags } from './workload-flags.js';

interface BenchFlags extends WorkloadFlags {
  model?: string;
  dtype?: string;
  activations?: string;
  kvDtype?: string;
  threads?: string;
  kvBlocks?: string;
  seeds?: string;
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
    .option(
      '--seeds <list>',
      'run every seed in the list (e.g. 1-8, or 1,3,5; in place of --seed), the policies in reverse order on every other seed, and print each policy\'s mean JCT per seed and its paired difference from astraea (no chart)',
    )
    .action(runBench);
}

async function runBench(values: BenchFlags): Promise<void> {
  // Each workload has its own CPU scale, load and pool (lib/bench/defaults.ts); flags override them.
  const defaults = benchDefaults(values.workload);
  const seeds = values.seeds === undefined ? null : seedsOption(values.seeds);
  if (seeds !== null && !isGeneratorName(values.workload)) {
    throw new EngineError('INVALID_ARGUMENT', '--seeds draws a generated workload anew for each seed; a workload file has one set of jobs');
  }
  // Every seed's jobs drawn before the model loads, so a bad flag fails at once.
  const workloads = (seeds ?? [values.seed]).map((seed) => workloadFrom({ ...values, seed: String(seed) }, defaults, values.load === undefined ? defaults.load : undefined));
  const policies = policiesFrom(values);
  const hints = hintsFrom(values);
  const policyOptions = policyOptionsFrom(values);
  const kvBlocks = integerOption(values.kvBlocks, 'kv-blocks', defaults.kvBlocks, 1);
  const engine = { dtype: dtypeOption(values.dtype, 'auto'), activations: activationsOption(values.activations), kvDtype: kvDtypeOption(values.kvDtype), threads: integerOption(values.threads, 'threads', 0), kvBlocks, hostBlocks: kvBlocks };
  const model = values.model ?? (await ensureDefaultModel((dir) => process.stderr.write(`astraea bench: building the default model into ${dir} (once)\n`)));
  const target = { kind: 'engine' as const, engine: { model, ...engine }, modelName: values.model ?? 'small (default)' };
  const bar = progress();
  const run = async (workload: GeneratedWorkload, order: readonly PolicyName[], label: (policy: string) => string) => {
    const runs = await comparePolicies(workload, order, target, {
      hints,
      policyOptions,
      onPolicyStart: (policy) => bar.start(label(policy), workload.jobs.length),
      onJobDone: (_policy, _outcome, done) => bar.update(done),
      onPolicyDone: (s, wallS) => bar.stop(`${label(s.policy)}: ${s.completed}/${s.jobs} jobs, mean JCT ${s.jct_s.mean?.toFixed(2) ?? '–'} s (${wallS.toFixed(0)} s)`),
    });
    const summaries = runs.map((r) => r.summary);
    if (values.json) for (const s of summaries) process.stdout.write(JSON.stringify(s) + '\n');
    return summaries;
  };

  if (seeds !== null) {
    // Every seed, the policies' order reversed on every other one (lib/bench/seeds.ts); no chart.
    const all: RunSummary[] = [];
    for (const [i, seed] of seeds.entries()) {
      all.push(...(await run(workloads[i], counterbalanced(policies, i), (policy) => `${policy}, seed ${seed}`)));
    }
    if (!values.json) {
      const reference = referencePolicy(policies);
      process.stdout.write(
        `\n${describeRun(all[0], seeds)}\nMean JCT per seed (job end − arrival, tool time included; seconds); "vs ${reference}": the paired difference over the seeds, ± its standard error\n\n${seedsTable(all, reference)}`,
      );
    }
    return;
  }
  const summaries = await run(workloads[0], policies, (policy) => policy);
  if (!values.json) {
    process.stdout.write(`\n${describeRun(summaries[0])}\nJCT = job end − arrival, tool time included (seconds)\n\n${comparisonTable(summaries)}`);
  }
  if (values.chart !== false) {
    const path = resolve(values.chart);
    await writeChart(path, benchChartSpec(summaries));
    process.stderr.write(`chart: ${path}\n`);
  }
}
