/**
 * Loading a GGUF file as a model: fixtures written to GGUF by the benchmark's writer
 * (bench/native/gguf-writer.ts, which stores q/k rows in llama.cpp's RoPE order and Q8_0 as
 * 34-byte blocks) must run exactly as the safetensors checkpoint they came from. Broken files and
 * tables are coded errors that leave no memory behind.
 */
import { copyFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quantizeQ8Planar, writeGguf, type HfTensor } from '../../bench/native/gguf-writer.js';
import { EngineError } from '../../lib/errors.js';
import { ggufHfConfig, ggufTensorBindings } from '../../lib/model/gguf-config.js';
import { readGgufHeader, readGgufVector } from '../../lib/model/gguf-file.js';
import { loadModel, type LoadedModel } from '../../lib/model/load.js';
import { positionLogits } from '../../lib/model/logits.js';
import { Tokenizer } from '../../lib/model/tokenizer.js';
import { makeModel } from '../../lib/model/make-model.js';
import type { HfConfig } from '../../lib/model/presets.js';
import { native, type NativeGgufTensor, type NativeLoadOptions, type WeightDtypeOption } from '../../lib/native/index.js';
import { CONFIGS, makeFixture, relativeError, removeDir, tempDir, testIds } from './fixtures.js';

const IDS_COUNT = 12;

/** The fixture tokenizer's vocabulary as GGUF lists it: tokens by id, added tokens typed. */
function fixtureVocab(dir: string): { tokens: string[]; tokenTypes: number[] } {
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as {
    model: { vocab: Record<string, number> };
    added_tokens: { id: number; content: string; special: boolean }[];
  };
  const tokens: string[] = [];
  const tokenTypes: number[] = [];
  for (const [piece, id] of Object.entries(json.model.vocab)) {
    tokens[id] = piece;
    tokenTypes[id] = 1;
  }
  for (const t of json.added_tokens) {
    tokens[t.id] = t.content;
    tokenTypes[t.id] = t.special ? 3 : 4; // control, user-defined
  }
  return { tokens, tokenTypes };
}

/** A model's tensors as the writer takes them; `q8Embed` stores the embedding as Q8_0 (llama.cpp's Q8_0 files do). */
function hfTensors(model: LoadedModel, options: { q8Embed?: boolean } = {}): HfTensor[] {
  return model.native.tensors().map((t) => {
    const data = model.native.tensorData(t.name);
    if (options.q8Embed && t.name === 'model.embed_tokens.weight') {
      const values = new Float32Array(data.slice().buffer);
      return { name: t.name, dtype: 'Q8_0' as const, shape: t.shape, data: quantizeQ8Planar(values, t.shape[0], t.shape[1]) };
    }
    const dtype = t.dtype === 'Q8_0' ? 'Q8_0' : t.dtype;
    return { name: t.name, dtype, shape: t.shape, data };
  });
}

async function writeModelGguf(path: string, model: LoadedModel, dir: string, options: { q8Embed?: boolean } = {}): Promise<void> {
  const vocab = fixtureVocab(dir);
  await writeGguf(path, {
    config: model.config as never,
    tensors: hfTensors(model, options),
    vocab: { ...vocab, bosTokenId: 256, eosTokenId: 259 },
  });
}

async function logitsOf(model: LoadedModel, ids: number[]): Promise<Float32Array[]> {
  return positionLogits(model.native, { ids, split: 5 });
}

function expectSameLogits(actual: Float32Array[], expected: Float32Array[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Buffer.from(actual[i].buffer).equals(Buffer.from(expected[i].buffer))).toBe(true);
}

/** F16 bits → number, written from the IEEE 754 half layout. */
function f16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** The values d·q of a planar Q8_0 matrix (quants, then F16 scales). */
function dequantizePlanar(data: Uint8Array, rows: number, cols: number): Float32Array {
  const quants = new Int8Array(data.buffer, data.byteOffset, rows * cols);
  const scales = Buffer.from(data.buffer, data.byteOffset + rows * cols, (rows * cols) / 16);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) out[i] = f16(scales.readUInt16LE(2 * Math.floor(i / 32))) * quants[i];
  return out;
}

