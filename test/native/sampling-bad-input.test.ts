/**
 * Bad sampling fields in a plan are EngineErrors naming the field, never an abort, and leave the
 * model and cache usable: through a step, and through sampleLogits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../../lib/model/load.js';
import { native } from '../../lib/native/index.js';
import { buildStepPlan, type PlannedSequence } from '../../lib/native/plan.js';
import { expectCode, expectCodeAsync } from '../unit/expect-code.js';
import type { NativeKvCache, NativeStepPlan } from '../../lib/native/types.js';

const VOCAB = 384;
const WORDS = VOCAB / 32;
let model: LoadedModel;
let cache: NativeKvCache;
const seq: PlannedSequence = { tokens: [1, 2, 3], startPosition: 0, blocks: [0] };
const good = () => buildStepPlan({ sequences: [seq], logits: 'last' });
let expected: number[];

beforeAll(async () => {
  model = await loadModel({ model: 'tiny' });
  cache = model.native.createKvCache({ blockSize: 16, deviceBlocks: 4 });
  expected = Array.from((await model.native.step(cache, good())).logits!);
});
afterAll(() => {
  cache.dispose();
  model.dispose();
});

const withSampling = (s: Partial<PlannedSequence>, extra: Partial<NativeStepPlan> = {}): NativeStepPlan => ({ ...buildStepPlan({ sequences: [{ ...seq, ...s }] }), ...extra });

const cases: [string, () => NativeStepPlan, string, RegExp][] = [
  ['a mask of the wrong length', () => withSampling({ allowedTokens: new Uint32Array(WORDS - 1).fill(~0) }), 'INVALID_PLAN', /mask of 11 words; a vocabulary of 384 ids needs 12/],
  ['a mask that allows nothing', () => withSampling({ allowedTokens: new Uint32Array(WORDS) }), 'INVALID_PLAN', /allows no id below 384/],
  ['a mask that allows only ids past the limit', () => withSampling({ allowedTokens: Uint32Array.from({ length: WORDS }, (_, i) => (i === WORDS - 1 ? 1 << 31 : 0)) }, { sampleableIds: 383 }), 'INVALID_PLAN', /allows no id below 383/],
  ['topLogprobs 21', () => withSampling({ sampling: { logprobs: true, topLogprobs: 21 } }), 'INVALID_PLAN', /topLogprobs must be in \[0, 20\], got 21/],
  ['a negative topLogprobs', () => withSampling({ sampling: { logprobs: true, topLogprobs: -1 } }), 'INVALID_PLAN', /topLogprobs/],
  ['topLogprobs without logprobs', () => withSampling({}, { topLogprobs: Int32Array.of(3) }), 'INVALID_PLAN', /topLogprobs without logprobs/],
  ['a logprobs flag of 2', () => withSampling({}, { logprobs: Uint8Array.of(2) }), 'INVALID_PLAN', /logprobs must be 0 or 1/],
  ['a presence penalty of -2.5', () => withSampling({ sampling: { presencePenalty: -2.5 } }), 'INVALID_PLAN', /presencePenalty must be in \[-2, 2\]/],
  ['a frequency penalty of 3', () => withSampling({ sampling: { frequencyPenalty: 3 } }), 'INVALID_PLAN', /frequencyPenalty must be in \[-2, 2\]/],
  ['a NaN min_p', () => withSampling({ sampling: { minP: NaN } }), 'INVALID_PLAN', /minP must be in \[0, 1\]/],
  ['a sampleable limit of 0', () => withSampling({}, { sampleableIds: 0 }), 'INVALID_PLAN', /sampleableIds must be in \[1, 384\], got 0/],
  ['a sampleable limit past the head', () => withSampling({}, { sampleableIds: 385 }), 'INVALID_PLAN', /sampleableIds must be in \[1, 384\], got 385/],
  ['a fractional sampleable limit', () => withSampling({}, { sampleableIds: 2.5 }), 'INVALID_ARGUMENT', /sampleableIds must be an integer/],
  ['a penalty count of 0', () => withSampling({}, { penaltyOffsets: Int32Array.of(0, 1), penaltyIds: Int32Array.of(5), penaltyCounts: Int32Array.of(0) }), 'INVALID_PLAN', /counts must be >= 1/],
  ['a penalty id past the vocabulary', () => withSampling({}, { penaltyOffsets: Int32Array.of(0, 1), penaltyIds: Int32Array.of(384), penaltyCounts: Int32Array.of(1) }), 'INVALID_PLAN', /id 384, outside the vocabulary/],
  ['an id counted twice', () => withSampling({}, { penaltyOffsets: Int32Array.of(0, 2), penaltyIds: Int32Array.of(5, 5), penaltyCounts: Int32Array.of(1, 1) }), 'INVALID_PLAN', /counts an id twice/],
  ['penalty offsets past the ids', () => withSampling({}, { penaltyOffsets: Int32Array.of(0, 3), penaltyIds: Int32Array.of(5), penaltyCounts: Int32Array.of(1) }), 'INVALID_PLAN', /penaltyOffsets ends at 3/],
  ['penalty offsets of the wrong length', () => withSampling({}, { penaltyOffsets: Int32Array.of(0), penaltyIds: Int32Array.of(), penaltyCounts: Int32Array.of() }), 'INVALID_ARGUMENT', /plan\.penaltyOffsets has 1 entries; expected 2/],
  ['penalty counts without offsets', () => withSampling({}, { penaltyIds: Int32Array.of(5), penaltyCounts: Int32Array.of(1) }), 'INVALID_ARGUMENT', /need plan\.penaltyOffsets/],
  ['masks without offsets', () => withSampling({}, { allowedMasks: new Uint32Array(WORDS) }), 'INVALID_ARGUMENT', /needs plan\.allowedMaskOffsets/],
  ['a mask of the wrong type', () => withSampling({}, { allowedMaskOffsets: Int32Array.of(0, WORDS), allowedMasks: new Int32Array(WORDS) as never }), 'INVALID_ARGUMENT', /plan\.allowedMasks must be a Uint32Array/],
  ['a min_p array of the wrong length', () => withSampling({}, { minP: new Float32Array(2) }), 'INVALID_ARGUMENT', /plan\.minP has 2 entries; expected 1/],
];

describe('bad sampling fields in a step', () => {
  it.each(cases)('%s', async (_label, plan, code, message) => {
    await expectCodeAsync(() => model.native.step(cache, plan()), code, message);
    const again = await model.native.step(cache, good());
    expect(Array.from(again.logits!)).toEqual(expected);
  });
});

describe('bad input to sampleLogits', () => {
  it.each([
    ['logits of the wrong length', () => native().sampleLogits(new Float32Array(VOCAB - 1), VOCAB, good()), 'INVALID_ARGUMENT', /383 logits for 1 rows of 384/],
    ['logits that are not a Float32Array', () => native().sampleLogits(new Float64Array(VOCAB) as never, VOCAB, good()), 'INVALID_ARGUMENT', /Float32Array/],
    ['a vocabulary of 0', () => native().sampleLogits(new Float32Array(0), 0, good()), 'INVALID_ARGUMENT', /vocabSize/],
    ['topLogprobs 21', () => native().sampleLogits(new Float32Array(VOCAB), VOCAB, withSampling({ sampling: { logprobs: true, topLogprobs: 21 } })), 'INVALID_PLAN', /topLogprobs/],
  ] as [string, () => unknown, string, RegExp][])('%s', (_label, call, code, message) => {
    expectCode(call, code, message);
  });
});
