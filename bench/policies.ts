/**
 * A first comparison of the scheduling policies on the real engine: one synthetic agent workload
 * (seeded, so every policy sees the same jobs), run against each policy on the `small` preset
 * with a KV pool smaller than the working set. Tool calls are real waits (timers). Reports JCT
 * (job end − job arrival, tool time included) and what each policy did with memory.
 *
 *   npm run build:ts && node dist/bench/policies.js [--jobs 24] [--rate 4] [--kv-blocks 160] [--seed 1]
 *
 * The workload is synthetic, not a trace: 64-token shared system prompt + 32–160 token task,
 * 2–4 segments of 8–32 output tokens, tool results of 16–64 tokens, tool durations 0.1–1.5 s.
 * Traces and the calibrated simulator come with the workload issue.
 */
import { parseArgs } from 'node:util';
import { Engine } from '../lib/engine/engine.js';
import { POLICY_NAMES, type PolicyName } from '../lib/sched/registry.js';
import { exponential, mulberry32 } from '../lib/workload/random.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '24' },
    rate: { type: 'string', default: '4' },
    'kv-blocks': { type: 'string', default: '160' },
    seed: { type: 'string', default: '1' },
    policies: { type: 'string', default: POLICY_NAMES.join(',') },
  },
});

interface JobSpec {
  id: string;
  arrivalS: number;
  prompt: number[];
  segments: { outputTokens: number; toolS: number; resultTokens: number[] }[];
}

function workload(jobs: number, ratePerS: number, seed: number, vocab: number): JobSpec[] {
  const r = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const tokens = (n: number) => Array.from({ length: n }, () => int(0, vocab - 1));
  const system = tokens(64);
  let t = 0;
  return Array.from({ length: jobs }, (_, j) => {
    t += exponential(r, ratePerS); // Poisson arrivals
    const segments = Array.from({ length: int(2, 4) }, () => ({ outputTokens: int(8, 32), toolS: 0.1 + r() * 1.4, resultTokens: tokens(int(16, 64)) }));
    return { id: `job${j}`, arrivalS: t, prompt: [...system, ...tokens(int(32, 160))], segments };
  });
}

const sleep = (s: number) => new Promise((resolve) => setTimeout(resolve, s * 1000));

function quantile(sorted: number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  return sorted[lo] + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? sorted[lo]) - sorted[lo]);
}

async function runPolicy(policy: PolicyName, specs: JobSpec[], kvBlocks: number) {
  const engine = await Engine.create({ model: 'small', dtype: 'bf16', policy, kvBlocks, hostBlocks: kvBlocks, maxBatchTokens: 512 });
  const start = performance.now() / 1000;
  const jcts: number[] = [];
  try {
    await Promise.all(
      specs.map(async (spec) => {
        await sleep(spec.arrivalS);
        const arrived = performance.now() / 1000;
        const job = engine.createJob({ id: spec.id, kind: 'synthetic' });
        const last = spec.segments.length - 1;
        let seg = job.generate({ tokens: spec.prompt, maxTokens: spec.segments[0].outputTokens, ignoreEos: true, endsWithToolCall: last > 0 });
        for (let i = 0; i < last; i++) {
          await seg.done;
          await sleep(spec.segments[i].toolS);
          seg = job.resume({ tokens: spec.segments[i].resultTokens, tool: 'tool', maxTokens: spec.segments[i + 1].outputTokens, ignoreEos: true, endsWithToolCall: i + 1 < last });
        }
        await seg.done;
        jcts.push(performance.now() / 1000 - arrived);
        job.close();
      }),
    );
    const stats = engine.stats();
    jcts.sort((a, b) => a - b);
    return {
      policy,
      mean: jcts.reduce((a, b) => a + b, 0) / jcts.length,
      p50: quantile(jcts, 0.5),
      p90: quantile(jcts, 0.9),
      p99: quantile(jcts, 0.99),
      makespan: performance.now() / 1000 - start,
      stats,
    };
  } finally {
    await engine.close();
  }
}

async function main(): Promise<void> {
  const kvBlocks = Number(values['kv-blocks']);
  const specs = workload(Number(values.jobs), Number(values.rate), Number(values.seed), 32000);
  const rows = ['| policy | mean JCT s | p50 | p90 | p99 | makespan s | preemptions | tool-wait KV (preserve/swap/release/discard) | recomputed prompt tokens |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |'];
  for (const policy of values.policies.split(',') as PolicyName[]) {
    const r = await runPolicy(policy, specs, kvBlocks);
    const a = r.stats.kvActions;
    rows.push(
      `| ${policy} | ${r.mean.toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p90.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.makespan.toFixed(1)} | ${r.stats.preemptions} | ${a.preserve}/${a.swap}/${a.release}/${a.discard} | ${r.stats.kvTraffic.recomputedPrefillTokens} |`,
    );
    process.stderr.write(`${policy} done\n`);
  }
  const totalTokens = specs.reduce((s, j) => s + j.prompt.length + j.segments.reduce((t, g) => t + g.outputTokens + g.resultTokens.length, 0), 0);
  process.stdout.write(
    `small preset (BF16), ${specs.length} jobs at ${values.rate}/s, ${totalTokens} tokens in all, KV pool ${kvBlocks} blocks of 16 tokens, seed ${values.seed}\n\n${rows.join('\n')}\n`,
  );
}

await main();
