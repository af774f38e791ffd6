// Device check of the CUDA kernels against plain host references in double (no Node, no
// framework): random inputs drawn fresh per run (never zeros), outputs poisoned before each
// launch so an unwritten element shows as NaN, ‖out − ref‖ / ‖ref‖ per kernel. Swaps must come
// back bit-identical. Prints one line per check and "kernel_check: N passed, N failed" last;
// exits 1 on any failure or CUDA error.
//   nvcc -std=c++17 -I. -Icpp -O2 -arch=sm_90 cuda/*.cu cuda/harness/kernel_check.cu cpp/core/sampler.cc cpp/core/logprobs.cc -o kernel_check && ./kernel_check
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/random.h"
#include "cuda/harness/device_util.cuh"
#include "cuda/harness/sampling_check.cuh"
#include "cuda/kernels.h"

using astraea::cuda::PagedKv;
using astraea::cuda::check::poisoned;
using astraea::cuda::check::rng;
using astraea::cuda::check::to_device;
using astraea::cuda::check::to_host;

namespace {

int passed = 0, failed = 0;

std::vector<float> random_floats(size_t n, float scale = 1.f) {
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

float bf16_to_float(__nv_bfloat16 b) { return __bfloat162float(b); }

// ‖out − ref‖ / ‖ref‖; NaN anywhere fails.
void report(const char* name, const std::vector<double>& out, const std::vector<double>& ref, double tolerance) {
  double diff = 0, norm = 0;
  bool nan = false;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(out[i])) nan = true;
    diff += (out[i] - ref[i]) * (out[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  const double rel = nan ? NAN : std::sqrt(diff / norm);
  const bool ok = !nan && rel <= tolerance;
  (ok ? passed : failed)++;
  std::printf("%-34s rel err %.3e (limit %.0e) %s\n", name, rel, tolerance, ok ? "ok" : "FAIL");
}

void check_embedding() {
  const int64_t vocab = 1000, hidden = 4096, tokens = 37;
  auto table = random_floats(size_t(vocab * hidden));
  std::vector<__nv_bfloat16> table_bf16(table.size());
  for (size_t i = 0; i < table.size(); ++i) table_bf16[i] = __float2bfloat16_rn(table[i]);
  std::vector<int32_t> ids(static_cast<size_t>(tokens));
  for (auto& id : ids) id = int32_t(rng() % vocab);
  std::vector<double> ref(static_cast<size_t>(tokens * hidden));
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < hidden; ++i) ref[size_t(t * hidden + i)] = bf16_to_float(table_bf16[size_t(ids[t] * hidden + i)]);
  auto* d_table = to_device(table_bf16);
  auto* d_ids = to_device(ids);
  float* d_out = poisoned<float>(ref.size());
  CHECK_CUDA(astraea::cuda::embedding(d_table, astraea::cuda::TableDType::BF16, d_ids, tokens, hidden, d_out, nullptr));
  auto out = to_host(d_out, ref.size());
  report("embedding (bf16 table)", std::vector<double>(out.begin(), out.end()), ref, 0);
  cudaFree(d_table), cudaFree(d_ids), cudaFree(d_out);
}

void check_add_rmsnorm() {
  const int64_t rows = 19, hidden = 4096;
  const float eps = 1e-5f;
  auto x = random_floats(size_t(rows * hidden)), residual = random_floats(x.size()), weight = random_floats(size_t(hidden));
  std::vector<double> ref_x(x.size()), ref_out(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double squares = 0;
    for (int64_t i = 0; i < hidden; ++i) {
      const size_t k = size_t(r * hidden + i);
      ref_x[k] = double(x[k]) + residual[k];
      squares += ref_x[k] * ref_x[k];
    }
    const double scale = 1.0 / std::sqrt(squares / double(hidden) + eps);
    for (int64_t i = 0; i < hidden; ++i) ref_out[size_t(r * hidden + i)] = ref_x[size_t(r * hidden + i)] * scale * weight[size_t(i)];
  }
  auto* d_x = to_device(x);
  auto* d_res = to_device(residual);
  auto* d_w = to_device(weight);
  auto* d_out = poisoned<__nv_bfloat16>(x.size());
  CHECK_CUDA(astraea::cuda::add_rmsnorm(d_x, d_res, d_w, rows, hidden, eps, d_out, nullptr));
  auto out = to_host(d_out, x.size());
  auto new_x = to_host(d_x, x.size());
  std::vector<double> out_d(out.size());
  for (size_t i = 0; i < out.size(); ++i) out_d[i] = bf16_to_float(out[i]);
  report("add_rmsnorm: x += residual", std::vector<double>(new_x.begin(), new_x.end()), ref_x, 1e-6);
  report("add_rmsnorm: normalised (bf16)", out_d, ref_out, 1e-2);
  cudaFree(d_x), cudaFree(d_res), cudaFree(d_w), cudaFree(d_out);
}

void check_silu_mul() {
  const int64_t n = 14336 * 7 + 5;
  auto gate = random_floats(size_t(n), 3.f), up = random_floats(size_t(n));
  std::vector<double> ref(static_cast<size_t>(n));
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = double(gate[i]) / (1.0 + std::exp(-double(gate[i]))) * up[i];
  auto* d_g = to_device(gate);
  auto* d_u = to_device(up);
  auto* d_out = poisoned<__nv_bfloat16>(size_t(n));
  CHECK_CUDA(astraea::cuda::silu_mul(d_g, d_u, n, d_out, nullptr));
  auto out = to_host(d_out, size_t(n));
  std::vector<double> out_d(out.size());
  for (size_t i = 0; i < out.size(); ++i) out_d[i] = bf16_to_float(out[i]);
  report("silu_mul (bf16)", out_d, ref, 1e-2);
  cudaFree(d_g), cudaFree(d_u), cudaFree(d_out);
}

void check_rope_write_kv() {
  // Llama-3-8B's attention shape, 3 layers of cache, tokens at scattered slots and large positions.
  const int64_t tokens = 23, heads = 32, kv_heads = 8, hd = 128, half = hd / 2, layers = 3, block_size = 16, blocks = 40;
  const int64_t layer = 1;
  PagedKv cache{nullptr, block_size, layers, kv_heads, hd};
  auto q = random_floats(size_t(tokens * heads * hd)), k = random_floats(size_t(tokens * kv_heads * hd)),
       v = random_floats(size_t(tokens * kv_heads * hd));
  std::vector<float> inv_freq(static_cast<size_t>(half));
  for (int64_t j = 0; j < half; ++j) inv_freq[size_t(j)] = float(std::pow(500000.0, -2.0 * double(j) / double(hd)));
  std::vector<int32_t> positions(static_cast<size_t>(tokens));
  std::vector<int64_t> slots(static_cast<size_t>(tokens));
  std::vector<int64_t> order(static_cast<size_t>(blocks * block_size));
  for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
  std::shuffle(order.begin(), order.end(), rng);
  for (int64_t t = 0; t < tokens; ++t) positions[size_t(t)] = int32_t(rng() % 131072), slots[size_t(t)] = order[size_t(t)];

  const size_t pool_elems = size_t(blocks * cache.block_elems());
  cache.pool = poisoned<__nv_bfloat16>(pool_elems);
  auto* d_q = to_device(q);
  auto* d_k = to_device(k);
  auto* d_v = to_device(v);
  auto* d_inv = to_device(inv_freq);
  auto* d_pos = to_device(positions);
  auto* d_slots = to_device(slots);
  float* d_cos = poisoned<float>(size_t(tokens * half));
  float* d_sin = poisoned<float>(size_t(tokens * half));
  auto* d_q_out = poisoned<__nv_bfloat16>(q.size());
  CHECK_CUDA(astraea::cuda::rope_tables(d_pos, tokens, d_inv, half, d_cos, d_sin, nullptr));
  CHECK_CUDA(astraea::cuda::rope_write_kv(d_q, d_k, d_v, tokens, heads, d_cos, d_sin, d_slots, cache, layer, d_q_out, nullptr));
  auto q_out = to_host(d_q_out, q.size());
  auto pool = to_host(cache.pool, pool_elems);

  auto rotate = [&](const std::vector<float>& x, int64_t t, int64_t nh, int64_t h, int64_t d) {
    const double angle = double(positions[size_t(t)]) * double(inv_freq[size_t(d % half)]);
    const double a = x[size_t((t * nh + h) * hd + d % half)], b = x[size_t((t * nh + h) * hd + d % half + half)];
    return d < half ? a * std::cos(angle) - b * std::sin(angle) : b * std::cos(angle) + a * std::sin(angle);
  };
  std::vector<double> q_ref, q_got, k_ref, k_got, v_ref, v_got;
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t d = 0; d < hd; ++d) {
        q_ref.push_back(rotate(q, t, heads, h, d));
        q_got.push_back(bf16_to_float(q_out[size_t((t * heads + h) * hd + d)]));
      }
    const int64_t block = slots[size_t(t)] / block_size, slot = slots[size_t(t)] % block_size;
    const size_t base = size_t(block * cache.block_elems() + layer * 2 * kv_heads * block_size * hd);
    for (int64_t h = 0; h < kv_heads; ++h)
      for (int64_t d = 0; d < hd; ++d) {
        const size_t at = size_t((h * block_size + slot) * hd + d);
        k_ref.push_back(rotate(k, t, kv_heads, h, d));
        k_got.push_back(bf16_to_float(pool[base + at]));
        v_ref.push_back(v[size_t((t * kv_heads + h) * hd + d)]);
        v_got.push_back(bf16_to_float(pool[base + size_t(kv_heads * block_size * hd) + at]));
      }
  }
  report("rope_write_kv: q (bf16)", q_got, q_ref, 1e-2);
  report("rope_write_kv: k in its cache slot", k_got, k_ref, 1e-2);
  report("rope_write_kv: v in its cache slot", v_got, v_ref, 1e-2);
  for (void* p : {(void*)cache.pool, (void*)d_q, (void*)d_k, (void*)d_v, (void*)d_inv, (void*)d_pos, (void*)d_slots, (void*)d_cos,
                  (void*)d_sin, (void*)d_q_out})
    cudaFree(p);
}

