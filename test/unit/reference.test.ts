// Tests of the independent reference model itself. Every expected value
// below was worked out by hand (the arithmetic is in the comments), so these
// tests pin the reference to the Hugging Face semantics rather than to its
// own output.

import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyRotaryEmbedding,
  kvHeadForQueryHead,
  referenceConfigFromHf,
  referenceLogits,
  ropeInverseFrequencies,
  type ReferenceConfig,
  type ReferenceWeight,
} from '../reference/llama-reference.js';
import { bf16BitsToNumber, f16BitsToNumber, readSafetensors } from '../reference/safetensors-read.js';

// ---------------------------------------------------------------------------
// Helpers

function mat(rows: number[][]): ReferenceWeight {
  return { shape: [rows.length, rows[0].length], values: Float64Array.from(rows.flat()) };
}
function vec(values: number[]): ReferenceWeight {
  return { shape: [values.length], values: Float64Array.from(values) };
}
function zeros(rows: number, cols: number): ReferenceWeight {
  return { shape: [rows, cols], values: new Float64Array(rows * cols) };
}

const I2 = [
  [1, 0],
  [0, 1],
];

/** hidden 2, one layer, one head of size 2, intermediate 1, vocab 2, eps 0. */
function tinyConfig(overrides: Partial<ReferenceConfig> = {}): ReferenceConfig {
  return {
    hiddenSize: 2,
    numLayers: 1,
    numHeads: 1,
    numKvHeads: 1,
    headDim: 2,
    intermediateSize: 1,
    vocabSize: 2,
    rmsNormEps: 0,
    ropeTheta: 10000,
    ropeScaling: null,
    tieWordEmbeddings: false,
    slidingWindow: null,
    ...overrides,
  };
}

/**
 * Weights for tinyConfig. Defaults: token 0 embeds to [1, 1], token 1 to
 * [1, -1] (both have mean square 1, so RMSNorm leaves them unchanged); all
 * norm weights 1; q/k/v zero, o and lm_head identity; MLP switched off
 * (down_proj zero). Each test overrides only what it exercises.
 */
function tinyWeights(overrides: Record<string, ReferenceWeight | undefined> = {}): Map<string, ReferenceWeight> {
  const L = 'model.layers.0.';
  const base: Record<string, ReferenceWeight | undefined> = {
    'model.embed_tokens.weight': mat([
      [1, 1],
      [1, -1],
    ]),
    [L + 'input_layernorm.weight']: vec([1, 1]),
    [L + 'self_attn.q_proj.weight']: zeros(2, 2),
    [L + 'self_attn.k_proj.weight']: zeros(2, 2),
    [L + 'self_attn.v_proj.weight']: zeros(2, 2),
    [L + 'self_attn.o_proj.weight']: mat(I2),
    [L + 'post_attention_layernorm.weight']: vec([1, 1]),
    [L + 'mlp.gate_proj.weight']: zeros(1, 2),
    [L + 'mlp.up_proj.weight']: zeros(1, 2),
    [L + 'mlp.down_proj.weight']: zeros(2, 1),
    'model.norm.weight': vec([1, 1]),
    'lm_head.weight': mat(I2),
  };
  const merged = { ...base, ...overrides };
  const map = new Map<string, ReferenceWeight>();
  for (const [name, w] of Object.entries(merged)) if (w) map.set(name, w);
  return map;
}
const L0 = (name: string) => `model.layers.0.${name}`;

function expectRow(actual: Float64Array, expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i]).toBeCloseTo(e, 12));
}
function expectLogits(actual: Float64Array[], expected: number[][]): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((row, p) => expectRow(actual[p], row));
}

// Linear rope scaling with factor 2/pi makes inv_freq[0] = 1 / (2/pi) = pi/2
// for headDim 2, so position 1 rotates by exactly a quarter turn:
// [a, b] -> [a cos - b sin, b cos + a sin] = [-b, a].
const QUARTER_TURN: ReferenceConfig['ropeScaling'] = { type: 'linear', factor: 2 / Math.PI };
// A query/key scale that makes one score ln 3 after the 1/sqrt(2) factor, so
// the softmax of [0, ln 3] is [1/4, 3/4].
const T = Math.SQRT2 * Math.log(3);