function asF32(data: Uint8Array): Float32Array {
  return new Float32Array(data.slice().buffer);
}

describe('a GGUF file loads as the checkpoint it came from', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removeDir));

  const cases: { name: string; config: HfConfig; dtype: 'f32' | 'f16' | 'bf16' }[] = [
    { name: 'tied F32', config: CONFIGS.llama, dtype: 'f32' },
    { name: 'tied BF16', config: CONFIGS.llama, dtype: 'bf16' },
    { name: 'tied F16', config: CONFIGS.llama, dtype: 'f16' },
    { name: 'untied F32 with grouped KV heads', config: { ...CONFIGS.llama, num_key_value_heads: 1, tie_word_embeddings: false }, dtype: 'f32' },
  ];
  for (const c of cases) {
    it(`${c.name}: same logits bit for bit, HF tensor names, same info`, async () => {
      const dir = tempDir('gguf-src');
      dirs.push(dir);
      await makeModel({ config: c.config, outDir: dir, seed: 11, dtype: c.dtype });
      const fromDir = await loadModel({ model: dir });
      const file = join(dir, 'model.gguf');
      try {
        await writeModelGguf(file, fromDir, dir);
        const fromGguf = await loadModel({ model: file });
        try {
          const ids = testIds(IDS_COUNT, fromDir.info.vocabSize);
          expectSameLogits(await logitsOf(fromGguf, ids), await logitsOf(fromDir, ids));
          const names = (m: LoadedModel) => m.native.tensors().map((t) => `${t.name}:${t.dtype}:${t.shape.join('x')}`).sort();
          expect(names(fromGguf)).toEqual(names(fromDir));
          for (const key of ['weightDtype', 'parameters', 'decodeStreamBytes', 'vocabSize', 'numKvHeads', 'tieWordEmbeddings'] as const) {
            expect(fromGguf.info[key]).toEqual(fromDir.info[key]);
          }
          expect(fromGguf.info.weightDtype).toBe(c.dtype.toUpperCase());
          expect(fromGguf.tokenizer).not.toBeNull();
          // --dummy: the file's config with seeded random weights, as for a directory.
          const dummy = await loadModel({ model: file, dummy: true, seed: 3 });
          const dummyFromDir = await loadModel({ model: dir, dummy: true, seed: 3 });
          try {
            expectSameLogits(await logitsOf(dummy, ids), await logitsOf(dummyFromDir, ids));
          } finally {
            dummy.dispose();
            dummyFromDir.dispose();
          }
        } finally {
          fromGguf.dispose();
        }
      } finally {
        fromDir.dispose();
      }
    });
  }

  it('Qwen2 q/k biases are put back in Hugging Face order too (native load with the qwen2 config)', async () => {
    const dir = await makeFixture('qwen2');
    dirs.push(dir);
    const fromDir = await loadModel({ model: dir });
    const file = join(dir, 'model.gguf');
    try {
      await writeModelGguf(file, fromDir, dir);
      // The writer labels every file 'llama'; the engine reads the Qwen2 config beside it.
      const header = readGgufHeader(file);
      const bindings = ggufTensorBindings(header, CONFIGS.qwen2);
      expect(bindings.filter((b) => b.hfName.endsWith('q_proj.bias') && b.ropeHeads === CONFIGS.qwen2.num_attention_heads).length).toBe(CONFIGS.qwen2.num_hidden_layers);
      const model = await native().loadModel({
        configJson: JSON.stringify(CONFIGS.qwen2),
        ggufPath: file,
        ggufTensors: bindings.map((b) => ({ name: b.hfName, dtype: b.info.typeName!, shape: b.shape, offset: b.info.offset, ropeHeads: b.ropeHeads })),
      });
      try {
        const ids = testIds(IDS_COUNT, fromDir.info.vocabSize);
        expectSameLogits(await positionLogits(model, { ids, split: 5 }), await logitsOf(fromDir, ids));
      } finally {
        model.dispose();
      }
    } finally {
      fromDir.dispose();
    }
  });
});

