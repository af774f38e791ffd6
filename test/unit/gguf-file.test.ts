/**
 * The GGUF reader against files written by the benchmarks' GGUF writer (bench/native/gguf-writer.ts,
 * which llama.cpp loads): metadata, tensor table, offsets, the Hugging Face config and names, and
 * the RoPE row order put back. Malformed files are INVALID_WEIGHTS errors, never crashes.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeGguf, type HfLlamaConfig, type HfTensor } from '../../bench/native/gguf-writer.js';
import { ggufHfConfig, ggufTensorBindings, hfTensorName } from '../../lib/model/gguf-config.js';
import { readGgufHeader } from '../../lib/model/gguf-file.js';

const CONFIG: HfLlamaConfig = {
  hidden_size: 8,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  intermediate_size: 12,
  vocab_size: 300,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  max_position_embeddings: 512,
  tie_word_embeddings: true,
};

/** F32 bytes of rows × cols values: value (r, c) = r * 100 + c, so every row is recognisable. */
function matrix(rows: number, cols: number): Uint8Array {
  const values = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) values[r * cols + c] = r * 100 + c;
  return new Uint8Array(values.buffer);
}

function tensors(): HfTensor[] {
  const t = (name: string, shape: number[]): HfTensor => ({ name, dtype: 'F32', shape, data: shape.length === 1 ? matrix(1, shape[0]) : matrix(shape[0], shape[1]) });
  const p = 'model.layers.0.';
  return [
    t('model.embed_tokens.weight', [300, 8]),
    t('model.norm.weight', [8]),
    t(p + 'input_layernorm.weight', [8]),
    t(p + 'post_attention_layernorm.weight', [8]),
    t(p + 'self_attn.q_proj.weight', [8, 8]), // 2 heads of head_dim 4
    t(p + 'self_attn.k_proj.weight', [4, 8]), // 1 KV head
    t(p + 'self_attn.v_proj.weight', [4, 8]),
    t(p + 'self_attn.o_proj.weight', [8, 8]),
    t(p + 'mlp.gate_proj.weight', [12, 8]),
    t(p + 'mlp.up_proj.weight', [12, 8]),
    t(p + 'mlp.down_proj.weight', [8, 12]),
  ];
}

let dir: string;
let path: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'astraea-gguf-'));
  path = join(dir, 'model.gguf');
  await writeGguf(path, { config: CONFIG, tensors: tensors(), vocab: { tokens: Array.from({ length: 300 }, (_, i) => `t${i}`), bosTokenId: 1, eosTokenId: 2 } });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first row of a tensor's data, read from the file at the offset the reader reports. */
function rowAt(offset: number, cols: number, row: number): number[] {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(cols * 4);
    readSync(fd, buffer, 0, buffer.length, offset + row * cols * 4);
    return Array.from(new Float32Array(buffer.buffer, buffer.byteOffset, cols));
  } finally {
    closeSync(fd);
  }
}

