/**
 * What the engine computes with Q8_0 weights, written independently for the tests: the Q8_0
 * quantizer (GGUF's numbers, F32 arithmetic), its dequantization, and a Llama forward pass in
 * double precision that rounds the input of every Q8_0 product as the engine's kernels do
 * (cpp/core/kernels/matmul_q8.h: per 32-block, dx = max|x|/127, q = round-half-even(x · 127/max|x|)).
 * RoPE and GQA come from the shared reference (test/reference/llama-reference.ts); no engine code.
 */
import {
  applyRotaryEmbedding,
  kvHeadForQueryHead,
  ropeInverseFrequencies,
  type ReferenceConfig,
  type ReferenceWeight,
} from '../reference/llama-reference.js';
import { f16BitsToNumber } from '../reference/safetensors-read.js';

export const Q8_BLOCK = 32;

/** F32 -> F16 bits, round to nearest even (no overflow expected: scales are small). */
export function f32ToF16Bits(value: number): number {
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a === 0) return sign;
  // Count the value in units of the F16 spacing at its magnitude, then round half to even.
  const exponent = Math.max(Math.floor(Math.log2(a)), -14);
  const step = 2 ** (exponent - 10);
  let units = a / step; // exact: a is an F32, step a power of two
  const floor = Math.floor(units);
  const frac = units - floor;
  units = frac > 0.5 || (frac === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
  if (exponent === -14 && units < 1024) return sign | units; // subnormal
  const e = units === 2048 ? exponent + 1 : exponent; // rounding carried into the next binade
  const mantissa = units === 2048 ? 0 : units - 1024;
  return sign | ((e + 15) << 10) | mantissa;
}

function roundHalfAway(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v));
}

function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const frac = v - floor;
  return frac > 0.5 || (frac === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
}

/** A [rows][cols] matrix (F32 values) to planar Q8_0 bytes: quants, then F16 scales. */
export function quantizeQ8(values: ArrayLike<number>, rows: number, cols: number): Uint8Array {
  const out = new Uint8Array(rows * cols + (rows * cols / Q8_BLOCK) * 2);
  const quants = new Int8Array(out.buffer, 0, rows * cols);
  const scales = new DataView(out.buffer, rows * cols);
  for (let b = 0; b < (rows * cols) / Q8_BLOCK; b++) {
    let amax = 0;
    for (let i = 0; i < Q8_BLOCK; i++) amax = Math.max(amax, Math.abs(values[b * Q8_BLOCK + i]));
    const d = Math.fround(amax / 127);
    const inv = d === 0 ? 0 : Math.fround(1 / d);
    for (let i = 0; i < Q8_BLOCK; i++) quants[b * Q8_BLOCK + i] = roundHalfAway(Math.fround(values[b * Q8_BLOCK + i] * inv));
    scales.setUint16(b * 2, f32ToF16Bits(d), true);
  }
  return out;
}

/** Planar Q8_0 bytes -> values, w = d · q. */
export function dequantizeQ8(bytes: Uint8Array, rows: number, cols: number): Float64Array {
  const quants = new Int8Array(bytes.buffer, bytes.byteOffset, rows * cols);
  const scales = new DataView(bytes.buffer, bytes.byteOffset + rows * cols);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) out[i] = f16BitsToNumber(scales.getUint16(Math.floor(i / Q8_BLOCK) * 2, true)) * quants[i];
  return out;
}

/** x rounded as the engine rounds a Q8_0 product's input (on F32 values, like the engine's). */
export function roundActivations(x: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let b = 0; b < x.length / Q8_BLOCK; b++) {
    let amax = 0;
    for (let i = 0; i < Q8_BLOCK; i++) amax = Math.max(amax, Math.abs(Math.fround(x[b * Q8_BLOCK + i])));
    if (amax === 0) continue;
    const inv = Math.fround(127 / amax);
    const d = Math.fround(amax / 127);
    for (let i = 0; i < Q8_BLOCK; i++) out[b * Q8_BLOCK + i] = d * roundHalfEven(Math.fround(Math.fround(x[b * Q8_BLOCK + i]) * inv));
  }
  return out;
}

