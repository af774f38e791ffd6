/**
 * How far each policy is from the best possible schedule: the offline lower bound on mean JCT
 * (lib/sim/lower-bound.ts — no schedule, even one that knows every job in advance, does better on
 * the simulator's cost model) beside each policy's simulated mean JCT, per load, over seeds.
 * docs/policies.md ("How far from the best possible schedule") reads it against issue 19's goals.
 *
 *   npm run build:ts && node dist/bench/policies/lower-bound.js [--workload coding] [--loads 1,2,2.5,3]
 *     [--seeds 1,2,3] [--kv-blocks 25000] [--arrivals poisson|azure|burst] [--jobs n] [--policies fcfs,astraea,...]
 *     [--jsonl out.jsonl] [--order-by-work]
 *   node dist/bench/policies/lower-bound.js --from out.jsonl    # the table again, from the lines
 *
 * Each (load, seed) prints one JSON line (to --jsonl, else stderr as it ends); the table at the end
 * has each policy's mean over the seeds and its ratio to the bound's mean, and the tool calls' mean
 * duration (in every JCT alike: subtract it for the part a schedule controls). Lines also carry the
 * p90 JCT no schedule beats (lib/sim/on-time-bound.ts) and each policy's p90; a second table shows
 * them where the lines have them.
 *
 * `--order-by-work` (for `--arrivals burst`, where every job arrives at t = 0): the jobs reach the
 * engine in the order of the work each owes the device, least first, a microsecond apart — so
 * fcfs serves them shortest-first, as if every job's size were known in advance.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { POLICY_NAMES, type PolicyName } from '../../lib/sched/registry.js';
import { simulationProfile } from '../../lib/sim/cost-model.js';
import { quantile } from '../../lib/bench/summary.js';
import { jobBounds, meanJctLowerBound, type JobBound } from '../../lib/sim/lower-bound.js';
import { quantileJctLowerBound } from '../../lib/sim/on-time-bound.js';
import { simulate } from '../../lib/sim/simulate.js';
import { generateWorkload } from '../../lib/workload/generators/index.js';
import type { WorkloadJob } from '../../lib/workload/format.js';
import type { ArrivalShape } from '../../lib/workload/generators/types.js';
import { endQuietlyOnClosedPipe } from '../../lib/util/closed-pipe.js';

endQuietlyOnClosedPipe();

const { values } = parseArgs({
  options: {
    workload: { type: 'string', default: 'coding' },
    loads: { type: 'string', default: '1,2,2.5,3' },
    seeds: { type: 'string', default: '1,2,3' },
    'kv-blocks': { type: 'string', default: '25000' },
    arrivals: { type: 'string' },
    jobs: { type: 'string' },
    policies: { type: 'string', default: POLICY_NAMES.join(',') },
    jsonl: { type: 'string' },
    from: { type: 'string' },
    'order-by-work': { type: 'boolean', default: false },
  },
});

const list = (text: string) => text.split(',').map(Number);
const profile = simulationProfile('h100-llama3-8b');
const kvBlocks = Number(values['kv-blocks']);
const policies = values.policies.split(',') as PolicyName[];

interface Line {
  workload: string;
  arrivals: string | null;
  load: number;
  seed: number;
  kvBlocks: number;
  bound: { meanJctS: number; aloneMeanJctS: number; workMeanJctS: number; meanToolS: number; totalWorkS: number; arrivalSpanS: number; p90JctS?: number };
  meanJctS: Record<string, number>;
  /** Absent from lines written before the p90 bound existed. */
  p90JctS?: Record<string, number>;
}

async function run(): Promise<Line[]> {
  const lines: Line[] = [];
  for (const load of list(values.loads)) {
    for (const seed of list(values.seeds)) {
      const { jobs: generated } = generateWorkload(values.workload, {
        seed,
        load,
        jobs: values.jobs === undefined ? undefined : Number(values.jobs),
        arrivals: values.arrivals as ArrivalShape | undefined,
      });
      const bounds = jobBounds(generated, profile, { kvBlocks });
      const jobs = values['order-by-work'] ? byWork(generated, bounds) : generated;
      const bound = meanJctLowerBound(bounds);
      const line: Line = {
        workload: values.workload,
        arrivals: values.arrivals ?? null,
        load,
        seed,
        kvBlocks,
        bound: { ...bound, arrivalSpanS: jobs[jobs.length - 1].arrivalS - jobs[0].arrivalS, p90JctS: quantileJctLowerBound(bounds, 0.9) },
        meanJctS: {},
        p90JctS: {},
      };
      for (const policy of policies) {
        const { outcomes } = await simulate(jobs, { profile, policy, kvBlocks });
        line.meanJctS[policy] = outcomes.reduce((sum, o) => sum + o.jctS, 0) / outcomes.length;
        line.p90JctS![policy] = quantile(outcomes.map((o) => o.jctS).sort((a, b) => a - b), 0.9);
      }
      lines.push(line);
      if (values.jsonl) appendFileSync(values.jsonl, JSON.stringify(line) + '\n');
      else process.stderr.write(JSON.stringify(line) + '\n');
    }
  }
  return lines;
}