describe('GGUF reader', () => {
  it('reads the metadata and the tensor table the writer wrote', () => {
    const header = readGgufHeader(path);
    expect(header.version).toBe(3);
    expect(header.metadata.get('general.architecture')).toBe('llama');
    expect(header.metadata.get('llama.block_count')).toBe(1);
    expect(header.metadata.get('llama.attention.head_count_kv')).toBe(1);
    expect(header.metadata.get('tokenizer.ggml.tokens')).toHaveLength(300);
    expect(header.dataOffset % header.alignment).toBe(0);
    const q = header.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!;
    expect(q).toMatchObject({ dims: [8, 8], typeName: 'F32', bytes: 256 });
    const gate = header.tensors.find((t) => t.name === 'blk.0.ffn_gate.weight')!;
    expect(gate.dims).toEqual([8, 12]); // innermost first: 8 columns, 12 rows
    // The offsets point at the data: row 5 of the gate matrix is 500, 501, ... 507.
    expect(rowAt(gate.offset, 8, 5)).toEqual([500, 501, 502, 503, 504, 505, 506, 507]);
    // Tensors lie one after another, each aligned.
    for (const t of header.tensors) expect((t.offset - header.dataOffset) % header.alignment).toBe(0);
    expect(header.fileBytes).toBe(readFileSync(path).length);
  });

  it('gives the Hugging Face config and names of the model', () => {
    const header = readGgufHeader(path);
    const config = ggufHfConfig(header);
    expect(config).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 4,
      intermediate_size: 12,
      vocab_size: 300,
      max_position_embeddings: 512,
      rope_theta: 500000,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 2,
    });
    expect(config.rms_norm_eps).toBeCloseTo(1e-5, 10);
    const bindings = ggufTensorBindings(header, config);
    const byName = new Map(bindings.map((b) => [b.hfName, b]));
    expect([...byName.keys()].sort()).toEqual(tensors().map((t) => t.name).sort());
    expect(byName.get('model.layers.0.mlp.gate_proj.weight')!.shape).toEqual([12, 8]);
    expect(byName.get('model.layers.0.self_attn.q_proj.weight')!.ropeHeads).toBe(2);
    expect(byName.get('model.layers.0.self_attn.k_proj.weight')!.ropeHeads).toBe(1);
    expect(byName.get('model.layers.0.self_attn.v_proj.weight')!.ropeHeads).toBe(0);
  });

  it("stores q and k in llama.cpp's RoPE row order: GGUF row 2i + a is Hugging Face row a·d/2 + i", () => {
    const header = readGgufHeader(path);
    const q = header.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!;
    // head_dim 4 (half 2): per head, GGUF rows 0,1,2,3 hold HF rows 0,2,1,3 of that head.
    const hfRowOf = [0, 2, 1, 3, 4, 6, 5, 7];
    hfRowOf.forEach((hf, g) => expect(rowAt(q.offset, 8, g)[0], `GGUF row ${g}`).toBe(hf * 100));
  });

  it('maps llama.cpp tensor names, and leaves unknown ones out', () => {
    expect(hfTensorName('blk.12.attn_output.weight')).toBe('model.layers.12.self_attn.o_proj.weight');
    expect(hfTensorName('blk.0.attn_k.bias')).toBe('model.layers.0.self_attn.k_proj.bias');
    expect(hfTensorName('output.weight')).toBe('lm_head.weight');
    expect(hfTensorName('rope_freqs.weight')).toBeNull();
    expect(hfTensorName('blk.0.ffn_gate_exps.weight')).toBeNull();
  });

  describe('malformed files', () => {
    const write = (name: string, bytes: Uint8Array) => {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      return p;
    };
    const whole = () => new Uint8Array(readFileSync(path));

    it.each([
      ['not GGUF', () => new Uint8Array(Buffer.from('GGML not a gguf file at all')), /does not start with "GGUF"/],
      ['version 9', () => { const b = whole(); b[4] = 9; return b; }, /version 9/],
      ['truncated in the metadata', () => whole().subarray(0, 200), /truncated/],
      ['truncated in the data', () => whole().subarray(0, whole().length - 100), /runs past the end of the file/],
      ['an absurd tensor count', () => { const b = whole(); b[8 + 5] = 0x7f; return b; }, /tensors and/],
      ['empty', () => new Uint8Array(0), /truncated/],
    ])('%s: INVALID_WEIGHTS', (label, bytes, message) => {
      const p = write(`${label.replace(/\W+/g, '-')}.gguf`, bytes());
      expect(() => readGgufHeader(p)).toThrow(expect.objectContaining({ code: 'INVALID_WEIGHTS', message: expect.stringMatching(message) }));
    });

    it("a block type whose rows are not whole blocks: INVALID_WEIGHTS", () => {
      // blk.0.attn_q.weight (rows of 8 values) relabelled Q4_K (ggml type 12, 256-value blocks): the
      // type follows the name, its dimension count (u32) and its two u64 dimensions.
      const b = whole();
      const name = Buffer.from('blk.0.attn_q.weight');
      const typeAt = Buffer.from(b.buffer).indexOf(name) + name.length + 4 + 16;
      new DataView(b.buffer).setUint32(typeAt, 12, true);
      const p = write('q4k-rows.gguf', b);
      expect(() => readGgufHeader(p)).toThrow(expect.objectContaining({ code: 'INVALID_WEIGHTS', message: expect.stringMatching(/blk\.0\.attn_q\.weight is Q4_K with rows of 8, not a multiple of its 256-value blocks/) }));
    });

    it('a missing file is MODEL_NOT_FOUND', () => {
      expect(() => readGgufHeader(join(dir, 'absent.gguf'))).toThrow(expect.objectContaining({ code: 'MODEL_NOT_FOUND' }));
    });

    it('an architecture the engine does not run is UNSUPPORTED_MODEL', () => {
      const header = readGgufHeader(path);
      header.metadata.set('general.architecture', 'gemma3');
      expect(() => ggufHfConfig(header)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_MODEL', message: expect.stringContaining('gemma3') }));
    });
  });
});
