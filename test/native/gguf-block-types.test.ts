/**
 * GGUF files whose matrices are stored in llama.cpp's other block types (Q4_0, Q4_1, Q5_0, Q5_1,
 * the K-quants Q2_K … Q6_K and the non-linear IQ4_NL and IQ4_XS): every value decodes to what the
 * format defines, q/k rows come back in Hugging Face order, `auto` keeps the matrices in Q8_0 and
 * the embedding in BF16, and a malformed table or a type the engine does not load is a coded error.
 *
 * The expected values are independent of the engine's decoder: a few blocks are written byte by
 * byte with their values worked out by hand below, and the rest come from bench/native/ggml-blocks.ts,
 * which chooses integer codes, packs them, and computes each value from its codes by the format's
 * formula, never by reading the bytes back.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_TYPES, encodeBlocks, floatBitsToHalf, type BlockTypeName } from '../../bench/native/ggml-blocks.js';
import { quantizeQ8Planar, writeGguf, type HfTensor } from '../../bench/native/gguf-writer.js';
import { ggufHfConfig, ggufTensorBindings } from '../../lib/model/gguf-config.js';
import { readGgufHeader } from '../../lib/model/gguf-file.js';
import { loadModel, type LoadedModel } from '../../lib/model/load.js';
import { positionLogits } from '../../lib/model/logits.js';
import { presetConfig, type HfConfig } from '../../lib/model/presets.js';
import { native, type WeightDtypeOption } from '../../lib/native/index.js';
import { roundToBf16 } from '../reference/llama-reference.js';
import { removeDir, tempDir, testIds } from './fixtures.js';

/** Rows of 256 and 512 values: whole blocks of every type, K-quants included. */
const CONFIG: HfConfig = {
  ...presetConfig('tiny'),
  hidden_size: 256,
  intermediate_size: 512,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 64,
  tie_word_embeddings: false,
};
const VOCAB = { tokens: Array.from({ length: CONFIG.vocab_size }, (_, i) => `t${i}`), bosTokenId: 1, eosTokenId: 2 };
const GATE = 'model.layers.0.mlp.gate_proj.weight';

/** The model's tensors with seeded values, F32, in Hugging Face order. */
function seededTensors(): { name: string; shape: number[]; values: Float32Array }[] {
  const c = CONFIG;
  const kv = c.num_key_value_heads * c.head_dim!;
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [c.vocab_size, c.hidden_size]]];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    shapes.push(
      [`${p}input_layernorm.weight`, [c.hidden_size]],
      [`${p}self_attn.q_proj.weight`, [c.hidden_size, c.hidden_size]],
      [`${p}self_attn.k_proj.weight`, [kv, c.hidden_size]],
      [`${p}self_attn.v_proj.weight`, [kv, c.hidden_size]],
      [`${p}self_attn.o_proj.weight`, [c.hidden_size, c.hidden_size]],
      [`${p}post_attention_layernorm.weight`, [c.hidden_size]],
      [`${p}mlp.gate_proj.weight`, [c.intermediate_size, c.hidden_size]],
      [`${p}mlp.up_proj.weight`, [c.intermediate_size, c.hidden_size]],
      [`${p}mlp.down_proj.weight`, [c.hidden_size, c.intermediate_size]],
    );
  }
  shapes.push(['model.norm.weight', [c.hidden_size]], ['lm_head.weight', [c.vocab_size, c.hidden_size]]);
  let state = 12345;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  return shapes.map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    // Norm gains near 1; matrices spread, with a skew so blocks have unequal min and max.
    const values = Float32Array.from({ length: n }, () => (shape.length === 1 ? 1 + 0.1 * (next() - 0.5) : 0.2 * (next() - 0.4)));
    return { name, shape, values };
  });
}

const f32Bytes = (v: Float32Array) => new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
const asF32 = (data: Uint8Array) => new Float32Array(data.slice().buffer);
const half = (x: number) => floatBitsToHalf(new Uint32Array(new Float32Array([x]).buffer)[0]);

interface Written {
  file: string;
  /** Each tensor's values as the file's codes define them (F32 for the 1-D ones). */
  decoded: Map<string, Float32Array>;
}