/**
 * F32 q/k rows (or bias entries) so ordered that the writer's RoPE permutation (HF row a·d/2 + i
 * to GGUF row 2i + a) leaves them in Hugging Face order: what llama.cpp's converter writes for
 * Qwen2, whose "NeoX" RoPE pairs dimensions as Hugging Face does.
 */
function unpermuteForWriter(t: HfTensor, heads: number): HfTensor {
  const rows = t.shape[0];
  const rowBytes = t.data.length / rows;
  const d = rows / heads;
  const out = new Uint8Array(t.data.length);
  for (let h = 0; h < heads; h++) {
    for (let a = 0; a < 2; a++) {
      for (let i = 0; i < d / 2; i++) {
        const from = (h * d + 2 * i + a) * rowBytes;
        out.set(t.data.subarray(from, from + rowBytes), (h * d + (a * d) / 2 + i) * rowBytes);
      }
    }
  }
  return { ...t, data: out };
}

describe('a Qwen2 GGUF file (unpermuted q/k, q/k/v biases)', () => {
  it('loads as its checkpoint, bit for bit', async () => {
    const dir = await makeFixture('qwen2');
    const fromDir = await loadModel({ model: dir });
    try {
      const c = CONFIGS.qwen2;
      const tensors = hfTensors(fromDir).map((t) => {
        const m = /self_attn\.(q|k)_proj\./.exec(t.name);
        return m ? unpermuteForWriter(t, m[1] === 'q' ? c.num_attention_heads : c.num_key_value_heads) : t;
      });
      const llamaFile = join(dir, 'as-llama.gguf');
      await writeGguf(llamaFile, { config: fromDir.config as never, tensors, vocab: { ...fixtureVocab(dir), bosTokenId: 256, eosTokenId: 259 } });
      // The writer labels every file 'llama'; "llama" and "qwen2" are both five bytes, so the
      // header's architecture and key prefixes can be renamed in place.
      const bytes = readFileSync(llamaFile);
      const header = readGgufHeader(llamaFile);
      const head = bytes.subarray(0, header.dataOffset);
      for (let at = head.indexOf('llama'); at >= 0; at = head.indexOf('llama', at + 5)) head.write('qwen2', at, 'latin1');
      const file = join(dir, 'model.gguf');
      writeFileSync(file, bytes);
      const fromGguf = await loadModel({ model: file });
      try {
        expect(fromGguf.info.modelType).toBe('qwen2');
        const ids = testIds(IDS_COUNT, fromDir.info.vocabSize);
        expectSameLogits(await logitsOf(fromGguf, ids), await logitsOf(fromDir, ids));
        const bias = 'model.layers.0.self_attn.k_proj.bias';
        expect(Buffer.from(fromGguf.native.tensorData(bias)).equals(Buffer.from(fromDir.native.tensorData(bias)))).toBe(true);
      } finally {
        fromGguf.dispose();
      }
    } finally {
      fromDir.dispose();
      removeDir(dir);
    }
  });
});

