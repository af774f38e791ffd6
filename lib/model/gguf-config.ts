/**
 * What a GGUF file's metadata and tensor names mean in Hugging Face terms: the config.json a
 * checkpoint of the same model would have, and, for each tensor, its Hugging Face name and how
 * its rows must be reordered to get there.
 *
 * For the Llama architecture (llama.cpp's "normal" RoPE, which turns dimensions (2i, 2i+1) together
 * where Hugging Face's rotate_half turns (i, i + d/2)), llama.cpp's converter stores q_proj and
 * k_proj (weights and biases) with the rows of every head reordered: GGUF row 2i + a is Hugging Face
 * row a·d/2 + i. The loader puts them back (`ropeHeads`), so the engine runs a GGUF file exactly as
 * the checkpoint it came from. Qwen2 runs llama.cpp's "NeoX" RoPE, the Hugging Face pairing, and is
 * stored unpermuted (llama.cpp's llama_model_rope_type lists qwen2 under NEOX).
 */
import { EngineError } from '../errors.js';
import type { HfConfig } from './presets.js';
import { describeGgmlType, GGML_TYPES, type GgufHeader, type GgufTensorInfo, type GgufValue } from './gguf-file.js';

/** One tensor of the file, as the engine's loader takes it. */
export interface GgufTensorBinding {
  info: GgufTensorInfo;
  hfName: string;
  /** Hugging Face shape, outermost first ([rows, cols] for a matrix). */
  shape: number[];
  /** Heads whose rows must be put back from llama.cpp's RoPE order; 0 for other tensors. */
  ropeHeads: number;
}

/** The architectures whose GGUF layout is the Llama one this engine runs. */
const ARCHITECTURES: Record<string, { architecture: string; modelType: HfConfig['model_type']; permutedRope: boolean }> = {
  llama: { architecture: 'LlamaForCausalLM', modelType: 'llama', permutedRope: true },
  mistral: { architecture: 'MistralForCausalLM', modelType: 'mistral', permutedRope: true },
  qwen2: { architecture: 'Qwen2ForCausalLM', modelType: 'qwen2', permutedRope: false },
};

const LAYER_TENSORS: Record<string, string> = {
  'attn_norm.weight': 'input_layernorm.weight',
  'ffn_norm.weight': 'post_attention_layernorm.weight',
  'attn_q.weight': 'self_attn.q_proj.weight',
  'attn_k.weight': 'self_attn.k_proj.weight',
  'attn_v.weight': 'self_attn.v_proj.weight',
  'attn_output.weight': 'self_attn.o_proj.weight',
  'attn_q.bias': 'self_attn.q_proj.bias',
  'attn_k.bias': 'self_attn.k_proj.bias',
  'attn_v.bias': 'self_attn.v_proj.bias',
  'attn_output.bias': 'self_attn.o_proj.bias',
  'ffn_gate.weight': 'mlp.gate_proj.weight',
  'ffn_up.weight': 'mlp.up_proj.weight',
  'ffn_down.weight': 'mlp.down_proj.weight',
};

/** The Hugging Face name of a GGUF tensor, or null for one the engine does not use. */
export function hfTensorName(ggufName: string): string | null {
  if (ggufName === 'token_embd.weight') return 'model.embed_tokens.weight';
  if (ggufName === 'output_norm.weight') return 'model.norm.weight';
  if (ggufName === 'output.weight') return 'lm_head.weight';
  const m = /^blk\.(\d+)\.(.+)$/.exec(ggufName);
  const suffix = m ? LAYER_TENSORS[m[2]] : undefined;
  return m && suffix ? `model.layers.${m[1]}.${suffix}` : null;
}

function number(metadata: Map<string, GgufValue>, key: string, fallback?: number): number {
  const value = metadata.get(key);
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw new EngineError('INVALID_CONFIG', `the GGUF file has no ${key}`);
  }
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new EngineError('INVALID_CONFIG', `the GGUF file's ${key} is not a number`);
  return n;
}

/**
 * The config.json of the model a GGUF file holds (the keys lib/model and cpp/core read).
 * `readVector` reads a small F32 tensor's values (readGgufVector): a file that scales RoPE by
 * rope_freqs.weight needs it.
 */
