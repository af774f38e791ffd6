/**
 * The installed command as a user runs it: `astraea make-model`, then `astraea logits --json`,
 * checked against the independent reference; bad use exits non-zero with a message.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceForDir, relativeError, removeDir, tempDir } from './fixtures.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'astraea.js');

function astraea(...args: string[]) {
  return astraeaWithEnv({}, ...args);
}

function astraeaWithEnv(env: Record<string, string>, ...args: string[]) {
  const run = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

let dir: string;

beforeAll(() => {
  dir = join(tempDir('cli'), 'tiny');
  const made = astraea('make-model', '--preset', 'tiny', '--out', dir, '--seed', '5');
  expect(made.stderr).toBe('');
  expect(made.code).toBe(0);
});
afterAll(() => removeDir(join(dir, '..')));

describe('astraea CLI', () => {
  it('make-model writes a complete Hugging Face directory', () => {
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
      expect(existsSync(join(dir, file)), file).toBe(true);
    }
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ architectures: ['LlamaForCausalLM'], hidden_size: 128, vocab_size: 384 });
  });

  it('logits --json prints every position, matching the reference', () => {
    const ids = [5, 17, 3, 99, 250, 7];
    const run = astraea('logits', '--model', dir, '--ids', ids.join(','), '--split', '2', '--json');
    expect(run.code).toBe(0);
    const rows = JSON.parse(run.stdout) as number[][];
    expect(rows).toHaveLength(ids.length);
    const reference = referenceForDir(dir, ids);
    rows.forEach((row, p) => expect(relativeError(row, reference[p]), `position ${p}`).toBeLessThan(1e-4));
  });

  it.each(['avx2', 'scalar'])('the %s kernels (forced with ASTRAEA_SIMD) also match the reference', (level) => {
    // The machine may lack the level asked for; the addon then uses what it has, still checked.
    const ids = [5, 17, 3, 99, 250, 7, 31, 64, 2, 200, 11, 42, 8, 1, 300, 77, 9, 120];
    const run = astraeaWithEnv({ ASTRAEA_SIMD: level }, 'logits', '--model', dir, '--ids', ids.join(','), '--split', '5', '--json');
    expect(run.stderr).toBe('');
    const rows = JSON.parse(run.stdout) as number[][];
    const reference = referenceForDir(dir, ids);
    rows.forEach((row, p) => expect(relativeError(row, reference[p]), `position ${p}`).toBeLessThan(1e-4));
  });

  it('logits --dummy with the same seed equals the written model', () => {
    const a = astraea('logits', '--model', dir, '--ids', '1,2,3', '--json');
    const b = astraea('logits', '--model', dir, '--dummy', '--seed', '5', '--ids', '1,2,3', '--json');
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout)).toEqual(JSON.parse(a.stdout));
  });

  it('bad use exits non-zero with a message naming the problem', () => {
    const cases: [string[], RegExp][] = [
      [['logits', '--model', dir, '--ids', '1,x'], /"x" is not an integer/],
      [['logits', '--model', dir, '--ids', '1,2', '--split', '3'], /split must be between 1 and 2/],
      [['logits', '--model', dir, '--ids', '1,999'], /outside the vocabulary/],
      [['logits', '--model', join(dir, 'nope'), '--ids', '1'], /does not exist/],
      [['logits', '--model', dir, '--ids', '1', '--frobnicate'], /frobnicate/],
      [['make-model', '--preset', 'huge', '--out', dir], /--preset must be tiny or small/],
      [['nonsense'], /unknown command/],
    ];
    for (const [args, message] of cases) {
      const run = astraea(...args);
      expect(run.code, args.join(' ')).not.toBe(0);
      expect(run.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('bench says plainly that it is not yet available', () => {
    const run = astraea('bench');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/not yet available/);
  });
});
