// Independent reference forward pass for Llama-family decoders
// (transformers LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM).
//
// Purpose: tests compare the native engine's logits against this. It shares
// no code with the engine and favours obviousness over speed: every tensor is
// float64, attention is computed in full for every position (no KV cache, no
// paging, no batching), and each step follows the Hugging Face code directly.

export interface ReferenceConfig {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling:
    | null
    | { type: 'linear'; factor: number }
    | {
        type: 'llama3';
        factor: number;
        lowFreqFactor: number;
        highFreqFactor: number;
        originalMaxPositionEmbeddings: number;
      };
  tieWordEmbeddings: boolean;
  slidingWindow: number | null;
}

/** A weight as the reference needs it; `readSafetensors` output fits this. */
export interface ReferenceWeight {
  shape: number[];
  values: Float64Array;
}

// ---------------------------------------------------------------------------
// Config

/** Map a Hugging Face config.json object to a ReferenceConfig. */
export function referenceConfigFromHf(configJson: any): ReferenceConfig {
  const required = (key: string): number => {
    const value = configJson[key];
    if (typeof value !== 'number') throw new Error(`config.json: ${key} must be a number, got ${value}`);
    return value;
  };
  const hiddenSize = required('hidden_size');
  const numHeads = required('num_attention_heads');
  const architecture = Array.isArray(configJson.architectures) ? configJson.architectures[0] : undefined;

  // Only Mistral applies sliding_window unconditionally; Qwen2 configs carry a
  // sliding_window number too but gate it behind use_sliding_window, which the
  // models we target leave off.
  const slidingWindow =
    architecture === 'MistralForCausalLM' && typeof configJson.sliding_window === 'number'
      ? configJson.sliding_window
      : null;

  return {
    hiddenSize,
    numLayers: required('num_hidden_layers'),
    numHeads,
    numKvHeads: configJson.num_key_value_heads ?? numHeads,
    // transformers: getattr(config, "head_dim", hidden_size // num_attention_heads)
    headDim: configJson.head_dim ?? Math.floor(hiddenSize / numHeads),
    intermediateSize: required('intermediate_size'),
    vocabSize: required('vocab_size'),
    rmsNormEps: required('rms_norm_eps'),
    ropeTheta: configJson.rope_theta ?? 10000,
    ropeScaling: parseRopeScaling(configJson.rope_scaling),
    tieWordEmbeddings: configJson.tie_word_embeddings ?? false,
    slidingWindow,
  };
}

function parseRopeScaling(raw: any): ReferenceConfig['ropeScaling'] {
  if (raw === null || raw === undefined) return null;
  // Newer configs say rope_type, older ones type.
  const kind = raw.rope_type ?? raw.type;
  if (kind === 'default') return null;
  if (kind === 'linear') return { type: 'linear', factor: raw.factor };
  if (kind === 'llama3') {
    return {
      type: 'llama3',
      factor: raw.factor,
      lowFreqFactor: raw.low_freq_factor,
      highFreqFactor: raw.high_freq_factor,
      originalMaxPositionEmbeddings: raw.original_max_position_embeddings,
    };
  }
  // Refuse rather than silently compute unscaled RoPE: a wrong reference is
  // worse than none.
  throw new Error(`rope_scaling type ${JSON.stringify(kind)} is not supported by the reference`);
}

// ---------------------------------------------------------------------------
// Building blocks (exported so tests can check them in isolation)

/**
 * inv_freq[j] = theta^(-2j/d) for j < d/2, then the configured scaling.
 * Llama-3 scaling (transformers _compute_llama3_parameters): long wavelengths
 * are slowed by `factor`, short ones kept, and the band between is blended.
 */
export function ropeInverseFrequencies(
  headDim: number,
  theta: number,
  scaling: ReferenceConfig['ropeScaling'],
): Float64Array {
  const half = headDim / 2;
  const invFreq = new Float64Array(half);
  for (let j = 0; j < half; j++) {
    let f = theta ** ((-2 * j) / headDim);
    if (scaling?.type === 'linear') {
      f /= scaling.factor;
    } else if (scaling?.type === 'llama3') {
      const orig = scaling.originalMaxPositionEmbeddings;
      const lowWavelen = orig / scaling.lowFreqFactor;
      const highWavelen = orig / scaling.highFreqFactor;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highWavelen) {
        // high frequency: unchanged
      } else if (wavelen > lowWavelen) {
        f /= scaling.factor;
      } else {
        const smooth = (orig / wavelen - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor);
        f = ((1 - smooth) * f) / scaling.factor + smooth * f;
      }
    }
    invFreq[j] = f;
  }
  return invFreq;
}

/**
 * HF "rotate_half" RoPE on one head vector: element j pairs with j + d/2
 * (not with j + 1 as in the interleaved GPT-J form).
 */
