/**
 * The package as a user imports it: `from 'astraea'` (package.json's "exports", the compiled
 * dist/), not the sources. The type imports are checked by `tsc -p tsconfig.test.json`: the
 * engine's GenerateOptions must be what the name gives (the workload generators' options once
 * shadowed it), and a job runs through the entry point.
 */
import { describe, expect, it } from 'vitest';
import { Engine, EngineError, generateWorkload, type GenerateOptions, type GenerateWorkloadOptions, type JobOptions } from 'astraea';

describe("import from 'astraea'", () => {
  it('gives the engine’s GenerateOptions, and runs a job', async () => {
    // A field only the engine's options have: this line does not compile against the generators'.
    const options: GenerateOptions = { tokens: [5, 17, 3], maxTokens: 3, ignoreEos: true };
    const job: JobOptions = { id: 'from-the-entry-point' };
    const engine = await Engine.create({ model: 'tiny', kvBlocks: 16 });
    try {
      const result = await engine.createJob(job).generate(options).done;
      expect(result.tokens).toHaveLength(3);
      expect(result.finishReason).toBe('length');
    } finally {
      await engine.close();
    }
  });

  it('keeps the generators’ options under their own name', () => {
    const options: GenerateWorkloadOptions = { jobs: 3, seed: 1 };
    expect(generateWorkload('paper', options).jobs).toHaveLength(3);
    expect(new EngineError('X', 'y').code).toBe('X');
  });
});