// ---------------------------------------------------------------------------

describe('reference forward pass, one token', () => {
  // ids [1]: x = [1, -1]; mean square 1 -> input norm gives xn = [1, -1].
  // With a single position the softmax weight is 1, so attention = v.
  // v_proj [[0,0],[4,-4]]: v = [0, 1*4 + (-1)*(-4)] = [0, 8]; o = I.
  // h = x + [0, 8] = [1, 7]; mean square (1 + 49)/2 = 25, rms 5.
  const attnWeights = { [L0('self_attn.v_proj.weight')]: mat([[0, 0], [4, -4]]) };
  const lmHead = {
    'lm_head.weight': mat([
      [1, 1],
      [0, -1],
    ]),
  };

  it('embeds, normalises, attends and projects (MLP off)', () => {
    // Final norm: [1, 7] / 5 = [0.2, 1.4].
    // lm_head [[1,1],[0,-1]]: [0.2 + 1.4, -1.4] = [1.6, -1.4].
    const logits = referenceLogits(tinyConfig(), tinyWeights({ ...attnWeights, ...lmHead }), [1]);
    expectLogits(logits, [[1.6, -1.4]]);
  });

  it('applies the SwiGLU MLP with the post-attention norm weight', () => {
    // Post norm: [1, 7] / 5 * w[10, 5] = [2, 7].
    // gate [[1,0]] -> 2, up [[0,1]] -> 7; silu(2) = 2 / (1 + e^-2).
    // act = 7 * 2 / (1 + e^-2) = s ~= 12.33116; down [[1],[0]] -> [s, 0].
    // out = [1 + s, 7]; rms r = sqrt(((1 + s)^2 + 49) / 2) ~= 10.64706.
    // logits = [(1 + s)/r + 7/r, -7/r] = [(8 + s)/r, -7/r] ~= [1.90956, -0.65746].
    const s = 14 / (1 + Math.exp(-2));
    const r = Math.sqrt(((1 + s) ** 2 + 49) / 2);
    const weights = tinyWeights({
      ...attnWeights,
      ...lmHead,
      [L0('post_attention_layernorm.weight')]: vec([10, 5]),
      [L0('mlp.gate_proj.weight')]: mat([[1, 0]]),
      [L0('mlp.up_proj.weight')]: mat([[0, 1]]),
      [L0('mlp.down_proj.weight')]: mat([[1], [0]]),
    });
    const logits = referenceLogits(tinyConfig(), weights, [1]);
    expectLogits(logits, [[(8 + s) / r, -7 / r]]);
    expect(logits[0][0]).toBeCloseTo(1.90956, 4);
  });

  it('puts eps inside the square root', () => {
    // Attention off (o = 0). x = [3, -3]: mean square 9, + eps 7 = 16, rms 4.
    // Final norm: [3, -3] / 4 = [0.75, -0.75]; without eps it would be [1, -1].
    const weights = tinyWeights({
      'model.embed_tokens.weight': mat([
        [3, -3],
        [0, 0],
      ]),
      [L0('self_attn.o_proj.weight')]: zeros(2, 2),
    });
    expectLogits(referenceLogits(tinyConfig({ rmsNormEps: 7 }), weights, [0]), [[0.75, -0.75]]);
  });

  it('uses tied embeddings as lm_head and adds v/o biases', () => {
    // ids [1]: x = xn = [1, -1]. v_proj zero + bias [1, 2] -> v = [1, 2].
    // o = I + bias [-1, 6] -> [1 - 1, 2 + 6] = [0, 8]; h = [1, 7] -> normed [0.2, 1.4].
    // Tied lm_head = embed [[1,1],[1,-1]]: [1.6, 0.2 - 1.4] = [1.6, -1.2].
    const weights = tinyWeights({
      [L0('self_attn.v_proj.bias')]: vec([1, 2]),
      [L0('self_attn.o_proj.bias')]: vec([-1, 6]),
      'lm_head.weight': undefined,
    });
    expectLogits(referenceLogits(tinyConfig({ tieWordEmbeddings: true }), weights, [1]), [[1.6, -1.2]]);
  });
});

