/**
 * `astraea bench --seeds`: one comparison over several workload seeds, every policy paired with a
 * reference seed by seed. One run of the real engine moves by several percent with the machine,
 * more than close policies differ (docs/policies.md, "Goal 3 over eight seeds"), and a machine's
 * speed drifts over the minutes a run of every policy takes, which favours whichever policies run
 * in its fast minutes. So the policies run in the order given on the first seed, reversed on the
 * second, and so on: over an even number of seeds each runs as often early as late, and the drift
 * cancels in the paired means.
 */
import { pairedDifference } from './paired.js';
import type { RunSummary } from './summary.js';
import { layout, seconds } from './table.js';

/** What the table reads of one run (a RunSummary is one). */
export type SeedRun = Pick<RunSummary, 'policy'> & { jct_s: { mean: number | null }; workload_params: { seed: number } };

/** The order of the policies on the seed at `seedIndex` (0-based): as given, then reversed, alternately. */
export function counterbalanced<T>(items: readonly T[], seedIndex: number): T[] {
  return seedIndex % 2 === 0 ? [...items] : [...items].reverse();
}

/** The policy the others are paired with: astraea when it ran, else the first. */
export function referencePolicy(policies: readonly string[]): string {
  return policies.includes('astraea') ? 'astraea' : policies[0];
}

/**
 * One row per policy, best mean first: its mean JCT on each seed, the mean over the seeds, and
 * its paired difference from the reference (mean ± standard error of the per-seed differences)
 * with the number of seeds on which it was slower. A policy that finished no job on some seed
 * has no mean there, and no paired difference.
 */
export function seedsTable(runs: readonly SeedRun[], reference: string): string {
  const seeds = [...new Set(runs.map((r) => r.workload_params.seed))];
  const policies = [...new Set(runs.map((r) => r.policy))];
  const meanOf = (policy: string, seed: number) => runs.find((r) => r.policy === policy && r.workload_params.seed === seed)?.jct_s.mean ?? null;
  const perSeed = new Map(policies.map((p) => [p, seeds.map((s) => meanOf(p, s))]));
  const complete = (p: string) => perSeed.get(p)!.every((m) => m !== null);
  const average = (p: string) => (complete(p) ? (perSeed.get(p)! as number[]).reduce((a, b) => a + b, 0) / seeds.length : Infinity);
  const refMeans = complete(reference) ? (perSeed.get(reference)! as number[]) : null;
  const header = ['policy', ...seeds.map((s) => `seed ${s}`), 'mean s', `vs ${reference}, s`, 'slower on'];
  const rows = [...policies]
    .sort((a, b) => average(a) - average(b))
    .map((p) => {
      const means = perSeed.get(p)!;
      let paired = '';
      let slower = '';
      if (p !== reference && refMeans && complete(p)) {
        const d = pairedDifference(means as number[], refMeans);
        const se = Number.isFinite(d.standardError) ? ` ± ${d.standardError.toFixed(3)}` : '';
        paired = `${d.meanDiff >= 0 ? '+' : '−'}${Math.abs(d.meanDiff).toFixed(3)}${se}`;
        slower = `${(means as number[]).filter((m, i) => m > refMeans[i]).length} of ${seeds.length}`;
      }
      return [p, ...means.map(seconds), complete(p) ? seconds(average(p)) : '–', paired, slower];
    });
  return layout([header, ...rows]);
}
