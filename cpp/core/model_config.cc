#include "core/model_config.h"

#include <cmath>

#include "core/errors.h"

namespace astraea {

namespace {

class ConfigReader {
 public:
  ConfigReader(const Json& root, const std::string& source) : root_(root), source_(source) {}

  [[noreturn]] void fail(const char* code, const std::string& why) const {
    throw EngineError(code, source_ + ": " + why);
  }

  const Json* get(const char* key) const {
    const Json* v = root_.find(key);
    return v && !v->is_null() ? v : nullptr;
  }

  int64_t positive_int(const char* key) const {
    const Json* v = get(key);
    if (!v) fail(codes::kInvalidConfig, std::string("missing required field \"") + key + "\"");
    return checked_int(*v, key, 1);
  }

  int64_t optional_int(const char* key, int64_t fallback, int64_t min_value) const {
    const Json* v = get(key);
    return v ? checked_int(*v, key, min_value) : fallback;
  }

  double optional_number(const char* key, double fallback) const {
    const Json* v = get(key);
    if (!v) return fallback;
    if (!v->is_number() || !std::isfinite(v->number()))
      fail(codes::kInvalidConfig, std::string("field \"") + key + "\" must be a number");
    return v->number();
  }

  bool optional_bool(const char* key, bool fallback) const {
    const Json* v = get(key);
    if (!v) return fallback;
    if (!v->is_bool()) fail(codes::kInvalidConfig, std::string("field \"") + key + "\" must be true or false");
    return v->boolean();
  }

  int64_t checked_int(const Json& v, const char* key, int64_t min_value) const {
    double d = v.is_number() ? v.number() : NAN;
    if (!(d == std::floor(d)) || d < double(min_value) || d > 1e12)
      fail(codes::kInvalidConfig, std::string("field \"") + key + "\" must be an integer >= " +
                                      std::to_string(min_value));
    return int64_t(d);
  }

