// DeviceModel: the CPU backend's forward pass (core/model.cc) with the CUDA kernels. Per layer:
// residual + RMSNorm → q/k/v products → RoPE written into the paged cache → paged attention →
// o product → residual + RMSNorm → gate/up products → SiLU·mul → down product; the last layer's
// residual is added in the final norm, and the LM head runs only on the rows asked for. (Just over
// 500 lines: the upload, the pools and the step share the device buffers this one class owns.)
#include "cuda/device_model.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "core/attention.h"
#include "core/errors.h"
#include "core/kernels/bf16_panels.h"
#include "core/model.h"
#include "core/plan_sampling.h"
#include "core/swap_schedule.h"
#include "cuda/gemm.h"
#include "cuda/kernels.h"

namespace astraea::cuda {
namespace {

[[noreturn]] void fail(cudaError_t e, const std::string& what) {
  throw EngineError(e == cudaErrorMemoryAllocation ? codes::kOutOfMemory : codes::kInternal,
                    what + ": " + cudaGetErrorString(e));
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(e, what);
}

// Device memory that grows on demand and is freed with its owner.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(data_); }

  void* reserve(size_t bytes, const char* what) {
    if (bytes > bytes_) {
      cudaFree(data_);
      data_ = nullptr, bytes_ = 0;
      check(cudaMalloc(&data_, bytes), what);
      bytes_ = bytes;
    }
    return data_;
  }
  template <typename T>
  T* as(size_t count, const char* what) {
    return static_cast<T*>(reserve(std::max<size_t>(count, 1) * sizeof(T), what));
  }
  void* data() const { return data_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

struct DeviceLayer {
  DeviceBuffer q, k, v, o, gate, up, down;                  // BF16 [out][in]
  DeviceBuffer attn_norm, ffn_norm, q_bias, k_bias, v_bias, o_bias;  // F32
  bool has_qkv_bias = false, has_o_bias = false;
};

}  // namespace

struct DeviceModel::Impl {
  ModelConfig config;
  KvShape kv{};
  cudaStream_t compute = nullptr, copy = nullptr;
  cudaEvent_t blocking_done = nullptr, start = nullptr, background_done = nullptr;
  std::unique_ptr<Gemm> gemm;
  int sm_count = 0;

  DeviceBuffer embed, lm_head, final_norm, inv_freq;
  bool tied = false;
  std::vector<DeviceLayer> layers;
  __nv_bfloat16* pool = nullptr;       // device KV pool
  __nv_bfloat16* host_pool = nullptr;  // pinned swap pool

  // Per-step buffers.
  DeviceBuffer tokens, positions, token_seq, table_offsets, block_ids, slots, last_rows;
  DeviceBuffer temperature, top_k, top_p, seeds, sample_positions, sampled_rows, sampled;
  DeviceBuffer min_p, presence, frequency, penalty_offsets, penalty_ids, penalty_counts, mask_offsets, masks;
  DeviceBuffer logprob_rows, logprob_top_n, token_logprob, top_ids, top_logprobs, top_count;
  DeviceBuffer x, residual, xn, q, k, v, q_rot, attn, gate, up, hidden, cos, sin, attn_scratch;
  DeviceBuffer x_rows, residual_rows, head_in, logits, sample_logits, sampling_work;
  DeviceBuffer exchange_staging;  // an exchange's device blocks, between its two halves

  ~Impl() {
    if (compute) cudaStreamSynchronize(compute);
    if (copy) cudaStreamSynchronize(copy);
    cudaFree(pool);
    cudaFreeHost(host_pool);
    for (cudaEvent_t e : {blocking_done, start, background_done})
      if (e) cudaEventDestroy(e);
    gemm.reset();  // its handle is bound to `compute`
    if (compute) cudaStreamDestroy(compute);
    if (copy) cudaStreamDestroy(copy);
  }

  PagedKv paged() const { return PagedKv{pool, kv.block_size, kv.num_layers, kv.num_kv_heads, kv.head_dim}; }