export function ggufHfConfig(header: GgufHeader, readVector?: (info: GgufTensorInfo) => Float32Array): HfConfig {
  const m = header.metadata;
  const arch = m.get('general.architecture');
  const known = typeof arch === 'string' ? ARCHITECTURES[arch] : undefined;
  if (!known) {
    throw new EngineError('UNSUPPORTED_MODEL', `GGUF architecture "${String(arch)}" is not supported (supported: ${Object.keys(ARCHITECTURES).join(', ')})`);
  }
  const key = (k: string) => `${arch as string}.${k}`;
  const heads = number(m, key('attention.head_count'));
  const hidden = number(m, key('embedding_length'));
  const embed = header.tensors.find((t) => t.name === 'token_embd.weight');
  const tokens = m.get('tokenizer.ggml.tokens');
  const vocab = number(m, key('vocab_size'), embed?.dims[1] ?? (Array.isArray(tokens) ? tokens.length : undefined));
  const config: HfConfig = {
    architectures: [known.architecture],
    model_type: known.modelType,
    hidden_size: hidden,
    num_hidden_layers: number(m, key('block_count')),
    num_attention_heads: heads,
    num_key_value_heads: number(m, key('attention.head_count_kv'), heads),
    head_dim: number(m, key('attention.key_length'), hidden / heads),
    intermediate_size: number(m, key('feed_forward_length')),
    vocab_size: vocab,
    max_position_embeddings: number(m, key('context_length')),
    rms_norm_eps: number(m, key('attention.layer_norm_rms_epsilon')),
    rope_theta: number(m, key('rope.freq_base'), 10000),
    tie_word_embeddings: !header.tensors.some((t) => t.name === 'output.weight'),
    hidden_act: 'silu',
  };
  const scaling = m.get(key('rope.scaling.type'));
  if (scaling !== undefined && scaling !== 'none') {
    if (scaling !== 'linear') throw new EngineError('UNSUPPORTED_MODEL', `GGUF RoPE scaling "${String(scaling)}" is not supported (linear is)`);
    config.rope_scaling = { rope_type: 'linear', factor: number(m, key('rope.scaling.factor')) };
  }
  const ropeFreqs = header.tensors.find((t) => t.name === 'rope_freqs.weight');
  if (ropeFreqs) {
    // Llama 3.1's RoPE scaling as llama.cpp's converter stores it: one factor per rotary pair, by
    // which that pair's frequency is divided, rather than the parameters config.json carries.
    // Running without them would be wrong past the original context (8K for Llama 3.1).
    if (!readVector) throw new EngineError('UNSUPPORTED_MODEL', 'this GGUF file scales RoPE by rope_freqs.weight, and its values were not read');
    const factors = Array.from(readVector(ropeFreqs));
    const pairs = (config.head_dim ?? hidden / heads) / 2;
    if (factors.length !== pairs || !factors.every((f) => Number.isFinite(f) && f > 0)) {
      throw new EngineError('INVALID_WEIGHTS', `rope_freqs.weight must hold ${pairs} positive factors (one per rotary pair), not ${factors.length} values like ${factors.slice(0, 3).join(', ')}`);
    }
    if (config.rope_scaling) throw new EngineError('UNSUPPORTED_MODEL', 'this GGUF file scales RoPE both by rope_freqs.weight and by rope.scaling metadata');
    config.rope_scaling = { rope_type: 'frequency_factors', factors };
  }
  const window = m.get(key('attention.sliding_window'));
  if (window !== undefined) config.sliding_window = number(m, key('attention.sliding_window'));
  const bos = m.get('tokenizer.ggml.bos_token_id');
  const eos = m.get('tokenizer.ggml.eos_token_id');
  if (bos !== undefined) config.bos_token_id = number(m, 'tokenizer.ggml.bos_token_id');
  if (eos !== undefined) config.eos_token_id = number(m, 'tokenizer.ggml.eos_token_id');
  return config;
}

/** Every tensor the engine uses, with its Hugging Face name and shape; others are left out. */
export function ggufTensorBindings(header: GgufHeader, config: HfConfig): GgufTensorBinding[] {
  const bindings: GgufTensorBinding[] = [];
  const arch = header.metadata.get('general.architecture');
  const permuted = typeof arch === 'string' && ARCHITECTURES[arch] ? ARCHITECTURES[arch].permutedRope : true;
  for (const info of header.tensors) {
    const hfName = hfTensorName(info.name);
    if (hfName === null) continue;
    if (info.typeName === null) {
      throw new EngineError('UNSUPPORTED_MODEL', `${info.name} is of ${describeGgmlType(info.type)}, which the engine does not load; it loads ${Object.keys(GGML_TYPES).join(', ')}`);
    }
    const rope = permuted ? /\.self_attn\.(q|k)_proj\./.exec(hfName) : null;
    const ropeHeads = rope ? (rope[1] === 'q' ? config.num_attention_heads : config.num_key_value_heads ?? config.num_attention_heads) : 0;
    bindings.push({ info, hfName, shape: [...info.dims].reverse(), ropeHeads });
  }
  return bindings;
}
