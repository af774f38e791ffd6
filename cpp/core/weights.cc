#include "core/weights.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "core/errors.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "core/thread_pool.h"

namespace astraea {

namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}



// Random weights are written, not mapped: a config.json whose sizes ask for more than the machine
// has would fault pages in until the kernel kills the process. Refused before the first byte.
void check_dummy_fits(const ModelConfig& c, size_t element_bytes) {
  double bytes = 0;
  for (const TensorSpec& t : tensor_specs(c)) bytes += double(t.rows) * double(std::max<int64_t>(t.cols, 1)) * double(element_bytes);
  const double physical = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
  if (physical > 0 && bytes > physical)
    throw EngineError(codes::kOutOfMemory, "random weights for this config.json need " + std::to_string(int64_t(bytes / double(1 << 20))) +
                                               " MiB, more than this machine's " + std::to_string(int64_t(physical / double(1 << 20))) +
                                               " MiB of memory");
}

}  // namespace

// Resolves each expected tensor from files or from the seeded generator and records it.
class WeightBinder {
 public:
  WeightBinder(ModelWeights& w, const ModelConfig& c, const WeightSource& src, ThreadPool& pool)
      : w_(w), config_(c), source_(src), pool_(pool) {
    if (!src.dummy) files_.emplace(SafetensorsSet::open_dir(src.dir));
  }

  WeightView matrix(const TensorSpec& t) {
    const std::string& name = t.name;
    const int64_t rows = t.rows, cols = t.cols;
    const std::vector<int64_t> shape{rows, cols};
    const size_t count = size_t(rows * cols);
    WeightView view{nullptr, DType::F32, rows, cols};
    if (source_.dummy) {
      view.dtype = target_dtype(DType::F32);
      void* dst = allocate(count * dtype_size(view.dtype), name);
      fill_random(dst, view.dtype, count, dummy_draw(source_.seed, t));
      view.data = dst;
    } else {
      const TensorView& t = from_file(name, shape);
      view.dtype = target_dtype(t.dtype);
      if (view.dtype == t.dtype) {
        view.data = t.data;  // used in place from the mapping
        keep_files_ = true;
      } else {
        void* dst = allocate(count * dtype_size(view.dtype), name);
        convert(t.data, t.dtype, dst, view.dtype, count);
        view.data = dst;
      }
    }
    w_.tensors.push_back({name, view.dtype, shape, view.data, count * dtype_size(view.dtype)});
    return view;
  }

  // Norm gains and biases are read into `out` (F32). The export entry is added by `record_small`
  // once `out` has reached its final address.
  void small(const TensorSpec& spec, std::vector<float>& out) {
    out.assign(size_t(spec.rows), 0.0f);
    if (source_.dummy) {
      fill_random(out.data(), DType::F32, out.size(), dummy_draw(source_.seed, spec));
    } else {
      const TensorView& t = from_file(spec.name, {spec.rows});
      for (size_t i = 0; i < out.size(); ++i) out[i] = load_element(t.data, t.dtype, i);
      // These are read whole anyway, so a NaN or an infinity costs nothing to find here; one would
      // make every output of the model NaN. (The matrices are not scanned: a non-finite value
      // there shows up as a sequence's non-finite logits, which the sampler reports.)
      for (size_t i = 0; i < out.size(); ++i)
        if (!std::isfinite(out[i]))
          throw EngineError(codes::kInvalidWeights, t.file + ": tensor \"" + spec.name + "\" holds " + std::to_string(out[i]) +
                                                        " at element " + std::to_string(i) + " (weights must be finite)");
    }
  }

  bool has_file_tensor(const std::string& name) const { return files_ && files_->find(name); }

  // Bytes per element of a matrix the dummy generator writes.
  size_t dummy_element_bytes() const { return dtype_size(target_dtype(DType::F32)); }

  void finish() {
    if (files_ && keep_files_) w_.files_ = files_->take_files();
  }

 private:
  DType target_dtype(DType stored) const {
    switch (source_.dtype) {
      case WeightDType::Auto: return stored;
      case WeightDType::F32: return DType::F32;
      case WeightDType::F16: return DType::F16;
      case WeightDType::BF16: return DType::BF16;
    }
    return stored;
  }

