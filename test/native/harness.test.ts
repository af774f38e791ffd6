/**
 * The core without Node: the C++ harness (what runs on the GPU machine, which has no Node) builds
 * from cpp/core alone and prints the same logits as the addon.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../lib/model/load.js';
import { positionLogits } from '../../lib/model/logits.js';
import { makeFixture, removeDir } from './fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');
let binary: string;
let dir: string;

beforeAll(async () => {
  binary = execFileSync('bash', [join(ROOT, 'cpp/harness/build_logits.sh'), join(ROOT, 'build/harness')], { encoding: 'utf8' }).trim();
  dir = await makeFixture('qwen2');
}, 300_000);
afterAll(() => removeDir(dir));

describe('C++ harness', () => {
  it('prints the same logits as the addon', async () => {
    const ids = [3, 200, 17, 45, 99, 1, 383];
    const run = spawnSync(binary, ['--model', dir, '--ids', ids.join(','), '--split', '3', '--block-size', '4'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const rows = JSON.parse(run.stdout) as number[][];
    const model = await loadModel({ model: dir });
    try {
      const expected = await positionLogits(model.native, { ids, split: 3, blockSize: 4 });
      expect(rows).toHaveLength(ids.length);
      // %.9g round-trips a float exactly: the same bits as the addon.
      rows.forEach((row, p) => expect(row.map(Math.fround)).toEqual(Array.from(expected[p])));
    } finally {
      model.dispose();
    }
  });

  it('reports core errors with their code and exits non-zero', () => {
    const run = spawnSync(binary, ['--model', join(dir, 'missing'), '--ids', '1'], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/\[MODEL_NOT_FOUND\]/);
  });
});
