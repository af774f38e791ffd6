// A minimal GGUF (version 3) writer for Hugging Face Llama checkpoints, written
// from the published format description:
//
//   header:        magic "GGUF" (4 bytes) | version u32 = 3 | tensor_count u64 | kv_count u64
//   kv pairs:      key (string) | value type u32 | value
//                  (array value = element type u32 | count u64 | elements)
//   tensor infos:  name (string) | n_dims u32 | dims u64[n_dims] (innermost first)
//                  | ggml type u32 | offset u64 (relative to the data section)
//   padding:       zeros up to a multiple of `general.alignment` (default 32)
//   data section:  every tensor starts at an offset that is a multiple of the alignment
//
// Strings are a u64 byte length followed by UTF-8 bytes (no terminator); all
// integers are little-endian.
//
// Used only by the benchmarks (bench/native/llamacpp.ts) to hand the same weights our
// engine runs to llama.cpp.

import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { BLOCK_TYPES, type BlockTypeName, floatBitsToHalf, halfToFloat } from './ggml-blocks.js';

/** The subset of a Hugging Face Llama `config.json` that the writer reads. */
export interface HfLlamaConfig {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  intermediate_size: number;
  vocab_size: number;
  rms_norm_eps: number;
  rope_theta?: number;
  max_position_embeddings: number;
  tie_word_embeddings?: boolean;
  head_dim?: number;
  rope_scaling?: {
    rope_type?: string;
    type?: string;
    factor?: number;
    low_freq_factor?: number;
    high_freq_factor?: number;
    original_max_position_embeddings?: number;
  } | null;
  [key: string]: unknown;
}

/**
 * A block type other than Q8_0 (Q4_0 … Q6_K, IQ4_NL, IQ4_XS: bench/native/ggml-blocks.ts) is given
 * in the file's own layout, rows in Hugging Face order, and written as it is (q/k rows permuted for
 * RoPE).
 * Q8_0 input is the engine's planar layout (tensorData of a model loaded with dtype 'q8'): the
 * int8 quants [rows][cols], then the F16 scales [rows][cols/32]. The file gets GGUF's own Q8_0
 * layout: per row, 34-byte blocks {F16 scale, 32 int8 quants}; the numbers are the same.
 */
export type GgufSourceDtype = 'F32' | 'F16' | 'BF16' | 'Q8_0' | BlockTypeName;

export interface HfTensor {
  /** Hugging Face name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  name: string;
  dtype: GgufSourceDtype;
  /** Row-major Hugging Face shape, e.g. [out_features, in_features]. */
  shape: number[];
  /** Little-endian element bytes, product(shape) * sizeof(dtype) long (Q8_0: 34 bytes per 32). */
  data: Uint8Array;
}

export interface GgufVocab {
  /** Token strings by id; padded with filler tokens up to `vocab_size`. */
  tokens: string[];
  /** GGUF token types by id (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte). */
  tokenTypes?: number[];
  bosTokenId?: number;
  eosTokenId?: number;
}

export interface GgufModel {
  config: HfLlamaConfig;
  /**
   * Tensors with HF names. An array is walked twice (first for the tensor
   * table, then for the data); any other iterable is walked once and its data
   * spooled through a temporary file next to `path`, so memory use stays at
   * one tensor at a time either way.
   */
  tensors: Iterable<HfTensor>;
  vocab: GgufVocab;
  /** `general.name`; defaults to "astraea-bench". */
  name?: string;
}

export interface GgufWriteResult {
  path: string;
  bytes: number;
  tensorCount: number;
  /** GGUF names written, in file order. */
  tensorNames: string[];
}

// ---------------------------------------------------------------------------
// Format constants

const GGUF_MAGIC = 'GGUF';
const GGUF_VERSION = 3;
const ALIGNMENT = 32;

/** Metadata value types. */
const enum KvType {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
}

