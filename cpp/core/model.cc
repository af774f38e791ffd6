#include "core/model.h"

#include <chrono>
#include <cmath>
#include <new>

#include "core/attention.h"
#include "core/errors.h"
#include "core/kernels/cpu_features.h"
#include "core/kernels/vec.h"
#include "core/mapped_file.h"
#include "core/plan_sampling.h"
#include "core/swap_schedule.h"

namespace astraea {

namespace {

void grow(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// out = x / rms(x) * gain, row by row.
void rms_norm(const float* x, int64_t rows, int64_t dim, const float* gain, double eps, float* out, ThreadPool& pool) {
  pool.parallel_for(rows, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* row = x + r * dim;
      const float mean_square = dot_f32(row, row, dim) / float(dim);
      const float inv = float(1.0 / std::sqrt(double(mean_square) + eps));
      float* o = out + r * dim;
      for (int64_t i = 0; i < dim; ++i) o[i] = row[i] * inv * gain[i];
    }
  });
}

// The residual connection: x += delta, row by row.
void add_rows(const float* delta, int64_t rows, int64_t dim, float* x, ThreadPool& pool) {
  pool.parallel_for(rows, 16, [&](int64_t b, int64_t e) { axpy_f32(1.0f, delta + b * dim, x + b * dim, (e - b) * dim); });
}

// Rotate-half RoPE (the Hugging Face form): pairs (j, j + head_dim/2) turn by position * inv_freq[j].
void apply_rope(float* x, int64_t tokens, int64_t heads, int64_t hd, const float* cos, const float* sin) {
  const int64_t half = hd / 2;
  for (int64_t t = 0; t < tokens; ++t) {
    const float* c = cos + t * half;
    const float* s = sin + t * half;
    for (int64_t h = 0; h < heads; ++h) {
      float* v = x + (t * heads + h) * hd;
      for (int64_t j = 0; j < half; ++j) {
        const float a = v[j], b = v[j + half];
        v[j] = a * c[j] - b * s[j];
        v[j + half] = b * c[j] + a * s[j];
      }
    }
  }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// An exception of the copy thread, as the EngineError the step throws.
[[noreturn]] void rethrow_copy_error(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const EngineError&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw EngineError(codes::kOutOfMemory, "out of memory in the swap copy thread");
  } catch (const std::exception& e) {
    throw EngineError(codes::kInternal, std::string("the swap copy thread failed: ") + e.what());
  } catch (...) {
    throw EngineError(codes::kInternal, "the swap copy thread failed");
  }
}

void embed_rows(const WeightView& table, const int32_t* ids, int64_t n, float* out) {
  const int64_t dim = table.cols;
  // The embedding is gathered, not streamed: it keeps its 16- or 32-bit dtype under 8-bit weights.
  if (table.dtype == DType::Q8_0) throw EngineError(codes::kInternal, "the token embedding is not expected in Q8_0");
  for (int64_t t = 0; t < n; ++t) {
    const uint8_t* row = static_cast<const uint8_t*>(table.data) + size_t(ids[t]) * size_t(dim) * dtype_size(table.dtype);
    float* o = out + t * dim;
    for (int64_t i = 0; i < dim; ++i) {
      uint16_t h;
      switch (table.dtype) {
        case DType::F32: std::memcpy(&o[i], row + 4 * i, 4); break;
        case DType::F16: std::memcpy(&h, row + 2 * i, 2); o[i] = f16_to_f32(h); break;
        case DType::BF16: std::memcpy(&h, row + 2 * i, 2); o[i] = bf16_to_f32(h); break;
        case DType::Q8_0: break;  // refused above
      }
    }
  }
}

// Every layer matrix and the LM head: what the activations choice applies to.
std::vector<WeightView*> product_matrices(ModelWeights& w) {
  std::vector<WeightView*> matrices{&w.lm_head};
  for (LayerWeights& L : w.layers)
    for (WeightView* m : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) matrices.push_back(m);
  return matrices;
}

// ModelOptions::activations Auto, decided: BF16 where every matrix is BF16 and the CPU has the
// BF16 dot product in effect (cpu_has_avx512_bf16 honours ASTRAEA_SIMD), F32 elsewhere.
Activations resolve_activations(Activations asked, ModelWeights& w) {
  if (asked != Activations::Auto) return asked;
  if (!cpu_has_avx512_bf16()) return Activations::F32;
  for (const WeightView* m : product_matrices(w))
    if (m->dtype != DType::BF16) return Activations::F32;
  return Activations::BF16;
}

// BF16 activations: every layer matrix and the LM head multiply x rounded to BF16. Only BF16
// weights have a BF16 product (F32 weights ask for full precision; Q8_0 quantizes x to 8 bits
// itself).
void multiply_bf16_activations(ModelWeights& w) {
  const std::vector<WeightView*> matrices = product_matrices(w);
  for (WeightView* m : matrices)
    if (m->dtype != DType::BF16)
      throw EngineError(codes::kInvalidArgument, "BF16 activations need BF16 weights (load with dtype bf16); these are " +
                                                    std::string(dtype_name(m->dtype)));
  for (WeightView* m : matrices) m->x_dtype = DType::BF16;
}

}  // namespace

