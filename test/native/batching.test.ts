/**
 * The paged, batched forward pass gives one answer however the work is cut: prefill all at once,
 * prefill then decode, chunked prefill of several sizes, and alone or in a mixed batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../../lib/model/load.js';
import { positionLogits } from '../../lib/model/logits.js';
import { buildStepPlan, type PlannedSequence } from '../../lib/native/plan.js';
import { makeFixture, relativeError, removeDir, testIds } from './fixtures.js';

const IDS = testIds(29, 384, 2);
const TOLERANCE = 1e-5; // F32 with a different summation order per batch shape

let dir: string;
let model: LoadedModel;

beforeAll(async () => {
  dir = await makeFixture('mistral'); // sliding window, so windowing is exercised across chunks too
  model = await loadModel({ model: dir });
});
afterAll(() => {
  model.dispose();
  removeDir(dir);
});

async function chunkedLogits(chunk: number, blockSize: number): Promise<Float32Array[]> {
  const vocab = model.info.vocabSize;
  const blocks = Array.from({ length: Math.ceil(IDS.length / blockSize) }, (_, i) => i * 2 + 1); // non-contiguous
  const cache = model.native.createKvCache({ blockSize, deviceBlocks: blocks.length * 2 + 2 });
  const rows: Float32Array[] = [];
  try {
    for (let start = 0; start < IDS.length; start += chunk) {
      const tokens = IDS.slice(start, start + chunk);
      const result = await model.native.step(
        cache,
        buildStepPlan({ sequences: [{ tokens, startPosition: start, blocks }], logits: 'all' }),
      );
      for (let r = 0; r < tokens.length; r++) rows.push(result.logits!.slice(r * vocab, (r + 1) * vocab));
    }
  } finally {
    cache.dispose();
  }
  return rows;
}

describe('prefill, decode and chunked prefill agree', () => {
  let all: Float32Array[];
  beforeAll(async () => {
    all = await positionLogits(model.native, { ids: IDS });
  });

  it('prefill then decode equals prefill of everything', async () => {
    const split = await positionLogits(model.native, { ids: IDS, split: 9 });
    split.forEach((row, p) => expect(relativeError(row, all[p]), `position ${p}`).toBeLessThan(TOLERANCE));
  });

  it.each([
    [1, 16],
    [3, 4],
    [5, 16],
    [8, 8],
    [13, 5],
  ])('chunks of %i tokens with blocks of %i', async (chunk, blockSize) => {
    const rows = await chunkedLogits(chunk, blockSize);
    expect(rows).toHaveLength(IDS.length);
    rows.forEach((row, p) => expect(relativeError(row, all[p]), `position ${p}`).toBeLessThan(TOLERANCE));
  });
});

describe('batch invariance', () => {
  it("a sequence's logits do not depend on the other sequences in its batch", async () => {
    const vocab = model.info.vocabSize;
    const bs = 4;
    const cache = model.native.createKvCache({ blockSize: bs, deviceBlocks: 64 });
    try {
      // Alone: prefill 10 tokens of A, then decode one.
      const a: PlannedSequence = { tokens: IDS.slice(0, 10), startPosition: 0, blocks: [0, 1, 2] };
      const aloneLast = (await model.native.step(cache, buildStepPlan({ sequences: [a], logits: 'last' }))).logits!;
      const aDecode: PlannedSequence = { tokens: [IDS[10]], startPosition: 10, blocks: [0, 1, 2] };
      const aloneDecode = (await model.native.step(cache, buildStepPlan({ sequences: [aDecode], logits: 'last' }))).logits!;

      // Mixed: B's prefill and C's prefill around A's prefill, in other blocks; then A decodes next to
      // B's decode and a chunk of C.
      const b: PlannedSequence = { tokens: testIds(7, 384, 9), startPosition: 0, blocks: [10, 11] };
      const c: PlannedSequence = { tokens: testIds(13, 384, 4), startPosition: 0, blocks: [20, 21, 22, 23] };
      const a2: PlannedSequence = { ...a, blocks: [30, 31, 32] };
      const mixed = await model.native.step(cache, buildStepPlan({ sequences: [b, a2, c], logits: 'last' }));
      expect(mixed.logitsRows).toBe(3);
      const mixedA = mixed.logits!.slice(vocab, 2 * vocab);
      expect(relativeError(mixedA, aloneLast)).toBeLessThan(TOLERANCE);

      const step2 = await model.native.step(
        cache,
        buildStepPlan({
          sequences: [
            { tokens: [5], startPosition: 7, blocks: [10, 11] },
            { ...aDecode, blocks: [30, 31, 32] },
            { tokens: testIds(3, 384, 5), startPosition: 13, blocks: [20, 21, 22, 23] },
          ],
          logits: 'last',
        }),
      );
      expect(relativeError(step2.logits!.slice(vocab, 2 * vocab), aloneDecode)).toBeLessThan(TOLERANCE);
    } finally {
      cache.dispose();
    }
  });

  it('32 copies of one prompt in one batch all give the single-sequence logits', async () => {
    const vocab = model.info.vocabSize;
    const cache = model.native.createKvCache({ blockSize: 16, deviceBlocks: 40 });
    try {
      const prompt = IDS.slice(0, 6);
      const single = await model.native.step(
        cache,
        buildStepPlan({ sequences: [{ tokens: prompt, startPosition: 0, blocks: [39] }], logits: 'last' }),
      );
      const batch = await model.native.step(
        cache,
        buildStepPlan({
          sequences: Array.from({ length: 32 }, (_, i) => ({ tokens: prompt, startPosition: 0, blocks: [i] })),
          logits: 'last',
        }),
      );
      for (let s = 0; s < 32; s++) {
        expect(relativeError(batch.logits!.slice(s * vocab, (s + 1) * vocab), single.logits!), `sequence ${s}`).toBeLessThan(
          TOLERANCE,
        );
      }
    } finally {
      cache.dispose();
    }
  });
});