describe("Llama 3.1's RoPE scaling stored as rope_freqs.weight", () => {
  it('runs as the checkpoint with rope_scaling llama3, to F32 rounding of the factors; without them the logits differ', async () => {
    const dir = await makeFixture('llama3');
    const fromDir = await loadModel({ model: dir });
    try {
      const file = join(dir, 'model.gguf');
      await writeModelGguf(file, fromDir, dir); // the writer stores the llama3 rule as llama.cpp's converter does: rope_freqs.weight
      const header = readGgufHeader(file);
      expect(header.tensors.some((t) => t.name === 'rope_freqs.weight')).toBe(true);
      const config = ggufHfConfig(header, (info) => readGgufVector(file, info));
      // head_dim 32, theta 500000, original context 64, factor 8, low 1, high 4: pair i's wavelength
      // 2π·500000^(i/16) is 6.3 and 14.3 for pairs 0 and 1 (under 64/4 = 16: factor 1), 32.4 for
      // pair 2 (between 16 and 64: smooth = (64/32.4 − 1)/3, factor 1/((1 − smooth)/8 + smooth)),
      // and 73.6 or more from pair 3 on (over 64/1: factor 8).
      const factors = (config.rope_scaling as { rope_type: string; factors: number[] }).factors;
      expect((config.rope_scaling as { rope_type: string }).rope_type).toBe('frequency_factors');
      expect(factors.length).toBe(16);
      const wavelength = (i: number) => 2 * Math.PI * 500000 ** (i / 16);
      const smooth = (64 / wavelength(2) - 1) / 3;
      expect(factors.slice(0, 2)).toEqual([1, 1]);
      expect(factors[2]).toBeCloseTo(1 / ((1 - smooth) / 8 + smooth), 6);
      expect(factors.slice(3)).toEqual(Array(13).fill(8));

      const fromGguf = await loadModel({ model: file });
      try {
        const ids = testIds(IDS_COUNT, fromDir.info.vocabSize);
        const expected = await logitsOf(fromDir, ids);
        const actual = await logitsOf(fromGguf, ids);
        for (let i = 0; i < ids.length; i++) expect(relativeError(actual[i], expected[i])).toBeLessThan(1e-5);
        // The same weights without the scaling (config rope_scaling removed) differ by far more.
        const unscaledConfig = { ...ggufHfConfig(header, (info) => readGgufVector(file, info)), rope_scaling: null };
        const tensors = ggufTensorBindings(header, unscaledConfig).map((b) => ({ name: b.hfName, dtype: b.info.typeName!, shape: b.shape, offset: b.info.offset, ropeHeads: b.ropeHeads }));
        const unscaled = await native().loadModel({ configJson: JSON.stringify(unscaledConfig), ggufPath: file, ggufTensors: tensors });
        try {
          const other = await positionLogits(unscaled, { ids, split: 5 });
          expect(Math.max(...ids.map((_, i) => relativeError(other[i], expected[i])))).toBeGreaterThan(1e-3);
        } finally {
          unscaled.dispose();
        }
      } finally {
        fromGguf.dispose();
      }
      // Factors of the wrong count, or not positive, are refused.
      expect(() => ggufHfConfig(header, () => new Float32Array(15).fill(1))).toThrow(expect.objectContaining({ code: 'INVALID_WEIGHTS' }) as never);
      expect(() => ggufHfConfig(header, () => new Float32Array(16).fill(0))).toThrow(/positive factors/);
    } finally {
      fromDir.dispose();
      removeDir(dir);
    }
  });
});

