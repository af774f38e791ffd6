#include "core/weights.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "core/errors.h"
#include "core/kernels/bf16_panels.h"
#include "core/kernels/cpu_features.h"
#include "core/kernels/matmul_q8.h"
#include "core/quantize.h"
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



// Bytes the loaded matrices take when `dtype` is applied to weights stored as `stored`.
size_t loaded_matrix_bytes(const TensorSpec& t, WeightDType dtype, DType stored) {
  if (dtype == WeightDType::Q8_0 && t.slot != WeightSlot::Embed) return matrix_bytes(DType::Q8_0, t.rows, t.cols);
  switch (dtype) {
    case WeightDType::Auto: case WeightDType::Q8_0: return matrix_bytes(stored, t.rows, t.cols);
    case WeightDType::F32: return matrix_bytes(DType::F32, t.rows, t.cols);
    case WeightDType::F16: return matrix_bytes(DType::F16, t.rows, t.cols);
    case WeightDType::BF16: return matrix_bytes(DType::BF16, t.rows, t.cols);
  }
  return matrix_bytes(stored, t.rows, t.cols);
}

// Random weights are written, not mapped: a config.json whose sizes ask for more than the machine
// has would fault pages in until the kernel kills the process. Refused before the first byte.
void check_dummy_fits(const ModelConfig& c, WeightDType dtype) {
  double bytes = 0;
  for (const TensorSpec& t : tensor_specs(c)) {
    bytes += t.cols > 0 ? double(loaded_matrix_bytes(t, dtype, DType::F32)) : double(t.rows) * 4;
    // A tied head quantized to Q8_0 is a second copy of the embedding.
    if (t.slot == WeightSlot::Embed && c.tie_word_embeddings && dtype == WeightDType::Q8_0)
      bytes += double(matrix_bytes(DType::Q8_0, t.rows, t.cols));
  }
  const double physical = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
  if (physical > 0 && bytes > physical)
    throw EngineError(codes::kOutOfMemory, "random weights for this config.json need " + std::to_string(int64_t(bytes / double(1 << 20))) +
                                               " MiB, more than this machine's " + std::to_string(int64_t(physical / double(1 << 20))) +
                                               " MiB of memory");
}

// Element i of a dummy tensor (see DummyDraw).
inline float dummy_value(const DummyDraw& draw, int64_t i) {
  const uint64_t r = mix64(draw.tensor_seed + uint64_t(i) * 0xD1B54A32D192ED03ull);
  const float unit = float(r >> 40) * (1.0f / 16777216.0f);  // [0, 1) from 24 bits
  return draw.center + draw.amplitude * (2.0f * unit - 1.0f);
}

}  // namespace

// Resolves each expected tensor from files or from the seeded generator and records it.
class WeightBinder {
 public:
  WeightBinder(ModelWeights& w, const ModelConfig& c, const WeightSource& src, ThreadPool& pool)
      : w_(w), config_(c), source_(src), pool_(pool) {
    if (src.dummy) return;
    if (!src.gguf_path.empty()) gguf_ = GgufFile::open(src.gguf_path, src.gguf_tensors);
    else files_.emplace(SafetensorsSet::open_dir(src.dir));
  }

