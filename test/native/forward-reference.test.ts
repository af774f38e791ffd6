/**
 * The native forward pass against the independent TypeScript reference (double precision, full
 * attention, no paging, no shared code): relative error < 1e-4 at every position.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../../lib/model/load.js';
import { positionLogits } from '../../lib/model/logits.js';
import { roundToBf16 } from '../reference/llama-reference.js';
import { CONFIGS, makeFixture, referenceForDir, relativeError, removeDir, testIds } from './fixtures.js';

const IDS = testIds(23, 384);

describe.each(Object.keys(CONFIGS))('%s config', (name) => {
  let dir: string;
  let model: LoadedModel;
  let reference: Float64Array[];

  beforeAll(async () => {
    dir = await makeFixture(name);
    model = await loadModel({ model: dir });
    reference = referenceForDir(dir, IDS);
  });
  afterAll(() => {
    model.dispose();
    removeDir(dir);
  });

  it.each([
    ['prefill of everything', IDS.length, 16],
    ['prefill of 7, then decode, blocks of 4', 7, 4],
    ['decode from the first token, blocks of 3', 1, 3],
  ])('%s matches the reference', async (_label, split, blockSize) => {
    const rows = await positionLogits(model.native, { ids: IDS, split, blockSize });
    expect(rows).toHaveLength(IDS.length);
    rows.forEach((row, p) => {
      const error = relativeError(row, reference[p]);
      expect(error, `position ${p}`).toBeLessThan(1e-4);
    });
  });
});

describe('config formats', () => {
  it('a transformers 5 config (rope_parameters, rope_theta inside it) runs exactly as the rope_scaling form', async () => {
    const dir = await makeFixture('llama3');
    try {
      const before = await loadModel({ model: dir });
      const ids = IDS.slice(0, 15);
      // The rope_scaling form is checked against the reference above; the v5 form must match it bit for bit.
      const expected = await positionLogits(before.native, { ids, split: 6, blockSize: 4 });
      before.dispose();
      const path = join(dir, 'config.json');
      const { rope_scaling, rope_theta, ...rest } = JSON.parse(readFileSync(path, 'utf8'));
      writeFileSync(path, JSON.stringify({ ...rest, rope_parameters: { ...rope_scaling, rope_theta } }));
      const after = await loadModel({ model: dir });
      try {
        expect(await positionLogits(after.native, { ids, split: 6, blockSize: 4 })).toEqual(expected);
      } finally {
        after.dispose();
      }
      // Without a rope_type, rope_parameters means plain RoPE at its theta: the reference, given
      // the same theta at the top level and no scaling, agrees.
      writeFileSync(path, JSON.stringify({ ...rest, rope_theta, rope_parameters: { rope_theta } }));
      const plain = await loadModel({ model: dir });
      try {
        const reference = referenceForDir(dir, ids);
        const rows = await positionLogits(plain.native, { ids, split: 6, blockSize: 4 });
        rows.forEach((row, p) => expect(relativeError(row, reference[p]), `position ${p}`).toBeLessThan(1e-4));
        expect(rows).not.toEqual(expected);
      } finally {
        plain.dispose();
      }
    } finally {
      removeDir(dir);
    }
  });
});

describe('stored dtypes', () => {
  it.each(['f16', 'bf16'] as const)('%s weights match the reference reading the same file', async (dtype) => {
    const dir = await makeFixture('qwen2', { dtype });
    // F32 activations: 'auto' rounds them to BF16 under BF16 weights where the CPU has the BF16
    // dot product (that path has its own reference below).
    const model = await loadModel({ model: dir, activations: 'f32' });
    try {
      expect(model.info.weightDtype).toBe(dtype.toUpperCase());
      const ids = IDS.slice(0, 12);
      const reference = referenceForDir(dir, ids);
      // An F32 cache: this checks the weights alone (the default cache under 16-bit weights is BF16, below).
      const rows = await positionLogits(model.native, { ids, split: 5, blockSize: 4, kvDtype: 'f32' });
      rows.forEach((row, p) => expect(relativeError(row, reference[p]), `position ${p}`).toBeLessThan(1e-4));
    } finally {
      model.dispose();
      removeDir(dir);
    }
  });

  it('converting F32 weights to BF16 at load changes the logits only by BF16 rounding', async () => {
    const dir = await makeFixture('llama');
    const exact = await loadModel({ model: dir });
    const rounded = await loadModel({ model: dir, dtype: 'bf16' });
    try {
      expect(rounded.info.weightDtype).toBe('BF16');
      const ids = IDS.slice(0, 8);
      const a = await positionLogits(exact.native, { ids });
      const b = await positionLogits(rounded.native, { ids });
      a.forEach((row, p) => {
        const error = relativeError(b[p], row);
        expect(error).toBeGreaterThan(0); // really rounded
        expect(error).toBeLessThan(0.05); // BF16 keeps 8 bits of mantissa
      });
    } finally {
      exact.dispose();
      rounded.dispose();
      removeDir(dir);
    }
  });

  it.each(['llama', 'qwen2'])('BF16 activations (%s): the reference that rounds every linear input to BF16, prefill and decode', async (name) => {
    const dir = await makeFixture(name, { dtype: 'bf16' });
    const model = await loadModel({ model: dir, activations: 'bf16' });
    try {
      expect(model.info).toMatchObject({ weightDtype: 'BF16', activations: 'BF16' });
      const ids = IDS.slice(0, 14);
      const rounded = referenceForDir(dir, ids, { roundActivations: roundToBf16 });
      const exact = referenceForDir(dir, ids);
      // A prefill of 9 (the batched dot-product kernel where the CPU has AVX-512 BF16), then
      // decode (the one-token GEMV); an F32 cache, so only the activations are rounded.
      const rows = await positionLogits(model.native, { ids, split: 9, blockSize: 4, kvDtype: 'f32' });
      const toRounded = rows.map((row, p) => relativeError(row, rounded[p]));
      const toExact = rows.map((row, p) => relativeError(row, exact[p]));
      // The engine rounds F32 activations, the reference double ones: an element within an F32
      // rounding of a BF16 midpoint rounds to the other neighbour now and then (about once in
      // this run's ~10^4 rounded elements), moves by a BF16 step, and carries on through the
      // keys and values to later positions at ~3e-3. Between such events the agreement is ~1e-7.
      toRounded.forEach((e, p) => expect(e, `position ${p}`).toBeLessThan(1e-2));
      toExact.forEach((e, p) => expect(e, `position ${p}`).toBeLessThan(0.05)); // 8 bits of mantissa, as BF16 weights lose
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(toRounded)).toBeLessThan(mean(toExact) / 2); // really rounded, as the reference rounds
    } finally {
      model.dispose();
      removeDir(dir);
    }
  });

  it('BF16 activations need BF16 weights; any other value is refused', async () => {
    const dir = await makeFixture('llama');
    try {
      await expect(loadModel({ model: dir, activations: 'bf16' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('BF16 weights') });
      await expect(loadModel({ model: dir, dtype: 'q8', activations: 'bf16' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(loadModel({ model: dir, activations: 'f16' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('f32 or bf16') });
      const model = await loadModel({ model: dir });
      expect(model.info.activations).toBe('F32');
      model.dispose();
    } finally {
      removeDir(dir);
    }
  });

  it('a dummy load equals make-model output of the same config and seed', async () => {
    const dir = await makeFixture('llama', { seed: 3 });
    const fromFiles = await loadModel({ model: dir });
    const dummy = await loadModel({ model: dir, dummy: true, seed: 3 });
    const otherSeed = await loadModel({ model: dir, dummy: true, seed: 4 });
    try {
      const ids = IDS.slice(0, 6);
      const a = await positionLogits(fromFiles.native, { ids });
      const b = await positionLogits(dummy.native, { ids });
      const c = await positionLogits(otherSeed.native, { ids });
      a.forEach((row, p) => expect(Array.from(b[p])).toEqual(Array.from(row)));
      expect(relativeError(c[0], a[0])).toBeGreaterThan(0.1);
    } finally {
      fromFiles.dispose();
      dummy.dispose();
      otherSeed.dispose();
      removeDir(dir);
    }
  });
});

describe.each(Object.keys(CONFIGS))('BF16 KV cache, %s config', (name) => {
  let dir: string;
  let model: LoadedModel;
  const ids = IDS.slice(0, 40);

  beforeAll(async () => {
    dir = await makeFixture(name);
    model = await loadModel({ model: dir });
  });
  afterAll(() => {
    model.dispose();
    removeDir(dir);
  });

  it('matches the reference that rounds every stored key and value to BF16, through paging and decode', async () => {
    const rounded = referenceForDir(dir, ids, { roundKv: roundToBf16 });
    const rows = await positionLogits(model.native, { ids, split: 9, blockSize: 4, kvDtype: 'bf16' });
    // Only the F32 arithmetic differs (a key whose F32 and double values round to different BF16
    // neighbours moves one score by a BF16 step: rare, and within this bound).
    rows.forEach((row, p) => expect(relativeError(row, rounded[p]), `position ${p}`).toBeLessThan(2e-4));
  });

  it('stays within BF16 rounding of the exact (double, unrounded) reference', async () => {
    const exact = referenceForDir(dir, ids);
    const rows = await positionLogits(model.native, { ids, split: 9, blockSize: 4, kvDtype: 'bf16' });
    const errors = rows.map((row, p) => relativeError(row, exact[p]));
    // Keys and values keep 8 significant bits (relative rounding 2^-9 = 0.2%); the logits inherit
    // an error of that order, not more.
    expect(Math.max(...errors)).toBeLessThan(0.01);
    expect(Math.max(...errors.slice(1))).toBeGreaterThan(1e-6); // really rounded (position 0 attends to itself only)
  });
});

describe('the KV cache dtype', () => {
  it("'auto' is F32 under F32 weights and BF16 under 16-bit ones, at half the bytes per token", async () => {
    const dir = await makeFixture('qwen2');
    const f32 = await loadModel({ model: dir });
    const bf16 = await loadModel({ model: dir, dtype: 'bf16' });
    try {
      // qwen2 fixture: 2 layers x K and V x 1 KV head x head_dim 32 (presets.ts's tiny) elements per token.
      const { numLayers, numKvHeads, headDim } = f32.info;
      const elements = numLayers * 2 * numKvHeads * headDim;
      expect(f32.info.kvDtype).toBe('F32');
      expect(f32.info.kvBytesPerToken).toBe(elements * 4);
      expect(bf16.info.kvDtype).toBe('BF16');
      expect(bf16.info.kvBytesPerToken).toBe(elements * 2);
      for (const [model, dtype, bytes] of [[f32, 'F32', 4], [bf16, 'BF16', 2]] as const) {
        const cache = model.native.createKvCache({ blockSize: 16, deviceBlocks: 2 });
        expect(cache.info()).toMatchObject({ dtype, blockBytes: 16 * elements * bytes });
        cache.dispose();
      }
      const asked = f32.native.createKvCache({ blockSize: 16, deviceBlocks: 2, dtype: 'bf16' });
      expect(asked.info()).toMatchObject({ dtype: 'BF16', blockBytes: 16 * elements * 2 });
      asked.dispose();
      expect(() => f32.native.createKvCache({ blockSize: 16, deviceBlocks: 2, dtype: 'f16' as 'f32' })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('auto, f32, bf16') }),
      );
    } finally {
      f32.dispose();
      bf16.dispose();
      removeDir(dir);
    }
  });
});