/** ggml tensor types for the dtypes we write. */
const GGML_TYPE: Record<GgufSourceDtype, number> = {
  F32: 0, F16: 1, BF16: 30, Q8_0: 8, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, IQ4_NL: 20, IQ4_XS: 23,
};
/** `general.file_type` (llama_ftype): ALL_F32, MOSTLY_F16, MOSTLY_BF16, MOSTLY_Q8_0, …, MOSTLY_Q4_K_M, … */
const FILE_TYPE: Record<GgufSourceDtype, number> = {
  F32: 0, F16: 1, BF16: 32, Q8_0: 7, Q4_0: 2, Q4_1: 3, Q5_0: 8, Q5_1: 9, Q2_K: 10, Q3_K: 12, Q4_K: 15, Q5_K: 17, Q6_K: 18, IQ4_NL: 25, IQ4_XS: 30,
};
const Q8_BLOCK = 32;

/** Bytes of `count` elements (Q8_0: a 2-byte scale per 32 one-byte quants, in either layout). */
function tensorBytes(dtype: GgufSourceDtype, count: number): number {
  if (dtype === 'Q8_0') {
    if (count % Q8_BLOCK !== 0) throw new Error(`gguf-writer: Q8_0 needs a multiple of ${Q8_BLOCK} elements, got ${count}`);
    return count + (count / Q8_BLOCK) * 2;
  }
  if (dtype in BLOCK_TYPES) {
    const { values, bytes } = BLOCK_TYPES[dtype as BlockTypeName];
    if (count % values !== 0) throw new Error(`gguf-writer: ${dtype} needs a multiple of ${values} elements, got ${count}`);
    return (count / values) * bytes;
  }
  return count * { F32: 4, F16: 2, BF16: 2 }[dtype as 'F32' | 'F16' | 'BF16'];
}

/**
 * F32 values [rows][cols] quantized to the planar Q8_0 layout described at GgufSourceDtype, with
 * GGUF's numbers (d = max|w|/127 as F16, q = round-half-away(w / d)); for tensors the engine keeps
 * in 16/32 bits (the token embedding), so that llama.cpp can be given an all-Q8_0 model.
 */
export function quantizeQ8Planar(values: Float32Array, rows: number, cols: number): Uint8Array {
  const count = rows * cols;
  const out = new Uint8Array(tensorBytes('Q8_0', count));
  const quants = new Int8Array(out.buffer, 0, count);
  const scales = new DataView(out.buffer, count);
  const half = new DataView(new ArrayBuffer(4));
  for (let b = 0; b < count / Q8_BLOCK; b++) {
    let amax = 0;
    for (let i = 0; i < Q8_BLOCK; i++) amax = Math.max(amax, Math.abs(values[b * Q8_BLOCK + i]));
    const d = Math.fround(amax / 127);
    const inv = d === 0 ? 0 : Math.fround(1 / d);
    for (let i = 0; i < Q8_BLOCK; i++) {
      const v = Math.fround(values[b * Q8_BLOCK + i] * inv);
      quants[b * Q8_BLOCK + i] = Math.sign(v) * Math.round(Math.abs(v));
    }
    half.setFloat32(0, d, true);
    scales.setUint16(b * 2, floatBitsToHalf(half.getUint32(0, true)), true);
  }
  return out;
}

/** Planar Q8_0 rows -> GGUF blocks: per row, per block, the F16 scale then the 32 quants. */
function interleaveQ8(planar: Uint8Array, rows: number, cols: number): Uint8Array {
  const blocksPerRow = cols / Q8_BLOCK;
  const out = new Uint8Array(planar.length);
  const scalesAt = rows * cols;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocksPerRow; b++) {
      const dst = (r * blocksPerRow + b) * (Q8_BLOCK + 2);
      const s = scalesAt + (r * blocksPerRow + b) * 2;
      out[dst] = planar[s];
      out[dst + 1] = planar[s + 1];
      out.set(planar.subarray(r * cols + b * Q8_BLOCK, r * cols + (b + 1) * Q8_BLOCK), dst + 2);
    }
  }
  return out;
}

const TOKEN_TYPE_NORMAL = 1;
const TOKEN_TYPE_CONTROL = 3;