std::shared_ptr<Model> Model::load(const ModelOptions& options) {
  std::string config_text = options.config_json;
  std::string source = "config";
  if (config_text.empty()) {
    if (options.dir.empty()) throw EngineError(codes::kInvalidArgument, "a model directory or a config is required");
    source = options.dir + "/config.json";
    if (!file_exists(source)) throw EngineError(codes::kModelNotFound, "no config.json in " + options.dir);
    config_text = read_text_file(source, codes::kModelNotFound);
  }
  std::shared_ptr<Model> model(new Model(parse_model_config(config_text, source), options.threads));
  WeightSource weights = options.weights;
  weights.dir = options.dir;
  if (!weights.dummy && weights.dir.empty())
    throw EngineError(codes::kInvalidArgument, "a model directory is required unless the load is a dummy load");
  try {
    model->weights_ = ModelWeights::load(model->config_, weights, model->pool_);
  } catch (const std::bad_alloc&) {
    throw EngineError(codes::kOutOfMemory, "out of memory while loading the weights");
  }
  if (resolve_activations(options.activations, *model->weights_) == Activations::BF16) multiply_bf16_activations(*model->weights_);
  model->rope_inv_freq_.clear();
  for (double f : rope_inverse_frequencies(model->config_)) model->rope_inv_freq_.push_back(float(f));
  return model;
}

std::unique_ptr<KvCache> Model::create_kv_cache(const KvCacheOptions& options) const {
  return std::make_unique<KvCache>(config_, options);
}

DType Model::default_kv_dtype() const {
  const bool f32_weights = weights_->layers.empty() || weights_->layers[0].q.dtype == DType::F32;
  return f32_weights ? DType::F32 : DType::BF16;
}

StepResult Model::step(KvCache& cache, const StepPlan& plan) {
  std::lock_guard<std::mutex> lock(step_mutex_);
  validate_plan(plan, config_, cache);
  StepResult result;
  try {
    const SwapSchedule swaps = schedule_swaps(plan, cache.device_blocks(), cache.host_blocks());
    const auto blocking_start = std::chrono::steady_clock::now();
    std::vector<uint8_t> exchanged;
    if (plan.swap_out_to_vacated.count > 0) cache.stage_device_blocks(plan.swap_out_to_vacated, exchanged);
    cache.swap_out(swaps.blocking_out.view());
    cache.swap_in(swaps.blocking_in.view());
    if (plan.swap_out_to_vacated.count > 0) cache.write_staged_to_host(plan.swap_out_to_vacated, exchanged);
    result.blocking_swap_s = seconds_since(blocking_start);
    cache.copy(plan.copy);

    double overlapped_s = 0;
    const bool background = swaps.background_pairs() > 0;
    if (background) {
      copier_.start([&cache, &swaps, &overlapped_s] {
        const auto start = std::chrono::steady_clock::now();
        cache.swap_out(swaps.background_out.view());
        cache.swap_in(swaps.background_in.view());
        overlapped_s = seconds_since(start);
      });
    }
    // From here on the copy job may be running: it must be joined before anything leaves.
    std::exception_ptr forward_error;
    try {
      if (plan.num_seqs > 0) forward(cache, plan, result);
    } catch (...) {
      forward_error = std::current_exception();
    }
    const std::exception_ptr copy_error = background ? copier_.wait() : nullptr;
    if (forward_error) std::rethrow_exception(forward_error);
    if (copy_error) rethrow_copy_error(copy_error);
    result.overlapped_swap_s = overlapped_s;
    result.overlapped_swap_blocks = swaps.background_pairs();
  } catch (const std::bad_alloc&) {
    throw EngineError(codes::kOutOfMemory, "out of memory during a step");
  }
  return result;
}