describe('reference forward pass, several tokens', () => {
  it('applies RoPE before the scores and masks future tokens', () => {
    // ids [0, 1]: xn0 = [1, 1], xn1 = [1, -1].
    // q_proj [[T,0],[0,0]]: q0 = q1 = [T, 0] before RoPE.
    // k_proj [[1,0],[0,0]]: k0 = k1 = [1, 0] before RoPE.
    // RoPE, quarter turn per position: q0 = [T, 0], q1 = [0, T];
    //                                  k0 = [1, 0], k1 = [0, 1].
    // Position 1 scores (/sqrt 2): q1.k0 = 0, q1.k1 = T/sqrt2 = ln 3
    //   -> softmax [1/4, 3/4]. (Without RoPE both would be ln 3 -> [1/2, 1/2].)
    // Position 0 sees only k0 -> weight 1. (If it could see k1, its scores
    //   would be [ln 3, 0] and the result would change.)
    // v = I: v0 = [1, 1], v1 = [1, -1].
    // attn0 = [1, 1];  attn1 = 1/4 [1, 1] + 3/4 [1, -1] = [1, -1/2].
    // h0 = [1, 1] + [1, 1] = [2, 2] -> rms 2 -> [1, 1].
    // h1 = [1, -1] + [1, -1/2] = [2, -3/2]; mean square (4 + 9/4)/2 = 25/8,
    //   rms 5/(2 sqrt2) -> [4 sqrt2/5, -3 sqrt2/5] ~= [1.13137, -0.84853].
    const cfg = tinyConfig({ ropeScaling: QUARTER_TURN });
    const weights = tinyWeights({
      [L0('self_attn.q_proj.weight')]: mat([[T, 0], [0, 0]]),
      [L0('self_attn.k_proj.weight')]: mat([[1, 0], [0, 0]]),
      [L0('self_attn.v_proj.weight')]: mat(I2),
    });
    const logits = referenceLogits(cfg, weights, [0, 1]);
    expectLogits(logits, [
      [1, 1],
      [(4 * Math.SQRT2) / 5, (-3 * Math.SQRT2) / 5],
    ]);

    // Causality again, as a property: a different later token leaves position 0 alone.
    expectRow(referenceLogits(cfg, weights, [0, 0])[0], [1, 1]);
  });

  it('adds q/k biases before RoPE (Qwen2-style) and the o_proj bias', () => {
    // q/k weights zero, so q = bq = [T, 0] and k = bk = [0, 1] at every position.
    // RoPE, quarter turn: q1 = [0, T]; k0 = [0, 1], k1 = [-1, 0].
    // Position 1 scores: q1.k0 / sqrt2 = ln 3, q1.k1 = 0 -> softmax [3/4, 1/4].
    // v = I: attn1 = 3/4 [1, 1] + 1/4 [1, -1] = [1, 1/2]; attn0 = [1, 1].
    // o = I + bias [-3/4, -3/4]:
    //   h0 = [1, 1] + [1, 1] - 3/4 = [5/4, 5/4] -> [1, 1]
    //   h1 = [1, -1] + [1, 1/2] - 3/4 = [5/4, -5/4] -> [1, -1]
    // Ignoring the q bias would give weights [1/2, 1/2] and h1 = [5/4, -7/4].
    const weights = tinyWeights({
      [L0('self_attn.q_proj.bias')]: vec([T, 0]),
      [L0('self_attn.k_proj.bias')]: vec([0, 1]),
      [L0('self_attn.v_proj.weight')]: mat(I2),
      [L0('self_attn.o_proj.bias')]: vec([-0.75, -0.75]),
    });
    expectLogits(referenceLogits(tinyConfig({ ropeScaling: QUARTER_TURN }), weights, [0, 1]), [
      [1, 1],
      [1, -1],
    ]);
  });

  it('limits attention to the sliding window', () => {
    // q = k = 0, so every visible key scores 0 and attention is a plain mean of v.
    // ids [0, 1, 1], v = I: v0 = [1, 1], v1 = v2 = [1, -1].
    // pos 0: mean(v0) = [1, 1];   h0 = [2, 2]  -> [1, 1]
    // pos 1: mean(v0, v1) = [1, 0]; h1 = [2, -1]; mean square 5/2
    //        -> [2, -1] / sqrt(5/2) ~= [1.26491, -0.63246]
    // pos 2, no window: mean(v0, v1, v2) = [1, -1/3]; h2 = [2, -4/3];
    //        mean square (4 + 16/9)/2 = 26/9 -> [6, -4] / sqrt 26 ~= [1.17670, -0.78446]
    // pos 2, window 2 (keys k with 2 - k < 2, i.e. 1 and 2): mean(v1, v2) = [1, -1];
    //        h2 = [2, -2] -> [1, -1]
    // Window 1: each position sees itself only, h = 2x -> logits = x.
    const weights = tinyWeights({ [L0('self_attn.v_proj.weight')]: mat(I2) });
    const ids = [0, 1, 1];
    const pos1 = [2 / Math.sqrt(2.5), -1 / Math.sqrt(2.5)];

    expectLogits(referenceLogits(tinyConfig(), weights, ids), [[1, 1], pos1, [6 / Math.sqrt(26), -4 / Math.sqrt(26)]]);
    expectLogits(referenceLogits(tinyConfig({ slidingWindow: 2 }), weights, ids), [[1, 1], pos1, [1, -1]]);
    expectLogits(referenceLogits(tinyConfig({ slidingWindow: 1 }), weights, ids), [
      [1, 1],
      [1, -1],
      [1, -1],
    ]);
  });
});