describe('Q8_0 GGUF files', () => {
  let dir: string;
  let q8: LoadedModel;
  let f32: LoadedModel;
  let q8EmbedFile: string;
  let f32EmbedFile: string;

  beforeAll(async () => {
    dir = await makeFixture('llama');
    q8 = await loadModel({ model: dir, dtype: 'q8' });
    f32 = await loadModel({ model: dir });
    q8EmbedFile = join(dir, 'q8-embed.gguf');
    f32EmbedFile = join(dir, 'f32-embed.gguf');
    await writeModelGguf(q8EmbedFile, q8, dir, { q8Embed: true });
    await writeModelGguf(f32EmbedFile, q8, dir);
  });
  afterAll(() => {
    q8?.dispose();
    f32?.dispose();
    if (dir) removeDir(dir);
  });

  async function withModel(file: string, dtype: WeightDtypeOption, fn: (m: LoadedModel) => Promise<void>): Promise<void> {
    const m = await loadModel({ model: file, dtype });
    try {
      await fn(m);
    } finally {
      m.dispose();
    }
  }

  it("with an F32 embedding, dtype 'q8' equals the checkpoint loaded with dtype 'q8', bit for bit", async () => {
    await withModel(f32EmbedFile, 'q8', async (m) => {
      const ids = testIds(IDS_COUNT, q8.info.vocabSize);
      expectSameLogits(await logitsOf(m, ids), await logitsOf(q8, ids));
      expect(m.info.weightDtype).toBe('Q8_0');
      expect(m.info.decodeStreamBytes).toBe(q8.info.decodeStreamBytes);
      expect(m.info.parameters).toBe(q8.info.parameters);
      // The matrices are the file's blocks, split: the same bytes as the checkpoint's quantization.
      for (const name of ['model.layers.0.self_attn.q_proj.weight', 'model.layers.1.self_attn.k_proj.weight', 'model.layers.1.mlp.down_proj.weight']) {
        expect(Buffer.from(m.native.tensorData(name)).equals(Buffer.from(q8.native.tensorData(name)))).toBe(true);
      }
    });
  });

  it("with a Q8_0 embedding (llama.cpp's Q8_0 files), 'auto' keeps Q8_0 matrices, gathers from the dequantized embedding and uses its Q8_0 for the tied head", async () => {
    await withModel(q8EmbedFile, 'auto', async (m) => {
      expect(m.info.weightDtype).toBe('Q8_0');
      // The tied head is the file's Q8_0 embedding: a decode step streams the same bytes as the q8 checkpoint's.
      expect(m.info.decodeStreamBytes).toBe(q8.info.decodeStreamBytes);
      for (const t of q8.native.tensors().filter((x) => x.dtype === 'Q8_0')) {
        expect(Buffer.from(m.native.tensorData(t.name)).equals(Buffer.from(q8.native.tensorData(t.name)))).toBe(true);
      }
      const embed = m.native.tensors().find((t) => t.name === 'model.embed_tokens.weight')!;
      expect(embed.dtype).toBe('F32');
      const [rows, cols] = embed.shape;
      const source = asF32(f32.native.tensorData('model.embed_tokens.weight'));
      expect(asF32(m.native.tensorData(embed.name))).toEqual(dequantizePlanar(quantizeQ8Planar(source, rows, cols), rows, cols));
      // Re-quantizing d·q gives back d and q, so the same model with the dequantized embedding
      // stored as F32 and loaded under 'q8' (head quantized at load) runs identically.
      const ids = testIds(IDS_COUNT, q8.info.vocabSize);
      const expectedDir = tempDir('gguf-deq');
      try {
        const deqFile = join(expectedDir, 'deq.gguf');
        const tensors = hfTensors(q8).map((t) =>
          t.name === embed.name ? { ...t, data: new Uint8Array(dequantizePlanar(quantizeQ8Planar(source, rows, cols), rows, cols).buffer) } : t,
        );
        await writeGguf(deqFile, { config: q8.config as never, tensors, vocab: { ...fixtureVocab(dir), bosTokenId: 256, eosTokenId: 259 } });
        await withModel(deqFile, 'q8', async (expected) => expectSameLogits(await logitsOf(m, ids), await logitsOf(expected, ids)));
      } finally {
        removeDir(expectedDir);
      }
    });
  });

  it("dtype 'f32' dequantizes every Q8_0 matrix to d·q, q/k rows in Hugging Face order", async () => {
    await withModel(q8EmbedFile, 'f32', async (m) => {
      expect(m.info.weightDtype).toBe('F32');
      for (const t of q8.native.tensors()) {
        if (t.dtype !== 'Q8_0') continue;
        const [rows, cols] = t.shape;
        expect(asF32(m.native.tensorData(t.name))).toEqual(dequantizePlanar(q8.native.tensorData(t.name), rows, cols));
      }
      expect(m.info.decodeStreamBytes).toBe(f32.info.decodeStreamBytes);
    });
  });

  it("a file mixing types within q/k/v is refused under 'auto' (the fused product needs one) and loads under 'q8'", async () => {
    const mixed = join(dir, 'mixed.gguf');
    const k = 'model.layers.1.self_attn.k_proj.weight';
    const shape = f32.native.tensors().find((t) => t.name === k)!.shape;
    const tensors = hfTensors(q8).map((t) => (t.name === k ? { name: k, dtype: 'F32' as const, shape, data: f32.native.tensorData(k) } : t));
    await writeGguf(mixed, { config: q8.config as never, tensors, vocab: { ...fixtureVocab(dir), bosTokenId: 256, eosTokenId: 259 } });
    const before = native().memoryStats();
    await expect(loadModel({ model: mixed })).rejects.toMatchObject({ code: 'UNSUPPORTED_MODEL', message: expect.stringMatching(/layer 1 stores q, k and v in different types/) });
    expect(native().memoryStats()).toEqual(before);
    await withModel(mixed, 'q8', async (m) => {
      expect(Buffer.from(m.native.tensorData(k)).equals(Buffer.from(q8.native.tensorData(k)))).toBe(true);
    });
  });

  it("dtype 'bf16' on a Q8_0 file gives BF16 matrices", async () => {
    await withModel(q8EmbedFile, 'bf16', async (m) => {
      expect(m.info.weightDtype).toBe('BF16');
      expect(m.native.tensors().find((t) => t.name === 'model.embed_tokens.weight')!.dtype).toBe('BF16');
    });
  });
});