 private:
  const Json& root_;
  const std::string& source_;
};

void read_rope_scaling(const ConfigReader& r, const Json* scaling, ModelConfig& c) {
  if (!scaling) return;
  if (!scaling->is_object()) r.fail(codes::kInvalidConfig, "\"rope_scaling\" must be an object or null");
  const Json* type = scaling->find("rope_type");
  if (!type || type->is_null()) type = scaling->find("type");
  std::string name = type && type->is_string() ? type->string() : "";
  ConfigReader s(*scaling, "rope_scaling");
  if (name == "default") return;
  if (name == "linear") {
    c.rope_scaling = RopeScaling::Linear;
  } else if (name == "llama3") {
    c.rope_scaling = RopeScaling::Llama3;
    c.rope_low_freq_factor = s.optional_number("low_freq_factor", 1.0);
    c.rope_high_freq_factor = s.optional_number("high_freq_factor", 4.0);
    c.rope_original_max_positions = s.optional_int("original_max_position_embeddings", 8192, 1);
    if (!(c.rope_high_freq_factor > c.rope_low_freq_factor))
      r.fail(codes::kInvalidConfig, "rope_scaling: high_freq_factor must exceed low_freq_factor");
  } else if (name == "frequency_factors") {
    c.rope_scaling = RopeScaling::Factors;
    const Json* factors = scaling->find("factors");
    if (!factors || !factors->is_array() || int64_t(factors->array().size()) != c.head_dim / 2)
      r.fail(codes::kInvalidConfig, "rope_scaling.factors must list head_dim / 2 = " + std::to_string(c.head_dim / 2) + " numbers");
    for (const Json& f : factors->array()) {
      if (!f.is_number() || !(f.number() > 0) || !std::isfinite(f.number()))
        r.fail(codes::kInvalidConfig, "rope_scaling.factors must be positive finite numbers");
      c.rope_freq_factors.push_back(f.number());
    }
  } else {
    r.fail(codes::kUnsupportedModel, "rope_scaling type \"" + name +
                                         "\" is not supported (supported: linear, llama3, frequency_factors)");
  }
  c.rope_factor = s.optional_number("factor", 1.0);
  if (!(c.rope_factor > 0)) r.fail(codes::kInvalidConfig, "rope_scaling.factor must be positive");
}

std::vector<int64_t> read_token_ids(const ConfigReader& r, const char* key) {
  std::vector<int64_t> ids;
  const Json* v = r.get(key);
  if (!v) return ids;
  if (v->is_array()) {
    for (const Json& e : v->array()) ids.push_back(r.checked_int(e, key, 0));
  } else {
    ids.push_back(r.checked_int(*v, key, 0));
  }
  return ids;
}

}  // namespace

ModelConfig parse_model_config(const std::string& json_text, const std::string& source) {
  Json root = Json::parse(json_text, source, codes::kInvalidConfig);
  if (!root.is_object()) throw EngineError(codes::kInvalidConfig, source + ": expected a JSON object");
  ConfigReader r(root, source);
  ModelConfig c;

  const Json* archs = r.get("architectures");
  if (archs && archs->is_array() && !archs->array().empty() && archs->array()[0].is_string())
    c.architecture = archs->array()[0].string();
  const Json* type = r.get("model_type");
  c.model_type = type && type->is_string() ? type->string() : "";
  if (c.model_type.empty()) {
    if (c.architecture == "LlamaForCausalLM") c.model_type = "llama";
    if (c.architecture == "MistralForCausalLM") c.model_type = "mistral";
    if (c.architecture == "Qwen2ForCausalLM") c.model_type = "qwen2";
  }
  if (c.model_type != "llama" && c.model_type != "mistral" && c.model_type != "qwen2")
    r.fail(codes::kUnsupportedModel, "model_type \"" + c.model_type + "\" (architecture \"" + c.architecture +
                                         "\") is not supported; supported: llama, mistral, qwen2");

  c.hidden_size = r.positive_int("hidden_size");
  c.num_layers = r.positive_int("num_hidden_layers");
  c.num_heads = r.positive_int("num_attention_heads");
  c.num_kv_heads = r.optional_int("num_key_value_heads", c.num_heads, 1);
  c.intermediate_size = r.positive_int("intermediate_size");
  c.vocab_size = r.positive_int("vocab_size");
  c.max_position_embeddings = r.optional_int("max_position_embeddings", 4096, 1);
  if (c.hidden_size % c.num_heads != 0 && !r.get("head_dim"))
    r.fail(codes::kInvalidConfig, "hidden_size is not a multiple of num_attention_heads and no head_dim is given");
  c.head_dim = r.optional_int("head_dim", c.hidden_size / c.num_heads, 1);
  if (c.head_dim % 2 != 0) r.fail(codes::kInvalidConfig, "head_dim must be even for rotary embeddings");
  if (c.num_heads % c.num_kv_heads != 0)
    r.fail(codes::kInvalidConfig, "num_attention_heads must be a multiple of num_key_value_heads");
  c.rms_norm_eps = r.optional_number("rms_norm_eps", 1e-6);
  // transformers 5 writes "rope_parameters" (rope_theta inside it); older configs have
  // "rope_scaling" and a top-level "rope_theta".
  const Json* rope_parameters = r.get("rope_parameters");
  const bool v5_rope = rope_parameters && rope_parameters->is_object();
  c.rope_theta = r.optional_number("rope_theta", 10000.0);
  if (v5_rope) c.rope_theta = ConfigReader(*rope_parameters, "rope_parameters").optional_number("rope_theta", c.rope_theta);
  if (!(c.rope_theta > 1.0)) r.fail(codes::kInvalidConfig, "rope_theta must be greater than 1");
  c.tie_word_embeddings = r.optional_bool("tie_word_embeddings", false);
  if (!v5_rope) read_rope_scaling(r, r.get("rope_scaling"), c);
  else if (rope_parameters->find("rope_type")) read_rope_scaling(r, rope_parameters, c);  // none: plain RoPE

  const Json* act = r.get("hidden_act");
  if (act && (!act->is_string() || act->string() != "silu"))
    r.fail(codes::kUnsupportedModel, "hidden_act must be \"silu\"");
  if (r.optional_bool("mlp_bias", false)) r.fail(codes::kUnsupportedModel, "mlp_bias is not supported");

  if (c.model_type == "qwen2") {
    c.qkv_bias = true;
    if (r.optional_bool("use_sliding_window", false))
      r.fail(codes::kUnsupportedModel, "Qwen2 use_sliding_window is not supported");
  } else if (r.optional_bool("attention_bias", false)) {
    c.qkv_bias = true;
    c.o_bias = true;
  }
  if (c.model_type == "mistral") c.sliding_window = r.optional_int("sliding_window", 0, 1);

  c.eos_token_ids = read_token_ids(r, "eos_token_id");
  std::vector<int64_t> bos = read_token_ids(r, "bos_token_id");
  c.bos_token_id = bos.empty() ? -1 : bos[0];
  return c;
}

std::vector<double> rope_inverse_frequencies(const ModelConfig& c) {
  const int64_t half = c.head_dim / 2;
  std::vector<double> inv(size_t(half), 0.0);
  for (int64_t j = 0; j < half; ++j) {
    double f = std::pow(c.rope_theta, -2.0 * double(j) / double(c.head_dim));
    if (c.rope_scaling == RopeScaling::Linear) {
      f /= c.rope_factor;
    } else if (c.rope_scaling == RopeScaling::Llama3) {
      // Llama 3.1: keep high frequencies, slow the low ones by `factor`, blend in between.
      const double orig = double(c.rope_original_max_positions);
      const double low_wavelen = orig / c.rope_low_freq_factor;
      const double high_wavelen = orig / c.rope_high_freq_factor;
      const double wavelen = 2.0 * M_PI / f;
      if (wavelen > low_wavelen) {
        f /= c.rope_factor;
      } else if (wavelen >= high_wavelen) {
        double smooth = (orig / wavelen - c.rope_low_freq_factor) /
                        (c.rope_high_freq_factor - c.rope_low_freq_factor);
        f = (1.0 - smooth) * f / c.rope_factor + smooth * f;
      }
    } else if (c.rope_scaling == RopeScaling::Factors) {
      f /= c.rope_freq_factors[size_t(j)];
    }
    inv[size_t(j)] = f;
  }
  return inv;
}

}  // namespace astraea