describe('grouped-query attention', () => {
  it('maps consecutive query heads to the same kv head', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((h) => kvHeadForQueryHead(h, 8, 2))).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect([0, 1, 2, 3].map((h) => kvHeadForQueryHead(h, 4, 4))).toEqual([0, 1, 2, 3]);
    expect([0, 1, 2, 3].map((h) => kvHeadForQueryHead(h, 4, 1))).toEqual([0, 0, 0, 0]);
  });

  it('feeds each query head the values of its kv head', () => {
    // 4 query heads, 2 kv heads, headDim 2. One token (ids [0], xn = [1, 1]),
    // so each head's attention output is its kv head's v.
    // v_proj rows [0,0],[1,1],[3,3],[2,1] -> v = [0, 2, 6, 3]: kv0 = [0, 2], kv1 = [6, 3].
    // Grouped (h -> floor(h/2)): concat = [0,2 | 0,2 | 6,3 | 6,3].
    // o_proj picks element 2 (head 1, first) and element 4 (head 2, first): [0, 6].
    // h = [1, 1] + [0, 6] = [1, 7] -> rms 5 -> [0.2, 1.4].
    // (Interleaved h -> h % 2 would give [6, 0] -> [1.4, 0.2].)
    const cfg = tinyConfig({ numHeads: 4, numKvHeads: 2 });
    const weights = tinyWeights({
      [L0('self_attn.q_proj.weight')]: zeros(8, 2),
      [L0('self_attn.k_proj.weight')]: zeros(4, 2),
      [L0('self_attn.v_proj.weight')]: mat([
        [0, 0],
        [1, 1],
        [3, 3],
        [2, 1],
      ]),
      [L0('self_attn.o_proj.weight')]: mat([
        [0, 0, 1, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 1, 0, 0, 0],
      ]),
    });
    expectLogits(referenceLogits(cfg, weights, [0]), [[0.2, 1.4]]);
  });
});