// Sequences of different lengths in scattered blocks: decode tokens, one prefill chunk of 9
// tokens, with and without a sliding window, in one part and split into several.
void check_paged_attention(int64_t head_dim, int64_t heads, int64_t kv_heads, int64_t window, int64_t splits) {
  const int64_t layers = 2, layer = 1, block_size = 16;
  const std::vector<int64_t> lengths = {1, 17, 300, 1500};  // context of each sequence, new tokens included
  const int64_t chunk = 9;                                   // the last sequence's final 9 tokens are new
  PagedKv cache{nullptr, block_size, layers, kv_heads, head_dim};
  std::vector<int32_t> offsets = {0}, ids, positions, token_seq;
  int64_t blocks = 0;
  for (int64_t len : lengths) blocks += (len + block_size - 1) / block_size;
  std::vector<int32_t> order(static_cast<size_t>(blocks));
  for (size_t i = 0; i < order.size(); ++i) order[i] = int32_t(i);
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t s = 0; s < lengths.size(); ++s) {
    for (int64_t b = 0; b < (lengths[s] + block_size - 1) / block_size; ++b) ids.push_back(order[ids.size()]);
    offsets.push_back(int32_t(ids.size()));
    const int64_t fresh = s + 1 == lengths.size() ? chunk : 1;
    for (int64_t p = lengths[s] - fresh; p < lengths[s]; ++p) positions.push_back(int32_t(p)), token_seq.push_back(int32_t(s));
  }
  const int64_t tokens = int64_t(positions.size());
  std::vector<__nv_bfloat16> pool(static_cast<size_t>(blocks * cache.block_elems()));
  for (auto& x : pool) x = __float2bfloat16_rn(std::normal_distribution<float>(0.f, 1.f)(rng));
  std::vector<__nv_bfloat16> q(static_cast<size_t>(tokens * heads * head_dim));
  for (auto& x : q) x = __float2bfloat16_rn(std::normal_distribution<float>(0.f, 1.f)(rng));

  // Reference in double from the same BF16 values.
  const int64_t group = heads / kv_heads;
  std::vector<double> ref(q.size());
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t pos = positions[size_t(t)], first = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
    const int32_t* table = ids.data() + offsets[size_t(token_seq[size_t(t)])];
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t g = h / group;
      std::vector<double> scores;
      for (int64_t p = first; p <= pos; ++p) {
        const size_t base = size_t(table[p / block_size] * cache.block_elems() + layer * 2 * kv_heads * block_size * head_dim +
                                   (g * block_size + p % block_size) * head_dim);
        double dot = 0;
        for (int64_t d = 0; d < head_dim; ++d) dot += double(bf16_to_float(q[size_t((t * heads + h) * head_dim + d)])) * bf16_to_float(pool[base + size_t(d)]);
        scores.push_back(dot / std::sqrt(double(head_dim)));
      }
      const double mx = *std::max_element(scores.begin(), scores.end());
      double sum = 0;
      for (double& sc : scores) sum += (sc = std::exp(sc - mx));
      for (int64_t p = first; p <= pos; ++p) {
        const size_t base = size_t(table[p / block_size] * cache.block_elems() + layer * 2 * kv_heads * block_size * head_dim +
                                   kv_heads * block_size * head_dim + (g * block_size + p % block_size) * head_dim);
        for (int64_t d = 0; d < head_dim; ++d)
          ref[size_t((t * heads + h) * head_dim + d)] += scores[size_t(p - first)] / sum * bf16_to_float(pool[base + size_t(d)]);
      }
    }
  }

  cache.pool = to_device(pool);
  auto* d_q = to_device(q);
  auto* d_pos = to_device(positions);
  auto* d_seq = to_device(token_seq);
  auto* d_off = to_device(offsets);
  auto* d_ids = to_device(ids);
  const int64_t scratch_floats = astraea::cuda::attention_scratch_floats(tokens, heads, head_dim, splits);
  float* d_scratch = scratch_floats > 0 ? poisoned<float>(size_t(scratch_floats)) : nullptr;
  auto* d_out = poisoned<__nv_bfloat16>(q.size());
  const astraea::cuda::AttentionBatch batch{d_pos, d_seq, d_off, d_ids, tokens, lengths.back()};
  CHECK_CUDA(astraea::cuda::paged_attention(d_q, batch, heads, cache, layer, window, splits, d_scratch, d_out, nullptr));
  auto out = to_host(d_out, q.size());
  std::vector<double> got(out.size());
  for (size_t i = 0; i < out.size(); ++i) got[i] = bf16_to_float(out[i]);
  char name[96];
  std::snprintf(name, sizeof name, "paged_attention hd %lld %lld:%lld w %lld x%lld", (long long)head_dim, (long long)heads,
                (long long)kv_heads, (long long)window, (long long)splits);
  report(name, got, ref, 1e-2);
  for (void* p : {(void*)cache.pool, (void*)d_q, (void*)d_pos, (void*)d_seq, (void*)d_off, (void*)d_ids, (void*)d_scratch, (void*)d_out})
    cudaFree(p);
}

