/**
 * Built-in model shapes. `tiny` is for tests (a few hundred thousand parameters, runs in
 * milliseconds); `small` is for benchmarks (~100M parameters: a real decode workload on a CPU).
 * Both are Llama-architecture configs as Hugging Face writes them.
 */
export type PresetName = 'tiny' | 'small';

export const PRESET_NAMES: readonly PresetName[] = ['tiny', 'small'];

export interface HfConfig {
  architectures: string[];
  model_type: string;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim?: number;
  intermediate_size: number;
  vocab_size: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  rope_scaling?: Record<string, unknown> | null;
  tie_word_embeddings: boolean;
  hidden_act: string;
  bos_token_id?: number;
  eos_token_id?: number | number[];
  sliding_window?: number | null;
  torch_dtype?: string;
  [key: string]: unknown;
}

const BASE = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  hidden_act: 'silu',
  torch_dtype: 'float32',
};

export function presetConfig(name: PresetName): HfConfig {
  switch (name) {
    case 'tiny':
      // 128 hidden, 2 layers, GQA 4:2, vocab 384 (256 bytes + specials + reserved): ~345k parameters.
      return {
        ...BASE,
        hidden_size: 128,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        intermediate_size: 256,
        vocab_size: 384,
        max_position_embeddings: 2048,
        tie_word_embeddings: true,
      };
    case 'small':
      // 768 hidden, 12 layers, GQA 12:4, 2048 FFN, 32k vocab (tied): ~100M parameters.
      return {
        ...BASE,
        hidden_size: 768,
        num_hidden_layers: 12,
        num_attention_heads: 12,
        num_key_value_heads: 4,
        intermediate_size: 2048,
        vocab_size: 32000,
        max_position_embeddings: 4096,
        tie_word_embeddings: true,
      };
  }
}

export function isPresetName(value: string): value is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(value);
}