  WeightView matrix(const TensorSpec& t) {
    if (gguf_) return gguf_matrix(t);
    if (source_.dtype == WeightDType::Q8_0 && t.slot != WeightSlot::Embed) return quantized(t);
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
      std::string file;
      if (gguf_) {
        const GgufTensor& g = from_gguf(spec.name, {spec.rows});  // 1-D, so never a block type (GgufFile::open)
        gguf_read_float(g, DType::F32, out.data(), pool_);
        file = gguf_->path();
      } else {
        const TensorView& t = from_file(spec.name, {spec.rows});
        for (size_t i = 0; i < out.size(); ++i) out[i] = load_element(t.data, t.dtype, i);
        file = t.file;
      }
      // These are read whole anyway, so a NaN or an infinity costs nothing to find here; one would
      // make every output of the model NaN. (The matrices are not scanned: a non-finite value
      // there shows up as a sequence's non-finite logits, which the sampler reports.)
      for (size_t i = 0; i < out.size(); ++i)
        if (!std::isfinite(out[i]))
          throw EngineError(codes::kInvalidWeights, file + ": tensor \"" + spec.name + "\" holds " + std::to_string(out[i]) +
                                                        " at element " + std::to_string(i) + " (weights must be finite)");
    }
  }

  bool has_file_tensor(const std::string& name) const { return files_ && files_->find(name); }

  // A Q8_0 copy of a matrix already loaded (the tied LM head from the embedding). Not exported:
  // it is derived, and the checkpoint does not list it.
  WeightView quantized_copy(const WeightView& src, const std::string& name) {
    require_q8_0_shape(src.cols, "tensor \"" + name + "\"");
    uint8_t* dst = static_cast<uint8_t*>(allocate(matrix_bytes(DType::Q8_0, src.rows, src.cols), name));
    int8_t* quants = reinterpret_cast<int8_t*>(dst);
    uint16_t* scales = reinterpret_cast<uint16_t*>(dst + src.rows * src.cols);
    quantize_matrix_q8_0(src.data, src.dtype, src.rows, src.cols, quants, scales, pool_, "tensor \"" + name + "\"");
    return WeightView{quants, DType::Q8_0, src.rows, src.cols, scales};
  }

  // Whether the tied LM head should be built from the GGUF file's quantized embedding: its Q8_0
  // blocks split rather than dequantized and quantized again, another block type's rows decoded
  // straight into Q8_0 rather than through the 16-bit embedding the gather reads.
  bool gguf_head_from_quantized_embed() const {
    if (!gguf_ || source_.dtype == WeightDType::F32 || source_.dtype == WeightDType::F16 || source_.dtype == WeightDType::BF16) return false;
    const GgufTensor* e = gguf_->find("model.embed_tokens.weight");
    return e && ggml_block_values(e->entry.type) > 1;
  }

  // The tied LM head in Q8_0 from the file's quantized embedding. Not exported (see quantized_copy).
  WeightView gguf_tied_head_q8(const TensorSpec& embed) {
    return gguf_q8(from_gguf(embed.name, {embed.rows, embed.cols}), "lm_head.weight (tied to model.embed_tokens.weight)", false);
  }

  // The BF16 matrix `m` into 64-row panels of its own (core/kernels/bf16_panels.h). What it was
  // read from is freed where it was a buffer of ours (converted or generated); a file mapping
  // stays mapped for the tensors still read in place. Its export entry then reads the panels.
  // copy_only: a tied LM head, whose rows the embedding's gather still reads, and not exported.
  void pack_panels(WeightView& m, bool copy_only) {
    const void* rows = m.data;
    auto* panels = static_cast<uint32_t*>(allocate(bf16_panel_bytes(m.rows, m.cols), "BF16 weight panels"));
    pack_bf16_panels(static_cast<const uint16_t*>(rows), m.rows, m.cols, panels, pool_);
    m.data = panels;
    m.panels = true;
    if (copy_only) return;
    for (NamedTensor& t : w_.tensors)
      if (t.data == rows) {
        t.data = panels;
        t.panels = true;
      }
    auto& buffers = w_.buffers_;
    buffers.erase(std::remove_if(buffers.begin(), buffers.end(), [&](const auto& b) { return b->data() == rows; }),
                  buffers.end());
  }

  void finish() {
    if (files_ && keep_files_) w_.files_ = files_->take_files();
    if (gguf_ && keep_files_) w_.files_.push_back(gguf_->take_file());
  }

 private:
  // A matrix from the GGUF file. Q8_0 when asked for, or under Auto when stored in a block type
  // (Q8_0 kept, the others quantized to it: the 8-bit kernels are the engine's fastest, and Q8_0
  // holds a 2–6-bit type's values more finely than the type itself does). The embedding is
  // excepted: it is gathered, and the gather reads 16- or 32-bit rows. Otherwise a float dtype,
  // used in place when nothing about it changes.
  WeightView gguf_matrix(const TensorSpec& t) {
    const GgufTensor& g = from_gguf(t.name, {t.rows, t.cols});
    const GgmlType stored = g.entry.type;
    const bool embed = t.slot == WeightSlot::Embed;
    const bool blocks = ggml_block_values(stored) > 1;
    if (!embed && (source_.dtype == WeightDType::Q8_0 || (source_.dtype == WeightDType::Auto && blocks)))
      return gguf_q8(g, t.name, true);
    const DType to = gguf_float_dtype(stored);
    WeightView view{nullptr, to, t.rows, t.cols};
    if (ggml_engine_dtype(stored) == to && g.entry.rope_heads == 0 && g.entry.offset % dtype_size(to) == 0) {
      view.data = g.data;  // in place from the mapping
      keep_files_ = true;
    } else {
      void* dst = allocate(matrix_bytes(to, t.rows, t.cols), t.name);
      gguf_read_float(g, to, dst, pool_);
      view.data = dst;
    }
    w_.tensors.push_back({t.name, to, {t.rows, t.cols}, view.data, matrix_bytes(to, t.rows, t.cols)});
    return view;
  }

  // A Q8_0 matrix from the file: stored Q8_0 blocks split into the planar layout, float values
  // quantized (after their rows are put in order).
  WeightView gguf_q8(const GgufTensor& g, const std::string& name, bool record) {
    const std::string what = gguf_->path() + ": tensor \"" + name + "\"";
    require_q8_0_shape(g.cols, what);
    const size_t bytes = matrix_bytes(DType::Q8_0, g.rows, g.cols);
    uint8_t* dst = static_cast<uint8_t*>(allocate(bytes, name));
    int8_t* quants = reinterpret_cast<int8_t*>(dst);
    uint16_t* scales = reinterpret_cast<uint16_t*>(dst + g.rows * g.cols);
    if (g.entry.type == GgmlType::Q8_0) gguf_split_q8_0(g, quants, scales, pool_);
    else gguf_quantize_q8_0(g, quants, scales, pool_, what);
    if (record) w_.tensors.push_back({name, DType::Q8_0, {g.rows, g.cols}, dst, bytes});
    return WeightView{quants, DType::Q8_0, g.rows, g.cols, scales};
  }

  const GgufTensor& from_gguf(const std::string& name, const std::vector<int64_t>& shape) {
    const GgufTensor* t = gguf_->find(name);
    if (!t) throw EngineError(codes::kInvalidWeights, gguf_->path() + ": missing tensor \"" + name + "\"");
    if (t->entry.shape != shape)
      throw EngineError(codes::kInvalidWeights, gguf_->path() + ": tensor \"" + name + "\" has shape " +
                                                    shape_string(t->entry.shape) + " but the model's config implies " +
                                                    shape_string(shape));
    return *t;
  }

  // Q8_0 matrices are built by quantized(); what is left under Q8_0 (the embedding) stays as stored.
  WeightView quantized(const TensorSpec& t) {
    const std::string what = "tensor \"" + t.name + "\"";
    require_q8_0_shape(t.cols, what);  // before reading or allocating anything
    const std::vector<int64_t> shape{t.rows, t.cols};
    const size_t bytes = matrix_bytes(DType::Q8_0, t.rows, t.cols);
    uint8_t* dst = static_cast<uint8_t*>(allocate(bytes, t.name));
    int8_t* quants = reinterpret_cast<int8_t*>(dst);
    uint16_t* scales = reinterpret_cast<uint16_t*>(dst + t.rows * t.cols);
    if (source_.dummy) {
      // The same values an F32 dummy load holds, generated a row at a time.
      const DummyDraw draw = dummy_draw(source_.seed, t);
      const int64_t cols = t.cols;
      pool_.parallel_for(t.rows, std::max<int64_t>(1, (int64_t(1) << 16) / cols), [&](int64_t b, int64_t e) {
        std::vector<float> row(static_cast<size_t>(cols));
        for (int64_t r = b; r < e; ++r) {
          for (int64_t k = 0; k < cols; ++k) row[size_t(k)] = dummy_value(draw, r * cols + k);
          quantize_row_q8_0(row.data(), cols, quants + r * cols, scales + r * (cols / kQ8BlockSize));  // always finite
        }
      });
    } else {
      const TensorView& f = from_file(t.name, shape);
      quantize_matrix_q8_0(f.data, f.dtype, t.rows, t.cols, quants, scales, pool_, f.file + ": " + what);
    }
    w_.tensors.push_back({t.name, DType::Q8_0, shape, dst, bytes});
    return WeightView{quants, DType::Q8_0, t.rows, t.cols, scales};
  }

  // The float dtype a GGUF tensor stored as `stored` is read as, when it is not kept in Q8_0.
  DType gguf_float_dtype(GgmlType stored) const {
    switch (source_.dtype) {
      case WeightDType::F32: return DType::F32;
      case WeightDType::F16: return DType::F16;
      case WeightDType::BF16: return DType::BF16;
      case WeightDType::Auto: case WeightDType::Q8_0: break;
    }
    if (stored == GgmlType::Q8_0) return DType::F32;  // d·q exactly: an F16 d times an int8 fits F32's mantissa
    // The other block types' values carry 2–6 bits of their own; BF16's 8 add little and take half
    // of F32's bytes (the embedding is the largest matrix of a small model).
    if (ggml_block_values(stored) > 1) return DType::BF16;
    return *ggml_engine_dtype(stored);
  }

  DType target_dtype(DType stored) const {
    switch (source_.dtype) {
      case WeightDType::Auto: case WeightDType::Q8_0: return stored;
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
    auto value = [&draw](int64_t i) { return dummy_value(draw, i); };
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
        case DType::Q8_0:  // quantized() generates Q8_0 matrices
          break;
      }
    });
  }

  ModelWeights& w_;
  const ModelConfig& config_;
  const WeightSource& source_;
  ThreadPool& pool_;
  std::optional<SafetensorsSet> files_;
  std::unique_ptr<GgufFile> gguf_;
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
  if (source.dtype == WeightDType::Q8_0) {  // every shape checked before anything is read or allocated
    for (const TensorSpec& t : tensor_specs(c))
      if (t.cols > 0 && (t.slot != WeightSlot::Embed || c.tie_word_embeddings))
        require_q8_0_shape(t.cols, "tensor \"" + t.name + "\"" + (t.slot == WeightSlot::Embed ? " (the tied LM head)" : ""));
  }
  if (source.dummy) check_dummy_fits(c, source.dtype);

  w->layers.resize(size_t(c.num_layers));
  for (const TensorSpec& t : tensor_specs(c)) {
    const ModelWeights::Slot slot = w->slot(t);
    if (slot.matrix) *slot.matrix = bind.matrix(t);
    else bind.small(t, *slot.vector);
  }
  if (c.tie_word_embeddings) {
    if (bind.gguf_head_from_quantized_embed()) w->lm_head = bind.gguf_tied_head_q8(tensor_specs(c).front());
    else if (source.dtype == WeightDType::Q8_0) w->lm_head = bind.quantized_copy(w->embed, "lm_head.weight (tied to model.embed_tokens.weight)");
    else w->lm_head = w->embed;
  }

  // A GGUF file may mix types between tensors; the fused q/k/v and gate/up products need one per
  // group. Refused here, where it can be named, rather than at the first step.
  if (!source.gguf_path.empty() && source.dtype == WeightDType::Auto) {
    for (size_t i = 0; i < w->layers.size(); ++i) {
      const LayerWeights& L = w->layers[i];
      const bool qkv = L.q.dtype == L.k.dtype && L.q.dtype == L.v.dtype, gate_up = L.gate.dtype == L.up.dtype;
      if (!qkv || !gate_up)
        throw EngineError(codes::kUnsupportedModel, source.gguf_path + ": layer " + std::to_string(i) + " stores " +
                                                        (qkv ? "gate and up" : "q, k and v") +
                                                        " in different types; load it with a dtype (f32, f16, bf16 or q8) to give them one");
    }
  }

  // The Q8_0 kernels read packed quants (core/kernels/matmul_q8.h); the loaders above write
  // planar ones, which is also what export shows (ModelWrap::tensor_data unpacks). Every Q8_0
  // matrix is a buffer of our own here (split or quantized at load, never a file mapping), the
  // tied LM head's copy included, so it is packed in place, once: a buffer two views shared would
  // be scrambled by a second pass.
  std::vector<const void*> packed;
  auto pack = [&](const WeightView& m) {
    if (m.dtype != DType::Q8_0 || std::find(packed.begin(), packed.end(), m.data) != packed.end()) return;
    packed.push_back(m.data);
    pack_q8_quants(static_cast<int8_t*>(const_cast<void*>(m.data)), m.rows, m.cols, pool);
  };
  for (const LayerWeights& L : w->layers)
    for (const WeightView* m : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) pack(*m);
  pack(w->lm_head);

  // Where the CPU has AVX-512 BF16, its BF16 kernels read 64-row panels (core/kernels/bf16_panels.h;
  // batched decode steps 1.16-1.39x faster than on rows, docs/performance.md "BF16 weights in
  // panels"). The embedding, gathered by rows, stays as it is.
  if (cpu_has_avx512_bf16()) {
    for (LayerWeights& L : w->layers)
      for (WeightView* m : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down})
        if (m->dtype == DType::BF16) bind.pack_panels(*m, false);
    if (w->lm_head.dtype == DType::BF16) bind.pack_panels(w->lm_head, w->lm_head.data == w->embed.data);
  }

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
  auto bytes = [](const WeightView& m) { return m.panels ? bf16_panel_bytes(m.rows, m.cols) : matrix_bytes(m.dtype, m.rows, m.cols); };
  for (const LayerWeights& L : w->layers)
    w->decode_stream_bytes += bytes(L.q) + bytes(L.k) + bytes(L.v) + bytes(L.o) + bytes(L.gate) + bytes(L.up) + bytes(L.down);
  w->decode_stream_bytes += bytes(w->lm_head);
  bind.finish();
  return w;
}

}  // namespace astraea