describe('rotary embedding', () => {
  it('computes theta^(-2j/d)', () => {
    // d = 8, theta 10^4: exponents 0, -1/4, -1/2, -3/4 of 10^4 -> 1, 0.1, 0.01, 0.001.
    expectRow(ropeInverseFrequencies(8, 10000, null), [1, 0.1, 0.01, 0.001]);
    // Linear scaling divides each by the factor.
    expectRow(ropeInverseFrequencies(8, 10000, { type: 'linear', factor: 4 }), [0.25, 0.025, 0.0025, 0.00025]);
  });

  it('rotates the (j, j + d/2) pairs by pos * inv_freq', () => {
    // d = 4, theta 4: inv_freq = [1, 4^(-1/2)] = [1, 1/2]. Linear factor 2/pi
    // multiplies by pi/2: [pi/2, pi/4]. At pos 1 the angles are pi/2 and pi/4.
    // x = [1, 2, 3, 4]; pairs (x0, x2) = (1, 3) and (x1, x3) = (2, 4).
    // Pair 0, angle pi/2 (cos 0, sin 1): out0 = 1*0 - 3*1 = -3, out2 = 3*0 + 1*1 = 1.
    // Pair 1, angle pi/4 (cos = sin = sqrt2/2): out1 = (2 - 4) sqrt2/2 = -sqrt2,
    //   out3 = (4 + 2) sqrt2/2 = 3 sqrt2.
    const invFreq = ropeInverseFrequencies(4, 4, QUARTER_TURN);
    expectRow(invFreq, [Math.PI / 2, Math.PI / 4]);
    expectRow(applyRotaryEmbedding([1, 2, 3, 4], 1, invFreq), [-3, -Math.SQRT2, 1, 3 * Math.SQRT2]);
    // Position 2 doubles the angles: pair 0 by pi (negates), pair 1 by pi/2 ([a, b] -> [-b, a]).
    // out = [-1, -4, -3, 2].
    expectRow(applyRotaryEmbedding([1, 2, 3, 4], 2, invFreq), [-1, -4, -3, 2]);
    // Position 0 is the identity.
    expectRow(applyRotaryEmbedding([1, 2, 3, 4], 0, invFreq), [1, 2, 3, 4]);
  });

  it('applies Llama-3 frequency scaling', () => {
    // factor 8, low 1, high 4, original 8192 (the Llama 3.1 values):
    // lowWavelen = 8192, highWavelen = 2048.
    const llama3 = {
      type: 'llama3' as const,
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    };
    // With d = 4, inv_freq = [1, theta^(-1/2)]; pick theta to place the second one.
    // j = 0: f = 1, wavelen 2pi < 2048 -> unchanged in every case below.

    // theta = (10000/2pi)^2: f1 = 2pi/10000, wavelen 10000 > 8192 -> f1 / 8 = 2pi/80000.
    expectRow(ropeInverseFrequencies(4, (10000 / (2 * Math.PI)) ** 2, llama3), [1, (2 * Math.PI) / 80000]);

    // theta = (4096/2pi)^2: f1 = 2pi/4096, wavelen 4096 is in the blended band.
    // smooth = (8192/4096 - 1) / (4 - 1) = 1/3;
    // f' = (2/3) f/8 + (1/3) f = f (1/12 + 4/12) = (5/12) f ~= 6.3916e-4.
    expectRow(ropeInverseFrequencies(4, (4096 / (2 * Math.PI)) ** 2, llama3), [1, ((2 * Math.PI) / 4096) * (5 / 12)]);

    // theta = (1024/2pi)^2: wavelen 1024 < 2048 -> unchanged.
    expectRow(ropeInverseFrequencies(4, (1024 / (2 * Math.PI)) ** 2, llama3), [1, (2 * Math.PI) / 1024]);
  });
});

