/**
 * The native sampler on hand-made logits (addon.sampleLogits runs the step's sampler on the
 * caller's rows): log-probabilities and penalties worked out by hand on four ids, and the
 * sampleable limit, the allowed-token mask, min_p, top_k and top_p against the reference sampler
 * (test/reference/sampler-reference.ts), token for token over many seeds.
 */
import { describe, expect, it } from 'vitest';
import { native } from '../../lib/native/index.js';
import { buildStepPlan, stepLogprobs, type PlannedSequence, type SamplingOptions } from '../../lib/native/plan.js';
import { drawable, referenceSample, type ReferenceSampling } from '../reference/sampler-reference.js';

/** ln of the ratios 4 : 2 : 1 : 1, i.e. p = (1/2, 1/4, 1/8, 1/8). */
const L = Float32Array.of(Math.log(4), Math.log(2), 0, 0);

function maskOf(ids: Iterable<number>, vocab: number): Uint32Array {
  const words = new Uint32Array(Math.ceil(vocab / 32));
  for (const id of ids) words[id >> 5] |= 1 << (id & 31);
  return words;
}

interface Row {
  sampling?: SamplingOptions;
  outputTokens?: number[];
  allowed?: number[];
  /** The sampled token's position. */
  position?: number;
}

function sample(logits: Float32Array, vocab: number, rows: Row[], sampleableIds?: number) {
  const sequences: PlannedSequence[] = rows.map((r) => ({
    tokens: [0],
    startPosition: (r.position ?? 1) - 1,
    blocks: [],
    sampling: r.sampling,
    outputTokens: r.outputTokens,
    allowedTokens: r.allowed ? maskOf(r.allowed, vocab) : undefined,
  }));
  const result = native().sampleLogits(logits, vocab, buildStepPlan({ sequences, sampleableIds }));
  return { tokens: Array.from(result.tokens), logprobs: stepLogprobs(result, rows.length) };
}

describe('logprobs, by hand', () => {
  it('the greedy token and the top 3 of p = (1/2, 1/4, 1/8, 1/8)', () => {
    const { tokens, logprobs } = sample(L, 4, [{ sampling: { logprobs: true, topLogprobs: 3 } }]);
    expect(tokens).toEqual([0]);
    expect(logprobs[0]!.logprob).toBeCloseTo(Math.log(1 / 2), 6);
    expect(logprobs[0]!.top.map((t) => t.id)).toEqual([0, 1, 2]); // ids 2 and 3 tie: the lower first
    expect(logprobs[0]!.top.map((t) => t.logprob)).toEqual([Math.log(1 / 2), Math.log(1 / 4), Math.log(1 / 8)].map((v) => expect.closeTo(v, 6)));
  });

  it('over the allowed ids only: mask {1, 2, 3} gives 1/2, 1/4, 1/4 and greedy takes id 1', () => {
    const { tokens, logprobs } = sample(L, 4, [{ sampling: { logprobs: true, topLogprobs: 20 }, allowed: [1, 2, 3] }]);
    expect(tokens).toEqual([1]);
    expect(logprobs[0]!.logprob).toBeCloseTo(Math.log(1 / 2), 6);
    // Fewer ids than asked for: all three, none masked.
    expect(logprobs[0]!.top).toEqual([
      { id: 1, logprob: expect.closeTo(Math.log(1 / 2), 6) },
      { id: 2, logprob: expect.closeTo(Math.log(1 / 4), 6) },
      { id: 3, logprob: expect.closeTo(Math.log(1 / 4), 6) },
    ]);
  });

  it('under a sampleable limit of 3: 4/7, 2/7, 1/7', () => {
    const { tokens, logprobs } = sample(L, 4, [{ sampling: { logprobs: true, topLogprobs: 4 } }], 3);
    expect(tokens).toEqual([0]);
    expect(logprobs[0]!.logprob).toBeCloseTo(Math.log(4 / 7), 6);
    expect(logprobs[0]!.top.map((t) => t.id)).toEqual([0, 1, 2]);
  });

  it('before penalties, temperature and cuts: the sampled id 1 still has log(1/4)', () => {
    // Id 0 generated 3 times with frequency 1: its logit drops by 3, so greedy picks id 1.
    const { tokens, logprobs } = sample(L, 4, [{ sampling: { temperature: 0, frequencyPenalty: 1, logprobs: true }, outputTokens: [0, 0, 0] }]);
    expect(tokens).toEqual([1]);
    expect(logprobs[0]!.logprob).toBeCloseTo(Math.log(1 / 4), 6);
    expect(logprobs[0]!.top).toEqual([]);
  });

  it('only the rows that ask get logprobs', () => {
    const { logprobs } = sample(new Float32Array([...L, ...L]), 4, [{}, { sampling: { logprobs: true } }]);
    expect(logprobs[0]).toBeNull();
    expect(logprobs[1]!.logprob).toBeCloseTo(Math.log(1 / 2), 6);
  });
});