// ---------------------------------------------------------------------------
// Little-endian byte builder for the header / kv / tensor-info part.

class ByteBuilder {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void { this.reserve(1); this.view.setUint8(this.length, v); this.length += 1; }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.reserve(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number): void { this.reserve(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  u64(v: number | bigint): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void { this.reserve(b.length); this.buf.set(b, this.length); this.length += b.length; }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.bytes(b);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.reserve(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }
  result(): Uint8Array { return this.buf.subarray(0, this.length); }
}

type KvValue =
  | { type: KvType.U32; value: number }
  | { type: KvType.I32; value: number }
  | { type: KvType.F32; value: number }
  | { type: KvType.BOOL; value: boolean }
  | { type: KvType.STRING; value: string }
  | { type: KvType.ARRAY; elem: KvType.STRING; value: string[] }
  | { type: KvType.ARRAY; elem: KvType.I32; value: number[] };

function writeKv(b: ByteBuilder, key: string, v: KvValue): void {
  b.str(key);
  b.u32(v.type);
  switch (v.type) {
    case KvType.U32: b.u32(v.value); break;
    case KvType.I32: b.i32(v.value); break;
    case KvType.F32: b.f32(v.value); break;
    case KvType.BOOL: b.u8(v.value ? 1 : 0); break;
    case KvType.STRING: b.str(v.value); break;
    case KvType.ARRAY:
      b.u32(v.elem);
      b.u64(v.value.length);
      if (v.elem === KvType.STRING) for (const s of v.value as string[]) b.str(s);
      else for (const n of v.value as number[]) b.i32(n);
      break;
  }
}

// ---------------------------------------------------------------------------
// HF -> GGUF `llama` tensor mapping

const LAYER_SUFFIXES: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'self_attn.q_proj.bias': 'attn_q.bias',
  'self_attn.k_proj.bias': 'attn_k.bias',
  'self_attn.v_proj.bias': 'attn_v.bias',
  'self_attn.o_proj.bias': 'attn_output.bias',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
};

/** GGUF name for an HF tensor, or null when the tensor is not written. */
export function ggufTensorName(hfName: string, tied: boolean): string | null {
  if (hfName === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hfName === 'model.norm.weight') return 'output_norm.weight';
  if (hfName === 'lm_head.weight') return tied ? null : 'output.weight';
  if (hfName.endsWith('.rotary_emb.inv_freq')) return null; // recomputed by llama.cpp
  if (hfName === 'rope_freqs.weight') return hfName; // extraTensors' own, already named as GGUF names it
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hfName);
  if (m) {
    const suffix = LAYER_SUFFIXES[m[2]];
    if (suffix) return `blk.${m[1]}.${suffix}`;
  }
  throw new Error(`gguf-writer: no llama.cpp name for tensor "${hfName}"`);
}

/**
 * RoPE layout conversion for q_proj / k_proj.
 *
 * HF Llama applies RoPE with `rotate_half`: inside one head of size d, output
 * dimension i (0 <= i < d/2) is rotated together with dimension i + d/2, using
 * frequency base^(-2i/d). llama.cpp's `llama` architecture uses the "normal"
 * (non-NeoX) RoPE: dimensions 2i and 2i+1 are rotated together, with the same
 * frequency base^(-2i/d).
 *
 * So we reorder the output rows of each head: view the head's d rows as a
 * [2][d/2] grid (row a*d/2 + i is half a, index i), transpose it to [d/2][2],
 * and flatten. New row 2i+a = old row a*d/2 + i: the pair (i, i+d/2) lands at
 * (2i, 2i+1) and keeps its frequency. Applying the same permutation to q and
 * k leaves every q·k dot product (hence attention) unchanged, and v / o are
 * untouched. A bias vector, when present, is permuted the same way (it is a
 * column of "rows" of length one element).
 */
