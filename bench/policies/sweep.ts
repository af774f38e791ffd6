/**
 * Policy sweep on the simulator: every policy on every workload family, under light load, heavy
 * load and memory pressure, over several seeds. The simulator is the real engine (scheduler,
 * block manager, predictors, step loop) on a cost model and a virtual clock, so a sweep of
 * hundreds of runs takes minutes. Results go to docs/policies.md.
 *
 *   npm run build:ts && node dist/bench/policies/sweep.js [--families airline,coding,chat,mixed,conversation,tau]
 *     [--scenarios light,heavy,pressure] [--seeds 3] [--policies fcfs,astraea,...]
 *     [--profile h100-llama3-8b] [--hints none|oracle] [--set astraea.key=value,...] [--json]
 *
 * `--set` passes options to the astraea policies (e.g. `--set astraea.highWatermark=0.9`), for
 * ablations and for sweeping the paper's unknowns.
 */
import { readFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { simulate } from '../../lib/sim/simulate.js';
import { POLICY_NAMES, type PolicyName } from '../../lib/sched/registry.js';
import { policyOptionsFrom } from '../../lib/cli/workload-flags.js';
import type { WorkloadJob } from '../../lib/workload/format.js';
import { jctSummary, type JctSummary } from '../../lib/bench/summary.js';
import { CONVERSATION_KIND, DEFAULT_SYNTHETIC_KINDS, sample, syntheticAgentWorkload } from '../../lib/workload/agent-mix.js';
import { fromTauBench } from '../../lib/workload/trace-converters.js';
import { endQuietlyOnClosedPipe } from '../../lib/util/closed-pipe.js';

endQuietlyOnClosedPipe();

const { values } = parseArgs({
  options: {
    families: { type: 'string', default: 'airline,tau,chat,coding,mixed,conversation' },
    scenarios: { type: 'string', default: 'light,heavy,pressure' },
    seeds: { type: 'string', default: '3' },
    policies: { type: 'string', default: POLICY_NAMES.join(',') },
    profile: { type: 'string', default: 'h100-llama3-8b' },
    hints: { type: 'string', default: 'none' },
    set: { type: 'string', default: '' },
    json: { type: 'boolean', default: false },
    /** Override every chosen scenario's jobs, arrival rate or KV pool (exploration). */
    jobs: { type: 'string' },
    rate: { type: 'string' },
    'kv-blocks': { type: 'string' },
  },
});

interface Scenario {
  jobs: number;
  ratePerS: number;
  kvBlocks: number;
}

/** Per family: how many jobs, and the rates and pools of its three scenarios (H100 profile). */
const FAMILIES: Record<string, { scenarios: Record<string, Scenario>; make: (s: Scenario, seed: number) => WorkloadJob[] }> = {
  airline: { scenarios: { light: { jobs: 200, ratePerS: 2, kvBlocks: 25000 }, heavy: { jobs: 200, ratePerS: 8, kvBlocks: 25000 }, pressure: { jobs: 200, ratePerS: 8, kvBlocks: 3000 } }, make: synthetic('airline') },
  tau: { scenarios: { light: { jobs: 200, ratePerS: 2, kvBlocks: 25000 }, heavy: { jobs: 200, ratePerS: 8, kvBlocks: 25000 }, pressure: { jobs: 200, ratePerS: 8, kvBlocks: 3000 } }, make: tau },
  coding: { scenarios: { light: { jobs: 40, ratePerS: 0.1, kvBlocks: 25000 }, heavy: { jobs: 60, ratePerS: 0.4, kvBlocks: 25000 }, pressure: { jobs: 60, ratePerS: 0.4, kvBlocks: 6000 } }, make: synthetic('coding') },
  chat: { scenarios: { light: { jobs: 300, ratePerS: 10, kvBlocks: 25000 }, heavy: { jobs: 600, ratePerS: 40, kvBlocks: 25000 }, pressure: { jobs: 600, ratePerS: 40, kvBlocks: 1000 } }, make: synthetic('chat') },
  conversation: { scenarios: { light: { jobs: 100, ratePerS: 0.2, kvBlocks: 25000 }, heavy: { jobs: 200, ratePerS: 1, kvBlocks: 25000 }, pressure: { jobs: 200, ratePerS: 1, kvBlocks: 4000 } }, make: (s, seed) => syntheticAgentWorkload({ jobs: s.jobs, arrivalRatePerS: s.ratePerS, seed, kinds: [CONVERSATION_KIND] }) },
  mixed: { scenarios: { light: { jobs: 150, ratePerS: 0.5, kvBlocks: 25000 }, heavy: { jobs: 200, ratePerS: 2, kvBlocks: 25000 }, pressure: { jobs: 200, ratePerS: 2, kvBlocks: 6000 } }, make: (s, seed) => syntheticAgentWorkload({ jobs: s.jobs, arrivalRatePerS: s.ratePerS, seed }) },
};

function synthetic(kind: string) {
  const k = DEFAULT_SYNTHETIC_KINDS.find((x) => x.name === kind)!;
  return (s: Scenario, seed: number) => syntheticAgentWorkload({ jobs: s.jobs, arrivalRatePerS: s.ratePerS, seed, kinds: [{ ...k, weight: 1 }] });
}

const TAU_CSV = new URL('../../../../shared/traces/tau_bench/derived_gpt-4o-airline_llm_calls.csv', import.meta.url);

/**
 * tau-bench airline replayed: the trace's token counts, Poisson arrivals, and (the trace has no
 * timing) assumed waits: a tool call (mock-database lookup) lognormal(median 0.2 s, σ 1), the
 * simulated user's reply (itself an LLM call) lognormal(median 2 s, σ 0.8).
 */
function tau(s: Scenario, seed: number): WorkloadJob[] {
  if (!existsSync(TAU_CSV)) throw new Error(`tau family: ${TAU_CSV.pathname} not found (../shared/traces beside the checkout)`);
  const dist = { tool: { type: 'lognormal', median: 0.2, sigma: 1, min: 0.01, max: 30 }, user: { type: 'lognormal', median: 2, sigma: 0.8, min: 0.1, max: 60 } } as const;
  return fromTauBench(readFileSync(TAU_CSV, 'utf8'), {
    arrivalRatePerS: s.ratePerS,
    seed,
    maxJobs: s.jobs,
    prefixTokens: 1200,
    toolDurationS: (name, rng) => sample(name === 'user' ? dist.user : dist.tool, rng),
  });
}

interface Row {
  family: string;
  scenario: string;
  policy: string;
  seeds: number;
  /** Averaged over the seeds. */
  jct: JctSummary;
  /** Seed 1, 2, …: for paired comparisons between policies (bench/policies/paired.ts). */
  bySeed: JctSummary[];
  failed: number;
  preemptions: number;
  recomputed: number;
}

async function main(): Promise<void> {
  const policies = values.policies.split(',') as PolicyName[];
  const overrides = policyOptionsFrom({ set: values.set.split(',').filter(Boolean) });
  const seeds = Number(values.seeds);
  const rows: Row[] = [];
  for (const family of values.families.split(',')) {
    const spec = FAMILIES[family];
    if (!spec) throw new Error(`unknown family ${family} (available: ${Object.keys(FAMILIES).join(', ')})`);
    for (const scenarioName of values.scenarios.split(',')) {
      const scenario = {
        ...spec.scenarios[scenarioName],
        ...(values.jobs ? { jobs: Number(values.jobs) } : {}),
        ...(values.rate ? { ratePerS: Number(values.rate) } : {}),
        ...(values['kv-blocks'] ? { kvBlocks: Number(values['kv-blocks']) } : {}),
      };
      for (const policy of policies) {
        const summaries: JctSummary[] = [];
        let failed = 0;
        let preemptions = 0;
        let recomputed = 0;
        for (let seed = 1; seed <= seeds; seed++) {
          const jobs = spec.make(scenario, seed);
          const r = await simulate(jobs, {
            profile: values.profile,
            policy,
            policyOptions: overrides[policy],
            kvBlocks: scenario.kvBlocks,
            hints: values.hints as 'none' | 'oracle',
          });
          summaries.push(jctSummary(r.outcomes));
          failed += r.outcomes.filter((o) => o.error !== null).length;
          preemptions += r.stats.preemptions;
          recomputed += r.stats.kvTraffic.recomputedPrefillTokens;
        }
        const avg = (k: keyof JctSummary) => summaries.reduce((a, m) => a + m[k], 0) / summaries.length;
        rows.push({ family, scenario: scenarioName, policy, seeds, jct: { mean: avg('mean'), p50: avg('p50'), p90: avg('p90'), p99: avg('p99') }, bySeed: summaries, failed, preemptions, recomputed });
        process.stderr.write(`${family}/${scenarioName} ${policy}: mean ${avg('mean').toFixed(2)} p99 ${avg('p99').toFixed(2)}\n`);
      }
    }
  }
  if (values.json) {
    for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
    return;
  }
  process.stdout.write(`profile ${values.profile}, hints ${values.hints}, ${seeds} seeds (JCT seconds, averaged over seeds)${values.set ? `, --set ${values.set}` : ''}\n\n`);
  process.stdout.write('| family | scenario | policy | mean | p50 | p99 | vs best mean | preemptions | recomputed tokens | failed |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n');
  for (const row of rows) {
    const group = rows.filter((r) => r.family === row.family && r.scenario === row.scenario);
    const best = Math.min(...group.map((r) => r.jct.mean));
    process.stdout.write(
      `| ${row.family} | ${row.scenario} | ${row.policy} | ${row.jct.mean.toFixed(2)} | ${row.jct.p50.toFixed(2)} | ${row.jct.p99.toFixed(2)} | ${(row.jct.mean / best).toFixed(3)} | ${row.preemptions} | ${row.recomputed} | ${row.failed} |\n`,
    );
  }
}

await main();