  void run_gemm(const __nv_bfloat16* in, int64_t rows, const DeviceBuffer& weight, int64_t in_features,
                int64_t out_features, float* out, bool accumulate) {
    const cudaError_t e =
        gemm->run(in, rows, in_features, static_cast<const __nv_bfloat16*>(weight.data()), out_features, out, accumulate);
    if (e != cudaSuccess) throw EngineError(codes::kInternal, gemm->last_error().empty() ? cudaGetErrorString(e) : gemm->last_error());
  }

  template <typename T>
  T* upload(DeviceBuffer& dst, const T* src, int64_t count, const char* what) {
    T* d = dst.as<T>(size_t(count), what);
    if (count > 0) check(cudaMemcpyAsync(d, src, size_t(count) * sizeof(T), cudaMemcpyHostToDevice, compute), what);
    return d;
  }

  // The plan's sampling fields as the device sampler reads them: every array present, "off"
  // values filled in for the fields the plan leaves out.
  SamplingRows upload_sampling(const StepPlan& plan, const int32_t* sample_pos) {
    const int64_t S = plan.num_seqs;
    auto per_sequence = [&](DeviceBuffer& dst, const float* values, float off, const char* what) {
      if (values) return upload(dst, values, S, what);
      const std::vector<float> filled(size_t(S), off);
      return upload(dst, filled.data(), S, what);
    };
    auto offsets = [&](DeviceBuffer& dst, const int32_t* values, const char* what) {
      if (values) return upload(dst, values, S + 1, what);
      const std::vector<int32_t> none(size_t(S + 1), 0);
      return upload(dst, none.data(), S + 1, what);
    };
    SamplingRows r{};
    r.temperature = upload(temperature, plan.temperature, S, "sampling");
    r.top_k = upload(top_k, plan.top_k, S, "sampling");
    r.top_p = upload(top_p, plan.top_p, S, "sampling");
    r.seeds = upload(seeds, plan.seeds, S, "sampling");
    r.positions = upload(sample_positions, sample_pos, S, "sampling");
    r.min_p = per_sequence(min_p, plan.min_p, 0.f, "min_p");
    r.presence_penalty = per_sequence(presence, plan.presence_penalty, 0.f, "penalties");
    r.frequency_penalty = per_sequence(frequency, plan.frequency_penalty, 0.f, "penalties");
    r.penalty_offsets = offsets(penalty_offsets, plan.penalty_offsets, "penalties");
    r.penalty_ids = upload(penalty_ids, plan.penalty_ids, plan.num_penalty_pairs, "penalties");
    r.penalty_counts = upload(penalty_counts, plan.penalty_counts, plan.num_penalty_pairs, "penalties");
    r.mask_offsets = offsets(mask_offsets, plan.allowed_mask_offsets, "allowed-token masks");
    r.masks = upload(masks, plan.allowed_masks, plan.num_allowed_mask_words, "allowed-token masks");
    r.sampleable = plan.sampleable_ids.value_or(config.vocab_size);
    return r;
  }

