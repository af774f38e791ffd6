/**
 * What constrained decoding costs per decode step. Three runs of the same batch (same prompts,
 * same seeds, temperature 1): unconstrained; constrained by xgrammar (each step the matcher
 * follows the token, builds the next bitmask, and the UTF-8 guard ANDs its own); and the same
 * masks replayed from a recording of the xgrammar run. The replay samples the same rows under
 * the same masks and draws the same tokens, so the step time differs from the xgrammar run only
 * by computing the masks: that difference is the masks' cost. (Unconstrained against constrained
 * compares different sampling work: a mask leaves the sampler fewer ids to walk.) The time the
 * event loop spends inside `accept` is also measured (the union of the intervals, since the
 * batch's calls interleave: summing them counts the overlap many times).
 *
 * By default the constraint is a JSON string of at least 4 × decode characters (or --schema,
 * which must not complete within --decode tokens either), so every sequence stays inside the
 * grammar for the whole run.
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

/** The wall time during which at least one `accept` was running. */
class BusyClock {
  private open = 0;
  private since = 0;
  totalMs = 0;
  enter(): void {
    if (this.open++ === 0) this.since = performance.now();
  }
  leave(): void {
    if (--this.open === 0) this.totalMs += performance.now() - this.since;
  }
}

/** Follows an xgrammar constraint and records every mask it gives and every token it takes. */
class Recording implements TokenConstraint {
  readonly masks: Uint32Array[];
  readonly tokens: number[] = [];
  constructor(
    private readonly inner: TokenConstraint,
    private readonly clock: BusyClock,
  ) {
    this.masks = [inner.allowedTokens().slice()];
  }
  allowedTokens(): Uint32Array {
    return this.inner.allowedTokens();
  }
  isComplete(): boolean {
    return this.inner.isComplete();
  }
  async accept(token: number): Promise<boolean> {
    this.clock.enter();
    try {
      const ok = await this.inner.accept(token);
      this.tokens.push(token);
      this.masks.push(this.inner.allowedTokens().slice());
      return ok;
    } finally {
      this.clock.leave();
    }
  }
  dispose(): void {
    this.inner.dispose();
  }
}

/** Gives a recording's masks back, step by step, computing nothing. */
class Replay implements TokenConstraint {
  private step = 0;
  constructor(private readonly recording: Recording) {}
  allowedTokens(): Uint32Array {
    return this.recording.masks[this.step];
  }
  isComplete(): boolean {
    return false;
  }
  accept(token: number): boolean {
    if (token !== this.recording.tokens[this.step]) throw new Error(`the replay drew ${token} at step ${this.step}, the recording ${this.recording.tokens[this.step]}`);
    this.step++;
    return true;
  }
  dispose(): void {}
}

type Mode = 'plain' | 'xgrammar' | 'replay';

/** Runs `batch` jobs of `decodeTokens` each; returns the loop's milliseconds per step. */
async function run(engine: Engine, batch: number, constraints: TokenConstraint[] | null): Promise<number> {
  const before = engine.stats();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: batch }, async (_, i) => {
      const job = engine.createJob({});
      const result = await job.generate({
        tokens: [10 + i, 20, 30, 40],
        maxTokens: decodeTokens,
        sampling: { temperature: 1, seed: i },
        ...(constraints ? { constraint: constraints[i] } : { ignoreEos: true }),
      }).done;
      if (result.tokens.length !== decodeTokens) throw new Error(`a job generated ${result.tokens.length} tokens, not ${decodeTokens}`);
      job.close();
    }),
  );
  return (performance.now() - started) / (engine.stats().steps - before.steps);
}

async function main(): Promise<void> {
  const engine = await Engine.create({ model: values.model, kvBlocks: 1024, maxBatchTokens: 4096 });
  const schema = values.schema ? (JSON.parse(values.schema) as object) : { type: 'string', minLength: 4 * decodeTokens };
  const recorded = async (batch: number, clock: BusyClock) =>
    Promise.all(Array.from({ length: batch }, async () => new Recording(await constraintForModel(engine, { kind: 'json_schema', schema }), clock)));
  const rows = [
    '| batch | step, unconstrained (ms) | step, masks replayed (ms) | step, masks by xgrammar (ms) | mask cost per step: xgrammar − replayed (ms) | share of the unconstrained step | event loop inside accept per step (ms) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  try {
    await run(engine, 1, await recorded(1, new BusyClock())); // warm up: the vocabulary's compiler, the grammar cache, the UTF-8 masks
    for (const batch of values.batches.split(',').map(Number)) {
      const times: Record<Mode, number[]> = { plain: [], xgrammar: [], replay: [] };
      const insideMs: number[] = [];
      for (let r = 0; r < repeats; r++) {
        times.plain.push(await run(engine, batch, null));
        const clock = new BusyClock();
        const recordings = await recorded(batch, clock);
        const stepsBefore = engine.stats().steps;
        times.xgrammar.push(await run(engine, batch, recordings));
        insideMs.push(clock.totalMs / (engine.stats().steps - stepsBefore));
        times.replay.push(await run(engine, batch, recordings.map((rec) => new Replay(rec))));
      }
      const best = (mode: Mode) => Math.min(...times[mode]);
      const cost = best('xgrammar') - best('replay');
      rows.push(
        `| ${batch} | ${best('plain').toFixed(3)} | ${best('replay').toFixed(3)} | ${best('xgrammar').toFixed(3)} | ${cost.toFixed(3)} | ${((cost / best('plain')) * 100).toFixed(1)}% | ${Math.min(...insideMs).toFixed(3)} |`,
      );
    }
  } finally {
    await engine.close();
  }
  console.log(`model ${values.model}, vocabulary ${engine.modelInfo.vocabSize} ids, ${decodeTokens} decode steps per job, best of ${repeats}; schema ${values.schema || `a string of minLength ${4 * decodeTokens}`}`);
  console.log(rows.join('\n'));
}

await main();
