/**
 * Markdown tables for docs/results.md from the JSONL files bench/policies/results.sh writes.
 *
 *   npm run build:ts && node dist/bench/policies/results-tables.js docs/results/results-*.jsonl
 *
 * Sections are told apart by the `section` field each line carries.
 */
import { readJsonLines } from './json-lines.js';
import type { CapacityResult } from '../../lib/bench/capacity.js';
import type { RunSummary } from '../../lib/bench/summary.js';
import { POLICY_NAMES } from '../../lib/sched/registry.js';
import { endQuietlyOnClosedPipe } from '../../lib/util/closed-pipe.js';

endQuietlyOnClosedPipe();

/** `arrivals`: the arrival shape, on the lines of results.sh's `arrivals` section. */
type Line = RunSummary & { section: string; setting?: string; arrivals?: string };
/** A capacity line: one policy's result, tagged with the workload and pool. */
type CapacityLine = CapacityResult & { section: 'capacity'; workload: string; kv_blocks: number };

const all = readJsonLines<Line | CapacityLine>(process.argv.slice(2));
const lines = all.filter((l): l is Line => l.section !== 'capacity');
const capacityLines = all.filter((l): l is CapacityLine => l.section === 'capacity');

const POLICIES: readonly string[] = POLICY_NAMES;
const f = (x: number | null, digits = 2) => (x === null ? '–' : x.toFixed(digits));
/** The part of a JCT the engine controls: everything but the tool calls. */
const engineS = (r: Line) => (r.breakdown_s.queueing ?? 0) + (r.breakdown_s.compute ?? 0) + (r.breakdown_s.kv_recovery ?? 0);
const unique = <T>(xs: T[]) => [...new Set(xs)];

function out(text = ''): void {
  process.stdout.write(text + '\n');
}

/** One table per workload and pool: a row per load, per policy its mean JCT (best in bold). */
function sweepTables(section: string, metric: 'mean' | 'p99' | 'engine'): void {
  const rows = lines.filter((l) => l.section === section);
  const label = (r: Line) => (r.arrivals ? `${r.workload}, ${r.arrivals} arrivals` : r.workload);
  for (const workload of unique(rows.map(label))) {
    for (const blocks of unique(rows.filter((r) => label(r) === workload).map((r) => r.kv_blocks))) {
      const group = rows.filter((r) => label(r) === workload && r.kv_blocks === blocks);
      out(`**${workload}, ${blocks} KV blocks** (${metric === 'engine' ? 'mean JCT less tool time' : `${metric} JCT`}, s; ratio to fcfs in brackets)`);
      out();
      out(`| load | ${POLICIES.join(' | ')} |`);
      out(`| ---: | ${POLICIES.map(() => '---:').join(' | ')} |`);
      for (const load of unique(group.map((r) => r.workload_params.load)).sort((a, b) => a - b)) {
        const at = group.filter((r) => r.workload_params.load === load);
        const value = (r: Line) => (metric === 'engine' ? engineS(r) : r.jct_s[metric]!);
        const fcfs = at.find((r) => r.policy === 'fcfs');
        const best = Math.min(...at.map(value));
        const cells = POLICIES.map((p) => {
          const r = at.find((x) => x.policy === p);
          if (!r) return '';
          const v = value(r);
          const text = `${f(v)}${fcfs && p !== 'fcfs' ? ` (${(v / value(fcfs)).toFixed(2)})` : ''}`;
          return v <= best * 1.0005 ? `**${text}**` : text;
        });
        out(`| ${load} | ${cells.join(' | ')} |`);
      }
      out();
    }
  }
}

/** Learned against oracle lengths, for the two astraea policies and the best baseline. */
function oracleTable(): void {
  const oracle = lines.filter((l) => l.section === 'sim-oracle');
  const learned = lines.filter((l) => l.section === 'sim-learned');
  out('| workload | load | policy | mean JCT, learned | mean JCT, oracle | oracle / learned |');
  out('| --- | ---: | --- | ---: | ---: | ---: |');
  for (const o of oracle) {
    const l = learned.find((x) => x.workload === o.workload && x.kv_blocks === o.kv_blocks && x.workload_params.load === o.workload_params.load && x.policy === o.policy);
    if (!l) continue;
    out(`| ${o.workload} | ${o.workload_params.load} | ${o.policy} | ${f(l.jct_s.mean)} | ${f(o.jct_s.mean)} | ${(o.jct_s.mean! / l.jct_s.mean!).toFixed(3)} |`);
  }
  out();
}

/** Each rule's alternative: mean and p99 averaged over the seeds, and the change from default. */
function ablationTable(): void {
  const rows = lines.filter((l) => l.section === 'ablations');
  const workloads = unique(rows.map((r) => r.workload));
  const avg = (rs: Line[], k: 'mean' | 'p99') => rs.reduce((s, r) => s + r.jct_s[k]!, 0) / rs.length;
  out(`| setting | ${workloads.map((w) => `${w} mean / p99`).join(' | ')} |`);
  out(`| --- | ${workloads.map(() => '---:').join(' | ')} |`);
  for (const setting of unique(rows.map((r) => r.setting ?? 'default'))) {
    const cells = workloads.map((w) => {
      const mine = rows.filter((r) => r.workload === w && (r.setting ?? 'default') === setting);
      const base = rows.filter((r) => r.workload === w && (r.setting ?? 'default') === 'default');
      if (mine.length === 0) return '';
      const change = setting === 'default' ? '' : ` (${((avg(mine, 'mean') / avg(base, 'mean') - 1) * 100).toFixed(1)}%)`;
      return `${f(avg(mine, 'mean'))} / ${f(avg(mine, 'p99'), 1)}${change}`;
    });
    out(`| ${setting} | ${cells.join(' | ')} |`);
  }
  out();
}