export function applyRotaryEmbedding(head: ArrayLike<number>, pos: number, invFreq: Float64Array): Float64Array {
  const half = invFreq.length;
  if (head.length !== 2 * half) throw new Error(`RoPE: head of size ${head.length}, expected ${2 * half}`);
  const out = new Float64Array(head.length);
  for (let j = 0; j < half; j++) {
    const angle = pos * invFreq[j];
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const a = head[j];
    const b = head[j + half];
    out[j] = a * cos - b * sin;
    out[j + half] = b * cos + a * sin;
  }
  return out;
}

/** GQA: consecutive query heads share a kv head (repeat_kv order). */
export function kvHeadForQueryHead(h: number, numHeads: number, numKvHeads: number): number {
  return Math.floor(h / (numHeads / numKvHeads));
}

function rmsNorm(x: Float64Array, weight: ReferenceWeight, eps: number): Float64Array {
  let sumSquares = 0;
  for (let i = 0; i < x.length; i++) sumSquares += x[i] * x[i];
  const inv = 1 / Math.sqrt(sumSquares / x.length + eps);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * inv * weight.values[i];
  return out;
}

/** y = W x (+ b), W row-major [out][in]. */
function product(weight: ReferenceWeight, x: Float64Array, bias?: ReferenceWeight): Float64Array {
  const [outDim, inDim] = weight.shape;
  const w = weight.values;
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let acc = 0;
    const row = o * inDim;
    for (let i = 0; i < inDim; i++) acc += w[row + i] * x[i];
    y[o] = bias ? acc + bias.values[o] : acc;
  }
  return y;
}

function silu(z: number): number {
  return z / (1 + Math.exp(-z));
}

// ---------------------------------------------------------------------------
// Forward pass

export interface ReferenceOptions {
  /**
   * Applied to every key (after RoPE) and value element as it is stored, as a KV cache of a
   * narrower type rounds it (e.g. roundToBf16). Default: kept in double.
   */
  roundKv?: (x: number) => number;
  /**
   * Applied to every element of a linear layer's input before the product, as an engine that
   * multiplies BF16 activations rounds them (e.g. roundToBf16). Default: kept in double.
   */
  roundActivations?: (x: number) => number;
}

/**
 * x rounded to BF16 (through F32, as an engine computing in F32 stores it): to nearest, ties to
 * even, by arithmetic on the F32 bit pattern.
 */
export function roundToBf16(x: number): number {
  const f = new Float32Array([x]);
  const bits = new Uint32Array(f.buffer);
  if (!Number.isFinite(f[0])) return f[0];
  const low = bits[0] & 0xffff;
  let high = bits[0] >>> 16;
  if (low > 0x8000 || (low === 0x8000 && (high & 1) === 1)) high += 1;
  bits[0] = (high << 16) >>> 0;
  return f[0];
}