/** Writes the seeded model with every matrix in `type`; `patch` may overwrite a matrix's first bytes. */
async function writeModel(dir: string, type: BlockTypeName, patch?: { name: string; bytes: Uint8Array; values: number[] }): Promise<Written> {
  const decoded = new Map<string, Float32Array>();
  const tensors: HfTensor[] = seededTensors().map(({ name, shape, values }) => {
    if (shape.length === 1) {
      decoded.set(name, values);
      return { name, dtype: 'F32', shape, data: f32Bytes(values) };
    }
    const encoded = encodeBlocks(type, values, shape[0], shape[1]);
    if (patch?.name === name) {
      encoded.bytes.set(patch.bytes, 0);
      encoded.decoded.set(patch.values, 0);
    }
    decoded.set(name, encoded.decoded);
    return { name, dtype: type, shape, data: encoded.bytes };
  });
  const file = join(dir, `${type}.gguf`);
  await writeGguf(file, { config: CONFIG as never, tensors, vocab: VOCAB });
  return { file, decoded };
}

async function withModel(file: string, dtype: WeightDtypeOption, fn: (m: LoadedModel) => Promise<void> | void): Promise<void> {
  const m = await loadModel({ model: file, dtype });
  try {
    await fn(m);
  } finally {
    m.dispose();
  }
}

function expectEqualBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.from(actual).equals(Buffer.from(expected))).toBe(true);
}