  const TensorView& from_file(const std::string& name, const std::vector<int64_t>& shape) {
    const TensorView* t = files_->find(name);
    if (!t) throw EngineError(codes::kInvalidWeights, "missing tensor \"" + name + "\" in " + source_.dir);
    if (!t->dtype_supported)
      throw EngineError(codes::kInvalidWeights, t->file + ": tensor \"" + name + "\" has dtype " + t->dtype_name +
                                                    "; supported: F32, F16, BF16");
    if (t->shape != shape)
      throw EngineError(codes::kInvalidWeights, t->file + ": tensor \"" + name + "\" has shape " +
                                                    shape_string(t->shape) + " but config.json implies " +
                                                    shape_string(shape));
    return *t;
  }

  void* allocate(size_t bytes, const std::string& name) {
    w_.buffers_.push_back(std::make_unique<AnonymousMemory>(bytes, name.c_str()));
    return w_.buffers_.back()->data();
  }

  void convert(const void* src, DType from, void* dst, DType to, size_t count) {
    pool_.parallel_for(int64_t(count), 1 << 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) store_element(dst, to, size_t(i), load_element(src, from, size_t(i)));
    });
  }

  void fill_random(void* dst, DType dtype, size_t count, const DummyDraw& draw) {
    auto value = [=](int64_t i) {
      const uint64_t r = mix64(draw.tensor_seed + uint64_t(i) * 0xD1B54A32D192ED03ull);
      const float unit = float(r >> 40) * (1.0f / 16777216.0f);  // [0, 1) from 24 bits
      return draw.center + draw.amplitude * (2.0f * unit - 1.0f);
    };
    pool_.parallel_for(int64_t(count), 1 << 16, [&](int64_t b, int64_t e) {
      // One loop per dtype so the conversion is inlined rather than switched per element.
      switch (dtype) {
        case DType::F32:
          for (int64_t i = b; i < e; ++i) static_cast<float*>(dst)[i] = value(i);
          break;
        case DType::F16:
          for (int64_t i = b; i < e; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_f16(value(i));
          break;
        case DType::BF16:
          for (int64_t i = b; i < e; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_bf16(value(i));
          break;
      }
    });
  }

  ModelWeights& w_;
  const ModelConfig& config_;
  const WeightSource& source_;
  ThreadPool& pool_;
  std::optional<SafetensorsSet> files_;
  bool keep_files_ = false;
};

std::vector<TensorSpec> tensor_specs(const ModelConfig& c) {
  const int64_t h = c.hidden_size;
  std::vector<TensorSpec> out;
  auto add = [&](std::string name, int64_t rows, int64_t cols, WeightInit init, WeightSlot slot, int64_t layer) {
    out.push_back({std::move(name), rows, cols, init, slot, layer});
  };
  using I = WeightInit;
  using S = WeightSlot;
  add("model.embed_tokens.weight", c.vocab_size, h, I::Matrix, S::Embed, -1);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", h, 0, I::NormGain, S::AttnNorm, i);
    add(p + "self_attn.q_proj.weight", c.q_dim(), h, I::Matrix, S::Q, i);
    add(p + "self_attn.k_proj.weight", c.kv_dim(), h, I::Matrix, S::K, i);
    add(p + "self_attn.v_proj.weight", c.kv_dim(), h, I::Matrix, S::V, i);
    if (c.qkv_bias) {
      add(p + "self_attn.q_proj.bias", c.q_dim(), 0, I::Bias, S::QBias, i);
      add(p + "self_attn.k_proj.bias", c.kv_dim(), 0, I::Bias, S::KBias, i);
      add(p + "self_attn.v_proj.bias", c.kv_dim(), 0, I::Bias, S::VBias, i);
    }
    add(p + "self_attn.o_proj.weight", h, c.q_dim(), I::Matrix, S::O, i);
    if (c.o_bias) add(p + "self_attn.o_proj.bias", h, 0, I::Bias, S::OBias, i);
    add(p + "post_attention_layernorm.weight", h, 0, I::NormGain, S::FfnNorm, i);
    add(p + "mlp.gate_proj.weight", c.intermediate_size, h, I::Matrix, S::Gate, i);
    add(p + "mlp.up_proj.weight", c.intermediate_size, h, I::Matrix, S::Up, i);
    add(p + "mlp.down_proj.weight", h, c.intermediate_size, I::Matrix, S::Down, i);
  }
  add("model.norm.weight", h, 0, I::NormGain, S::FinalNorm, -1);
  if (!c.tie_word_embeddings) add("lm_head.weight", c.vocab_size, h, I::Matrix, S::LmHead, -1);
  return out;
}