/** The jobs in order of the work they owe, least first, each a microsecond after the one before. */
function byWork(jobs: WorkloadJob[], bounds: JobBound[]): WorkloadJob[] {
  const workOf = new Map(bounds.map((b) => [b.id, b.workS]));
  return [...jobs].sort((a, b) => workOf.get(a.id)! - workOf.get(b.id)!).map((job, i) => ({ ...job, arrivalS: job.arrivalS + i * 1e-6 }));
}

function read(path: string): Line[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** Per load: the bound, the tools' share, each policy's mean over the seeds and its ratio to the bound. */
function table(lines: Line[]): string {
  const loads = [...new Set(lines.map((l) => l.load))].sort((a, b) => a - b);
  const shown = Object.keys(lines[0].meanJctS);
  const first = lines[0];
  const seeds = [...new Set(lines.map((l) => l.seed))].join(', ');
  const header = ['load', 'bound (alone / work)', 'tools', ...shown.map((p) => `${p} (÷ bound)`), 'bound ÷ fcfs'];
  const rows = loads.map((load) => {
    const at = lines.filter((l) => l.load === load);
    const bound = mean(at.map((l) => l.bound.meanJctS));
    const cells = shown.map((p) => {
      const m = mean(at.map((l) => l.meanJctS[p]));
      return `${m.toFixed(1)} (${(m / bound).toFixed(2)})`;
    });
    const fcfs = shown.includes('fcfs') ? (bound / mean(at.map((l) => l.meanJctS.fcfs))).toFixed(2) : '–';
    const parts = `${mean(at.map((l) => l.bound.aloneMeanJctS)).toFixed(1)} / ${mean(at.map((l) => l.bound.workMeanJctS)).toFixed(1)}`;
    const tools = mean(at.map((l) => l.bound.meanToolS)).toFixed(1);
    return `| ${load} | ${bound.toFixed(1)} (${parts}) | ${tools} | ${cells.join(' | ')} | ${fcfs} |`;
  });
  return [
    `${first.workload}${first.arrivals ? `, ${first.arrivals} arrivals` : ''}, ${first.kvBlocks} blocks, seeds ${seeds}: mean JCT (s)`,
    '',
    `| ${header.join(' | ')} |`,
    `| --- |${' ---: |'.repeat(header.length - 1)}`,
    ...rows,
  ].join('\n');
}

/** Per load, over the lines that have them: the p90 bound and each policy's p90, over the bound. */
function p90Table(all: Line[]): string {
  const lines = all.filter((l) => l.p90JctS !== undefined && l.bound.p90JctS !== undefined);
  if (lines.length === 0) return '';
  const loads = [...new Set(lines.map((l) => l.load))].sort((a, b) => a - b);
  const shown = Object.keys(lines[0].p90JctS!);
  const rows = loads.map((load) => {
    const at = lines.filter((l) => l.load === load);
    const bound = mean(at.map((l) => l.bound.p90JctS!));
    const cells = shown.map((p) => {
      const m = mean(at.map((l) => l.p90JctS![p]));
      return `${m.toFixed(1)} (${(m / bound).toFixed(2)})`;
    });
    return `| ${load} | ${bound.toFixed(1)} | ${cells.join(' | ')} |`;
  });
  const seeds = [...new Set(lines.map((l) => l.seed))].join(', ');
  return [
    `p90 JCT (s), seeds ${seeds}: the bound no schedule beats, and each policy (÷ the bound)`,
    '',
    `| load | p90 bound | ${shown.join(' | ')} |`,
    `| --- |${' ---: |'.repeat(shown.length + 1)}`,
    ...rows,
  ].join('\n');
}

const lines = values.from === undefined ? await run() : read(values.from);
const p90 = p90Table(lines);
process.stdout.write(`\n${table(lines)}\n${p90 ? `\n${p90}\n` : ''}`);
