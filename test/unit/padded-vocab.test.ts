/**
 * The padded-vocab guard's parts, on hand-worked logits: the sampler restricted to ids below a
 * limit (lib/engine/masked-sampler.ts) and the rerun of the sequences whose native token fell
 * past it (lib/engine/padded-vocab.ts). test/native/padded-vocab.test.ts runs the whole guard on
 * a real Qwen tokenizer.
 */
import { describe, expect, it } from 'vitest';
import { sampleBelow } from '../../lib/engine/masked-sampler.js';
import { keepTokensBelow, type LogitsProbe } from '../../lib/engine/padded-vocab.js';
import type { PlannedSequence, SamplingOptions } from '../../lib/step.js';
import { expectCode } from './expect-code.js';

/** How often each id comes out over `draws` positions. */
function frequencies(logits: number[], limit: number, sampling: SamplingOptions, draws = 4000): number[] {
  const counts = new Array<number>(logits.length).fill(0);
  for (let position = 0; position < draws; position++) counts[sampleBelow(logits, limit, sampling, position)]++;
  return counts.map((c) => c / draws);
}

describe('sampleBelow', () => {
  it('greedy: the highest logit below the limit, the lower id on a tie', () => {
    expect(sampleBelow([1, 5, 3, 9, 9], 3, undefined, 0)).toBe(1);
    expect(sampleBelow([1, 5, 3, 9, 9], 5, undefined, 0)).toBe(3);
    expect(sampleBelow([2, 2, 1, 7], 3, { temperature: 0 }, 0)).toBe(0);
    // top_k 1 is greedy at any temperature.
    expect(sampleBelow([1, 5, 3, 9], 3, { temperature: 1, topK: 1, seed: 4 }, 17)).toBe(1);
  });

  it('temperature: softmax(logits / T) over the ids below the limit', () => {
    // e^0 : e^ln3 = 1 : 3, and 100 is past the limit.
    const f = frequencies([0, Math.log(3), 100], 2, { temperature: 1, seed: 1 });
    expect(f[2]).toBe(0);
    expect(f[1]).toBeCloseTo(0.75, 1);
    expect(Math.abs(f[1] - 0.75)).toBeLessThan(0.03);
    // At T = 2 the logit 2·ln3 weighs e^ln3 = 3 again.
    const g = frequencies([0, 2 * Math.log(3), 100], 2, { temperature: 2, seed: 2 });
    expect(Math.abs(g[1] - 0.75)).toBeLessThan(0.03);
  });

  it('top_k keeps the k best below the limit; top_p the smallest prefix reaching p', () => {
    // Weights 1 : 3 : 6 below the limit; top_k 2 keeps ids 2 and 1 (6/9 and 3/9).
    const k = frequencies([0, Math.log(3), Math.log(6), 50], 3, { temperature: 1, topK: 2, seed: 3 });
    expect(k[0]).toBe(0);
    expect(k[3]).toBe(0);
    expect(Math.abs(k[2] - 6 / 9)).toBeLessThan(0.03);
    // Probabilities 0.6, 0.3, 0.1: p = 0.55 keeps id 0 alone; p = 0.8 keeps ids 0 and 1 (6/9, 3/9).
    const logits = [Math.log(6), Math.log(3), 0, 50];
    expect(frequencies(logits, 3, { temperature: 1, topP: 0.55, seed: 4 }, 500)[0]).toBe(1);
    const p = frequencies(logits, 3, { temperature: 1, topP: 0.8, seed: 5 });
    expect(p[2]).toBe(0);
    expect(p[3]).toBe(0);
    expect(Math.abs(p[0] - 6 / 9)).toBeLessThan(0.03);
  });

  it('is deterministic in (seed, position)', () => {
    const logits = Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const draws = (seed: number) => Array.from({ length: 40 }, (_, position) => sampleBelow(logits, 40, { temperature: 1, seed }, position));
    expect(draws(9)).toEqual(draws(9));
    expect(draws(9)).not.toEqual(draws(10));
  });

  it('rejects a limit outside [1, row length]', () => {
    expectCode(() => sampleBelow([1, 2], 0, undefined, 0), 'INVALID_ARGUMENT');
    expectCode(() => sampleBelow([1, 2], 3, undefined, 0), 'INVALID_ARGUMENT');
    expectCode(() => sampleBelow([1, 2], 1.5, undefined, 0), 'INVALID_ARGUMENT');
  });
});

describe('keepTokensBelow', () => {
  const sequences: PlannedSequence[] = [
    { tokens: [10, 11, 12], startPosition: 0, blocks: [0] }, // a prefill chunk
    { tokens: [7], startPosition: 5, blocks: [1, 2], sampling: { temperature: 0 } },
    { tokens: [8], startPosition: 9, blocks: [3] },
  ];
  const VOCAB = 200;

  /** A probe whose row r has its best id overall at 150 + r and its best below 100 at 40 + r. */
  function recordingProbe(calls: PlannedSequence[][]): LogitsProbe {
    return async (rerun) => {
      calls.push(rerun);
      const logits = new Float32Array(rerun.length * VOCAB);
      rerun.forEach((_, r) => {
        logits[r * VOCAB + 150 + r] = 9;
        logits[r * VOCAB + 40 + r] = 5;
      });
      return { logits, vocabSize: VOCAB, elapsedS: 0.25 };
    };
  }

  it('leaves a step whose tokens are all below the limit alone, without a probe', async () => {
    const calls: PlannedSequence[][] = [];
    const tokens = Int32Array.from([3, 99, 4]);
    const guarded = await keepTokensBelow(sequences, tokens, 100, recordingProbe(calls));
    expect(guarded).toEqual({ tokens, probeS: 0 });
    expect(calls).toEqual([]);
  });

  it('reruns only the sequences past the limit, at their last token and its position, and redraws', async () => {
    const calls: PlannedSequence[][] = [];
    const guarded = await keepTokensBelow(sequences, Int32Array.from([120, 4, 100]), 100, recordingProbe(calls));
    expect(calls).toEqual([
      [
        { tokens: [12], startPosition: 2, blocks: [0], sampling: undefined },
        { tokens: [8], startPosition: 9, blocks: [3], sampling: undefined },
      ],
    ]);
    // Rows 0 and 1 of the probe: best below 100 at 40 and 41.
    expect(Array.from(guarded.tokens)).toEqual([40, 4, 41]);
    expect(guarded.probeS).toBe(0.25);
  });
});
