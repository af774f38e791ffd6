/**
 * The hostile-model fuzzer at any size (the test suite runs 1,000 cases of seed 1): builds a
 * small Qwen2-shaped directory with make-model, then loads, encodes, templates and steps each
 * broken copy of it, and counts what happened per operator — served, or refused at which stage
 * with which code. A defect (anything but an EngineError with a code) is listed with its case;
 * a crash or an abort ends the run, and the last "case" line printed names the culprit.
 *
 *   npm run build:ts && node dist/bench/fuzz/hostile-models.js [--cases 10000] [--seed 2] [--verbose]
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeModel } from '../../lib/model/make-model.js';
import { presetConfig } from '../../lib/model/presets.js';
import { hostileCases, type ModelFiles } from './hostile-model-cases.js';
import { peakRssMiB, runHostileDir, writeModelDir } from './run-hostile-case.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '2' },
    verbose: { type: 'boolean', default: false },
  },
});

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'astraea-fuzz-'));
  const pristineDir = join(root, 'pristine');
  const workDir = join(root, 'work');
  try {
    const config = { ...presetConfig('tiny'), architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', num_key_value_heads: 1, tie_word_embeddings: false };
    await makeModel({ config, outDir: pristineDir, seed: 7, dtype: 'f32' });
    const pristine: ModelFiles = Object.fromEntries(readdirSync(pristineDir).map((name) => [name, readFileSync(join(pristineDir, name))]));
    mkdirSync(workDir);

    const counts = new Map<string, Map<string, number>>();
    const defects: string[] = [];
    const started = performance.now();
    const peakBefore = peakRssMiB();
    for (const c of hostileCases(pristine, Number(values.cases), Number(values.seed))) {
      if (values.verbose) console.log(`case ${c.index} ${c.operator}: ${c.detail}`);
      writeModelDir(workDir, c.files);
      const outcome = await runHostileDir(workDir);
      const key = outcome.kind === 'served' ? 'served' : outcome.kind === 'refused' ? `${outcome.stage} ${outcome.code}` : 'DEFECT';
      const byKey = counts.get(c.operator) ?? new Map<string, number>();
      byKey.set(key, (byKey.get(key) ?? 0) + 1);
      counts.set(c.operator, byKey);
      if (outcome.kind === 'defect') defects.push(`case ${c.index} ${c.operator} (${c.detail}): ${outcome.stage}: ${outcome.message}`);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`${values.cases} cases of seed ${values.seed} in ${seconds.toFixed(1)} s; peak RSS ${peakBefore?.toFixed(0)} → ${peakRssMiB()?.toFixed(0)} MiB`);
    console.log('| operator | outcomes |\n| --- | --- |');
    for (const [operator, byKey] of [...counts].sort()) {
      const outcomes = [...byKey].sort((a, b) => b[1] - a[1]).map(([key, n]) => `${key} ${n}`).join(', ');
      console.log(`| ${operator} | ${outcomes} |`);
    }
    console.log(defects.length === 0 ? 'defects: none' : `defects (${defects.length}):\n${defects.join('\n')}`);
    if (defects.length > 0) process.exitCode = 1;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