// The CPU backend's dummy formula (core/weights.cc, fill_random), evaluated here on the host.
void check_dummy_fill() {
  const int64_t count = (1 << 20) + 77;
  const uint64_t seed = astraea::mix64(42 ^ astraea::hash_string("model.layers.3.mlp.up_proj.weight"));
  const float amplitude = float(std::sqrt(3.0 / 4096.0)), center = 0.f;
  float* d_f32 = poisoned<float>(size_t(count));
  auto* d_bf16 = poisoned<__nv_bfloat16>(size_t(count));
  CHECK_CUDA(astraea::cuda::dummy_fill(d_f32, astraea::cuda::TableDType::F32, count, seed, amplitude, center, nullptr));
  CHECK_CUDA(astraea::cuda::dummy_fill(d_bf16, astraea::cuda::TableDType::BF16, count, seed, amplitude, center, nullptr));
  auto f32 = to_host(d_f32, size_t(count));
  auto bf16 = to_host(d_bf16, size_t(count));
  int64_t mismatches = 0;
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t r = astraea::mix64(seed + uint64_t(i) * 0xD1B54A32D192ED03ull);
    const float unit = float(r >> 40) * (1.0f / 16777216.0f);
    const float expected = center + amplitude * (2.0f * unit - 1.0f);
    uint16_t got_bits;
    std::memcpy(&got_bits, &bf16[size_t(i)], 2);
    if (std::memcmp(&expected, &f32[size_t(i)], 4) != 0 || got_bits != astraea::f32_to_bf16(expected)) ++mismatches;
  }
  (mismatches == 0 ? passed : failed)++;
  std::printf("%-34s %lld of %lld differ %s\n", "dummy_fill: bit-identical to CPU", (long long)mismatches, (long long)count,
              mismatches == 0 ? "ok" : "FAIL");
  cudaFree(d_f32), cudaFree(d_bf16);
}

