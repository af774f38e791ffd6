/**
 * `astraea micro` as an installed package runs it: the cheapest case (the block manager's
 * `stats()`, about a second a run) through the command line, as a table and as JSON lines; bad
 * flags exit non-zero naming the flag.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'astraea.js');

function astraea(...args: string[]) {
  const run = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

// The loaded pool of lib/micro/block-manager.ts, by hand: 300 owners share a 1,200-token prefix
// (75 blocks of 16) and own 53 blocks each (848 tokens); 24 finished 128-block sequences cached.
const POOL_NOTE = 'pool 15,975 owned + 3,072 cached + 5,953 free of 25,000';

describe('astraea micro', () => {
  it('prints the table: header, then a row with a positive mean and its samples', () => {
    const run = astraea('micro', '--filter', 'stats()', '--max-time', '0.1');
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(['| name | mean µs per op | ± rme % | samples | note |', '| --- | ---: | ---: | ---: | --- |']);
    expect(lines).toHaveLength(3);
    const [name, meanUs, rmePct, samples, note] = lines[2].split('|').slice(1, -1).map((cell) => cell.trim());
    expect(name).toBe('stats()');
    expect(Number(meanUs)).toBeGreaterThan(0);
    expect(Number.isFinite(Number(meanUs))).toBe(true);
    expect(Number(rmePct)).toBeGreaterThanOrEqual(0);
    // The harness asks Benchmark.js for at least 10 cycles.
    expect(Number(samples)).toBeGreaterThanOrEqual(10);
    expect(note).toBe(POOL_NOTE);
    // Progress goes to stderr, leaving stdout to the table.
    expect(run.stderr).toMatch(/^stats\(\): [\d.]+ µs ±[\d.]+% \(\d+ samples\)$/m);
  });

  it('--json prints one line per case with the result’s fields', () => {
    const run = astraea('micro', '--filter', 'stats()', '--max-time', '0.1', '--json');
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]);
    expect(Object.keys(result).sort()).toEqual(['meanS', 'name', 'note', 'rmePct', 'samples']);
    expect(result).toMatchObject({ name: 'stats()', note: POOL_NOTE });
    expect(result.meanS).toBeGreaterThan(0);
    expect(Number.isFinite(result.meanS)).toBe(true);
    expect(Number.isInteger(result.samples) && result.samples >= 10).toBe(true);
  });

  it('bad flags exit non-zero with a message naming the problem', () => {
    const cases: [string[], RegExp][] = [
      [['micro', '--max-time', '0'], /--max-time must be a number > 0.*\[INVALID_ARGUMENT\]/],
      [['micro', '--max-time', 'soon'], /--max-time must be a number > 0/],
      [['micro', '--filter', 'no such case'], /"no such case" matches no case name nor group.*\[INVALID_ARGUMENT\]/],
      [['micro', '--frobnicate'], /frobnicate/],
    ];
    for (const [args, message] of cases) {
      const run = astraea(...args);
      expect(run.code, args.join(' ')).not.toBe(0);
      expect(run.stderr, args.join(' ')).toMatch(message);
      expect(run.stdout, args.join(' ')).toBe('');
    }
  });
});
