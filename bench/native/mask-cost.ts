/**
 * What constrained decoding costs per decode step: the engine's step time with every sequence
 * constrained against the same batch unconstrained, at batch 1 and 32. By default the constraint
 * is a JSON string of at least 4 × decode characters (or --schema, which must not complete within
 * --decode tokens either), so every sequence stays inside the grammar for the whole run: each step computes one mask per sequence (the matcher follows
 * the token, xgrammar builds the next bitmask, the UTF-8 guard ANDs its own), copies it into
 * the plan, and the native sampler applies it. The mask time is also timed on its own (the
 * constraint's `accept`, which is where the next mask is computed).
 *
 *   npm run build:ts && node dist/bench/native/mask-cost.js [--model tiny] [--batches 1,32] [--decode 64] [--schema JSON]
 */
import { parseArgs } from 'node:util';
import { constraintForModel } from '../../lib/constrain/engine-constraint.js';
import type { TokenConstraint } from '../../lib/constrain/constraint.js';
import { Engine } from '../../lib/engine/engine.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'tiny' },
    batches: { type: 'string', default: '1,32' },
    decode: { type: 'string', default: '64' },
    repeats: { type: 'string', default: '3' },
    /** The grammar every sequence follows; it must not complete within --decode tokens. */
    schema: { type: 'string', default: '' },
  },
});
const decodeTokens = Number(values.decode);
const repeats = Number(values.repeats);

/** Counts the time spent computing masks (accept: the matcher steps and the next mask is built). */
class Timed implements TokenConstraint {
  static maskS = 0;
  constructor(private readonly inner: TokenConstraint) {}
  allowedTokens(): Uint32Array {
    return this.inner.allowedTokens();
  }
  isComplete(): boolean {
    return this.inner.isComplete();
  }
  async accept(token: number): Promise<boolean> {
    const started = performance.now();
    const ok = await this.inner.accept(token);
    Timed.maskS += (performance.now() - started) / 1000;
    return ok;
  }
  dispose(): void {
    this.inner.dispose();
  }
}

/** Runs `batch` jobs of `decodeTokens` each; returns the loop's seconds per step and the step count. */
async function run(engine: Engine, batch: number, constrained: boolean): Promise<{ perStepMs: number; steps: number; maskMsPerStep: number }> {
  const schema = values.schema ? (JSON.parse(values.schema) as object) : { type: 'string', minLength: 4 * decodeTokens };
  const constraints = constrained ? await Promise.all(Array.from({ length: batch }, async () => new Timed(await constraintForModel(engine, { kind: 'json_schema', schema })))) : [];
  Timed.maskS = 0;
  const before = engine.stats();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: batch }, async (_, i) => {
      const job = engine.createJob({});
      const result = await job.generate({
        tokens: [10 + i, 20, 30, 40],
        maxTokens: decodeTokens,
        sampling: { temperature: 1, seed: i },
        ...(constrained ? { constraint: constraints[i] } : { ignoreEos: true }),
      }).done;
      if (result.tokens.length !== decodeTokens) throw new Error(`a job generated ${result.tokens.length} tokens, not ${decodeTokens}`);
      job.close();
    }),
  );
  const wallS = (performance.now() - started) / 1000;
  const steps = engine.stats().steps - before.steps;
  return { perStepMs: (wallS * 1000) / steps, steps, maskMsPerStep: (Timed.maskS * 1000) / steps };
}

async function main(): Promise<void> {
  const engine = await Engine.create({ model: values.model, kvBlocks: 1024, maxBatchTokens: 4096 });
  const rows = [
    `| batch | step, unconstrained (ms) | step, constrained (ms) | overhead | mask computation per step (ms) |`,
    '| ---: | ---: | ---: | ---: | ---: |',
  ];
  try {
    await run(engine, 1, true); // warm up: the vocabulary's compiler, the grammar cache, the UTF-8 masks
    for (const batch of values.batches.split(',').map(Number)) {
      const best = (xs: number[]) => Math.min(...xs);
      const plain: number[] = [];
      const masked: number[] = [];
      const maskMs: number[] = [];
      for (let r = 0; r < repeats; r++) {
        plain.push((await run(engine, batch, false)).perStepMs);
        const c = await run(engine, batch, true);
        masked.push(c.perStepMs);
        maskMs.push(c.maskMsPerStep);
      }
      const [p, m] = [best(plain), best(masked)];
      rows.push(`| ${batch} | ${p.toFixed(3)} | ${m.toFixed(3)} | ${(((m - p) / p) * 100).toFixed(1)}% | ${best(maskMs).toFixed(3)} |`);
    }
  } finally {
    await engine.close();
  }
  console.log(`model ${values.model}, vocabulary ${engine.modelInfo.vocabSize} ids, ${decodeTokens} decode steps per job, best of ${repeats}; schema ${values.schema || `a string of minLength ${4 * decodeTokens}`}`);
  console.log(rows.join('\n'));
}

await main();