  // The log-probabilities of the sequences that asked, from the raw rows the tokens were drawn
  // from; waits for the stream (the step does right after anyway).
  void logprobs(const StepPlan& plan, const float* d_rows, const SamplingRows& sampling, const int32_t* d_tokens,
                StepResult& result) {
    reset_logprobs(plan, result);
    if (result.sampled_logprobs.empty()) return;
    std::vector<int32_t> rows, top_n;
    for (int64_t s = 0; s < plan.num_seqs; ++s)
      if (plan.logprobs[s]) rows.push_back(int32_t(s)), top_n.push_back(plan.top_logprobs ? plan.top_logprobs[s] : 0);
    const int64_t n = int64_t(rows.size()), slots = n * kMaxTopLogprobs;
    float* d_logprob = token_logprob.as<float>(size_t(n), "logprobs");
    int32_t* d_ids = top_ids.as<int32_t>(size_t(slots), "logprobs");
    float* d_values = top_logprobs.as<float>(size_t(slots), "logprobs");
    int32_t* d_count = top_count.as<int32_t>(size_t(n), "logprobs");
    check(token_logprobs(d_rows, config.vocab_size, sampling, d_tokens, upload(logprob_rows, rows.data(), n, "logprobs"),
                         upload(logprob_top_n, top_n.data(), n, "logprobs"), n, d_logprob, d_ids, d_values, d_count, compute),
          "logprobs");
    std::vector<float> logprob(static_cast<size_t>(n)), values(static_cast<size_t>(slots));
    std::vector<int32_t> ids(static_cast<size_t>(slots)), count(static_cast<size_t>(n));
    check(cudaMemcpyAsync(logprob.data(), d_logprob, size_t(n) * 4, cudaMemcpyDeviceToHost, compute), "logprobs");
    check(cudaMemcpyAsync(ids.data(), d_ids, size_t(slots) * 4, cudaMemcpyDeviceToHost, compute), "logprobs");
    check(cudaMemcpyAsync(values.data(), d_values, size_t(slots) * 4, cudaMemcpyDeviceToHost, compute), "logprobs");
    check(cudaMemcpyAsync(count.data(), d_count, size_t(n) * 4, cudaMemcpyDeviceToHost, compute), "logprobs");
    check(cudaStreamSynchronize(compute), "logprobs");
    for (int64_t i = 0, s = 0; s < plan.num_seqs; ++s) {
      if (plan.logprobs[s]) {
        result.sampled_logprobs[size_t(s)] = logprob[size_t(i)];
        for (int32_t j = 0; j < count[size_t(i)]; ++j) {
          result.top_logprob_ids.push_back(ids[size_t(i * kMaxTopLogprobs + j)]);
          result.top_logprob_values.push_back(values[size_t(i * kMaxTopLogprobs + j)]);
        }
        ++i;
      }
      result.top_logprob_offsets[size_t(s + 1)] = int32_t(result.top_logprob_ids.size());
    }
  }

  void forward(const StepPlan& plan, StepResult& result);
};

namespace {

// A matrix as BF16 on the device, converted on the host in slices when stored otherwise.
void upload_matrix(const WeightView& w, DeviceBuffer& dst, const char* what) {
  const size_t count = size_t(w.rows * w.cols);
  auto* d = dst.as<__nv_bfloat16>(count, what);
  if (w.dtype == DType::BF16 && w.panels) {  // packed for the CPU kernels: back to rows, a slice at a time
    const int64_t rows_per_slice = std::max<int64_t>(1, (int64_t(1) << 22) / std::max<int64_t>(w.cols, 1));
    std::vector<uint16_t> slice;
    for (int64_t r0 = 0; r0 < w.rows; r0 += rows_per_slice) {
      const int64_t r1 = std::min(w.rows, r0 + rows_per_slice);
      slice.resize(size_t((r1 - r0) * w.cols));
      unpack_bf16_panels(static_cast<const uint32_t*>(w.data), w.cols, r0, r1, slice.data());
      check(cudaMemcpy(d + r0 * w.cols, slice.data(), slice.size() * 2, cudaMemcpyHostToDevice), what);
    }
    return;
  }
  if (w.dtype == DType::BF16) {
    check(cudaMemcpy(d, w.data, count * 2, cudaMemcpyHostToDevice), what);
    return;
  }
  std::vector<uint16_t> slice;
  const size_t step = size_t(1) << 22;
  for (size_t begin = 0; begin < count; begin += step) {
    const size_t n = std::min(step, count - begin);
    slice.resize(n);
    for (size_t i = 0; i < n; ++i) slice[i] = f32_to_bf16(load_element(w.data, w.dtype, begin + i));
    check(cudaMemcpy(d + begin, slice.data(), n * 2, cudaMemcpyHostToDevice), what);
  }
}

void upload_vector(const std::vector<float>& v, DeviceBuffer& dst, const char* what) {
  float* d = dst.as<float>(v.size(), what);
  if (!v.empty()) check(cudaMemcpy(d, v.data(), v.size() * 4, cudaMemcpyHostToDevice), what);
}

}  // namespace

DeviceModel::DeviceModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DeviceModel::~DeviceModel() = default;

KvShape DeviceModel::kv_shape() const { return impl_->kv; }

std::vector<float> DeviceModel::read_block(bool host_pool, int64_t block) const {
  const Impl& m = *impl_;
  if (block < 0 || block >= (host_pool ? m.kv.host_blocks : m.kv.device_blocks))
    throw EngineError(codes::kInvalidArgument, "readBlock: block " + std::to_string(block) + " is outside the pool");
  const int64_t elems = m.paged().block_elems();
  std::vector<__nv_bfloat16> raw(static_cast<size_t>(elems));
  const __nv_bfloat16* src = (host_pool ? m.host_pool : m.pool) + block * elems;
  check(cudaStreamSynchronize(m.copy), "readBlock");
  check(cudaMemcpy(raw.data(), src, size_t(elems) * 2, host_pool ? cudaMemcpyHostToHost : cudaMemcpyDeviceToHost), "readBlock");
  std::vector<float> out(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) out[i] = __bfloat162float(raw[i]);
  return out;
}

std::string cuda_device_summary(std::string& why) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaSuccess && count == 0) e = cudaErrorNoDevice;
  cudaDeviceProp prop{};
  if (e == cudaSuccess) e = cudaGetDeviceProperties(&prop, 0);
  if (e != cudaSuccess) {
    why = cudaGetErrorString(e);
    return "";
  }
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
         std::to_string(prop.multiProcessorCount) + " SMs)";
}