describe('GGUF block types: hand-written blocks', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('gguf-blocks');
  });
  afterAll(() => removeDir(dir));

  async function firstValues(type: BlockTypeName, bytes: Uint8Array, values: number[]): Promise<Float32Array> {
    const written = await writeModel(dir, type, { name: GATE, bytes, values });
    let row: Float32Array = new Float32Array();
    await withModel(written.file, 'f32', (m) => {
      row = asF32(m.native.tensorData(GATE)).slice(0, BLOCK_TYPES[type].values);
    });
    return row;
  }

  it('Q4_0: x = (q − 8)·d, byte j holding values j (low nibble) and j + 16 (high)', async () => {
    const b = new Uint8Array(18);
    new DataView(b.buffer).setUint16(0, half(0.5), true);
    b[2] = 0x1f; // value 0: q 15 → 3.5; value 16: q 1 → −3.5
    b[5] = 0x80; // value 3: q 0 → −4; value 19: q 8 → 0
    // every other nibble 0: q 0 → −4
    const expected = Array.from({ length: 32 }, () => -4);
    expected[0] = 3.5;
    expected[16] = -3.5;
    expected[19] = 0;
    expect(Array.from(await firstValues('Q4_0', b, expected))).toEqual(expected);
  });

  it('Q4_K: x = (d·scale)·q − dmin·min, six-bit scales and mins packed in 12 bytes', async () => {
    const b = new Uint8Array(144);
    const v = new DataView(b.buffer);
    v.setUint16(0, half(0.25), true); // d
    v.setUint16(2, half(1), true); // dmin
    // Sub-block 0: scale 3, min 2 (bytes 0 and 4, low six bits).
    b[4 + 0] = 3;
    b[4 + 4] = 2;
    // Sub-block 5: scale 37 = 0b10_0101, min 20 = 0b01_0100: low nibbles in byte 9, top bits in
    // the top two bits of bytes 1 (scale) and 5 (min).
    b[4 + 9] = 0x45;
    b[4 + 1] |= 2 << 6;
    b[4 + 5] |= 1 << 6;
    b[16 + 0] = 9; // value 0 (sub-block 0, low nibble of q byte 0): 0.25·3·9 − 1·2 = 4.75
    b[16 + 64 + 7] = 0xb0; // value 167 (sub-block 5, high nibble of q byte 71): 0.25·37·11 − 1·20 = 81.75
    // Everything else has scale 0 and min 0 → 0, but sub-block 0's other values: 0.25·3·0 − 2 = −2,
    // sub-block 5's: −20; sub-block 1 reads bytes 1 and 5, whose low six bits are 0.
    const expected: number[] = Array.from({ length: 256 }, (_, i) => (i < 32 ? -2 : i >= 160 && i < 192 ? -20 : 0));
    expected[0] = 4.75;
    expected[167] = 81.75;
    expect(Array.from(await firstValues('Q4_K', b, expected))).toEqual(expected);
  });

  it('Q6_K: x = (d·scale)·(q − 32), q from a nibble of ql and two bits of qh', async () => {
    const b = new Uint8Array(210);
    const v = new DataView(b.buffer);
    v.setUint16(208, half(0.5), true); // d
    v.setInt8(192 + 15, -3); // scale of values 240–255
    v.setInt8(192 + 0, 1); // scale of values 0–15
    // Value 240 = 128·1 + 32·3 + 16: high nibble of ql byte 64 + 32 + 16, bits 6–7 of qh byte 32 + 16.
    // q = 50 = 0b11_0010 → 0.5·(−3)·18 = −27.
    b[112] = 0x20;
    b[128 + 48] = 0xc0;
    // Value 0: low nibble of ql byte 0, bits 0–1 of qh byte 0; q = 0b01_0111 = 23 → 0.5·1·(−9) = −4.5.
    b[0] = 0x07;
    b[128] = 0x01;
    // Values 1–15 (scale 1, q 0): 0.5·1·(−32) = −16; 241–255 (scale −3, q 0): 48; the rest have
    // scale 0: 0·(−32) = −0.
    const expected: number[] = Array.from({ length: 256 }, (_, i) => (i < 16 ? -16 : i >= 240 ? 48 : -0));
    expected[0] = -4.5;
    expected[240] = -27;
    expect(Array.from(await firstValues('Q6_K', b, expected))).toEqual(expected);
  });

  // The 16 levels of both IQ4 types, by index: −127 −104 −83 −65 −49 −35 −22 −10 1 13 25 38 53 69 89 113.
  it('IQ4_NL: x = d·level[index], byte j holding the indices of values j (low nibble) and j + 16 (high)', async () => {
    const b = new Uint8Array(18).fill(0x88); // index 8, level 1 → 0.5·1 = 0.5
    new DataView(b.buffer).setUint16(0, half(0.5), true);
    b[2] = 0xf0; // value 0: index 0 → 0.5·(−127) = −63.5; value 16: index 15 → 0.5·113 = 56.5
    b[2 + 5] = 0x7a; // value 5: index 10 → 0.5·25 = 12.5; value 21: index 7 → 0.5·(−10) = −5
    const expected = Array.from({ length: 32 }, () => 0.5);
    expected[0] = -63.5;
    expected[16] = 56.5;
    expected[5] = 12.5;
    expected[21] = -5;
    expect(Array.from(await firstValues('IQ4_NL', b, expected))).toEqual(expected);
  });

  it('IQ4_XS: x = (d·(ls − 32))·level[index], six-bit ls from a nibble of scales_l and two bits of scales_h', async () => {
    const b = new Uint8Array(136);
    const v = new DataView(b.buffer);
    v.setUint16(0, half(0.5), true); // d
    // Sub-block 0: ls = 33 = 0b10_0001: low nibble 1 in the low nibble of scales_l[0], high bits
    //   0b10 in bits 0–1 of scales_h; dl = 0.5·(33 − 32) = 0.5.
    // Sub-block 3: ls = 20 = 0b01_0100: low nibble 4 in the high nibble of scales_l[1], high bits
    //   0b01 in bits 6–7 of scales_h; dl = 0.5·(20 − 32) = −6.
    // Sub-block 7: ls = 63 = 0b11_1111: high nibble of scales_l[3], bits 14–15 of scales_h (its
    //   second byte); dl = 0.5·31 = 15.5.
    // Sub-blocks 1, 2, 4, 5, 6: ls = 0, dl = 0.5·(−32) = −16.
    b[4 + 0] = 0x01;
    b[4 + 1] = 0x40;
    b[4 + 3] = 0xf0;
    v.setUint16(2, (0b11 << 14) | (0b01 << 6) | 0b10, true); // scales_h = 0xc042
    b.fill(0x88, 8); // index 8 everywhere, level 1: each value is its sub-block's dl
    b[8 + 0] = 0xf0; // value 0: index 0 → 0.5·(−127) = −63.5; value 16: index 15 → 0.5·113 = 56.5
    b[8 + 48 + 2] = 0x3c; // value 98: index 12 → −6·53 = −318; value 114: index 3 → −6·(−65) = 390
    b[8 + 112 + 15] = 0x0e; // value 239: index 14 → 15.5·89 = 1379.5; value 255: index 0 → 15.5·(−127) = −1968.5
    const dl = [0.5, -16, -16, -6, -16, -16, -16, 15.5];
    const expected = Array.from({ length: 256 }, (_, i) => dl[i >> 5]);
    expected[0] = -63.5;
    expected[16] = 56.5;
    expected[98] = -318;
    expected[114] = 390;
    expected[239] = 1379.5;
    expected[255] = -1968.5;
    expect(Array.from(await firstValues('IQ4_XS', b, expected))).toEqual(expected);
  });
});

