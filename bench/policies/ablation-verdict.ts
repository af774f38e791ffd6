/**
 * Every rule of `astraea` against issue 19's test, from the lines bench/policies/astraea-ablations.sh
 * writes: a rule keeps its place if switching it to its alternative makes mean JCT ≥ 1% worse in
 * some cell of the sweep and > 1% better in none.
 *
 *   npm run build:ts && node dist/bench/policies/ablation-verdict.js ablations-*.jsonl
 *
 * Takes both kinds of line: sweep.ts's (a cell is a family and scenario, its seeds averaged) and
 * results.sh's ablations section (a cell is a workload, load and pool; its seeds are averaged here).
 * Prints two markdown tables: per cell the default's mean JCT and, per rule,
 * what it is worth there (the change in mean JCT with the rule switched: positive, the rule helps);
 * then per rule its best and worst cell and the verdict.
 */
import { readFileSync } from 'node:fs';

/** A sweep cell's line (sweep.ts --json, tagged by astraea-ablations.sh), averaged over its seeds. */
interface SweepLine {
  setting: string;
  family: string;
  scenario: string;
  jct: { mean: number };
}
/** One seed's run (astraea simulate --json, tagged by results.sh's ablations section). */
interface RunLine {
  setting: string;
  workload: string;
  kv_blocks: number;
  workload_params: { load: number };
  jct_s: { mean: number };
}

/** The change that counts, either way: 1%. */
const THRESHOLD = 0.01;

const lines = process.argv.slice(2).flatMap((file) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SweepLine | RunLine),
);
if (lines.length === 0) throw new Error('usage: ablation-verdict.js FILE.jsonl ... (the lines of astraea-ablations.sh or results.sh ablations)');

/** A results.sh cell is its workload, load and pool; its seeds are averaged like a sweep cell's. */
const cell = (l: SweepLine | RunLine) => ('family' in l ? `${l.family} / ${l.scenario}` : `${l.workload} load ${l.workload_params.load}, ${l.kv_blocks} blocks`);
const meanJct = (l: SweepLine | RunLine) => ('family' in l ? l.jct.mean : l.jct_s.mean);
const cells = [...new Set(lines.map(cell))];
const runs = new Map<string, number[]>();
for (const l of lines) {
  const key = `${l.setting}|${cell(l)}`;
  runs.set(key, [...(runs.get(key) ?? []), meanJct(l)]);
}
const meanOf = new Map([...runs].map(([key, means]) => [key, means.reduce((a, b) => a + b, 0) / means.length]));
const settings = [...new Set(lines.map((l) => l.setting))].filter((s) => s !== 'default');

/** What the rule that `setting` switches is worth in `at`: ablation's mean ÷ default's − 1, or undefined if either is missing. */
function worth(setting: string, at: string): number | undefined {
  const base = meanOf.get(`default|${at}`);
  const switched = meanOf.get(`${setting}|${at}`);
  return base === undefined || switched === undefined ? undefined : switched / base - 1;
}

const percent = (x: number | undefined) => (x === undefined ? '–' : `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}`);
const label = (setting: string) => `\`${setting.replace(/^astraea\./, '')}\``;

process.stdout.write(`| cell | default, s | ${settings.map(label).join(' | ')} |\n`);
process.stdout.write(`| --- | ---: | ${settings.map(() => '---:').join(' | ')} |\n`);
for (const at of cells) {
  const base = meanOf.get(`default|${at}`);
  process.stdout.write(`| ${at} | ${base === undefined ? '–' : base.toFixed(2)} | ${settings.map((s) => percent(worth(s, at))).join(' | ')} |\n`);
}

process.stdout.write('\n| rule switched | cells worth ≥ 1% | best cell | cells costing > 1% | worst cell | keeps its place |\n');
process.stdout.write('| --- | ---: | --- | ---: | --- | --- |\n');
for (const setting of settings) {
  const measured = cells.flatMap((at) => {
    const w = worth(setting, at);
    return w === undefined ? [] : [{ at, w }];
  });
  const best = measured.reduce((a, b) => (b.w > a.w ? b : a));
  const worst = measured.reduce((a, b) => (b.w < a.w ? b : a));
  const helps = measured.filter((m) => m.w >= THRESHOLD).length;
  const costs = measured.filter((m) => m.w < -THRESHOLD).length;
  const verdict = helps > 0 && costs === 0 ? 'yes' : helps === 0 ? 'no: worth < 1% everywhere' : 'no: costs > 1% somewhere';
  process.stdout.write(`| ${label(setting)} | ${helps} of ${measured.length} | ${best.at} ${percent(best.w)}% | ${costs} | ${worst.at} ${percent(worst.w)}% | ${verdict} |\n`);
}