namespace {

// Where a tensor lives on the device.
DeviceBuffer& device_slot(DeviceModel::Impl& m, const TensorSpec& t);

}  // namespace

// Everything but the weights: checks, streams, the product library, RoPE frequencies, KV pools.
static std::unique_ptr<DeviceModel::Impl> start(const ModelConfig& c, const DeviceKvOptions& o) {
  if (o.block_size < 1 || o.block_size > 1024 || o.device_blocks < 1 || o.host_blocks < 0)
    throw EngineError(codes::kInvalidArgument, "KV pools need a block size in [1, 1024], at least one device block and no negative host blocks");
  if (c.head_dim != 32 && c.head_dim != 64 && c.head_dim != 128 && c.head_dim != 256)
    throw EngineError(codes::kUnsupportedModel, "the CUDA backend supports head_dim 32, 64, 128 or 256, not " + std::to_string(c.head_dim));
  if (c.num_heads / c.num_kv_heads > 8)
    throw EngineError(codes::kUnsupportedModel, "the CUDA backend supports at most 8 query heads per KV head");
  auto impl = std::make_unique<DeviceModel::Impl>();
  impl->config = c;
  impl->kv = KvShape{o.block_size, o.device_blocks, o.host_blocks, c.num_layers, c.num_kv_heads, c.head_dim};
  int device = 0;
  check(cudaGetDevice(&device), "no CUDA device");
  check(cudaDeviceGetAttribute(&impl->sm_count, cudaDevAttrMultiProcessorCount, device), "device attributes");
  check(cudaStreamCreateWithFlags(&impl->compute, cudaStreamNonBlocking), "compute stream");
  check(cudaStreamCreateWithFlags(&impl->copy, cudaStreamNonBlocking), "copy stream");
  for (cudaEvent_t* e : {&impl->blocking_done, &impl->start, &impl->background_done}) check(cudaEventCreate(e), "events");
  std::string error;
  impl->gemm = create_gemm(impl->compute, error);
  if (!impl->gemm) throw EngineError(codes::kInternal, error);
  std::vector<float> inv;
  for (double f : rope_inverse_frequencies(c)) inv.push_back(float(f));
  upload_vector(inv, impl->inv_freq, "RoPE frequencies");
  impl->layers = std::vector<DeviceLayer>(size_t(c.num_layers));
  impl->tied = c.tie_word_embeddings;
  for (DeviceLayer& L : impl->layers) L.has_qkv_bias = c.qkv_bias, L.has_o_bias = c.o_bias;
  const size_t block_bytes = size_t(impl->paged().block_elems()) * 2;
  check(cudaMalloc(&impl->pool, block_bytes * size_t(o.device_blocks)), "the device KV pool");
  if (o.host_blocks > 0) check(cudaMallocHost(&impl->host_pool, block_bytes * size_t(o.host_blocks)), "the pinned host KV pool");
  return impl;
}