describe('penalties on hand-made counts', () => {
  const logits = Float32Array.of(1, 0.5, 0.25, 0);
  it('presence once, frequency per occurrence (greedy)', () => {
    const rows: Row[] = [
      { sampling: {} , outputTokens: [0, 2, 0] }, // no penalty: id 0
      { sampling: { presencePenalty: 0.5, frequencyPenalty: 0.25 }, outputTokens: [0, 2, 0] }, // 1 - 1 = 0 < 0.5: id 1
      { sampling: { presencePenalty: 0.4 }, outputTokens: [0, 0, 0, 0] }, // 0.6 > 0.5: still id 0
      { sampling: { frequencyPenalty: 0.2 }, outputTokens: [0, 0, 0] }, // 1 - 0.6 = 0.4 < 0.5: id 1
      { sampling: { presencePenalty: -2 }, outputTokens: [3] }, // 0 + 2 = 2: id 3
      { sampling: { presencePenalty: -2 }, outputTokens: [3], allowed: [1, 2] }, // a masked id stays out: id 1
    ];
    expect(sample(new Float32Array(rows.flatMap(() => [...logits])), 4, rows).tokens).toEqual([0, 1, 0, 1, 3, 1]);
  });

  it('sampled: frequency 2 on id 0 seen once makes it e^-2 times as likely as before', () => {
    // logits (ln 4, ln 2, 0, 0) with id 0 lowered by 2: weights 4e^-2 : 2 : 1 : 1.
    const seeds = 4000;
    const rows: Row[] = Array.from({ length: seeds }, (_, seed) => ({ sampling: { temperature: 1, frequencyPenalty: 2, seed }, outputTokens: [0] }));
    const { tokens } = sample(new Float32Array(rows.flatMap(() => [...L])), 4, rows);
    const w = [4 * Math.exp(-2), 2, 1, 1];
    const total = w.reduce((a, b) => a + b);
    for (let id = 0; id < 4; id++) {
      const p = w[id] / total;
      const count = tokens.filter((t) => t === id).length;
      expect(Math.abs(count - seeds * p)).toBeLessThan(5 * Math.sqrt(seeds * p * (1 - p)));
    }
  });
});

describe('min_p, by hand', () => {
  it('min_p 0.3 over p = (1/2, 1/4, 1/8, 1/8) keeps p >= 0.15: ids 0 and 1, at 2/3 and 1/3', () => {
    const seeds = 4000;
    const rows: Row[] = Array.from({ length: seeds }, (_, seed) => ({ sampling: { temperature: 1, minP: 0.3, seed } }));
    const { tokens } = sample(new Float32Array(rows.flatMap(() => [...L])), 4, rows);
    expect(new Set(tokens)).toEqual(new Set([0, 1]));
    const ones = tokens.filter((t) => t === 1).length;
    expect(Math.abs(ones - seeds / 3)).toBeLessThan(5 * Math.sqrt((seeds * 2) / 9));
  });

  it('at temperature 0.5 the same min_p keeps id 0 only (p ∝ 16, 4, 1, 1: 4/16 < 0.3)', () => {
    const rows: Row[] = Array.from({ length: 200 }, (_, seed) => ({ sampling: { temperature: 0.5, minP: 0.3, seed } }));
    expect(new Set(sample(new Float32Array(rows.flatMap(() => [...L])), 4, rows).tokens)).toEqual(new Set([0]));
  });
});