DummyDraw dummy_draw(uint64_t seed, const TensorSpec& t) {
  const float amplitude = t.init == WeightInit::Matrix ? float(std::sqrt(3.0 / double(t.cols))) : 0.1f;
  return {mix64(seed ^ hash_string(t.name)), amplitude, t.init == WeightInit::NormGain ? 1.0f : 0.0f};
}

ModelWeights::Slot ModelWeights::slot(const TensorSpec& t) {
  LayerWeights* L = t.layer >= 0 ? &layers.at(size_t(t.layer)) : nullptr;
  switch (t.slot) {
    case WeightSlot::Embed: return {&embed, nullptr};
    case WeightSlot::LmHead: return {&lm_head, nullptr};
    case WeightSlot::FinalNorm: return {nullptr, &final_norm};
    case WeightSlot::AttnNorm: return {nullptr, &L->attn_norm};
    case WeightSlot::Q: return {&L->q, nullptr};
    case WeightSlot::K: return {&L->k, nullptr};
    case WeightSlot::V: return {&L->v, nullptr};
    case WeightSlot::QBias: return {nullptr, &L->q_bias};
    case WeightSlot::KBias: return {nullptr, &L->k_bias};
    case WeightSlot::VBias: return {nullptr, &L->v_bias};
    case WeightSlot::O: return {&L->o, nullptr};
    case WeightSlot::OBias: return {nullptr, &L->o_bias};
    case WeightSlot::FfnNorm: return {nullptr, &L->ffn_norm};
    case WeightSlot::Gate: return {&L->gate, nullptr};
    case WeightSlot::Up: return {&L->up, nullptr};
    case WeightSlot::Down: return {&L->down, nullptr};
  }
  throw EngineError(codes::kInternal, "unknown weight slot for " + t.name);
}

std::unique_ptr<ModelWeights> ModelWeights::load(const ModelConfig& c, const WeightSource& source, ThreadPool& pool) {
  auto w = std::make_unique<ModelWeights>();
  WeightBinder bind(*w, c, source, pool);
  if (source.dummy) check_dummy_fits(c, bind.dummy_element_bytes());

  w->layers.resize(size_t(c.num_layers));
  for (const TensorSpec& t : tensor_specs(c)) {
    const ModelWeights::Slot slot = w->slot(t);
    if (slot.matrix) *slot.matrix = bind.matrix(t);
    else bind.small(t, *slot.vector);
  }
  if (c.tie_word_embeddings) w->lm_head = w->embed;

  // The small tensors live in vectors that no longer move: export them now.
  auto export_small = [&](const std::string& name, const std::vector<float>& v) {
    if (!v.empty()) w->tensors.push_back({name, DType::F32, {int64_t(v.size())}, v.data(), v.size() * 4});
  };
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const LayerWeights& L = w->layers[size_t(i)];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    export_small(p + "input_layernorm.weight", L.attn_norm);
    export_small(p + "post_attention_layernorm.weight", L.ffn_norm);
    export_small(p + "self_attn.q_proj.bias", L.q_bias);
    export_small(p + "self_attn.k_proj.bias", L.k_bias);
    export_small(p + "self_attn.v_proj.bias", L.v_bias);
    export_small(p + "self_attn.o_proj.bias", L.o_bias);
  }
  export_small("model.norm.weight", w->final_norm);
  auto bytes = [](const WeightView& m) { return size_t(m.rows * m.cols) * dtype_size(m.dtype); };
  for (const LayerWeights& L : w->layers)
    w->decode_stream_bytes += bytes(L.q) + bytes(L.k) + bytes(L.v) + bytes(L.o) + bytes(L.gate) + bytes(L.up) + bytes(L.down);
  w->decode_stream_bytes += bytes(w->lm_head);
  bind.finish();
  return w;
}

}  // namespace astraea
