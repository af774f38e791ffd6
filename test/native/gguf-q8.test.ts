/**
 * The benchmark's GGUF writer (bench/native/gguf-writer.ts) given Q8_0 tensors: the file holds them
 * as ggml type 8 in GGUF's 34-byte blocks {F16 scale, 32 int8 quants}, the same numbers as the
 * engine's planar layout, with q/k rows permuted for llama.cpp's RoPE like any other dtype. The
 * file is read back here by a minimal GGUF parser written from the format description.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quantizeQ8Planar, writeGguf, type HfTensor } from '../../bench/native/gguf-writer.js';
import { presetConfig } from '../../lib/model/presets.js';
import { native } from '../../lib/native/index.js';
import { removeDir, tempDir } from './fixtures.js';
import { quantizeQ8 } from './q8-reference.js';

interface GgufTensorInfo {
  dims: number[];
  type: number;
  offset: number;
}

/** Tensor table and data start of a GGUF v3 file. */
function readGgufTensors(file: Buffer): { tensors: Map<string, GgufTensorInfo>; dataStart: number } {
  let pos = 0;
  const u32 = () => ((pos += 4), file.readUInt32LE(pos - 4));
  const u64 = () => ((pos += 8), Number(file.readBigUInt64LE(pos - 8)));
  const str = () => {
    const n = u64();
    pos += n;
    return file.toString('utf8', pos - n, pos);
  };
  const sizes: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  let alignment = 32;
  const skipValue = (type: number, key: string): void => {
    if (type === 8) str();
    else if (type === 9) {
      const elemType = u32();
      const count = u64();
      for (let i = 0; i < count; i++) skipValue(elemType, '');
    } else {
      if (key === 'general.alignment') alignment = file.readUInt32LE(pos);
      pos += sizes[type];
    }
  };
  expect(file.toString('ascii', 0, 4)).toBe('GGUF');
  pos = 4;
  expect(u32()).toBe(3);
  const tensorCount = u64();
  const kvCount = u64();
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    skipValue(u32(), key);
  }
  const tensors = new Map<string, GgufTensorInfo>();
  for (let i = 0; i < tensorCount; i++) {
    const name = str();
    const dims = Array.from({ length: u32() }, () => u64());
    tensors.set(name, { dims, type: u32(), offset: u64() });
  }
  return { tensors, dataStart: Math.ceil(pos / alignment) * alignment };
}

describe('GGUF writer, Q8_0', () => {
  const dir = tempDir('gguf-q8');
  afterAll(() => removeDir(dir));

  it('writes the engine quants as GGUF Q8_0 blocks, q rows permuted for RoPE', async () => {
    const config = presetConfig('tiny');
    const model = await native().loadModel({ configJson: JSON.stringify(config), dummy: true, seed: 3, dtype: 'q8' });
    const path = join(dir, 'tiny-q8.gguf');
    let down: Uint8Array;
    let q: Uint8Array;
    try {
      const tensors: HfTensor[] = model.tensors().map((t) => ({ ...t, data: model.tensorData(t.name) }));
      down = model.tensorData('model.layers.1.mlp.down_proj.weight');
      q = model.tensorData('model.layers.0.self_attn.q_proj.weight');
      await writeGguf(path, { config, tensors, vocab: { tokens: [], bosTokenId: 256, eosTokenId: 259 } });
    } finally {
      model.dispose();
    }
    const file = readFileSync(path);
    const { tensors, dataStart } = readGgufTensors(file);
    const H = config.hidden_size;
    const I = config.intermediate_size;

    // blk.1.ffn_down: [H rows][I cols] in HF terms, GGUF dims innermost first.
    const info = tensors.get('blk.1.ffn_down.weight')!;
    expect(info).toMatchObject({ dims: [I, H], type: 8 });
    const blocksPerRow = I / 32;
    const block = (r: number, b: number) => file.subarray(dataStart + info.offset + (r * blocksPerRow + b) * 34, dataStart + info.offset + (r * blocksPerRow + b + 1) * 34);
    for (const [r, b] of [[0, 0], [0, blocksPerRow - 1], [H - 1, 3], [H - 1, blocksPerRow - 1]]) {
      const scale = down!.subarray(H * I + (r * blocksPerRow + b) * 2, H * I + (r * blocksPerRow + b) * 2 + 2);
      const quants = down!.subarray(r * I + b * 32, r * I + (b + 1) * 32);
      expect(Array.from(block(r, b)), `row ${r} block ${b}`).toEqual([...scale, ...quants]);
    }

    // blk.0.attn_q: llama.cpp's RoPE pairs neighbours, HF's pairs j with j + d/2, so within each
    // head, GGUF row 2i + a is HF row a·d/2 + i (for the quants and the scales alike).
    const qInfo = tensors.get('blk.0.attn_q.weight')!;
    expect(qInfo.type).toBe(8);
    const d = H / config.num_attention_heads;
    const ggufRow = 2 * 3 + 1; // head 0, i = 3, a = 1
    const hfRow = d / 2 + 3;
    const perRow = (H / 32) * 34;
    const got = file.subarray(dataStart + qInfo.offset + ggufRow * perRow, dataStart + qInfo.offset + (ggufRow + 1) * perRow);
    const want: number[] = [];
    for (let b = 0; b < H / 32; b++) {
      const s = H * H + (hfRow * (H / 32) + b) * 2;
      want.push(q![s], q![s + 1], ...q!.subarray(hfRow * H + b * 32, hfRow * H + (b + 1) * 32));
    }
    expect(Array.from(got)).toEqual(want);
  });

  it("quantizes an F32 matrix as the engine's quantizer does", () => {
    // The bench quantizes the token embedding itself (the engine keeps it in F32); it must give the
    // bytes of the independent quantizer the engine is checked against.
    const rows = 3;
    const cols = 64;
    const values = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.7) * (i % 5 === 0 ? 3 : 1));
    values.set([127, 2.5, -2.5, 0.5], 0);
    values.fill(0, 32, 64); // an all-zero block
    expect(Buffer.from(quantizeQ8Planar(values, rows, cols)).equals(Buffer.from(quantizeQ8(values, rows, cols)))).toBe(true);
  });
});
