/**
 * The reference sampler (test/reference/sampler-reference.ts) against values worked out by hand,
 * so the native tests that compare with it compare with something right. Logits are logs of
 * simple ratios: [ln 4, ln 2, ln 1, ln 1] is the distribution (1/2, 1/4, 1/8, 1/8).
 */
import { describe, expect, it } from 'vitest';
import { mix64, penalisedLogits, referenceDistribution, referenceLogprobs, referenceSample, referenceTopLogprobs, uniform } from '../reference/sampler-reference.js';

const L = [Math.log(4), Math.log(2), 0, 0];

function close(map: Map<number, number>, expected: Record<number, number>) {
  expect([...map.keys()].sort()).toEqual(Object.keys(expected).map(Number).sort());
  for (const [id, p] of Object.entries(expected)) expect(map.get(Number(id))).toBeCloseTo(p, 6);
}

describe('reference sampler, by hand', () => {
  it('softmax at temperature 1, and at 0.5 (p ∝ p^2: 16, 4, 1, 1 over 22)', () => {
    close(referenceDistribution(L, { temperature: 1 }), { 0: 0.5, 1: 0.25, 2: 0.125, 3: 0.125 });
    close(referenceDistribution(L, { temperature: 0.5 }), { 0: 16 / 22, 1: 4 / 22, 2: 1 / 22, 3: 1 / 22 });
  });

  it('min_p keeps p >= min_p × p_max: 0.3 × 0.5 = 0.15 keeps ids 0 and 1 (renormalised 2/3, 1/3)', () => {
    close(referenceDistribution(L, { temperature: 1, minP: 0.3 }), { 0: 2 / 3, 1: 1 / 3 });
    close(referenceDistribution(L, { temperature: 1, minP: 0.25 }), { 0: 0.5, 1: 0.25, 2: 0.125, 3: 0.125 }); // 0.125 ≥ 0.125
  });

  it('top_p after min_p and top_k: top_k 3 leaves 4/7, 2/7, 1/7; top_p 0.8 then needs ids 0 and 1 (6/7 ≥ 0.8)', () => {
    close(referenceDistribution(L, { temperature: 1, topK: 3 }), { 0: 4 / 7, 1: 2 / 7, 2: 1 / 7 });
    close(referenceDistribution(L, { temperature: 1, topK: 3, topP: 0.8 }), { 0: 2 / 3, 1: 1 / 3 });
    // Without top_k, 0.5 + 0.25 = 0.75 < 0.8: id 2 (the lower of the tied ids) joins.
    close(referenceDistribution(L, { temperature: 1, topP: 0.8 }), { 0: 4 / 7, 1: 2 / 7, 2: 1 / 7 });
  });

  it('the sampleable limit and the mask remove ids before the cuts', () => {
    // Ids 0..2 only: 4/7, 2/7, 1/7; min_p 0.3 keeps p >= 0.3 × 4/7 = 0.171: ids 0 and 1.
    close(referenceDistribution(L, { temperature: 1, sampleable: 3 }), { 0: 4 / 7, 1: 2 / 7, 2: 1 / 7 });
    close(referenceDistribution(L, { temperature: 1, sampleable: 3, minP: 0.3 }), { 0: 2 / 3, 1: 1 / 3 });
    // Mask {1, 3}: 2/3, 1/3; greedy picks id 1, the best allowed.
    close(referenceDistribution(L, { temperature: 1, allowed: new Set([1, 3]) }), { 1: 2 / 3, 3: 1 / 3 });
    close(referenceDistribution(L, { allowed: new Set([1, 3]) }), { 1: 1 });
    close(referenceDistribution(L, { temperature: 1, topK: 1, sampleable: 1 }), { 0: 1 });
  });

  it('penalties: presence once, frequency per occurrence, only on generated ids', () => {
    // Id 0 generated twice, id 2 once: 0 loses 0.5 + 2 × 0.25 = 1, id 2 loses 0.75.
    const p = penalisedLogits([1, 0.5, 0.25, 0], { presencePenalty: 0.5, frequencyPenalty: 0.25, outputTokens: [0, 2, 0] });
    expect([...p]).toEqual([[0, 0], [1, 0.5], [2, -0.5], [3, 0]]);
    close(referenceDistribution([1, 0.5, 0.25, 0], { presencePenalty: 0.5, frequencyPenalty: 0.25, outputTokens: [0, 2, 0] }), { 1: 1 });
    // A negative penalty favours repeats: id 3 once with presence -2 → 2, the best.
    close(referenceDistribution([1, 0.5, 0.25, 0], { presencePenalty: -2, outputTokens: [3] }), { 3: 1 });
  });

  it('logprobs are over the drawable ids of the raw logits', () => {
    const all = referenceLogprobs(L, {});
    expect(all.get(0)).toBeCloseTo(Math.log(0.5), 12);
    expect(all.get(3)).toBeCloseTo(Math.log(0.125), 12);
    const masked = referenceLogprobs(L, { allowed: new Set([1, 2, 3]) }); // 2/4, 1/4, 1/4
    expect(masked.get(1)).toBeCloseTo(Math.log(0.5), 12);
    expect(masked.get(3)).toBeCloseTo(Math.log(0.25), 12);
    expect(masked.has(0)).toBe(false);
    expect(referenceTopLogprobs(L, {}, 3)).toEqual([
      { id: 0, logprob: expect.closeTo(Math.log(0.5), 12) },
      { id: 1, logprob: expect.closeTo(Math.log(0.25), 12) },
      { id: 2, logprob: expect.closeTo(Math.log(0.125), 12) },
    ]);
  });

  it('the draw: u(seed, position) is splitmix64 twice, and picks by cumulative mass', () => {
    // splitmix64's published first output from state 0 (and from state 1: 0x910A2DEC89025CC1).
    expect(mix64(0n)).toBe(0xe220a8397b1dcdafn);
    expect(mix64(1n)).toBe(0x910a2dec89025cc1n);
    expect(uniform(0, 0)).toBe(Number(mix64(0xe220a8397b1dcdafn) >> 11n) / 2 ** 53);
    const values = new Set([uniform(0, 0), uniform(0, 1), uniform(1, 0), uniform(1, 1)]);
    expect(values.size).toBe(4);
    for (const u of values) expect(u >= 0 && u < 1).toBe(true);
    // Pick by mass: with p = (1/2, 1/4, 1/8, 1/8), u < 0.5 → 0, < 0.75 → 1, < 0.875 → 2, else 3.
    for (let position = 0; position < 64; position++) {
      const u = uniform(9, position);
      const expected = u < 0.5 ? 0 : u < 0.75 ? 1 : u < 0.875 ? 2 : 3;
      expect(referenceSample(L, { temperature: 1, seed: 9 }, position)).toBe(expected);
    }
  });
});