describe("the tokenizer from a written GGUF file's metadata", () => {
  let dir: string;
  let model: LoadedModel;
  let expected: Tokenizer;

  beforeAll(async () => {
    dir = await makeFixture('llama');
    const fromDir = await loadModel({ model: dir });
    try {
      await writeModelGguf(join(dir, 'model.gguf'), fromDir, dir);
    } finally {
      fromDir.dispose();
    }
    model = await loadModel({ model: join(dir, 'model.gguf') });
    expected = await Tokenizer.fromDir(dir);
  });
  afterAll(() => {
    model?.dispose();
    if (dir) removeDir(dir);
  });

  const TEXTS = [
    'Hello, world!',
    '  leading spaces\n\nand lines\t tabs',
    'héllo wörld 123 🙂 日本語',
    '<|im_start|>user\nhi there<|im_end|>',
    '<tool_call>{"name": "f"}</tool_call><|pad|>',
    '<|begin_of_text|>text<|end_of_text|>',
  ];

  it('encodes and decodes like the fixture tokenizer.json, special and added tokens included', () => {
    const tok = model.tokenizer!;
    expect(tok).not.toBeNull();
    for (const text of TEXTS) {
      const ids = expected.encode(text);
      expect(tok.encode(text), text).toEqual(ids);
      expect(tok.decode(ids), text).toBe(expected.decode(ids));
      expect(tok.decode(ids, { skipSpecialTokens: true }), text).toBe(expected.decode(ids, { skipSpecialTokens: true }));
    }
    // Added tokens are single ids: <|im_start|> is 258, <tool_call> 260 (256 + their place).
    expect(tok.encode('<|im_start|><tool_call>')).toEqual([258, 260]);
    expect(tok.vocabSize).toBe(expected.vocabSize);
    expect(tok.bosId).toBe(256);
    expect(tok.eosIds).toEqual([259]);
  });
});

