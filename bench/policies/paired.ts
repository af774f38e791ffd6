/**
 * Paired comparison of two policies from `sweep.js --json` lines: per (family, scenario), the
 * difference `policy − baseline` of a JCT statistic seed by seed (both policies ran the same
 * jobs), its mean and standard error. A p99 over a few hundred jobs moves by a percent or more
 * from seed to seed, but the two policies' p99s on one seed move together, so the paired
 * difference says whether one is really behind.
 *
 *   node dist/bench/policies/paired.js < lines.jsonl [--policy astraea] [--baseline fcfs] [--stat p99]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pairedDifference } from '../../lib/bench/paired.js';
import type { JctSummary } from '../../lib/bench/summary.js';
import { endQuietlyOnClosedPipe } from '../../lib/util/closed-pipe.js';

const { values } = parseArgs({
  options: {
    policy: { type: 'string', default: 'astraea' },
    baseline: { type: 'string', default: 'fcfs' },
    stat: { type: 'string', default: 'p99' },
  },
});

interface SweepLine {
  family: string;
  scenario: string;
  policy: string;
  bySeed?: JctSummary[];
}

/** Two decimals with an explicit sign; a value that rounds to zero has none. */
function signed(x: number): string {
  const text = x.toFixed(2);
  return Number(text) === 0 ? '0.00' : x > 0 ? `+${text}` : text;
}

function main(): void {
  endQuietlyOnClosedPipe();
  const stat = values.stat as keyof JctSummary;
  const lines = readFileSync(0, 'utf8')
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as SweepLine);
  const find = (family: string, scenario: string, policy: string) => lines.find((l) => l.family === family && l.scenario === scenario && l.policy === policy);
  process.stdout.write(`| family / scenario | seeds | ${values.baseline} ${stat} | ${values.policy} − ${values.baseline} (mean ± s.e.) |\n| --- | ---: | ---: | ---: |\n`);
  for (const l of lines.filter((x) => x.policy === values.policy)) {
    const base = find(l.family, l.scenario, values.baseline!);
    if (!l.bySeed || !base?.bySeed) continue;
    const d = pairedDifference(l.bySeed.map((s) => s[stat]), base.bySeed.map((s) => s[stat]));
    const pct = (100 * d.meanDiff) / d.baseline;
    process.stdout.write(`| ${l.family} / ${l.scenario} | ${d.seeds} | ${d.baseline.toFixed(2)} | ${signed(d.meanDiff)} ± ${d.standardError.toFixed(2)} (${signed(pct)}%) |\n`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
