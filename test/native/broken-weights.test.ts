/**
 * What a model's broken numbers or a broken vocabulary cost: only the sequences they reach.
 * - Logits that are not all finite give no token (the native sampler returns -1 for that row,
 *   checked here on hand-made rows) and the engine fails that sequence alone with
 *   NON_FINITE_LOGITS: a NaN planted in one embedding row (untied head) poisons exactly the job
 *   whose prompt reads that row, while the job batched beside it generates what the independent
 *   TypeScript reference generates on the same weights.
 * - A tokenizer whose ids have a gap never has the gap sampled, even where the gap's head row is
 *   rigged to win every step; a tokenizer with more ids than the model has rows, or an id that is
 *   not a whole number, is refused at load.
 */
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { EngineError } from '../../lib/errors.js';
import { writeSafetensors } from '../../lib/model/safetensors-writer.js';
import { native } from '../../lib/native/index.js';
import { buildStepPlan } from '../../lib/native/plan.js';
import { referenceConfigFromHf, referenceLogits } from '../reference/llama-reference.js';
import { readSafetensors, type SafetensorsTensor } from '../reference/safetensors-read.js';
import { makeFixture, removeDir, tempDir } from './fixtures.js';
import { expectLoadError, loadError } from './load-error.js';

const VOCAB = 384;
/** The embedding row the NaN goes into, and the id the gapped tokenizer leaves out. */
const POISONED = 200;
const GAP = 300;
const MAX_TOKENS = 4;

let pristine: string;
const dirs: string[] = [];

beforeAll(async () => {
  pristine = await makeFixture('qwen2'); // an untied head: a poisoned embedding row stays in its own sequence
});
afterAll(() => {
  removeDir(pristine);
  for (const dir of dirs) removeDir(dir);
});

function copyOfModel(): string {
  const dir = tempDir('broken-weights');
  cpSync(pristine, dir, { recursive: true });
  dirs.push(dir);
  return dir;
}

function readWeights(dir: string): Map<string, SafetensorsTensor> {
  return readSafetensors(readdirSync(dir).filter((f) => f.endsWith('.safetensors')).map((f) => join(dir, f)));
}

function rewriteWeights(dir: string, edit: (tensors: Map<string, SafetensorsTensor>) => void): void {
  const file = join(dir, 'model.safetensors');
  const tensors = readWeights(dir);
  edit(tensors);
  writeSafetensors(
    file,
    [...tensors.keys()].map((name) => ({ name, dtype: 'F32' as const, shape: tensors.get(name)!.shape })),
    (name) => new Uint8Array(Float32Array.from(tensors.get(name)!.values).buffer),
  );
}

/** The reference's greedy continuation of `prompt`, taking the argmax over `allowed` ids only. */
function referenceGreedy(dir: string, prompt: number[], steps: number, allowed: (id: number) => boolean = () => true): number[] {
  const config = referenceConfigFromHf(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  const weights = readWeights(dir);
  const ids = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const row = referenceLogits(config, weights, ids).at(-1)!;
    let best = -1;
    for (let id = 0; id < row.length; id++) if (allowed(id) && (best < 0 || row[id] > row[best])) best = id;
    out.push(best);
    ids.push(best);
  }
  return out;
}

describe('non-finite logits', () => {
  it('the sampler draws nothing (-1) from a row with a NaN or an infinity, and the other rows as before', () => {
    const vocab = 4;
    const rows = Float32Array.of(0, 3, 1, 2, /* NaN */ 0, NaN, 1, 2, /* +inf */ Infinity, 0, 0, 0, /* -inf */ 0, 1, -Infinity, 0, /* finite */ 5, 1, 1, 1);
    const sequences = Array.from({ length: 5 }, (_, i) => ({ tokens: [0], startPosition: 0, blocks: [], sampling: i === 4 ? { temperature: 1, seed: 3 } : undefined }));
    const { tokens } = native().sampleLogits(rows, vocab, buildStepPlan({ sequences }));
    // Row 4 at temperature 1: p(0) = e^5 / (e^5 + 3e) ≈ 0.95; whatever it draws is an id.
    expect(Array.from(tokens).slice(0, 4)).toEqual([1, -1, -1, -1]);
    expect(tokens[4]).toBeGreaterThanOrEqual(0);
    expect(tokens[4]).toBeLessThan(vocab);
  });

  it('a NaN in one embedding row fails only the job that reads it; the job beside it is unchanged', async () => {
    const dir = copyOfModel();
    rewriteWeights(dir, (t) => {
      const embed = t.get('model.embed_tokens.weight')!;
      const hidden = embed.shape[1];
      embed.values.fill(NaN, POISONED * hidden, (POISONED + 1) * hidden);
    });
    const clean = [11, 12, 13, 14];
    const poisoned = [11, POISONED, 13, 14];
    const expected = referenceGreedy(pristine, clean, MAX_TOKENS, (id) => id !== POISONED);
    // The clean job's own greedy tokens must not read the poisoned row either, or it would fail too.
    expect(expected).not.toContain(POISONED);

    const engine = await Engine.create({ model: dir, kvBlocks: 16 });
    try {
      const [a, b] = [engine.createJob(), engine.createJob()];
      const [good, bad] = await Promise.allSettled([
        a.generate({ tokens: clean, maxTokens: MAX_TOKENS, ignoreEos: true }).done,
        b.generate({ tokens: poisoned, maxTokens: MAX_TOKENS, ignoreEos: true }).done,
      ]);
      expect(bad.status).toBe('rejected');
      expect((bad as PromiseRejectedResult).reason).toBeInstanceOf(EngineError);
      expect((bad as PromiseRejectedResult).reason.code).toBe('NON_FINITE_LOGITS');
      expect(good.status).toBe('fulfilled');
      expect((good as PromiseFulfilledResult<{ tokens: number[] }>).value.tokens).toEqual(expected);
      a.close();
      b.close();
      // Nothing leaked: every block is free again, and the engine still serves.
      expect(engine.stats().kv.ownedBlocks).toBe(0);
      const again = engine.createJob();
      expect((await again.generate({ tokens: clean, maxTokens: MAX_TOKENS, ignoreEos: true }).done).tokens).toEqual(expected);
      again.close();
    } finally {
      await engine.close();
    }
  });
});