describe('GGUF block types: whole models', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('gguf-blocks');
  });
  afterAll(() => removeDir(dir));

  for (const type of Object.keys(BLOCK_TYPES) as BlockTypeName[]) {
    it(`${type}: 'f32' gives every value its codes define (q/k rows back in Hugging Face order); 'auto' Q8_0 matrices and a BF16 embedding`, async () => {
      const { file, decoded } = await writeModel(dir, type);
      await withModel(file, 'f32', (m) => {
        expect(m.info.weightDtype).toBe('F32');
        for (const [name, values] of decoded) expectEqualBytes(m.native.tensorData(name), f32Bytes(values));
      });
      await withModel(file, 'auto', (m) => {
        expect(m.info.weightDtype).toBe('Q8_0');
        for (const t of m.native.tensors()) {
          const values = decoded.get(t.name)!;
          if (t.name === 'model.embed_tokens.weight') {
            expect(t.dtype).toBe('BF16');
            expect(Array.from(new Uint16Array(m.native.tensorData(t.name).slice().buffer)).map((h) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]))
              .toEqual(Array.from(values, roundToBf16));
          } else if (t.shape.length === 2) {
            expect(t.dtype).toBe('Q8_0');
            expectEqualBytes(m.native.tensorData(t.name), quantizeQ8Planar(values, t.shape[0], t.shape[1]));
          }
        }
      });
    });
  }

  it("'auto' runs as the decoded model stored in F32 and BF16, loaded 'q8', bit for bit", async () => {
    const { file, decoded } = await writeModel(dir, 'Q4_K');
    const tensors: HfTensor[] = seededTensors().map(({ name, shape }) => {
      const values = decoded.get(name)!;
      if (name !== 'model.embed_tokens.weight') return { name, dtype: 'F32', shape, data: f32Bytes(values) };
      const bf16 = new Uint16Array(Array.from(values, (x) => new Uint32Array(new Float32Array([roundToBf16(x)]).buffer)[0] >>> 16));
      return { name, dtype: 'BF16', shape, data: new Uint8Array(bf16.buffer) };
    });
    const expectedFile = join(dir, 'decoded.gguf');
    await writeGguf(expectedFile, { config: CONFIG as never, tensors, vocab: VOCAB });
    const ids = testIds(10, CONFIG.vocab_size);
    await withModel(file, 'auto', async (m) => {
      await withModel(expectedFile, 'q8', async (expected) => {
        const actual = await positionLogits(m.native, { ids, split: 4 });
        const wanted = await positionLogits(expected.native, { ids, split: 4 });
        for (let i = 0; i < ids.length; i++) expectEqualBytes(new Uint8Array(actual[i].buffer), new Uint8Array(wanted[i].buffer));
        expect(m.info.decodeStreamBytes).toBe(expected.info.decodeStreamBytes);
      });
    });
  });

  for (const type of ['Q5_K', 'IQ4_NL', 'IQ4_XS'] as const) {
    it(`a tied head from an embedding in ${type} is its decoded values quantized to Q8_0 once, not through the BF16 gather copy`, async () => {
      const tied = { ...CONFIG, tie_word_embeddings: true };
      const embed = seededTensors().find((t) => t.name === 'model.embed_tokens.weight')!;
      const encoded = encodeBlocks(type, embed.values, embed.shape[0], embed.shape[1]);
      // The other matrices in the same type, so that 'auto' makes every matrix Q8_0 as 'q8' does.
      const others = seededTensors().filter((t) => t.name !== 'lm_head.weight' && t.name !== embed.name);
      const stored: HfTensor[] = [], plain: HfTensor[] = [];
      for (const { name, shape, values } of others) {
        if (shape.length === 1) {
          stored.push({ name, dtype: 'F32', shape, data: f32Bytes(values) });
          plain.push({ name, dtype: 'F32', shape, data: f32Bytes(values) });
          continue;
        }
        const e = encodeBlocks(type, values, shape[0], shape[1]);
        stored.push({ name, dtype: type, shape, data: e.bytes });
        plain.push({ name, dtype: 'F32', shape, data: f32Bytes(e.decoded) });
      }
      const file = join(dir, `tied-${type}.gguf`);
      await writeGguf(file, { config: tied as never, tensors: [{ name: embed.name, dtype: type, shape: embed.shape, data: encoded.bytes }, ...stored], vocab: VOCAB });
      // The same model untied, every value decoded: the gather from the embedding in BF16, the head
      // from it in F32 (quantized to Q8_0 by the 'q8' load).
      const bf16 = new Uint16Array(Array.from(encoded.decoded, (x) => new Uint32Array(new Float32Array([roundToBf16(x)]).buffer)[0] >>> 16));
      const expectedFile = join(dir, `untied-decoded-${type}.gguf`);
      await writeGguf(expectedFile, {
        config: CONFIG as never,
        tensors: [
          { name: embed.name, dtype: 'BF16', shape: embed.shape, data: new Uint8Array(bf16.buffer) },
          { name: 'lm_head.weight', dtype: 'F32', shape: embed.shape, data: f32Bytes(encoded.decoded) },
          ...plain,
        ],
        vocab: VOCAB,
      });
      const ids = testIds(6, CONFIG.vocab_size);
      for (const dtype of ['auto', 'q8'] as const) {
        await withModel(file, dtype, async (m) => {
          await withModel(expectedFile, 'q8', async (expected) => {
            const actual = await positionLogits(m.native, { ids, split: 3 });
            const wanted = await positionLogits(expected.native, { ids, split: 3 });
            for (let i = 0; i < ids.length; i++) expectEqualBytes(new Uint8Array(actual[i].buffer), new Uint8Array(wanted[i].buffer));
          });
        });
      }
    });
  }
});