std::unique_ptr<DeviceModel> DeviceModel::create(const ModelConfig& c, const ModelWeights& w, const DeviceKvOptions& o) {
  // upload_matrix widens element by element, which Q8_0 (block-scaled) has no form for; the GPU
  // kernels are BF16. Refused before anything is allocated on the device.
  for (const TensorSpec& t : tensor_specs(c)) {
    const ModelWeights::ConstSlot host = w.slot(t);
    if (host.matrix && host.matrix->dtype != DType::F32 && host.matrix->dtype != DType::F16 && host.matrix->dtype != DType::BF16)
      throw EngineError(codes::kUnsupportedModel, std::string("the CUDA backend takes F32, F16 or BF16 weights, not ") +
                                                      dtype_name(host.matrix->dtype) + " (" + t.name +
                                                      "); load with dtype auto, f32, f16 or bf16");
  }
  if (w.lm_head.dtype == DType::Q8_0)
    throw EngineError(codes::kUnsupportedModel, "the CUDA backend takes F32, F16 or BF16 weights, not Q8_0 (lm_head)");
  auto impl = start(c, o);
  for (const TensorSpec& t : tensor_specs(c)) {
    const ModelWeights::ConstSlot host = w.slot(t);
    if (host.matrix) upload_matrix(*host.matrix, device_slot(*impl, t), t.name.c_str());
    else upload_vector(*host.vector, device_slot(*impl, t), t.name.c_str());
  }
  return std::unique_ptr<DeviceModel>(new DeviceModel(std::move(impl)));
}

std::unique_ptr<DeviceModel> DeviceModel::create_dummy(const ModelConfig& c, uint64_t seed, const DeviceKvOptions& o) {
  auto impl = start(c, o);
  for (const TensorSpec& t : tensor_specs(c)) {
    const bool matrix = t.cols > 0;
    const int64_t count = matrix ? t.rows * t.cols : t.rows;
    DeviceBuffer& dst = device_slot(*impl, t);
    void* data = matrix ? static_cast<void*>(dst.as<__nv_bfloat16>(size_t(count), t.name.c_str()))
                        : static_cast<void*>(dst.as<float>(size_t(count), t.name.c_str()));
    const DummyDraw draw = dummy_draw(seed, t);
    check(dummy_fill(data, matrix ? TableDType::BF16 : TableDType::F32, count, draw.tensor_seed, draw.amplitude, draw.center,
                     impl->compute),
          t.name.c_str());
  }
  check(cudaStreamSynchronize(impl->compute), "dummy weights");
  return std::unique_ptr<DeviceModel>(new DeviceModel(std::move(impl)));
}

namespace {

DeviceBuffer& device_slot(DeviceModel::Impl& m, const TensorSpec& t) {
  DeviceLayer* L = t.layer >= 0 ? &m.layers.at(size_t(t.layer)) : nullptr;
  switch (t.slot) {
    case WeightSlot::Embed: return m.embed;
    case WeightSlot::LmHead: return m.lm_head;
    case WeightSlot::FinalNorm: return m.final_norm;
    case WeightSlot::AttnNorm: return L->attn_norm;
    case WeightSlot::Q: return L->q;
    case WeightSlot::K: return L->k;
    case WeightSlot::V: return L->v;
    case WeightSlot::QBias: return L->q_bias;
    case WeightSlot::KBias: return L->k_bias;
    case WeightSlot::VBias: return L->v_bias;
    case WeightSlot::O: return L->o;
    case WeightSlot::OBias: return L->o_bias;
    case WeightSlot::FfnNorm: return L->ffn_norm;
    case WeightSlot::Gate: return L->gate;
    case WeightSlot::Up: return L->up;
    case WeightSlot::Down: return L->down;
  }
  throw EngineError(codes::kInternal, "unknown weight slot for " + t.name);
}

}  // namespace

