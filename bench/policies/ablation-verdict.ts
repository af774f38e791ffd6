/**
 * Every rule of `astraea` against issue 19's test, from the lines bench/policies/astraea-ablations.sh
 * and results.sh's ablations section write: a rule keeps its place if switching it to its
 * alternative makes mean JCT ≥ 1% worse in some cell and > 1% better in none.
 *
 *   npm run build:ts && node dist/bench/policies/ablation-verdict.js FILE.jsonl ...
 *
 * Takes both kinds of line: sweep.ts's (a cell is a family and scenario, its seeds in `bySeed`)
 * and results.sh's (a cell is a workload, load and pool, a line per seed). Each change is shown
 * with the standard error of its seed-by-seed differences: a simulated run is deterministic, but
 * a small change of decisions sends a memory-bound run down another path, and those paths differ
 * by a few percent either way (airline under pressure moves 1–5% on one seed of three under rules
 * that touch nothing of its). So the verdict tells a cost within two standard errors of zero
 * (noise, by that measure) from one beyond.
 *
 * Prints two markdown tables: per cell the default's mean JCT and, per rule, what it is worth
 * there (the change in mean JCT with the rule switched; positive, the rule helps; in brackets the
 * paired standard error, in points, where there are seeds to pair); then per rule its best and
 * worst cell and the verdict.
 */
import { readJsonLines } from './json-lines.js';
import { endQuietlyOnClosedPipe } from '../../lib/util/closed-pipe.js';

endQuietlyOnClosedPipe();

/** A sweep cell's line (sweep.ts --json, tagged by astraea-ablations.sh). */
interface SweepLine {
  setting: string;
  family: string;
  scenario: string;
  jct: { mean: number };
  bySeed?: { mean: number }[];
}
/** One seed's run (astraea simulate --json, tagged by results.sh's ablations section). */
interface RunLine {
  setting: string;
  workload: string;
  kv_blocks: number;
  workload_params: { load: number; seed: number };
  jct_s: { mean: number };
}

/** The change that counts, either way: 1% (issue 19's test). */
const THRESHOLD = 0.01;

const lines = readJsonLines<SweepLine | RunLine>(process.argv.slice(2));
if (lines.length === 0) throw new Error('usage: ablation-verdict.js FILE.jsonl ... (the lines of astraea-ablations.sh or results.sh ablations)');

const cellOf = (l: SweepLine | RunLine) => ('family' in l ? `${l.family} / ${l.scenario}` : `${l.workload} load ${l.workload_params.load}, ${l.kv_blocks} blocks`);
/** Mean JCT per seed, by setting and cell (a sweep line without seeds counts as one). */
const seedMeans = new Map<string, Map<string, number>>();
for (const l of lines) {
  const key = `${l.setting}|${cellOf(l)}`;
  const bySeed = seedMeans.get(key) ?? new Map<string, number>();
  if ('family' in l) (l.bySeed ?? [l.jct]).forEach((s, i) => bySeed.set(String(i + 1), s.mean));
  else bySeed.set(String(l.workload_params.seed), l.jct_s.mean);
  seedMeans.set(key, bySeed);
}
const cells = [...new Set(lines.map(cellOf))];
const settings = [...new Set(lines.map((l) => l.setting))].filter((s) => s !== 'default');

interface Worth {
  at: string;
  /** The ablation's mean over the default's, − 1: what the rule is worth there. */
  change: number;
  /** The standard error of the seed-by-seed relative differences (NaN with one seed). */
  se: number;
  /** Two standard errors or more from zero (with one seed: unknown, taken as yes). */
  beyondNoise: boolean;
}

function worth(setting: string, at: string): Worth | undefined {
  const base = seedMeans.get(`default|${at}`);
  const switched = seedMeans.get(`${setting}|${at}`);
  if (!base || !switched) return undefined;
  const seeds = [...base.keys()].filter((s) => switched.has(s));
  if (seeds.length === 0) return undefined;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const change = mean(seeds.map((s) => switched.get(s)!)) / mean(seeds.map((s) => base.get(s)!)) - 1;
  const diffs = seeds.map((s) => switched.get(s)! / base.get(s)! - 1);
  const d = mean(diffs);
  const se = diffs.length > 1 ? Math.sqrt(diffs.reduce((a, x) => a + (x - d) ** 2, 0) / (diffs.length - 1) / diffs.length) : Number.NaN;
  return { at, change, se, beyondNoise: Number.isNaN(se) || Math.abs(d) >= 2 * se };
}

const percent = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}`;
const shown = (w: Worth | undefined) => (w === undefined ? '–' : `${percent(w.change)}${Number.isNaN(w.se) || w.se * 100 < 0.05 ? '' : ` (${(w.se * 100).toFixed(1)})`}`);
const label = (setting: string) => `\`${setting.replace(/^astraea\./, '')}\``;

process.stdout.write(`| cell | default, s | ${settings.map(label).join(' | ')} |\n`);
process.stdout.write(`| --- | ---: | ${settings.map(() => '---:').join(' | ')} |\n`);
for (const at of cells) {
  const base = seedMeans.get(`default|${at}`);
  const baseMean = base ? [...base.values()].reduce((a, b) => a + b, 0) / base.size : undefined;
  process.stdout.write(`| ${at} | ${baseMean === undefined ? '–' : baseMean.toFixed(2)} | ${settings.map((s) => shown(worth(s, at))).join(' | ')} |\n`);
}

process.stdout.write('\n| rule switched | worth ≥ 1% in (beyond 2 SE) | best cell | costs > 1% in (beyond 2 SE) | worst cell | keeps its place |\n');
process.stdout.write('| --- | ---: | --- | ---: | --- | --- |\n');
for (const setting of settings) {
  const measured = cells.flatMap((at) => worth(setting, at) ?? []);
  const best = measured.reduce((a, b) => (b.change > a.change ? b : a));
  const worst = measured.reduce((a, b) => (b.change < a.change ? b : a));
  const helps = measured.filter((m) => m.change >= THRESHOLD);
  const costs = measured.filter((m) => m.change < -THRESHOLD);
  const realCosts = costs.filter((m) => m.beyondNoise);
  const verdict =
    helps.length === 0
      ? 'no: worth < 1% everywhere'
      : realCosts.length > 0
        ? `no: costs ${realCosts.map((m) => `${m.at} ${percent(m.change)}%`).join(', ')}`
        : costs.length > 0
          ? 'yes, its costs within 2 SE'
          : 'yes';
  const count = (ms: Worth[]) => `${ms.length} (${ms.filter((m) => m.beyondNoise).length})`;
  process.stdout.write(`| ${label(setting)} | ${count(helps)} | ${best.at} ${shown(best)}% | ${count(costs)} | ${worst.at} ${shown(worst)}% | ${verdict} |\n`);
}