describe('referenceConfigFromHf', () => {
  const base = {
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 128,
    vocab_size: 100,
    rms_norm_eps: 1e-6,
  };

  it('fills HF defaults', () => {
    expect(referenceConfigFromHf({ architectures: ['LlamaForCausalLM'], ...base })).toEqual({
      hiddenSize: 64,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 4, // defaults to the head count
      headDim: 16, // 64 / 4
      intermediateSize: 128,
      vocabSize: 100,
      rmsNormEps: 1e-6,
      ropeTheta: 10000,
      ropeScaling: null,
      tieWordEmbeddings: false,
      slidingWindow: null,
    });
  });

  it('reads a Llama 3.1 config', () => {
    const cfg = referenceConfigFromHf({
      architectures: ['LlamaForCausalLM'],
      hidden_size: 4096,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      intermediate_size: 14336,
      vocab_size: 128256,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      rope_scaling: {
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 8192,
        rope_type: 'llama3',
      },
      tie_word_embeddings: false,
    });
    expect(cfg.numKvHeads).toBe(8);
    expect(cfg.headDim).toBe(128);
    expect(cfg.ropeTheta).toBe(500000);
    expect(cfg.ropeScaling).toEqual({
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    });
  });

  it('reads explicit head_dim, linear scaling under "type", and tied embeddings', () => {
    const cfg = referenceConfigFromHf({
      ...base,
      head_dim: 32,
      rope_scaling: { type: 'linear', factor: 2 },
      tie_word_embeddings: true,
    });
    expect(cfg.headDim).toBe(32);
    expect(cfg.ropeScaling).toEqual({ type: 'linear', factor: 2 });
    expect(cfg.tieWordEmbeddings).toBe(true);
  });

  it('uses sliding_window for Mistral only', () => {
    expect(referenceConfigFromHf({ ...base, architectures: ['MistralForCausalLM'], sliding_window: 4096 }).slidingWindow).toBe(4096);
    expect(referenceConfigFromHf({ ...base, architectures: ['MistralForCausalLM'], sliding_window: null }).slidingWindow).toBeNull();
    expect(referenceConfigFromHf({ ...base, architectures: ['Qwen2ForCausalLM'], sliding_window: 32768 }).slidingWindow).toBeNull();
  });

  it('refuses rope scaling it cannot reproduce', () => {
    expect(() => referenceConfigFromHf({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } })).toThrow(/yarn/);
  });
});

describe('referenceLogits input checks', () => {
  it('rejects a weight of the wrong shape and a missing weight', () => {
    expect(() => referenceLogits(tinyConfig(), tinyWeights({ [L0('mlp.up_proj.weight')]: zeros(2, 2) }), [0])).toThrow(/up_proj/);
    expect(() => referenceLogits(tinyConfig(), tinyWeights({ 'lm_head.weight': undefined }), [0])).toThrow(/lm_head/);
  });

  it('rejects token ids outside the vocabulary', () => {
    expect(() => referenceLogits(tinyConfig(), tinyWeights(), [2])).toThrow(/vocab/);
  });
});

// ---------------------------------------------------------------------------