void Model::forward(KvCache& cache, const StepPlan& plan, StepResult& result) {
  const ModelConfig& c = config_;
  const int64_t T = plan.num_tokens, H = c.hidden_size, hd = c.head_dim, half = hd / 2;
  grow(x_, size_t(T * H));
  grow(xn_, size_t(T * H));
  grow(q_, size_t(T * c.q_dim()));
  grow(k_, size_t(T * c.kv_dim()));
  grow(v_, size_t(T * c.kv_dim()));
  grow(attn_, size_t(T * c.q_dim()));
  grow(gate_, size_t(T * c.intermediate_size));
  grow(up_, size_t(T * c.intermediate_size));
  grow(rope_cos_, size_t(T * half));
  grow(rope_sin_, size_t(T * half));

  std::vector<AttentionSequence> seqs(size_t(plan.num_seqs));
  for (int64_t s = 0, first = 0; s < plan.num_seqs; ++s) {
    seqs[size_t(s)] = {first, plan.query_lens[s], plan.start_positions[s], plan.block_ids + plan.block_table_offsets[s]};
    for (int64_t i = 0; i < plan.query_lens[s]; ++i) {
      const double pos = double(plan.start_positions[s] + i);
      for (int64_t j = 0; j < half; ++j) {
        const double angle = pos * double(rope_inv_freq_[size_t(j)]);
        rope_cos_[size_t((first + i) * half + j)] = float(std::cos(angle));
        rope_sin_[size_t((first + i) * half + j)] = float(std::sin(angle));
      }
    }
    first += plan.query_lens[s];
  }

  const std::vector<int64_t> slots = slot_mapping(seqs.data(), plan.num_seqs, T, cache.block_size());
  const auto bias = [](const std::vector<float>& b) { return b.empty() ? nullptr : b.data(); };
  embed_rows(weights_->embed, plan.tokens, T, x_.data());
  for (int64_t layer = 0; layer < c.num_layers; ++layer) {
    const LayerWeights& L = weights_->layers[size_t(layer)];
    rms_norm(x_.data(), T, H, L.attn_norm.data(), c.rms_norm_eps, xn_.data(), pool_);
    const MatmulOutput qkv[3] = {{&L.q, bias(L.q_bias), q_.data()}, {&L.k, bias(L.k_bias), k_.data()}, {&L.v, bias(L.v_bias), v_.data()}};
    matmul_fused(xn_.data(), T, qkv, 3, pool_);
    apply_rope(q_.data(), T, c.num_heads, hd, rope_cos_.data(), rope_sin_.data());
    apply_rope(k_.data(), T, c.num_kv_heads, hd, rope_cos_.data(), rope_sin_.data());
    write_kv(k_.data(), v_.data(), slots.data(), T, cache, layer);
    paged_attention(q_.data(), seqs.data(), plan.num_seqs, cache, layer, c, attn_.data(), pool_);
    matmul(attn_.data(), T, L.o, bias(L.o_bias), xn_.data(), pool_);
    add_rows(xn_.data(), T, H, x_.data(), pool_);

    rms_norm(x_.data(), T, H, L.ffn_norm.data(), c.rms_norm_eps, xn_.data(), pool_);
    const MatmulOutput gate_up[2] = {{&L.gate, nullptr, gate_.data()}, {&L.up, nullptr, up_.data()}};
    matmul_fused(xn_.data(), T, gate_up, 2, pool_);
    const int64_t inter = c.intermediate_size;
    pool_.parallel_for(T, 4, [&](int64_t b, int64_t e) {
      silu_mul_f32(gate_.data() + b * inter, up_.data() + b * inter, (e - b) * inter);
    });
    matmul(gate_.data(), T, L.down, nullptr, xn_.data(), pool_);
    add_rows(xn_.data(), T, H, x_.data(), pool_);
  }

  // The LM head runs only on the rows someone needs: every token, or each sequence's last.
  const bool all_rows = plan.logits == LogitsMode::All;
  const int64_t rows = all_rows ? T : plan.num_seqs;
  std::vector<int64_t> last_row(size_t(plan.num_seqs));
  grow(head_in_, size_t(rows * H));
  for (int64_t s = 0; s < plan.num_seqs; ++s) {
    const int64_t last_token = seqs[size_t(s)].first_token + seqs[size_t(s)].num_tokens - 1;
    last_row[size_t(s)] = all_rows ? last_token : s;
    if (!all_rows) std::memcpy(&head_in_[size_t(s * H)], &x_[size_t(last_token * H)], size_t(H) * 4);
  }
  rms_norm(all_rows ? x_.data() : head_in_.data(), rows, H, weights_->final_norm.data(), c.rms_norm_eps,
           head_in_.data(), pool_);
  grow(logits_, size_t(rows * c.vocab_size));
  matmul(head_in_.data(), rows, weights_->lm_head, nullptr, logits_.data(), pool_);

  sample_step(plan, logits_.data(), last_row.data(), c.vocab_size, result);
  if (plan.logits != LogitsMode::None) {
    result.logits.assign(logits_.begin(), logits_.begin() + rows * c.vocab_size);
    result.logits_rows = rows;
  }
}

}  // namespace astraea
