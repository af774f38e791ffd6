/**
 * A thousand hostile model directories (bench/fuzz/hostile-model-cases.ts): each one loads and
 * serves a step, or is refused with an EngineError that has a code, at the stage that reads the
 * broken thing. Never a crash, an abort, a stray TypeError, a token outside the vocabulary, or an
 * allocation sized by a number in the file rather than by the file. Afterwards the pristine
 * directory still loads and samples the same token as before.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostileCases, OPERATOR_NAMES, type ModelFiles } from '../../bench/fuzz/hostile-model-cases.js';
import { peakRssMiB, runHostileDir, writeModelDir, type HostileOutcome } from '../../bench/fuzz/run-hostile-case.js';
import { makeFixture, removeDir, tempDir } from './fixtures.js';

const CASES = 1000;
const SEED = 1;
/** Codes a model directory may be refused with, by the stage that refuses it. */
const EXPECTED_CODES = ['INVALID_WEIGHTS', 'INVALID_CONFIG', 'UNSUPPORTED_MODEL', 'MODEL_NOT_FOUND', 'INVALID_TOKENIZER', 'INVALID_TEMPLATE', 'INVALID_PLAN', 'NON_FINITE_LOGITS', 'OUT_OF_MEMORY'];

let pristineDir: string;
let workDir: string;
let pristine: ModelFiles;

beforeAll(async () => {
  pristineDir = await makeFixture('qwen2');
  pristine = Object.fromEntries(readdirSync(pristineDir).map((name) => [name, readFileSync(join(pristineDir, name))]));
  workDir = tempDir('hostile');
});
afterAll(() => {
  removeDir(pristineDir);
  removeDir(workDir);
});

describe('hostile model directories', () => {
  it('the fixture has every file the operators break', () => {
    expect(Object.keys(pristine).sort()).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']));
  });

  it(`${CASES} cases: each served or refused with a code, none a defect, memory bounded by the files`, async () => {
    writeModelDir(workDir, pristine);
    const before = await runHostileDir(workDir);
    expect(before.kind).toBe('served');
    const peakBefore = peakRssMiB();

    const defects: string[] = [];
    const byOperator = new Map<string, Map<string, number>>();
    for (const c of hostileCases(pristine, CASES, SEED)) {
      writeModelDir(workDir, c.files);
      const outcome: HostileOutcome = await runHostileDir(workDir);
      const key = outcome.kind === 'served' ? 'served' : outcome.kind === 'refused' ? `${outcome.stage}:${outcome.code}` : 'DEFECT';
      const counts = byOperator.get(c.operator) ?? new Map<string, number>();
      counts.set(key, (counts.get(key) ?? 0) + 1);
      byOperator.set(c.operator, counts);
      if (outcome.kind === 'defect') defects.push(`#${c.index} ${c.operator} (${c.detail}): ${outcome.stage}: ${outcome.message}`);
      else if (outcome.kind === 'refused' && !EXPECTED_CODES.includes(outcome.code)) defects.push(`#${c.index} ${c.operator} (${c.detail}): unexpected code ${outcome.code}: ${outcome.message}`);
    }
    expect(defects).toEqual([]);
    // Every operator ran, and each one's damage was found by some stage at least once.
    expect([...byOperator.keys()].sort()).toEqual([...OPERATOR_NAMES].sort());
    for (const [operator, counts] of byOperator) {
      const refused = [...counts.entries()].filter(([k]) => k !== 'served').reduce((s, [, n]) => s + n, 0);
      expect(refused, `${operator}: ${JSON.stringify(Object.fromEntries(counts))}`).toBeGreaterThan(0);
    }
    // The fixture is ~1.4 MB; no case may make the process touch memory a file's numbers ask for.
    const peakAfter = peakRssMiB();
    if (peakBefore !== null && peakAfter !== null) expect(peakAfter - peakBefore).toBeLessThan(256);

    writeModelDir(workDir, pristine);
    expect(await runHostileDir(workDir)).toEqual(before);
  }, 300_000);
});