/**
 * The real engine: per workload and pool, each policy's JCTs and breakdown. A policy run on
 * several seeds gets the mean over them (one machine's runs are noisy: the seeds' means are
 * listed so the spread shows), its ratio to fcfs's mean over the same seeds.
 */
function realTables(): void {
  const rows = lines.filter((l) => l.section === 'real');
  const mean = (group: Line[], value: (r: Line) => number) => group.reduce((sum, r) => sum + value(r), 0) / group.length;
  for (const workload of unique(rows.map((r) => r.workload))) {
    for (const blocks of unique(rows.filter((r) => r.workload === workload).map((r) => r.kv_blocks))) {
      const group = rows.filter((r) => r.workload === workload && r.kv_blocks === blocks);
      const w = group[0].workload_params;
      const seeds = unique(group.map((r) => r.workload_params.seed)).sort((a, b) => a - b);
      const fcfs = group.filter((r) => r.policy === 'fcfs');
      const seedText = seeds.length > 1 ? `seeds ${seeds.join(', ')}, means over them` : `seed ${seeds[0]}`;
      out(`**${workload}, ${blocks} KV blocks** (${w.jobs} jobs, tokens ×${w.scale.tokens}, time ×${w.scale.time}, load ${w.load}, ${seedText})`);
      out();
      const perSeed = seeds.length > 1 ? ' mean by seed |' : '';
      out(`| policy | mean |${perSeed} p50 | p99 | vs fcfs | queueing | compute | tool | KV recovery | failed |`);
      out(`| --- | ---: |${seeds.length > 1 ? ' --- |' : ''} ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
      for (const policy of unique(group.map((r) => r.policy))) {
        const runs = group.filter((r) => r.policy === policy);
        const m = (value: (r: Line) => number) => mean(runs, value);
        const jctMean = m((r) => r.jct_s.mean!);
        const bySeed = seeds.length > 1 ? ` ${runs.map((r) => f(r.jct_s.mean)).join(', ')} |` : '';
        const vsFcfs = fcfs.length > 0 ? (jctMean / mean(fcfs, (r) => r.jct_s.mean!)).toFixed(3) : '';
        const b = (key: keyof Line['breakdown_s']) => f(m((r) => r.breakdown_s[key] ?? 0));
        out(`| ${policy} | ${f(jctMean)} |${bySeed} ${f(m((r) => r.jct_s.p50!))} | ${f(m((r) => r.jct_s.p99!))} | ${vsFcfs} | ${b('queueing')} | ${b('compute')} | ${b('tool')} | ${b('kv_recovery')} | ${runs.reduce((sum, r) => sum + r.failed, 0)} |`);
      }
      out();
    }
  }
}

/** Per workload and pool, each policy's jobs per hour at the objective, its ratio to fcfs's and the load bracket found. */
function capacityTable(): void {
  out(`| workload, pool | objective p90 | ${POLICIES.join(' | ')} |`);
  out(`| --- | ---: | ${POLICIES.map(() => '---:').join(' | ')} |`);
  for (const workload of unique(capacityLines.map((c) => c.workload))) {
    for (const blocks of unique(capacityLines.filter((c) => c.workload === workload).map((c) => c.kv_blocks))) {
      const group = capacityLines.filter((c) => c.workload === workload && c.kv_blocks === blocks);
      const fcfs = group.find((c) => c.policy === 'fcfs');
      const best = Math.max(...group.map((c) => c.jobsPerHour));
      const cells = POLICIES.map((p) => {
        const c = group.find((x) => x.policy === p);
        if (!c) return '';
        const atLeast = c.bracket.fail === null && c.bracket.pass !== null ? '≥ ' : '';
        const ratio = fcfs && p !== 'fcfs' && fcfs.jobsPerHour > 0 ? ` (${(c.jobsPerHour / fcfs.jobsPerHour).toFixed(2)})` : '';
        // The load bracket the bisection ended on, so a reader sees how settled the figure is.
        const bracket = c.bracket.pass !== null && c.bracket.fail !== null ? `, load ${c.bracket.pass.toFixed(2)}–${c.bracket.fail.toFixed(2)}` : '';
        const text = `${atLeast}${c.jobsPerHour.toFixed(c.jobsPerHour < 100 ? 1 : 0)}${ratio}${bracket}`;
        return c.jobsPerHour >= best * 0.9995 ? `**${text}**` : text;
      });
      out(`| ${workload}, ${blocks} | ${f(group[0].objectiveP90S, 0)} s | ${cells.join(' | ')} |`);
    }
  }
  out();
}

const sections = new Set(all.map((l) => l.section));
if (sections.has('sim-learned')) {
  out('### Simulated, learned lengths: mean JCT');
  out();
  sweepTables('sim-learned', 'mean');
  out('### Simulated, learned lengths: p99 JCT');
  out();
  sweepTables('sim-learned', 'p99');
  out('### Simulated, learned lengths: mean JCT less tool time');
  out();
  sweepTables('sim-learned', 'engine');
}
if (sections.has('arrivals')) {
  out('### Simulated, other arrival shapes: mean and p99 JCT');
  out();
  sweepTables('arrivals', 'mean');
  sweepTables('arrivals', 'p99');
}
if (sections.has('capacity')) {
  out('### Capacity: jobs per hour per engine at a p90 JCT within 2 × the unloaded p90');
  out();
  capacityTable();
}
if (sections.has('sim-oracle')) {
  out('### Oracle against learned lengths');
  out();
  oracleTable();
}
if (sections.has('ablations')) {
  out('### Ablations of astraea');
  out();
  ablationTable();
}
if (sections.has('real')) {
  out('### The real engine');
  out();
  realTables();
}