describe('the limit and the mask, with every cut, against the reference', () => {
  const VOCAB = 1000;
  const LIMIT = 900;
  // Logits where the padded ids (>= LIMIT) and the masked ids hold the best values, so a cut
  // made before the mask would keep different ids than one made after.
  const logits = new Float32Array(VOCAB);
  for (let i = 0; i < VOCAB; i++) logits[i] = Math.fround(Math.sin(i * 12.9898) * 4 + (i >= LIMIT ? 30 : 0) + (i % 7 === 0 ? 20 : 0));
  const allowed = Array.from({ length: VOCAB }, (_, i) => i).filter((i) => i % 7 === 0 || i % 3 === 1);
  const allowedSet = new Set(allowed);

  const configs: SamplingOptions[] = [
    {},
    { temperature: 1 },
    { temperature: 0.7, topK: 20 },
    { temperature: 1.3, topP: 0.8 },
    { temperature: 1, minP: 0.05 },
    { temperature: 0.9, topK: 50, topP: 0.9, minP: 0.02 },
    { temperature: 2, topK: 1 },
    { temperature: 1.5, minP: 0.1, presencePenalty: 1.5, frequencyPenalty: 0.5 },
  ];
  const outputTokens = [7, 7, 14, 21, 1, 4, 950];

  it.each(configs)('%o: every draw is the reference\'s, for 300 seeds, with the limit alone and with a mask', (sampling) => {
    for (const masked of [false, true]) {
      const rows: Row[] = Array.from({ length: 300 }, (_, seed) => ({ sampling: { ...sampling, seed }, position: 5 + seed, outputTokens, allowed: masked ? allowed : undefined }));
      const { tokens } = sample(new Float32Array(rows.flatMap(() => [...logits])), VOCAB, rows, LIMIT);
      const expected = rows.map((r) => {
        const reference: ReferenceSampling = { ...r.sampling, sampleable: LIMIT, allowed: masked ? allowedSet : undefined, outputTokens };
        return referenceSample(logits, reference, r.position!);
      });
      expect(tokens).toEqual(expected);
      const ok = new Set(drawable(VOCAB, { sampleable: LIMIT, allowed: masked ? allowedSet : undefined }));
      for (const t of tokens) expect(ok.has(t), `token ${t}`).toBe(true);
      if ((sampling.temperature ?? 0) > 0 && sampling.topK !== 1) expect(new Set(tokens).size).toBeGreaterThan(1);
    }
  });

  it('greedy is the best allowed id, where the best of all is padded and the best unpadded is masked', () => {
    const best = (ids: number[]) => ids.reduce((a, b) => (logits[b] > logits[a] ? b : a));
    const all = Array.from({ length: VOCAB }, (_, i) => i);
    expect(best(all)).toBeGreaterThanOrEqual(LIMIT);
    const unpadded = best(all.slice(0, LIMIT));
    expect(allowedSet.has(unpadded)).toBe(true); // i % 7 === 0 wins the +20
    const allowedBelow = allowed.filter((i) => i < LIMIT && i % 7 !== 0);
    const { tokens } = sample(new Float32Array([...logits, ...logits]), VOCAB, [{}, { allowed: allowedBelow }], LIMIT);
    expect(tokens).toEqual([unpadded, best(allowedBelow)]);
  });

  it('a draw depends on (seed, position) only: the same rows in reverse order give the same tokens', () => {
    const rows: Row[] = Array.from({ length: 64 }, (_, i) => ({ sampling: { temperature: 1.2, minP: 0.01, topK: 40, frequencyPenalty: 1, seed: i % 8 }, position: 3 + (i >> 3), outputTokens, allowed }));
    const forward = sample(new Float32Array(rows.flatMap(() => [...logits])), VOCAB, rows, LIMIT).tokens;
    const backward = sample(new Float32Array(rows.flatMap(() => [...logits])), VOCAB, [...rows].reverse(), LIMIT).tokens;
    expect([...backward].reverse()).toEqual(forward);
  });
});
