// The shape of a Llama-family model, read from a Hugging Face config.json.
// Llama, Mistral and Qwen2 share one forward pass; they differ only in the fields below.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"

namespace astraea {

// Factors: each rotary pair's frequency divided by its own factor (a GGUF file's rope_freqs.weight,
// llama.cpp's form of Llama 3.1's scaling; lib/model/gguf-config.ts writes it into the config as
// rope_scaling {"rope_type": "frequency_factors", "factors": [...]}).
enum class RopeScaling { None, Linear, Llama3, Factors };

struct ModelConfig {
  std::string architecture;  // e.g. "LlamaForCausalLM"
  std::string model_type;    // "llama" | "mistral" | "qwen2"
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t intermediate_size = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling = RopeScaling::None;
  double rope_factor = 1.0;
  double rope_low_freq_factor = 1.0;
  double rope_high_freq_factor = 4.0;
  int64_t rope_original_max_positions = 0;
  std::vector<double> rope_freq_factors;  // Factors: head_dim / 2 of them
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // Qwen2, or Llama with attention_bias
  bool o_bias = false;    // Llama with attention_bias
  int64_t sliding_window = 0;  // 0: full attention (Mistral sets a window)
  std::vector<int64_t> eos_token_ids;
  int64_t bos_token_id = -1;

  int64_t q_dim() const { return num_heads * head_dim; }
  int64_t kv_dim() const { return num_kv_heads * head_dim; }
};

// Parses and validates; throws EngineError INVALID_CONFIG / UNSUPPORTED_MODEL with the field name.
ModelConfig parse_model_config(const std::string& json_text, const std::string& source);

// The inverse frequency of each rotary pair, with any rope scaling applied (head_dim / 2 values).
std::vector<double> rope_inverse_frequencies(const ModelConfig& config);

}  // namespace astraea
