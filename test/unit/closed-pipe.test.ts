/**
 * A bench script whose reader stops early (`… | head`) ends quietly with status 0, as the CLI does
 * (test/native/cli.test.ts), instead of dying on an unhandled EPIPE with a stack trace. The reader
 * here closes its end before the script's first write, so every write meets a closed pipe.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const SCRIPTS: [string, string][] = [
  ['dist/bench/policies/results-tables.js', 'docs/results/issue-19/eleventh/capacity.jsonl'],
  ['dist/bench/policies/ablation-verdict.js', 'docs/results/issue-19/eighteenth/ablations-sweep-atc.jsonl'],
];

describe('bench scripts on a closed pipe', () => {
  // Skipped only where dist/ was not built (`npm test` builds it first).
  it.skipIf(!existsSync(SCRIPTS[0][0]))('end with status 0 and no stack trace', () => {
    for (const [script, input] of SCRIPTS) {
      const command = `"${process.execPath}" ${script} ${input} | bash -c 'exec 0<&-; sleep 0.5'; echo "exit=\${PIPESTATUS[0]}"`;
      const run = spawnSync('bash', ['-c', command], { encoding: 'utf8' });
      expect(run.stdout.trim(), script).toBe('exit=0');
      expect(run.stderr, script).not.toMatch(/EPIPE|Error|\n\s+at /);
    }
  });
});