StepResult DeviceModel::step(const StepPlan& plan) {
  Impl& m = *impl_;
  validate_plan(plan, m.config, m.kv);
  StepResult result;
  const int64_t block_elems = m.paged().block_elems();
  const SwapSchedule swaps = schedule_swaps(plan, m.kv.device_blocks, m.kv.host_blocks);
  // Swaps the forward pass depends on, then (same stream, so after them) the rest, beside it.
  check(cudaEventRecord(m.start, m.copy), "swap timing");
  auto enqueue_swaps = [&](const OwnedPairs& out, const OwnedPairs& in) {
    const BlockPairs o = out.view(), i = in.view();
    check(swap_out_blocks(m.pool, m.host_pool, block_elems, o.ids, o.count, m.copy), "swap out");
    check(swap_in_blocks(m.host_pool, m.pool, block_elems, i.ids, i.count, m.copy), "swap in");
  };
  const BlockPairs exchange = plan.swap_out_to_vacated;
  __nv_bfloat16* staging = nullptr;
  if (exchange.count > 0) {
    staging = m.exchange_staging.as<__nv_bfloat16>(size_t(exchange.count * block_elems), "exchange staging");
    check(stage_blocks(m.pool, staging, block_elems, exchange.ids, exchange.count, m.copy), "exchange");
  }
  enqueue_swaps(swaps.blocking_out, swaps.blocking_in);
  if (exchange.count > 0)
    check(write_staged_to_host(staging, m.host_pool, block_elems, exchange.ids, exchange.count, m.copy), "exchange");
  check(cudaEventRecord(m.blocking_done, m.copy), "swap event");
  check(cudaStreamWaitEvent(m.compute, m.blocking_done, 0), "swap wait");
  enqueue_swaps(swaps.background_out, swaps.background_in);
  check(cudaEventRecord(m.background_done, m.copy), "swap event");
  check(copy_blocks(m.pool, block_elems, plan.copy.ids, plan.copy.count, m.compute), "copy blocks");

  if (plan.num_seqs > 0) m.forward(plan, result);
  check(cudaStreamSynchronize(m.compute), "step");
  check(cudaStreamSynchronize(m.copy), "swaps");
  float blocking_ms = 0, total_ms = 0;
  check(cudaEventElapsedTime(&blocking_ms, m.start, m.blocking_done), "swap timing");
  check(cudaEventElapsedTime(&total_ms, m.start, m.background_done), "swap timing");
  result.blocking_swap_s = blocking_ms / 1e3;
  result.overlapped_swap_s = std::max(0.f, total_ms - blocking_ms) / 1e3;
  result.overlapped_swap_blocks = swaps.background_pairs();
  return result;
}

