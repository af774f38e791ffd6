/**
 * docs/scale-out.md's tables from the JSON lines of `astraea simulate --replicas … --json`
 * (docs/results/issue-22/): mean JCT per router × policy × replicas, astraea's ratio to the other
 * policies at each cell, and capacity lines if given.
 *
 *   node dist/bench/scale-out/tables.js docs/results/issue-22/*.jsonl
 */
import { readFileSync } from 'node:fs';
import type { ReplicaRunLine } from '../../lib/cli/simulate-replicas.js';
import type { ReplicaCapacityResult } from '../../lib/sim/replica-capacity.js';
import { endQuietlyOnClosedPipe } from '../../lib/util/closed-pipe.js';

endQuietlyOnClosedPipe();

const runs: ReplicaRunLine[] = [];
const capacities: ReplicaCapacityResult[] = [];
for (const file of process.argv.slice(2)) {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const value = JSON.parse(line) as ReplicaRunLine | ReplicaCapacityResult;
    if ('summary' in value) runs.push(value);
    else capacities.push(value);
  }
}

const fmt = (x: number | null | undefined, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
const policies = [...new Set(runs.map((r) => r.summary.policy))];
const routers = [...new Set(runs.filter((r) => r.replicas > 1).map((r) => r.router))];
const ns = [...new Set(runs.map((r) => r.replicas))].sort((a, b) => a - b);
const loads = [...new Set(runs.map((r) => r.load_per_replica))];

for (const load of loads) {
  const at = runs.filter((r) => r.load_per_replica === load);
  // One replica: every router routes every call to it, so one run stands for all.
  const find = (n: number, router: string, policy: string) => at.find((r) => r.replicas === n && (n === 1 || r.router === router) && r.summary.policy === policy);
  console.log(`\n### Load ${load} per replica: mean JCT, s (p90 in brackets; moves = calls sent to another replica than the job's previous one)\n`);
  console.log(`| router | policy | ${ns.map((n) => `N = ${n}`).join(' | ')} | moves at N = ${ns[ns.length - 1]} | tokens recomputed by moves |`);
  console.log(`| --- | --- | ${ns.map(() => '---:').join(' | ')} | ---: | ---: |`);
  for (const router of routers) {
    for (const policy of policies) {
      const cells = ns.map((n) => find(n, router, policy));
      if (cells.every((c) => c === undefined)) continue;
      const last = cells[cells.length - 1];
      const moved = last ? `${last.routing.moves} of ${last.routing.calls}` : '–';
      console.log(`| ${router} | ${policy} | ${cells.map((c) => (c ? `${fmt(c.summary.jct_s.mean)} (${fmt(c.summary.jct_s.p90, 0)})` : '–')).join(' | ')} | ${moved} | ${last ? (last.routing.movedComputedTokens / 1e6).toFixed(2) + 'M' : '–'} |`);
    }
  }
  // JCT less the job's own tool time: what the serving side is responsible for. It takes out most
  // of the difference between the job lists at different N (their tools' time), not all.
  const nonTool = (r: ReplicaRunLine | undefined) => (r && r.summary.jct_s.mean !== null && r.summary.breakdown_s.tool !== null ? r.summary.jct_s.mean - r.summary.breakdown_s.tool : null);
  console.log(`\nMean non-tool time (JCT − the job's tool time), s:\n`);
  console.log(`| router | policy | ${ns.map((n) => `N = ${n}`).join(' | ')} |`);
  console.log(`| --- | --- | ${ns.map(() => '---:').join(' | ')} |`);
  for (const router of routers) {
    for (const policy of policies) {
      const cells = ns.map((n) => find(n, router, policy));
      if (cells.every((c) => c === undefined)) continue;
      console.log(`| ${router} | ${policy} | ${cells.map((c) => fmt(nonTool(c))).join(' | ')} |`);
    }
  }
  const astraea = policies.includes('astraea');
  if (astraea) {
    console.log(`\nastraea's mean JCT over each other policy's, same router and N (in brackets: the same for mean non-tool time):\n`);
    console.log(`| router | vs | ${ns.map((n) => `N = ${n}`).join(' | ')} |`);
    console.log(`| --- | --- | ${ns.map(() => '---:').join(' | ')} |`);
    for (const router of routers) {
      for (const other of policies.filter((p) => p !== 'astraea')) {
        const ratios = ns.map((n) => {
          const a = find(n, router, 'astraea');
          const o = find(n, router, other);
          const jct = a?.summary.jct_s.mean && o?.summary.jct_s.mean ? (a.summary.jct_s.mean / o.summary.jct_s.mean).toFixed(3) : '–';
          const nt = nonTool(a) !== null && nonTool(o) !== null ? (nonTool(a)! / nonTool(o)!).toFixed(3) : '–';
          return `${jct} (${nt})`;
        });
        console.log(`| ${router} | ${other} | ${ratios.join(' | ')} |`);
      }
    }
  }
}

if (capacities.length > 0) {
  console.log(`\n### Capacity (objective p90 ≤ ${fmt(capacities[0].objectiveP90S)} s = ${fmt(capacities[0].objectiveP90S / capacities[0].unloadedP90S)} × one engine's unloaded p90)\n`);
  console.log('| N | router | policy | jobs/h (set) | jobs/h per replica | load/replica (pass … fail) | p90 at capacity, s |');
  console.log('| ---: | --- | --- | ---: | ---: | --- | ---: |');
  for (const c of capacities) {
    const bracket = c.bracket.fail === null ? `≥ ${fmt(c.bracket.pass, 3)}` : `${fmt(c.bracket.pass, 3)} … ${fmt(c.bracket.fail, 3)}`;
    console.log(`| ${c.replicas} | ${c.replicas === 1 ? '(any: one replica)' : c.router} | ${c.policy} | ${fmt(c.jobsPerHour)} | ${fmt(c.jobsPerHourPerReplica)} | ${bracket} | ${fmt(c.p90S)} |`);
  }
}