/**
 * Logits at every position of a Llama-family model (full causal attention, no sliding window,
 * Hugging Face rotate-half RoPE) whose matrices hold the dequantized Q8_0 values, every product's
 * input rounded by roundActivations. `weights` must hold lm_head.weight (tied or not).
 */
export function q8ReferenceLogits(cfg: ReferenceConfig, weights: Map<string, ReferenceWeight>, ids: number[]): Float64Array[] {
  const { hiddenSize: H, numHeads, numKvHeads, headDim: D } = cfg;
  const w = (name: string): ReferenceWeight => {
    const t = weights.get(name);
    if (!t) throw new Error(`missing weight ${name}`);
    return t;
  };
  const linear = (name: string, x: Float64Array, biasName?: string): Float64Array => {
    const m = w(name);
    const [rows, cols] = m.shape;
    const xq = roundActivations(x);
    const bias = biasName && weights.has(biasName) ? w(biasName).values : null;
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += m.values[r * cols + k] * xq[k];
      y[r] = bias ? s + bias[r] : s;
    }
    return y;
  };
  const rmsNorm = (x: Float64Array, name: string): Float64Array => {
    let ss = 0;
    for (const v of x) ss += v * v;
    const inv = 1 / Math.sqrt(ss / x.length + cfg.rmsNormEps);
    const g = w(name).values;
    return x.map((v, i) => v * inv * g[i]);
  };
  const rope = (v: Float64Array, heads: number, pos: number): Float64Array => {
    const out = new Float64Array(v.length);
    for (let h = 0; h < heads; h++) out.set(applyRotaryEmbedding(v.subarray(h * D, (h + 1) * D), pos, invFreq), h * D);
    return out;
  };
  const invFreq = ropeInverseFrequencies(D, cfg.ropeTheta, cfg.ropeScaling);
  const embed = w('model.embed_tokens.weight').values;
  let xs = ids.map((id) => embed.slice(id * H, (id + 1) * H));

  for (let layer = 0; layer < cfg.numLayers; layer++) {
    const p = `model.layers.${layer}.`;
    const qs: Float64Array[] = [];
    const ks: Float64Array[] = [];
    const vs: Float64Array[] = [];
    xs.forEach((x, pos) => {
      const xn = rmsNorm(x, p + 'input_layernorm.weight');
      qs.push(rope(linear(p + 'self_attn.q_proj.weight', xn, p + 'self_attn.q_proj.bias'), numHeads, pos));
      ks.push(rope(linear(p + 'self_attn.k_proj.weight', xn, p + 'self_attn.k_proj.bias'), numKvHeads, pos));
      vs.push(linear(p + 'self_attn.v_proj.weight', xn, p + 'self_attn.v_proj.bias'));
    });
    xs = xs.map((x, pos) => {
      const attn = new Float64Array(numHeads * D);
      for (let h = 0; h < numHeads; h++) {
        const kvh = kvHeadForQueryHead(h, numHeads, numKvHeads);
        const scores = [];
        for (let k = 0; k <= pos; k++) {
          let dot = 0;
          for (let i = 0; i < D; i++) dot += qs[pos][h * D + i] * ks[k][kvh * D + i];
          scores.push(dot / Math.sqrt(D));
        }
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const total = exps.reduce((a, b) => a + b, 0);
        for (let k = 0; k <= pos; k++) for (let i = 0; i < D; i++) attn[h * D + i] += (exps[k] / total) * vs[k][kvh * D + i];
      }
      const o = linear(p + 'self_attn.o_proj.weight', attn, p + 'self_attn.o_proj.bias');
      const h1 = x.map((v, i) => v + o[i]);
      const hn = rmsNorm(h1, p + 'post_attention_layernorm.weight');
      const gate = linear(p + 'mlp.gate_proj.weight', hn);
      const up = linear(p + 'mlp.up_proj.weight', hn);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = linear(p + 'mlp.down_proj.weight', act);
      return h1.map((v, i) => v + down[i]);
    });
  }
  return xs.map((x) => linear('lm_head.weight', rmsNorm(x, 'model.norm.weight')));
}