/** Logits for every position of `ids` (positions 0..n-1), causal attention. */
export function referenceLogits(
  cfg: ReferenceConfig,
  weights: Map<string, ReferenceWeight>,
  ids: number[],
  options: ReferenceOptions = {},
): Float64Array[] {
  const store = (row: Float64Array): Float64Array => (options.roundKv ? row.map(options.roundKv) : row);
  const roundX = options.roundActivations;
  const linear = (weight: ReferenceWeight, x: Float64Array, bias?: ReferenceWeight): Float64Array =>
    product(weight, roundX ? x.map(roundX) : x, bias);
  const { hiddenSize: H, numHeads, numKvHeads, headDim: D, intermediateSize: I, vocabSize: V } = cfg;
  if (numHeads % numKvHeads !== 0) throw new Error(`numHeads ${numHeads} is not a multiple of numKvHeads ${numKvHeads}`);
  if (D % 2 !== 0) throw new Error(`headDim ${D} must be even for RoPE`);
  if (cfg.slidingWindow !== null && !(cfg.slidingWindow >= 1)) throw new Error(`slidingWindow must be >= 1`);

  // Fetch a weight and insist on its shape, so a mislabelled config fails
  // loudly instead of producing plausible garbage.
  const get = (name: string, shape: number[]): ReferenceWeight => {
    const w = weights.get(name);
    if (!w) throw new Error(`missing weight ${name}`);
    if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`weight ${name} has shape [${w.shape}], expected [${shape}]`);
    }
    return w;
  };
  const optional = (name: string, shape: number[]): ReferenceWeight | undefined =>
    weights.has(name) ? get(name, shape) : undefined;

  const embed = get('model.embed_tokens.weight', [V, H]);
  const invFreq = ropeInverseFrequencies(D, cfg.ropeTheta, cfg.ropeScaling);
  const n = ids.length;

  let xs: Float64Array[] = ids.map((id) => {
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`token id ${id} outside vocab of ${V}`);
    return embed.values.slice(id * H, (id + 1) * H);
  });

  for (let layer = 0; layer < cfg.numLayers; layer++) {
    const p = `model.layers.${layer}.`;
    const inputNorm = get(p + 'input_layernorm.weight', [H]);
    const wq = get(p + 'self_attn.q_proj.weight', [numHeads * D, H]);
    const wk = get(p + 'self_attn.k_proj.weight', [numKvHeads * D, H]);
    const wv = get(p + 'self_attn.v_proj.weight', [numKvHeads * D, H]);
    const wo = get(p + 'self_attn.o_proj.weight', [H, numHeads * D]);
    const bq = optional(p + 'self_attn.q_proj.bias', [numHeads * D]);
    const bk = optional(p + 'self_attn.k_proj.bias', [numKvHeads * D]);
    const bv = optional(p + 'self_attn.v_proj.bias', [numKvHeads * D]);
    const bo = optional(p + 'self_attn.o_proj.bias', [H]);
    const postNorm = get(p + 'post_attention_layernorm.weight', [H]);
    const wGate = get(p + 'mlp.gate_proj.weight', [I, H]);
    const wUp = get(p + 'mlp.up_proj.weight', [I, H]);
    const wDown = get(p + 'mlp.down_proj.weight', [H, I]);

    // Projections for every position; RoPE is applied to q and k per head
    // after the bias, as in HF.
    const qs: Float64Array[] = [];
    const ks: Float64Array[] = [];
    const vs: Float64Array[] = [];
    for (let pos = 0; pos < n; pos++) {
      const xn = rmsNorm(xs[pos], inputNorm, cfg.rmsNormEps);
      qs.push(ropeAllHeads(linear(wq, xn, bq), numHeads, D, pos, invFreq));
      ks.push(store(ropeAllHeads(linear(wk, xn, bk), numKvHeads, D, pos, invFreq)));
      vs.push(store(linear(wv, xn, bv)));
    }

    const scale = 1 / Math.sqrt(D);
    const next: Float64Array[] = [];
    for (let pos = 0; pos < n; pos++) {
      // Causal, optionally limited to the last `slidingWindow` positions:
      // key k is visible iff k <= pos and pos - k < W.
      const first = cfg.slidingWindow === null ? 0 : Math.max(0, pos - cfg.slidingWindow + 1);
      const attn = new Float64Array(numHeads * D);
      for (let h = 0; h < numHeads; h++) {
        const kvh = kvHeadForQueryHead(h, numHeads, numKvHeads);
        const scores: number[] = [];
        for (let k = first; k <= pos; k++) {
          let dot = 0;
          for (let i = 0; i < D; i++) dot += qs[pos][h * D + i] * ks[k][kvh * D + i];
          scores.push(dot * scale);
        }
        // Softmax with the max subtracted, for range only; the result is the same.
        const max = scores.reduce((a, b) => Math.max(a, b), -Infinity);
        const exps = scores.map((s) => Math.exp(s - max));
        const total = exps.reduce((a, b) => a + b, 0);
        for (let k = first; k <= pos; k++) {
          const weight = exps[k - first] / total;
          for (let i = 0; i < D; i++) attn[h * D + i] += weight * vs[k][kvh * D + i];
        }
      }

      const attnOut = linear(wo, attn, bo);
      const afterAttn = new Float64Array(H);
      for (let i = 0; i < H; i++) afterAttn[i] = xs[pos][i] + attnOut[i];

      const hn = rmsNorm(afterAttn, postNorm, cfg.rmsNormEps);
      const gate = linear(wGate, hn);
      const up = linear(wUp, hn);
      const act = new Float64Array(I);
      for (let i = 0; i < I; i++) act[i] = silu(gate[i]) * up[i];
      const mlpOut = linear(wDown, act);

      const out = new Float64Array(H);
      for (let i = 0; i < H; i++) out[i] = afterAttn[i] + mlpOut[i];
      next.push(out);
    }
    xs = next;
  }

  const finalNorm = get('model.norm.weight', [H]);
  const lmHead = cfg.tieWordEmbeddings ? embed : get('lm_head.weight', [V, H]);
  return xs.map((x) => linear(lmHead, rmsNorm(x, finalNorm, cfg.rmsNormEps)));
}

function ropeAllHeads(
  x: Float64Array,
  heads: number,
  headDim: number,
  pos: number,
  invFreq: Float64Array,
): Float64Array {
  const out = new Float64Array(x.length);
  for (let h = 0; h < heads; h++) {
    out.set(applyRotaryEmbedding(x.subarray(h * headDim, (h + 1) * headDim), pos, invFreq), h * headDim);
  }
  return out;
}
