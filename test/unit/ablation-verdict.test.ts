/**
 * bench/policies/ablation-verdict.ts: what each rule is worth per cell, the paired standard error
 * of its seed-by-seed changes, and the verdict of issue 19's test (≥ 1% better somewhere, > 1% worse
 * nowhere beyond two standard errors). Every figure below is worked out by hand from the lines.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = 'dist/bench/policies/ablation-verdict.js';
const dir = mkdtempSync(join(tmpdir(), 'ablation-verdict-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sweep = (setting: string, family: string, bySeed: number[]) =>
  JSON.stringify({ setting, family, scenario: 'pressure', jct: { mean: bySeed.reduce((a, b) => a + b) / bySeed.length }, bySeed: bySeed.map((mean) => ({ mean })) });

describe('ablation-verdict', () => {
  // Runs the built script: skipped only where dist/ was not built (`npm test` builds it first).
  it.skipIf(!existsSync(SCRIPT))('prices each rule per cell with its paired standard error and gives the verdict', () => {
    const file = join(dir, 'lines.jsonl');
    writeFileSync(
      file,
      [
        sweep('default', 'a', [100, 100, 100]),
        sweep('default', 'b', [100, 100, 100]),
        // x: a +2.0% (changes 2, 3, 1%: mean 2%, sd 1%, SE 0.577%), b +0.5%: worth it, no cost.
        sweep('x', 'a', [102, 103, 101]),
        sweep('x', 'b', [100.5, 100.5, 100.5]),
        // y: a −1.2% (296.5/300 − 1; changes −0.5, −3, 0%: mean −1.167%, sd 1.607%, SE 0.928%, so
        // |mean| < 2 SE: noise), b +3.0% (SE 0): kept, its cost within 2 SE.
        sweep('y', 'a', [99.5, 97, 100]),
        sweep('y', 'b', [103, 103, 103]),
        // z: a −3.0% (SE 0: beyond noise), b +2.0%: fails the test.
        sweep('z', 'a', [97, 97, 97]),
        sweep('z', 'b', [102, 102, 102]),
        // w: +0.5% and +0.3%: worth < 1% everywhere.
        sweep('w', 'a', [100.5, 100.5, 100.5]),
        sweep('w', 'b', [100.3, 100.3, 100.3]),
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, [SCRIPT, file], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const rows = run.stdout.split('\n').filter((l) => l.startsWith('| '));
    expect(rows).toContain('| a / pressure | 100.00 | +2.0 (0.6) | −1.2 (0.9) | −3.0 | +0.5 |');
    expect(rows).toContain('| b / pressure | 100.00 | +0.5 | +3.0 | +2.0 | +0.3 |');
    expect(rows).toContain('| `x` | 1 (1) | a / pressure +2.0 (0.6)% | 0 (0) | b / pressure +0.5% | yes |');
    expect(rows).toContain('| `y` | 1 (1) | b / pressure +3.0% | 1 (0) | a / pressure −1.2 (0.9)% | yes, its costs within 2 SE |');
    expect(rows).toContain('| `z` | 1 (1) | b / pressure +2.0% | 1 (1) | a / pressure −3.0% | no: costs a / pressure −3.0% |');
    expect(rows).toContain('| `w` | 0 (0) | a / pressure +0.5% | 0 (0) | b / pressure +0.3% | no: worth < 1% everywhere |');
  });
});
