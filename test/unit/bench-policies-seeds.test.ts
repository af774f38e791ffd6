/**
 * bench/policies --seeds: every seed's table in the alternating order, and one paired table whose
 * columns are those tables' means (simulated with a profile, so it takes a second).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const SCRIPT = 'dist/bench/policies/policies.js';
const PROFILE = 'docs/results/issue-23/calibration/cpu-small-bf16act.json';

describe('bench/policies --seeds', () => {
  // Runs the built script: skipped only where dist/ was not built (`npm test` builds it first, so
  // CI and a user's `npm test` always run it; a bare `npx vitest` on a fresh clone skips).
  it.skipIf(!existsSync(SCRIPT))('reverses the order on every other seed and pairs every policy with astraea', () => {
    const run = spawnSync(process.execPath, [SCRIPT, '--seeds', '3-4', '--profile', PROFILE, '--jobs', '6', '--kv-blocks', '96', '--policies', 'astraea,fcfs,continuum'], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const [perSeed, summary] = run.stdout.split(/\n2 seeds, the order reversed on every other one\n/);
    // Each seed's table, in the order its policies ran.
    const tables = perSeed.split(/(?=simulated with profile)/).filter((t) => t.includes('| policy |'));
    expect(tables.map((t) => /seed (\d+)/.exec(t)![1])).toEqual(['3', '4']);
    const rowsOf = (t: string) => [...t.matchAll(/^\| (\w[\w-]*) \| ([\d.]+) \|/gm)].map((m) => ({ policy: m[1], mean: Number(m[2]) }));
    expect(rowsOf(tables[0]).map((r) => r.policy)).toEqual(['astraea', 'fcfs', 'continuum']);
    expect(rowsOf(tables[1]).map((r) => r.policy)).toEqual(['continuum', 'fcfs', 'astraea']);
    const mean = (seed: number, policy: string) => rowsOf(tables[seed]).find((r) => r.policy === policy)!.mean;
    // The summary's per-seed columns are the tables' means; fcfs's paired difference is recomputed
    // from them (to the tables' two decimals).
    const fcfsRow = summary.split('\n').find((l) => l.startsWith('fcfs'))!.trim().split(/\s{2,}/);
    expect(Number(fcfsRow[1])).toBeCloseTo(mean(0, 'fcfs'), 2);
    expect(Number(fcfsRow[2])).toBeCloseTo(mean(1, 'fcfs'), 2);
    const diffs = [0, 1].map((s) => mean(s, 'fcfs') - mean(s, 'astraea'));
    const [diff] = fcfsRow[4].split(' ± ').map(Number);
    expect(Math.abs(diff - (diffs[0] + diffs[1]) / 2)).toBeLessThan(0.011);
    expect(summary).toMatch(/vs astraea, s/);
  });
});
