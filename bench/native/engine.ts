/**
 * What the control plane costs: decode throughput of the engine's step loop against the raw
 * native forward pass, on the `small` preset, at several batch sizes. Each job prefills a short
 * prompt and then decodes; the engine reports the wall time of its loop and the time of the
 * native steps inside it, so the control plane's share of each step is measured directly.
 *
 *   npm run build:ts && node dist/bench/native/engine.js [--dtype bf16] [--batches 1,8,32] [--prompt 64] [--decode 48]
 */
import { parseArgs } from 'node:util';
import { Engine } from '../../lib/engine/engine.js';
import type { WeightDtypeOption } from '../../lib/native/types.js';

const { values } = parseArgs({
  options: {
    dtype: { type: 'string', default: 'bf16' },
    batches: { type: 'string', default: '1,8,32' },
    prompt: { type: 'string', default: '64' },
    decode: { type: 'string', default: '48' },
  },
});
const promptTokens = Number(values.prompt);
const decodeTokens = Number(values.decode);

async function main(): Promise<void> {
  const engine = await Engine.create({ model: 'small', dtype: values.dtype as WeightDtypeOption, kvBlocks: 1024, maxBatchTokens: 4096 });
  const vocab = engine.modelInfo.vocabSize;
  const rows: string[] = ['| batch | generated tok/s (wall, prompts included) | native step share of loop time | control plane per step (ms) |', '| ---: | ---: | ---: | ---: |'];
  try {
    for (const batch of values.batches.split(',').map(Number)) {
      const before = engine.stats();
      const started = performance.now();
      await Promise.all(
        Array.from({ length: batch }, (_, j) => {
          const job = engine.createJob();
          const prompt = Array.from({ length: promptTokens }, (_, i) => (i * 7919 + j * 104729 + 13) % vocab);
          return job.generate({ tokens: prompt, maxTokens: decodeTokens, ignoreEos: true }).done.finally(() => job.close());
        }),
      );
      const wallS = (performance.now() - started) / 1000;
      const after = engine.stats();
      const loopS = after.time.loopS - before.time.loopS;
      const nativeS = after.time.nativeS - before.time.nativeS;
      const steps = after.steps - before.steps;
      const controlMs = ((loopS - nativeS) / steps) * 1000;
      rows.push(`| ${batch} | ${((batch * decodeTokens) / wallS).toFixed(1)} | ${((nativeS / loopS) * 100).toFixed(1)}% | ${controlMs.toFixed(3)} |`);
    }
  } finally {
    await engine.close();
  }
  process.stdout.write(`small preset, ${values.dtype}, prompt ${promptTokens}, ${decodeTokens} decode tokens per job\n\n${rows.join('\n')}\n`);
}

await main();