export function permuteRopeRows(
  data: Uint8Array,
  nHeads: number,
  headDim: number,
  rowBytes: number,
): Uint8Array {
  if (headDim % 2 !== 0) throw new Error(`gguf-writer: odd head_dim ${headDim}`);
  if (data.length !== nHeads * headDim * rowBytes) {
    throw new Error(`gguf-writer: rope permute size mismatch (${data.length} bytes for ${nHeads}x${headDim} rows of ${rowBytes})`);
  }
  const out = new Uint8Array(data.length);
  const half = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    const base = h * headDim;
    for (let i = 0; i < half; i++) {
      for (let a = 0; a < 2; a++) {
        const src = (base + a * half + i) * rowBytes;
        const dst = (base + 2 * i + a) * rowBytes;
        out.set(data.subarray(src, src + rowBytes), dst);
      }
    }
  }
  return out;
}

/** Widen F16 / BF16 bytes to F32 bytes (used for the small 1-D norm vectors). */
function toF32Bytes(data: Uint8Array, dtype: GgufSourceDtype): Uint8Array {
  if (dtype === 'F32') return data;
  const n = data.length / 2;
  const src = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(n * 4);
  const dst = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const h = src.getUint16(i * 2, true);
    if (dtype === 'BF16') {
      dst.setUint32(i * 4, h << 16 >>> 0, true);
    } else {
      dst.setFloat32(i * 4, halfToFloat(h), true);
    }
  }
  return out;
}

interface Geometry {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  tied: boolean;
}

function geometry(c: HfLlamaConfig): Geometry {
  const nHeads = c.num_attention_heads;
  const nKvHeads = c.num_key_value_heads ?? nHeads;
  const headDim = c.head_dim ?? c.hidden_size / nHeads;
  if (!Number.isInteger(headDim)) throw new Error('gguf-writer: hidden_size is not a multiple of num_attention_heads');
  return { nHeads, nKvHeads, headDim, tied: c.tie_word_embeddings ?? false };
}

interface PlannedTensor {
  name: string;
  dtype: GgufSourceDtype;
  /** GGUF dims, innermost first. */
  dims: number[];
  nbytes: number;
}

/** Name / type / dims a HF tensor will have in the file (no data touched). */
function plan(t: HfTensor, g: Geometry): PlannedTensor | null {
  const name = ggufTensorName(t.name, g.tied);
  if (name === null) return null;
  const count = t.shape.reduce((a, b) => a * b, 1);
  const expected = tensorBytes(t.dtype, count);
  if (t.data.length !== expected) {
    throw new Error(`gguf-writer: ${t.name} has ${t.data.length} bytes, expected ${expected} for ${t.dtype}[${t.shape.join(', ')}]`);
  }
  if ((t.dtype === 'Q8_0' || t.dtype in BLOCK_TYPES) && t.shape.length !== 2) throw new Error(`gguf-writer: ${t.dtype} tensor ${t.name} must be a matrix`);
  // 1-D tensors (norms, biases) are stored as F32, as llama.cpp's own converter does.
  const dtype: GgufSourceDtype = t.shape.length === 1 ? 'F32' : t.dtype;
  return { name, dtype, dims: [...t.shape].reverse(), nbytes: tensorBytes(dtype, count) };
}

/** The bytes a HF tensor contributes to the data section. */
function convert(t: HfTensor, g: Geometry): Uint8Array {
  let data = t.shape.length === 1 ? toF32Bytes(t.data, t.dtype) : t.data;
  const isQ = /\.self_attn\.q_proj\.(weight|bias)$/.test(t.name);
  const isK = /\.self_attn\.k_proj\.(weight|bias)$/.test(t.name);
  if (isQ || isK) {
    const heads = isQ ? g.nHeads : g.nKvHeads;
    const rows = t.shape[0];
    if (rows !== heads * g.headDim) {
      throw new Error(`gguf-writer: ${t.name} has ${rows} rows, expected ${heads} heads x ${g.headDim}`);
    }
    if (t.dtype === 'Q8_0') {
      // Both planes hold one row per output row: permute each like a plain matrix.
      const cols = t.shape[1];
      const quants = permuteRopeRows(data.subarray(0, rows * cols), heads, g.headDim, cols);
      const scales = permuteRopeRows(data.subarray(rows * cols), heads, g.headDim, (cols / Q8_BLOCK) * 2);
      data = new Uint8Array(data.length);
      data.set(quants, 0);
      data.set(scales, rows * cols);
    } else {
      data = permuteRopeRows(data, heads, g.headDim, data.length / rows);
    }
  }
  if (t.dtype === 'Q8_0') data = interleaveQ8(data, t.shape[0], t.shape[1]);
  return data;
}

