/**
 * Sampling on the native side: greedy is the argmax of the returned logits; seeded sampling is
 * deterministic and independent of batch composition; the sampled distribution matches the
 * softmax (with temperature, top-k and top-p) computed here from the returned logits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../../lib/model/load.js';
import { buildStepPlan, type PlannedSequence, type SamplingOptions } from '../../lib/native/plan.js';
import type { NativeKvCache } from '../../lib/native/types.js';
import { argmax, testIds } from './fixtures.js';

let model: LoadedModel;
let cache: NativeKvCache;
const VOCAB = 384;
const PROMPT = testIds(5, VOCAB, 6);

beforeAll(async () => {
  model = await loadModel({ model: 'tiny', seed: 11 });
  cache = model.native.createKvCache({ blockSize: 16, deviceBlocks: 520 });
});
afterAll(() => {
  cache.dispose();
  model.dispose();
});

/** `count` copies of PROMPT in one batch, each with its own sampling options. */
async function sampleBatch(sampling: (i: number) => SamplingOptions, count: number) {
  const sequences: PlannedSequence[] = Array.from({ length: count }, (_, i) => ({
    tokens: PROMPT,
    startPosition: 0,
    blocks: [i],
    sampling: sampling(i),
  }));
  return model.native.step(cache, buildStepPlan({ sequences, logits: 'last' }));
}

/** Probabilities a correct sampler must follow, computed independently in double precision. */
function targetDistribution(logits: Float32Array, { temperature = 1, topK = 0, topP = 1 }: SamplingOptions): Map<number, number> {
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  const kept = topK > 0 ? order.slice(0, topK) : order;
  const max = logits[kept[0]];
  const weights = kept.map((id) => Math.exp((logits[id] - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let cut = kept.length;
  if (topP < 1) {
    let cumulative = 0;
    for (let i = 0; i < kept.length; i++) {
      cumulative += weights[i] / total;
      if (cumulative >= topP) {
        cut = i + 1;
        break;
      }
    }
  }
  const keptTotal = weights.slice(0, cut).reduce((a, b) => a + b, 0);
  return new Map(kept.slice(0, cut).map((id, i) => [id, weights[i] / keptTotal]));
}

describe('sampling', () => {
  it('greedy returns the argmax of the returned logits, for every sequence', async () => {
    const sequences: PlannedSequence[] = Array.from({ length: 6 }, (_, i) => ({
      tokens: testIds(3 + i, VOCAB, i),
      startPosition: 0,
      blocks: [100 + i],
    }));
    const result = await model.native.step(cache, buildStepPlan({ sequences, logits: 'last' }));
    for (let s = 0; s < 6; s++) {
      expect(result.tokens[s]).toBe(argmax(result.logits!.subarray(s * VOCAB, (s + 1) * VOCAB)));
    }
  });

  it('top-k 1 and a tiny top-p are greedy even at high temperature', async () => {
    const result = await sampleBatch((i) => (i % 2 ? { temperature: 5, topK: 1, seed: i } : { temperature: 5, topP: 1e-6, seed: i }), 8);
    const best = argmax(result.logits!.subarray(0, VOCAB));
    expect(Array.from(result.tokens)).toEqual(Array(8).fill(best));
  });

  it('the same seed gives the same token, whatever else is in the batch', async () => {
    const options = (i: number): SamplingOptions => ({ temperature: 1.3, topK: 50, topP: 0.95, seed: 1000 + i });
    const a = await sampleBatch(options, 16);
    const b = await sampleBatch((i) => options(15 - i), 16); // same seeds, reversed batch order
    expect(Array.from(b.tokens).reverse()).toEqual(Array.from(a.tokens));
    const alone = await sampleBatch(() => options(7), 1);
    expect(alone.tokens[0]).toBe(a.tokens[7]);
    expect(new Set(a.tokens).size).toBeGreaterThan(4); // different seeds really differ
  });

  it.each([
    [{ temperature: 1 }],
    [{ temperature: 0.5, topK: 20 }],
    [{ temperature: 2, topP: 0.6 }],
  ])('frequencies follow the softmax for %o', async (options) => {
    const perStep = 512;
    const steps = 8;
    const counts = new Map<number, number>();
    let logits: Float32Array | null = null;
    for (let step = 0; step < steps; step++) {
      const result = await sampleBatch((i) => ({ ...options, seed: step * perStep + i }), perStep);
      logits ??= result.logits!.slice(0, VOCAB);
      for (const t of result.tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    const target = targetDistribution(logits!, options);
    const n = perStep * steps;
    for (const token of counts.keys()) expect(target.has(token), `token ${token} is outside the kept set`).toBe(true);
    // Every token's count within 5 standard deviations of its expectation.
    for (const [token, p] of target) {
      const expected = n * p;
      const sd = Math.sqrt(n * p * (1 - p));
      expect(Math.abs((counts.get(token) ?? 0) - expected), `token ${token} (p=${p.toFixed(4)})`).toBeLessThanOrEqual(5 * sd + 1);
    }
  });
});