void check_swaps() {
  const int64_t block_elems = 32 * 2 * 8 * 16 * 128, device_blocks = 24, host_blocks = 24;
  std::vector<__nv_bfloat16> init(static_cast<size_t>(device_blocks * block_elems));
  for (auto& x : init) x = __float2bfloat16_rn(std::normal_distribution<float>(0.f, 1.f)(rng));
  auto* device_pool = to_device(init);
  __nv_bfloat16* host_pool = nullptr;
  CHECK_CUDA(cudaMallocHost(&host_pool, size_t(host_blocks * block_elems) * sizeof(__nv_bfloat16)));
  std::memset(static_cast<void*>(host_pool), 0xFF, size_t(host_blocks * block_elems) * sizeof(__nv_bfloat16));
  cudaStream_t copy_stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&copy_stream, cudaStreamNonBlocking));
  // Out: device 3,4,5 (a run) and 9 to host 10,11,12 and 0; then back in to device 20,21,22,23;
  // then device 20 copied to device 1.
  const int32_t out_pairs[] = {3, 10, 4, 11, 5, 12, 9, 0};
  const int32_t in_pairs[] = {10, 20, 11, 21, 12, 22, 0, 23};
  const int32_t copy_pairs[] = {20, 1};
  CHECK_CUDA(astraea::cuda::swap_out_blocks(device_pool, host_pool, block_elems, out_pairs, 4, copy_stream));
  CHECK_CUDA(astraea::cuda::swap_in_blocks(host_pool, device_pool, block_elems, in_pairs, 4, copy_stream));
  CHECK_CUDA(astraea::cuda::copy_blocks(device_pool, block_elems, copy_pairs, 1, copy_stream));
  CHECK_CUDA(cudaStreamSynchronize(copy_stream));
  auto pool = to_host(device_pool, init.size());
  auto same = [&](int64_t a_block, const std::vector<__nv_bfloat16>& a, int64_t b_block, const __nv_bfloat16* b) {
    return std::memcmp(a.data() + a_block * block_elems, b + b_block * block_elems, size_t(block_elems) * sizeof(__nv_bfloat16)) == 0;
  };
  const bool ok = same(3, init, 20, pool.data()) && same(4, init, 21, pool.data()) && same(5, init, 22, pool.data()) &&
                  same(9, init, 23, pool.data()) && same(3, init, 1, pool.data()) && same(9, init, 0, host_pool) &&
                  same(7, init, 7, pool.data());
  (ok ? passed : failed)++;
  std::printf("%-34s %s\n", "swap out, in, copy: bit-identical", ok ? "ok" : "FAIL");
  cudaStreamDestroy(copy_stream);
  cudaFreeHost(host_pool);
  cudaFree(device_pool);
}

}  // namespace

int main() {
  cudaDeviceProp prop{};
  CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
  check_embedding();
  check_add_rmsnorm();
  check_silu_mul();
  check_rope_write_kv();
  check_paged_attention(128, 32, 8, 0, 1);  // Llama-3-8B's heads
  check_paged_attention(128, 32, 8, 0, 4);
  check_paged_attention(128, 32, 8, 200, 3);
  check_paged_attention(32, 4, 2, 0, 1);    // the tiny preset
  check_paged_attention(64, 12, 4, 0, 2);   // the small preset (group of 3)
  check_swaps();
  check_dummy_fill();
  using astraea::cuda::check::check_sampling;
  check_sampling(384, false, passed, failed);     // the tiny preset's vocabulary
  check_sampling(128256, false, passed, failed);  // Llama 3's
  check_sampling(384, true, passed, failed);      // with a limit, masks, min_p, penalties and logprobs
  check_sampling(151936, true, passed, failed);   // Qwen's padded head (a limit of 136,743 here)
  std::printf("kernel_check: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