void DeviceModel::Impl::forward(const StepPlan& plan, StepResult& result) {
  const ModelConfig& c = config;
  const int64_t T = plan.num_tokens, S = plan.num_seqs, H = c.hidden_size, hd = c.head_dim, half = hd / 2;
  const int64_t qd = c.q_dim(), kvd = c.kv_dim(), inter = c.intermediate_size, vocab = c.vocab_size;
  cudaStream_t s = compute;

  // The step's per-token view of the plan, built on the host and copied up once.
  std::vector<int32_t> pos(static_cast<size_t>(T)), seq_of(static_cast<size_t>(T)), last(static_cast<size_t>(S)),
      sample_pos(static_cast<size_t>(S)), sampling_rows;
  std::vector<AttentionSequence> seqs(static_cast<size_t>(S));
  int64_t max_context = 0;
  for (int64_t q_seq = 0, first = 0; q_seq < S; ++q_seq) {
    const int64_t n = plan.query_lens[q_seq], start_pos = plan.start_positions[q_seq];
    seqs[size_t(q_seq)] = {first, n, start_pos, plan.block_ids + plan.block_table_offsets[q_seq]};
    for (int64_t i = 0; i < n; ++i) pos[size_t(first + i)] = int32_t(start_pos + i), seq_of[size_t(first + i)] = int32_t(q_seq);
    last[size_t(q_seq)] = int32_t(first + n - 1);
    sample_pos[size_t(q_seq)] = int32_t(start_pos + n);  // the sampled token's position, as on the CPU
    if (plan.temperature[q_seq] > 0 && plan.top_k[q_seq] != 1) sampling_rows.push_back(int32_t(q_seq));
    max_context = std::max(max_context, start_pos + n);
    first += n;
  }
  const std::vector<int64_t> slot_map = slot_mapping(seqs.data(), S, T, kv.block_size);
  const int32_t* d_tokens = upload(tokens, plan.tokens, T, "step tokens");
  const int32_t* d_pos = upload(positions, pos.data(), T, "positions");
  const int32_t* d_seq = upload(token_seq, seq_of.data(), T, "token sequences");
  const int32_t* d_offsets = upload(table_offsets, plan.block_table_offsets, S + 1, "block tables");
  const int32_t* d_blocks = upload(block_ids, plan.block_ids, plan.num_block_ids, "block tables");
  const int64_t* d_slots = upload(slots, slot_map.data(), T, "slot mapping");
  const int32_t* d_last = upload(last_rows, last.data(), S, "last rows");
  const int64_t num_sampled = int64_t(sampling_rows.size());
  const int32_t* d_sampling_rows = upload(sampled_rows, sampling_rows.data(), num_sampled, "sampling rows");
  const SamplingRows sampling = upload_sampling(plan, sample_pos.data());

  float* d_x = x.as<float>(size_t(T * H), "activations");
  float* d_res = residual.as<float>(size_t(T * H), "activations");
  auto* d_xn = xn.as<__nv_bfloat16>(size_t(T * H), "activations");
  float* d_q = q.as<float>(size_t(T * qd), "activations");
  float* d_k = k.as<float>(size_t(T * kvd), "activations");
  float* d_v = v.as<float>(size_t(T * kvd), "activations");
  auto* d_qr = q_rot.as<__nv_bfloat16>(size_t(T * qd), "activations");
  auto* d_attn = attn.as<__nv_bfloat16>(size_t(T * qd), "activations");
  float* d_gate = gate.as<float>(size_t(T * inter), "activations");
  float* d_up = up.as<float>(size_t(T * inter), "activations");
  auto* d_hidden = hidden.as<__nv_bfloat16>(size_t(T * inter), "activations");
  float* d_cos = cos.as<float>(size_t(T * half), "RoPE tables");
  float* d_sin = sin.as<float>(size_t(T * half), "RoPE tables");
  const int64_t splits = attention_splits(T, c.num_kv_heads, max_context, sm_count);
  float* d_scratch = attn_scratch.as<float>(size_t(attention_scratch_floats(T, c.num_heads, hd, splits)), "attention scratch");
  const AttentionBatch batch{d_pos, d_seq, d_offsets, d_blocks, T, max_context};
  const int64_t window = c.sliding_window > 0 ? c.sliding_window : 0;

  check(embedding(embed.data(), TableDType::BF16, d_tokens, T, H, d_x, s), "embedding");
  check(rope_tables(d_pos, T, static_cast<const float*>(inv_freq.data()), half, d_cos, d_sin, s), "RoPE tables");
  for (int64_t layer = 0; layer < c.num_layers; ++layer) {
    DeviceLayer& L = layers[size_t(layer)];
    auto f32 = [](const DeviceBuffer& b) { return static_cast<const float*>(b.data()); };
    check(add_rmsnorm(d_x, layer == 0 ? nullptr : d_res, f32(L.attn_norm), T, H, c.rms_norm_eps, d_xn, s), "input norm");
    run_gemm(d_xn, T, L.q, H, qd, d_q, false);
    run_gemm(d_xn, T, L.k, H, kvd, d_k, false);
    run_gemm(d_xn, T, L.v, H, kvd, d_v, false);
    if (L.has_qkv_bias) {
      check(add_bias(d_q, f32(L.q_bias), T, qd, s), "q bias");
      check(add_bias(d_k, f32(L.k_bias), T, kvd, s), "k bias");
      check(add_bias(d_v, f32(L.v_bias), T, kvd, s), "v bias");
    }
    check(rope_write_kv(d_q, d_k, d_v, T, c.num_heads, d_cos, d_sin, d_slots, paged(), layer, d_qr, s), "RoPE and KV write");
    check(paged_attention(d_qr, batch, c.num_heads, paged(), layer, window, splits, d_scratch, d_attn, s), "attention");
    run_gemm(d_attn, T, L.o, qd, H, d_res, false);
    if (L.has_o_bias) check(add_bias(d_res, f32(L.o_bias), T, H, s), "o bias");
    check(add_rmsnorm(d_x, d_res, f32(L.ffn_norm), T, H, c.rms_norm_eps, d_xn, s), "post-attention norm");
    run_gemm(d_xn, T, L.gate, H, inter, d_gate, false);
    run_gemm(d_xn, T, L.up, H, inter, d_up, false);
    check(silu_mul(d_gate, d_up, T * inter, d_hidden, s), "SiLU·mul");
    run_gemm(d_hidden, T, L.down, inter, H, d_res, false);
  }

  // The final norm adds the last layer's output; the LM head runs on every token's row or on
  // each sequence's last.
  const bool all_rows = plan.logits == LogitsMode::All;
  const int64_t rows = all_rows ? T : S;
  const float* final_gain = static_cast<const float*>(final_norm.data());
  auto* d_head_in = head_in.as<__nv_bfloat16>(size_t(rows * H), "LM head input");
  if (all_rows) {
    check(add_rmsnorm(d_x, d_res, final_gain, T, H, c.rms_norm_eps, d_head_in, s), "final norm");
  } else {
    float* d_xr = x_rows.as<float>(size_t(S * H), "LM head rows");
    float* d_rr = residual_rows.as<float>(size_t(S * H), "LM head rows");
    check(gather_rows(d_x, d_last, S, H, d_xr, s), "LM head rows");
    check(gather_rows(d_res, d_last, S, H, d_rr, s), "LM head rows");
    check(add_rmsnorm(d_xr, d_rr, final_gain, S, H, c.rms_norm_eps, d_head_in, s), "final norm");
  }
  float* d_logits = logits.as<float>(size_t(rows * vocab), "logits");
  run_gemm(d_head_in, rows, tied ? embed : lm_head, H, vocab, d_logits, false);
  const float* d_sample_rows = d_logits;
  if (all_rows) {
    float* gathered = sample_logits.as<float>(size_t(S * vocab), "sampled logits");
    check(gather_rows(d_logits, d_last, S, vocab, gathered, s), "sampled rows");
    d_sample_rows = gathered;
  }
  const size_t work_bytes = sampling_workspace_bytes(S, num_sampled, vocab);
  int32_t* d_sampled = sampled.as<int32_t>(size_t(S), "sampled tokens");
  check(sample_tokens(d_sample_rows, S, vocab, sampling, d_sampling_rows, num_sampled,
                      sampling_work.reserve(std::max<size_t>(work_bytes, 1), "sampling workspace"), work_bytes, d_sampled, s),
        "sampling");
  logprobs(plan, d_sample_rows, sampling, d_sampled, result);
  result.tokens.resize(size_t(S));
  check(cudaMemcpyAsync(result.tokens.data(), d_sampled, size_t(S) * 4, cudaMemcpyDeviceToHost, s), "sampled tokens");
  if (plan.logits != LogitsMode::None) {
    result.logits.resize(size_t(rows * vocab));
    check(cudaMemcpyAsync(result.logits.data(), d_logits, result.logits.size() * 4, cudaMemcpyDeviceToHost, s), "logits");
    result.logits_rows = rows;
  }
}

}  // namespace astraea::cuda
