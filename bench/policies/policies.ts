/**
 * The scheduling policies on the real engine (not the simulator): one synthetic agent workload
 * (seeded, so every policy sees the same jobs), replayed against each policy on the `small`
 * preset with a KV pool smaller than the working set. Tool calls are real waits (timers).
 * Reports JCT (job end − job arrival, tool time included) and what each policy did with memory.
 *
 *   npm run build:ts && node dist/bench/policies/policies.js [--jobs 24] [--rate 4] [--kv-blocks 160] [--seed 1]
 *
 * `--profile <file or name>` runs the same jobs in the simulator instead, priced by that profile
 * (e.g. one `astraea calibrate` wrote on this machine): the order it predicts, to set beside the
 * real run's. The makespan and JCTs are then virtual seconds.
 *
 * `--seeds 1-8` (in place of `--seed`) runs every seed, the policies in the given order on the
 * first and reversed on the next, alternately (lib/bench/seeds.ts: a machine that drifts over a
 * pass favours none), prints each seed's table, then one of every policy's mean per seed and its
 * paired difference from astraea ± standard error.
 *
 * The workload: one synthetic kind sized for a 2-core CPU — a 64-token shared system prompt +
 * 32–160 own tokens, 2–4 segments of 8–32 output tokens, tool results of 16–64 tokens, tool
 * durations 0.1–1.5 s (uniform). For policy comparisons at scale use bench/policies/sweep.ts (simulator).
 */
import { parseArgs } from 'node:util';
import { Engine } from '../../lib/engine/engine.js';
import { POLICY_NAMES, type PolicyName } from '../../lib/sched/registry.js';
import type { WorkloadJob } from '../../lib/workload/format.js';
import { runWorkload, wallTimers } from '../../lib/workload/replay.js';
import { jctSummary } from '../../lib/bench/summary.js';
import { syntheticAgentWorkload, type SyntheticKind } from '../../lib/workload/agent-mix.js';
import { loadProfile } from '../../lib/sim/profile-file.js';
import { simulate } from '../../lib/sim/simulate.js';
import type { SimulationProfile } from '../../lib/sim/cost-model.js';
import { counterbalanced, referencePolicy, seedsTable, type SeedRun } from '../../lib/bench/seeds.js';
import { seedsOption } from '../../lib/cli/args.js';
import { stepOverheadS } from '../../lib/engine/engine-accounts.js';
import type { EngineStats } from '../../lib/engine/types.js';
import { endQuietlyOnClosedPipe } from '../../lib/util/closed-pipe.js';

endQuietlyOnClosedPipe();

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '24' },
    rate: { type: 'string', default: '4' },
    'kv-blocks': { type: 'string', default: '160' },
    seed: { type: 'string', default: '1' },
    seeds: { type: 'string' },
    policies: { type: 'string', default: POLICY_NAMES.join(',') },
    profile: { type: 'string' },
  },
});

const CPU_SIZED: SyntheticKind = {
  name: 'synthetic',
  weight: 1,
  segments: { min: 2, max: 4 },
  prefixTokens: 64,
  firstInputTokens: { type: 'uniform', min: 32, max: 160 },
  toolResultTokens: { type: 'uniform', min: 16, max: 64 },
  outputTokens: { type: 'uniform', min: 8, max: 32 },
  toolDurationS: { type: 'uniform', min: 0.1, max: 1.5 },
};

async function runPolicy(policy: PolicyName, jobs: WorkloadJob[], kvBlocks: number, profile: SimulationProfile | null) {
  if (profile !== null) {
    const { outcomes, stats, makespanS } = await simulate(jobs, { profile, policy, kvBlocks, hostBlocks: kvBlocks, maxBatchTokens: 512 });
    return { jct: jctSummary(outcomes), failed: outcomes.filter((o) => o.error !== null).length, makespanS, stats };
  }
  const engine = await Engine.create({ model: 'small', dtype: 'bf16', policy, kvBlocks, hostBlocks: kvBlocks, maxBatchTokens: 512 });
  try {
    const start = wallTimers.now();
    const outcomes = await runWorkload(engine, jobs, wallTimers);
    return { jct: jctSummary(outcomes), failed: outcomes.filter((o) => o.error !== null).length, makespanS: wallTimers.now() - start, stats: engine.stats() };
  } finally {
    await engine.close();
  }
}

/** The real engine's time per step outside the backend (the simulator's is a profile constant). */
function controlPlane(stats: EngineStats, real: boolean): string {
  const s = real ? stepOverheadS(stats) : null;
  return s === null ? '—' : (s * 1e3).toFixed(2);
}

/** One seed: every policy on the same jobs, in `order`; prints the seed's table, returns each policy's mean. */
async function runSeed(seed: number, order: readonly PolicyName[], kvBlocks: number, profile: SimulationProfile | null): Promise<SeedRun[]> {
  const jobs = syntheticAgentWorkload({ jobs: Number(values.jobs), arrivalRatePerS: Number(values.rate), seed, kinds: [CPU_SIZED] });
  const rows = [
    '| policy | mean JCT s | p50 | p90 | p99 | makespan s | preemptions | tool-wait KV (preserve/swap/release/discard) | recomputed prompt tokens | failed | steps | control plane ms/step |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
  ];
  const means: SeedRun[] = [];
  for (const policy of order) {
    const { jct, failed, makespanS, stats } = await runPolicy(policy, jobs, kvBlocks, profile);
    const a = stats.kvActions;
    rows.push(
      `| ${policy} | ${jct.mean.toFixed(2)} | ${jct.p50.toFixed(2)} | ${jct.p90.toFixed(2)} | ${jct.p99.toFixed(2)} | ${makespanS.toFixed(1)} | ${stats.preemptions} | ${a.preserve}/${a.swap}/${a.release}/${a.discard} | ${stats.kvTraffic.recomputedPrefillTokens} | ${failed} | ${stats.steps} | ${controlPlane(stats, profile === null)} |`,
    );
    means.push({ policy, jct_s: { mean: jct.mean }, workload_params: { seed } });
    process.stderr.write(`${policy} done\n`);
  }
  const totalTokens = jobs.reduce((s, j) => s + (j.prefixTokens ?? 0) + j.segments.reduce((t, g) => t + g.inputTokens + g.outputTokens, 0), 0);
  process.stdout.write(
    `${profile === null ? 'small preset (BF16)' : `simulated with profile ${values.profile}`}, ${jobs.length} jobs at ${values.rate}/s, ${totalTokens} tokens in all, KV pool ${kvBlocks} blocks of 16 tokens, seed ${seed}\n\n${rows.join('\n')}\n`,
  );
  return means;
}

async function main(): Promise<void> {
  const kvBlocks = Number(values['kv-blocks']);
  const profile = values.profile === undefined ? null : await loadProfile(values.profile);
  const policies = values.policies.split(',') as PolicyName[];
  if (values.seeds === undefined) {
    await runSeed(Number(values.seed), policies, kvBlocks, profile);
    return;
  }
  const runs: SeedRun[] = [];
  const seeds = seedsOption(values.seeds);
  for (const [i, seed] of seeds.entries()) runs.push(...(await runSeed(seed, counterbalanced(policies, i), kvBlocks, profile)));
  process.stdout.write(`\n${seeds.length} seeds, the order reversed on every other one\n\n${seedsTable(runs, referencePolicy(policies))}\n`);
}

await main();