/**
 * Llama 3 style frequency factors (`rope_freqs.weight`): llama.cpp divides
 * each RoPE frequency by its factor. Derived from the Llama 3 scaling rule:
 * long wavelengths are slowed by `factor`, short ones are kept, and the band
 * in between is interpolated.
 */
function llama3RopeFactors(c: HfLlamaConfig, headDim: number): Float32Array {
  const s = c.rope_scaling!;
  const factor = s.factor ?? 8;
  const lowFreqFactor = s.low_freq_factor ?? 1;
  const highFreqFactor = s.high_freq_factor ?? 4;
  const oldCtx = s.original_max_position_embeddings ?? 8192;
  const base = c.rope_theta ?? 10000;
  const lowFreqWavelen = oldCtx / lowFreqFactor;
  const highFreqWavelen = oldCtx / highFreqFactor;
  const out = new Float32Array(headDim / 2);
  for (let i = 0; i < headDim / 2; i++) {
    const freq = 1 / base ** ((2 * i) / headDim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highFreqWavelen) out[i] = 1;
    else if (wavelen > lowFreqWavelen) out[i] = factor;
    else {
      const smooth = (oldCtx / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return out;
}

function extraTensors(c: HfLlamaConfig, g: Geometry): HfTensor[] {
  const kind = c.rope_scaling?.rope_type ?? c.rope_scaling?.type;
  if (kind === 'llama3') {
    const f = llama3RopeFactors(c, g.headDim);
    return [{ name: 'rope_freqs.weight', dtype: 'F32', shape: [f.length], data: new Uint8Array(f.buffer) }];
  }
  return [];
}

function metadata(model: GgufModel, g: Geometry, fileDtype: GgufSourceDtype): Array<[string, KvValue]> {
  const c = model.config;
  const n = c.vocab_size;
  if (model.vocab.tokens.length > n) {
    throw new Error(`gguf-writer: ${model.vocab.tokens.length} tokens for vocab_size ${n}`);
  }
  const bos = model.vocab.bosTokenId ?? 1;
  const eos = model.vocab.eosTokenId ?? 2;
  // Ids without a given token get filler names: bos/eos get control-token
  // names, then come the 256 single-byte symbols of byte-level BPE (so any
  // text still tokenizes, byte by byte), then `<tok_N>`. llama.cpp maps token
  // text -> id and expects that map to be one-to-one, so empty or repeated
  // strings are replaced by unique filler names too.
  const given = model.vocab.tokens;
  const seen = new Set<string>();
  for (const t of given) if (t) seen.add(t);
  const byteSymbols = byteLevelSymbols().filter((c) => !seen.has(c));
  seen.clear();
  let nextByte = 0;
  const tokens: string[] = new Array(n);
  const types: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    let t = given[i];
    if (t === undefined || t === '' || seen.has(t)) {
      if (i === bos) t = '<|startoftext|>';
      else if (i === eos) t = '<|endoftext|>';
      else if (t === undefined && nextByte < byteSymbols.length) t = byteSymbols[nextByte++];
      else t = `<tok_${i}>`;
    }
    while (seen.has(t)) t = `<tok_${i}_${seen.size}>`;
    seen.add(t);
    tokens[i] = t;
    types[i] = model.vocab.tokenTypes?.[i] ?? (i === bos || i === eos ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_NORMAL);
  }

  const kv: Array<[string, KvValue]> = [
    ['general.architecture', { type: KvType.STRING, value: 'llama' }],
    ['general.name', { type: KvType.STRING, value: model.name ?? 'astraea-bench' }],
    ['general.alignment', { type: KvType.U32, value: ALIGNMENT }],
    ['general.file_type', { type: KvType.U32, value: FILE_TYPE[fileDtype] }],
    ['llama.vocab_size', { type: KvType.U32, value: n }],
    ['llama.context_length', { type: KvType.U32, value: c.max_position_embeddings }],
    ['llama.embedding_length', { type: KvType.U32, value: c.hidden_size }],
    ['llama.block_count', { type: KvType.U32, value: c.num_hidden_layers }],
    ['llama.feed_forward_length', { type: KvType.U32, value: c.intermediate_size }],
    ['llama.attention.head_count', { type: KvType.U32, value: g.nHeads }],
    ['llama.attention.head_count_kv', { type: KvType.U32, value: g.nKvHeads }],
    ['llama.attention.layer_norm_rms_epsilon', { type: KvType.F32, value: c.rms_norm_eps }],
    ['llama.rope.freq_base', { type: KvType.F32, value: c.rope_theta ?? 10000 }],
    ['llama.rope.dimension_count', { type: KvType.U32, value: g.headDim }],
  ];
  if (g.headDim * g.nHeads !== c.hidden_size) {
    kv.push(['llama.attention.key_length', { type: KvType.U32, value: g.headDim }]);
    kv.push(['llama.attention.value_length', { type: KvType.U32, value: g.headDim }]);
  }
  const scaling = c.rope_scaling;
  const kind = scaling?.rope_type ?? scaling?.type;
  if (scaling && kind === 'linear') {
    kv.push(['llama.rope.scaling.type', { type: KvType.STRING, value: 'linear' }]);
    kv.push(['llama.rope.scaling.factor', { type: KvType.F32, value: scaling.factor ?? 1 }]);
  } else if (scaling && kind !== 'llama3' && kind !== 'default') {
    throw new Error(`gguf-writer: unsupported rope_scaling type "${String(kind)}"`);
  }
  // Byte-level BPE ("gpt2") loads with just tokens, types and a (possibly
  // empty) merges list; the benchmark feeds token ids, so no merges are needed.
  kv.push(
    ['tokenizer.ggml.model', { type: KvType.STRING, value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: KvType.STRING, value: 'default' }],
    ['tokenizer.ggml.tokens', { type: KvType.ARRAY, elem: KvType.STRING, value: tokens }],
    ['tokenizer.ggml.token_type', { type: KvType.ARRAY, elem: KvType.I32, value: types }],
    ['tokenizer.ggml.merges', { type: KvType.ARRAY, elem: KvType.STRING, value: [] }],
    ['tokenizer.ggml.bos_token_id', { type: KvType.U32, value: bos }],
    ['tokenizer.ggml.eos_token_id', { type: KvType.U32, value: eos }],
    ['tokenizer.ggml.add_bos_token', { type: KvType.BOOL, value: false }],
    ['tokenizer.ggml.add_eos_token', { type: KvType.BOOL, value: false }],
  );
  return kv;
}

/**
 * The 256 symbols byte-level BPE uses for raw bytes: printable Latin-1 bytes
 * ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; every other byte, in
 * increasing order, is given the next code point from U+0100 up.
 */
function byteLevelSymbols(): string[] {
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out.push(String.fromCodePoint(printable ? b : 0x100 + extra++));
  }
  return out;
}

function requiredNames(c: HfLlamaConfig, g: Geometry): string[] {
  const names = ['token_embd.weight', 'output_norm.weight'];
  if (!g.tied) names.push('output.weight');
  for (let l = 0; l < c.num_hidden_layers; l++) {
    for (const s of ['attn_norm', 'ffn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down']) {
      names.push(`blk.${l}.${s}.weight`);
    }
  }
  return names;
}

const align = (n: number): number => Math.ceil(n / ALIGNMENT) * ALIGNMENT;
const ZEROS = new Uint8Array(ALIGNMENT);

function* chain<T>(a: Iterable<T>, b: Iterable<T>): Generator<T> {
  yield* a;
  yield* b;
}

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/**
 * Write a Hugging Face Llama checkpoint as a GGUF v3 file for llama.cpp's
 * `llama` architecture. Tensor data is streamed to disk one tensor at a time.
 */
export async function writeGguf(path: string, model: GgufModel): Promise<GgufWriteResult> {
  const g = geometry(model.config);
  const extras = extraTensors(model.config, g);
  const reiterable = Array.isArray(model.tensors);

  // Pass 1: the tensor table. For a one-shot iterable the data is converted
  // now and spooled to a temporary file in the same order.
  const planned: PlannedTensor[] = [];
  const spoolPath = `${path}.data.tmp`;
  let spoolFd: number | null = null;
  let spoolBytes = 0;
  const fd = openSync(path, 'w');
  let ok = false;
  try {
    if (!reiterable) spoolFd = openSync(spoolPath, 'w+');
    for (const t of chain(extras, model.tensors)) {
      const p = plan(t, g);
      if (!p) continue;
      planned.push(p);
      if (spoolFd !== null) {
        const bytes = convert(t, g);
        writeAll(spoolFd, bytes);
        const pad = align(bytes.length) - bytes.length;
        if (pad) writeAll(spoolFd, ZEROS.subarray(0, pad));
        spoolBytes += bytes.length + pad;
      }
    }

    const names = new Set(planned.map((p) => p.name));
    if (names.size !== planned.length) throw new Error('gguf-writer: duplicate tensor names');
    const missing = requiredNames(model.config, g).filter((n) => !names.has(n));
    if (missing.length) throw new Error(`gguf-writer: missing tensors: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}`);

    // The file type follows the dtype of the big matrices.
    const emb = planned.find((p) => p.name === 'token_embd.weight')!;
    const kv = metadata(model, g, emb.dtype);

    const head = new ByteBuilder();
    head.bytes(Buffer.from(GGUF_MAGIC, 'ascii'));
    head.u32(GGUF_VERSION);
    head.u64(planned.length);
    head.u64(kv.length);
    for (const [k, v] of kv) writeKv(head, k, v);
    let offset = 0;
    for (const p of planned) {
      head.str(p.name);
      head.u32(p.dims.length);
      for (const d of p.dims) head.u64(d);
      head.u32(GGML_TYPE[p.dtype]);
      head.u64(offset);
      offset += align(p.nbytes);
    }
    head.padTo(ALIGNMENT);
    writeAll(fd, head.result());

    // Pass 2: the data section.
    if (spoolFd !== null) {
      if (spoolBytes !== offset) throw new Error('gguf-writer: spool size mismatch');
      const chunk = new Uint8Array(8 << 20);
      let pos = 0;
      while (pos < spoolBytes) {
        const n = readSync(spoolFd, chunk, 0, Math.min(chunk.length, spoolBytes - pos), pos);
        if (n <= 0) throw new Error('gguf-writer: short read from spool file');
        writeAll(fd, chunk.subarray(0, n));
        pos += n;
      }
    } else {
      let i = 0;
      for (const t of chain(extras, model.tensors)) {
        if (ggufTensorName(t.name, g.tied) === null) continue;
        const bytes = convert(t, g);
        if (bytes.length !== planned[i].nbytes) throw new Error(`gguf-writer: ${t.name} changed between passes`);
        writeAll(fd, bytes);
        const pad = align(bytes.length) - bytes.length;
        if (pad) writeAll(fd, ZEROS.subarray(0, pad));
        i++;
      }
      if (i !== planned.length) throw new Error('gguf-writer: tensor list changed between passes');
    }
    ok = true;
    return {
      path,
      bytes: head.length + offset,
      tensorCount: planned.length,
      tensorNames: planned.map((p) => p.name),
    };
  } finally {
    closeSync(fd);
    if (!ok) unlinkSync(path);
    if (spoolFd !== null) {
      closeSync(spoolFd);
      unlinkSync(spoolPath);
    }
  }
}
