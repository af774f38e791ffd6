/**
 * Weight files: sharded checkpoints load like single files, and weights in their stored dtype are
 * used in place from the mapping (no second copy in memory).
 */
import { cpSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../lib/model/load.js';
import { positionLogits } from '../../lib/model/logits.js';
import { writeSafetensors } from '../../lib/model/safetensors-writer.js';
import { native } from '../../lib/native/index.js';
import { makeFixture, removeDir, tempDir } from './fixtures.js';

let dir: string;
const IDS = [9, 8, 7, 300, 2, 55];

beforeAll(async () => {
  dir = await makeFixture('mistral', { dtype: 'bf16' });
});
afterAll(() => removeDir(dir));

describe('weight files', () => {
  it('a sharded checkpoint with model.safetensors.index.json gives the same logits', async () => {
    const single = await loadModel({ model: dir });
    const sharded = tempDir('sharded');
    try {
      for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) cpSync(join(dir, f), join(sharded, f));
      const tensors = single.native.tensors();
      const shards = [tensors.filter((_, i) => i % 3 === 0), tensors.filter((_, i) => i % 3 !== 0)];
      const weightMap: Record<string, string> = {};
      shards.forEach((list, s) => {
        const file = `model-0000${s + 1}-of-00002.safetensors`;
        writeSafetensors(join(sharded, file), list, (name) => single.native.tensorData(name));
        for (const t of list) weightMap[t.name] = file;
      });
      // A stray file that the index does not name must be ignored.
      writeFileSync(join(sharded, 'unrelated.safetensors'), Buffer.from([0, 1, 2]));
      writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));

      const fromShards = await loadModel({ model: sharded });
      try {
        const a = await positionLogits(single.native, { ids: IDS });
        const b = await positionLogits(fromShards.native, { ids: IDS });
        a.forEach((row, p) => expect(Array.from(b[p])).toEqual(Array.from(row)));
      } finally {
        fromShards.dispose();
      }
    } finally {
      single.dispose();
      removeDir(sharded);
    }
  });

  it('stored-dtype weights are used from the mapping, converted ones are copied once', async () => {
    const fileBytes = statSync(join(dir, 'model.safetensors')).size;
    const before = native().memoryStats();
    const inPlace = await loadModel({ model: dir });
    const mapped = native().memoryStats();
    expect(mapped.mappedFileBytes - before.mappedFileBytes).toBe(fileBytes);
    expect(mapped.anonymousBytes).toBe(before.anonymousBytes); // no copy of the matrices
    const converted = await loadModel({ model: dir, dtype: 'f32' });
    const after = native().memoryStats();
    expect(after.mappedFileBytes).toBe(mapped.mappedFileBytes); // the file is released after conversion
    // The BF16 matrices were widened to F32: twice their bytes (norms are F32 already and not counted).
    const matrixBf16Bytes = inPlace.native.tensors().filter((t) => t.dtype === 'BF16').reduce((s, t) => s + t.shape[0] * t.shape[1] * 2, 0);
    expect(after.anonymousBytes - mapped.anonymousBytes).toBe(2 * matrixBf16Bytes);
    inPlace.dispose();
    converted.dispose();
    expect(native().memoryStats()).toEqual(before);
  });
});
