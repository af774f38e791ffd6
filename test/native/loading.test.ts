/**
 * Weight files: sharded checkpoints load like single files, and weights in their stored dtype are
 * used in place from the mapping (no second copy in memory; on CPUs with AVX-512 BF16 the
 * streamed BF16 matrices are packed once into the kernels' panels, and export unpacks them).
 */
import { cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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

  it('stored-dtype weights are used from the mapping (or packed once into panels), converted ones are copied once', async () => {
    const fileBytes = statSync(join(dir, 'model.safetensors')).size;
    const before = native().memoryStats();
    const inPlace = await loadModel({ model: dir });
    const mapped = native().memoryStats();
    expect(mapped.mappedFileBytes - before.mappedFileBytes).toBe(fileBytes);
    // No copy of the matrices, except where the CPU multiplies BF16 pairs: there every streamed
    // matrix (all but the gathered embedding) is packed once into 64-row panels of column pairs,
    // rows rounded up to 64 and columns to 2 (core/kernels/bf16_panels.h).
    const streamed = inPlace.native.tensors().filter((t) => t.dtype === 'BF16' && t.shape.length === 2 && t.name !== 'model.embed_tokens.weight');
    const panelBytes = streamed.reduce((s, t) => s + Math.ceil(t.shape[0] / 64) * 64 * Math.ceil(t.shape[1] / 2) * 4, 0);
    expect(streamed.length).toBeGreaterThan(0);
    expect(mapped.anonymousBytes - before.anonymousBytes).toBe(native().backendInfo().bf16Dot ? panelBytes : 0);
    // Export reads the panels back as rows: every tensor's bytes are the file's.
    const file = readFileSync(join(dir, 'model.safetensors'));
    const headerLength = Number(file.readBigUInt64LE(0));
    const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { data_offsets?: [number, number] }>;
    for (const t of inPlace.native.tensors()) {
      const [begin, end] = header[t.name].data_offsets!;
      expect(Buffer.from(inPlace.native.tensorData(t.name)).equals(file.subarray(8 + headerLength + begin, 8 + headerLength + end))).toBe(true);
    }
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