describe('safetensors reader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reference-safetensors-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** [u64 LE header length][header JSON][data], written out by hand. */
  function writeSafetensors(name: string, header: object, data: number[], pad = true): string {
    let json = JSON.stringify(header);
    // Real writers pad the header with spaces to a multiple of 8; the reader must cope.
    if (pad) while (json.length % 8 !== 0) json += ' ';
    const n = json.length;
    const lengthBytes = [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff, 0, 0, 0, 0];
    const path = join(dir, name);
    writeFileSync(path, Buffer.from([...lengthBytes, ...Buffer.from(json, 'ascii'), ...data]));
    return path;
  }

  it('reads F32, F16 and BF16 tensors across shards', () => {
    const shard1 = writeSafetensors(
      'model-00001-of-00002.safetensors',
      {
        __metadata__: { format: 'pt' },
        f32: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        f16: { dtype: 'F16', shape: [2, 3], data_offsets: [8, 20] },
        bf16: { dtype: 'BF16', shape: [3], data_offsets: [20, 26] },
      },
      [
        // F32 little-endian: 1.5 = 0x3FC00000, -0.25 = 0xBE800000.
        0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x80, 0xbe,
        // F16: 0x3C00 = 1, 0xC000 = -2, 0x3555 = (1 + 341/1024) * 2^-2 = 1365/4096,
        //      0x7BFF = (2 - 2^-10) * 2^15 = 65504, 0x0001 = 2^-24 (subnormal), 0x8000 = -0.
        0x00, 0x3c, 0x00, 0xc0, 0x55, 0x35, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x80,
        // BF16: 0x3F80 = 1, 0xC040 = -(1 + 64/128) * 2^1 = -3, 0x3E20 = (1 + 32/128) * 2^-3 = 0.15625.
        0x80, 0x3f, 0x40, 0xc0, 0x20, 0x3e,
      ],
    );
    // Second shard: unpadded header, and the tensor starts 2 bytes into the
    // data, so offsets must be taken relative to the end of the header.
    const shard2 = writeSafetensors(
      'model-00002-of-00002.safetensors',
      { second: { dtype: 'BF16', shape: [1, 1], data_offsets: [2, 4] } },
      [0xff, 0xff, 0x80, 0xbf], // 0xBF80 = -1
      false,
    );

    const tensors = readSafetensors([shard1, shard2]);
    expect([...tensors.keys()].sort()).toEqual(['bf16', 'f16', 'f32', 'second']);

    expect(tensors.get('f32')).toEqual({ dtype: 'F32', shape: [2], values: Float64Array.from([1.5, -0.25]) });

    const f16 = tensors.get('f16')!;
    expect(f16.dtype).toBe('F16');
    expect(f16.shape).toEqual([2, 3]);
    expect([...f16.values]).toEqual([1, -2, 1365 / 4096, 65504, 2 ** -24, -0]);
    expect(Object.is(f16.values[5], -0)).toBe(true);

    expect(tensors.get('bf16')).toEqual({ dtype: 'BF16', shape: [3], values: Float64Array.from([1, -3, 0.15625]) });
    expect(tensors.get('second')).toEqual({ dtype: 'BF16', shape: [1, 1], values: Float64Array.from([-1]) });
  });

  it('decodes special half-precision patterns', () => {
    expect(f16BitsToNumber(0x7c00)).toBe(Infinity);
    expect(f16BitsToNumber(0xfc00)).toBe(-Infinity);
    expect(f16BitsToNumber(0x7e00)).toBeNaN();
    expect(f16BitsToNumber(0x0400)).toBe(2 ** -14); // smallest normal
    expect(f16BitsToNumber(0x03ff)).toBe(1023 * 2 ** -24); // largest subnormal
    expect(bf16BitsToNumber(0x7f80)).toBe(Infinity);
    expect(bf16BitsToNumber(0x7fc0)).toBeNaN();
    expect(bf16BitsToNumber(0x0001)).toBe(2 ** -133); // smallest subnormal
    expect(bf16BitsToNumber(0x4049)).toBe(3.140625); // (1 + 73/128) * 2
  });

  it('rejects malformed files', () => {
    const tooLong = join(dir, 'bad-length.safetensors');
    writeFileSync(tooLong, Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d])); // claims 255 header bytes
    expect(() => readSafetensors([tooLong])).toThrow(/header length/);

    const i64 = writeSafetensors('i64.safetensors', { x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, [0, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => readSafetensors([i64])).toThrow(/unsupported dtype I64/);

    const short = writeSafetensors('short.safetensors', { x: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, [0, 0, 0, 0]);
    expect(() => readSafetensors([short])).toThrow(/spans 4 bytes/);

    const past = writeSafetensors('past.safetensors', { x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, [0, 0, 0, 0]);
    expect(() => readSafetensors([past])).toThrow(/outside the data/);

    const dup = writeSafetensors('dup.safetensors', { x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, [0, 0, 0, 0]);
    expect(() => readSafetensors([dup, dup])).toThrow(/more than one shard/);
  });
});