describe('GGUF block types: malformed tables', () => {
  it('a K-quant tensor whose rows are not whole 256-value blocks is INVALID_WEIGHTS and leaks nothing', async () => {
    const dir = tempDir('gguf-blocks-bad');
    try {
      const { file } = await writeModel(dir, 'Q4_0');
      const before = native().memoryStats();
      // The table the loader gets from TypeScript, with a 32-value type claimed as a K-quant.
      const header = readGgufHeader(file);
      const config = ggufHfConfig(header);
      const table = ggufTensorBindings(header, config).map((b) => ({
        name: b.hfName,
        dtype: b.shape.length === 2 && b.shape[1] === 256 ? ('Q4_K' as const) : b.info.typeName!,
        shape: b.shape,
        offset: b.info.offset,
        ropeHeads: b.ropeHeads,
      }));
      // 256-value rows are whole Q4_K blocks; make one a 128-value row to break it.
      const broken = table.map((t) => (t.name === GATE ? { ...t, shape: [1024, 128] } : t));
      await expect(native().loadModel({ configJson: JSON.stringify(config), ggufPath: file, ggufTensors: broken, dtype: 'f32' })).rejects.toMatchObject({
        code: 'INVALID_WEIGHTS',
        message: expect.stringMatching(/is Q4_K but not a matrix whose rows are whole 256-value blocks/),
      });
      expect(native().memoryStats()).toEqual(before);
    } finally {
      removeDir(dir);
    }
  });

  it('an IQ type other than IQ4_NL and IQ4_XS is UNSUPPORTED_MODEL, named', async () => {
    const dir = tempDir('gguf-blocks-iq2');
    try {
      const { file } = await writeModel(dir, 'IQ4_NL');
      // blk.0.ffn_gate.weight relabelled IQ2_XXS (ggml type 16): its type follows the name, its
      // dimension count (u32) and its two u64 dimensions.
      const bytes = readFileSync(file);
      const name = Buffer.from('blk.0.ffn_gate.weight');
      const typeAt = bytes.indexOf(name) + name.length + 4 + 16;
      expect(bytes.readUInt32LE(typeAt)).toBe(20); // IQ4_NL, as written
      bytes.writeUInt32LE(16, typeAt);
      const relabelled = join(dir, 'iq2_xxs.gguf');
      writeFileSync(relabelled, bytes);
      await expect(loadModel({ model: relabelled })).rejects.toMatchObject({
        code: 'UNSUPPORTED_MODEL',
        message: expect.stringMatching(/blk\.0\.ffn_gate\.weight is of ggml type 16 \(IQ2_XXS\), which the engine does not load; it loads .*IQ4_NL, IQ4_XS/),
      });
    } finally {
      removeDir(dir);
    }
  });
});