describe('broken GGUF files and tables', () => {
  let dir: string;
  let file: string;
  let header: ReturnType<typeof readGgufHeader>;
  let config: HfConfig;
  let table: NativeGgufTensor[];

  beforeAll(async () => {
    dir = await makeFixture('llama');
    const model = await loadModel({ model: dir });
    file = join(dir, 'model.gguf');
    try {
      await writeModelGguf(file, model, dir);
    } finally {
      model.dispose();
    }
    header = readGgufHeader(file);
    config = ggufHfConfig(header);
    table = ggufTensorBindings(header, config).map((b) => ({ name: b.hfName, dtype: b.info.typeName!, shape: b.shape, offset: b.info.offset, ropeHeads: b.ropeHeads }));
  });
  afterAll(() => {
    if (dir) removeDir(dir);
  });

  async function expectRefused(load: () => Promise<{ dispose(): void }>, code: string, message: RegExp): Promise<void> {
    const before = native().memoryStats();
    const error = await load().then(
      (m) => {
        m.dispose();
        return null;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe(code);
    expect((error as EngineError).message).toMatch(message);
    expect(native().memoryStats()).toEqual(before);
  }

  const nativeLoad = (options: Partial<NativeLoadOptions>) => () =>
    native().loadModel({ configJson: JSON.stringify(config), ggufPath: file, ggufTensors: table, ...options });

  it('a file cut short in its data is INVALID_WEIGHTS naming the tensor that runs past the end', async () => {
    const cut = join(dir, 'cut.gguf');
    copyFileSync(file, cut);
    truncateSync(cut, Math.floor(statSync(file).size * 0.7));
    await expectRefused(() => loadModel({ model: cut }), 'INVALID_WEIGHTS', /runs past the end of the file/);
  });

  it('a file cut short in its header is INVALID_WEIGHTS', async () => {
    const cut = join(dir, 'cut-header.gguf');
    copyFileSync(file, cut);
    truncateSync(cut, 100);
    await expectRefused(() => loadModel({ model: cut }), 'INVALID_WEIGHTS', /truncated/);
  });

  it('a missing .gguf file is MODEL_NOT_FOUND', async () => {
    await expectRefused(() => loadModel({ model: join(dir, 'absent.gguf') }), 'MODEL_NOT_FOUND', /absent\.gguf/);
  });

  it('a tensor whose offset runs past the end of the file is INVALID_WEIGHTS', async () => {
    const size = statSync(file).size;
    const last = table.length - 1;
    await expectRefused(nativeLoad({ ggufTensors: table.map((t, i) => (i === last ? { ...t, offset: size - 8 } : t)) }), 'INVALID_WEIGHTS', /runs past the end/);
    await expectRefused(nativeLoad({ ggufTensors: table.map((t, i) => (i === 0 ? { ...t, offset: 2 ** 53 - 1 } : t)) }), 'INVALID_WEIGHTS', /runs past the end/);
  });

  it('a tensor of the wrong shape for the config is INVALID_WEIGHTS; a missing one too', async () => {
    await expectRefused(nativeLoad({ configJson: JSON.stringify({ ...config, intermediate_size: config.intermediate_size * 2 }) }), 'INVALID_WEIGHTS', /gate_proj\.weight" has shape \[\d+, \d+\] but the model's config implies/);
    await expectRefused(nativeLoad({ ggufTensors: table.filter((t) => !t.name.endsWith('layers.1.mlp.up_proj.weight')) }), 'INVALID_WEIGHTS', /missing tensor "model\.layers\.1\.mlp\.up_proj\.weight"/);
    await expectRefused(nativeLoad({ ggufTensors: table.map((t) => (t.name.endsWith('q_proj.weight') ? { ...t, ropeHeads: 3 } : t)) }), 'INVALID_WEIGHTS', /heads of an even size/);
  });

  it('malformed tables are INVALID_ARGUMENT', async () => {
    const bad = (change: Record<string, unknown>) => nativeLoad({ ggufTensors: [{ ...table[0], ...change } as NativeGgufTensor, ...table.slice(1)] });
    await expectRefused(bad({ dtype: 'IQ2_XXS' }), 'INVALID_ARGUMENT', /dtype must be a ggml type name the engine reads/);
    await expectRefused(bad({ offset: -32 }), 'INVALID_ARGUMENT', /offset must be a non-negative integer/);
    await expectRefused(bad({ offset: 1.5 }), 'INVALID_ARGUMENT', /offset must be an integer/);
    await expectRefused(bad({ shape: [0, 64] }), 'INVALID_ARGUMENT', /shape must hold positive integers/);
    await expectRefused(bad({ shape: [1, 2, 3] }), 'INVALID_ARGUMENT', /1 or 2 dimensions/);
    await expectRefused(bad({ name: '' }), 'INVALID_ARGUMENT', /name must be a non-empty string/);
    await expectRefused(bad({ ropeHeads: -1 }), 'INVALID_ARGUMENT', /ropeHeads must be a non-negative integer/);
    await expectRefused(nativeLoad({ ggufTensors: undefined }), 'INVALID_ARGUMENT', /both ggufPath and the ggufTensors array/);
    await expectRefused(nativeLoad({ dir }), 'INVALID_ARGUMENT', /neither dir nor dummy/);
    await expectRefused(nativeLoad({ ggufTensors: [...table, table[0]] }), 'INVALID_WEIGHTS', /listed twice/);
  });
});