describe('refused at load', () => {
  it('a NaN in a norm gain (read whole at load: INVALID_WEIGHTS naming it)', async () => {
    const dir = copyOfModel();
    rewriteWeights(dir, (t) => (t.get('model.layers.1.post_attention_layernorm.weight')!.values[7] = NaN));
    const error = await loadError(dir);
    expect(error.code).toBe('INVALID_WEIGHTS');
    expect(error.message).toMatch(/"model\.layers\.1\.post_attention_layernorm\.weight" holds nan at element 7/);
  });

  it('random weights larger than the machine (OUT_OF_MEMORY before any is written)', async () => {
    const dir = copyOfModel();
    const file = join(dir, 'config.json');
    // 64 layers of 3 × 65,536 × 262,144 F32 feed-forward weights alone: 12 TiB.
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), hidden_size: 65536, intermediate_size: 262144, num_hidden_layers: 64 }));
    const error = await loadError(dir, { dummy: true });
    expect(error.code).toBe('OUT_OF_MEMORY');
    expect(error.message).toMatch(/random weights for this config\.json need \d+ MiB, more than this machine's \d+ MiB/);
  });
});

describe('a broken vocabulary', () => {
  function editTokenizer(dir: string, edit: (tokenizer: Record<string, any>) => void): void {
    const file = join(dir, 'tokenizer.json');
    const tokenizer = JSON.parse(readFileSync(file, 'utf8'));
    edit(tokenizer);
    writeFileSync(file, JSON.stringify(tokenizer));
  }

  it('an id with no token is never drawn, even where its head row would win every step', async () => {
    const dir = copyOfModel();
    editTokenizer(dir, (t) => {
      t.added_tokens = t.added_tokens.filter((token: { id: number }) => token.id !== GAP);
    });
    rewriteWeights(dir, (t) => {
      const head = t.get('lm_head.weight')!;
      const hidden = head.shape[1];
      // Row GAP scores 50 × |the normed hidden state's sum|: far above any random row, as long as that sum is not ~0.
      head.values.fill(50, GAP * hidden, (GAP + 1) * hidden);
    });
    const prompt = [21, 22, 23];
    // The rig works: unmasked, the gap would be drawn at every step.
    expect(referenceGreedy(dir, prompt, MAX_TOKENS)).toEqual(Array(MAX_TOKENS).fill(GAP));
    const expected = referenceGreedy(dir, prompt, MAX_TOKENS, (id) => id !== GAP);

    const engine = await Engine.create({ model: dir, kvBlocks: 16 });
    try {
      expect(engine.tokenizer!.vocabSize).toBe(VOCAB);
      expect(engine.tokenizer!.unspellableIds()).toEqual([GAP]);
      const greedy = engine.createJob();
      expect((await greedy.generate({ tokens: prompt, maxTokens: MAX_TOKENS, ignoreEos: true }).done).tokens).toEqual(expected);
      greedy.close();
      const sampling = engine.createJob();
      const sampled = await sampling.generate({ tokens: [24], maxTokens: 16, ignoreEos: true, sampling: { temperature: 1, seed: 9 } }).done;
      sampling.close();
      expect(sampled.tokens).toHaveLength(16);
      expect(sampled.tokens).not.toContain(GAP);
    } finally {
      await engine.close();
    }
  });

  it.each([
    ['an id past the model’s rows', (t: Record<string, any>) => t.added_tokens.push({ id: VOCAB, content: '<extra>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false }), /ids up to 384, but the model has 384 vocabulary rows/],
    ['a negative id', (t: Record<string, any>) => (t.model.vocab[Object.keys(t.model.vocab)[5]] = -1), /the id -1/],
    ['a fractional id', (t: Record<string, any>) => (t.model.vocab[Object.keys(t.model.vocab)[5]] = 2.5), /the id 2\.5/],
    ['a vocabulary that is a number', (t: Record<string, any>) => (t.model.vocab = 7), /model\.vocab must be an object/],
    ['an added token without an id', (t: Record<string, any>) => delete t.added_tokens[0].id, /added_tokens entry/],
  ])('%s is refused at load (INVALID_TOKENIZER)', async (_label, edit, message) => {
    const dir = copyOfModel();
    editTokenizer(dir, edit);
    await expectLoadError(dir, 'INVALID_TOKENIZER', message);
  });
});

