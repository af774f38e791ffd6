// Standalone correctness check and timing table for the CPU kernels (matmul, vec helpers, the
// attention block).
// Checks every SIMD level this CPU supports against a double-precision reference, then times
// matmul on the shapes of a small decoder. Exits non-zero on any mismatch.
// (About 600 lines: the checks and the timing share the weight fixtures and the SIMD-level
// loop; one program keeps a single build line for CI and for people timing kernels.)
//
//   cpp/harness/build_kernel_check.sh && /tmp/kernel_check [--quick] [--all-levels]
//
// --quick skips the timing table; --all-levels also times the narrower SIMD paths;
// --threads N sizes the timing pool (default 2).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/dtype.h"
#include "core/errors.h"
#include "core/kernels/attention_block.h"
#include "core/kernels/attention_tile.h"
#include "core/kernels/bf16_panels.h"
#include "core/kernels/cpu_features.h"
#include "core/kernels/matmul.h"
#include "core/kernels/vec.h"
#include "core/thread_pool.h"

using namespace astraea;

namespace {

int g_failures = 0;
int g_checks = 0;

struct Rng {
  std::mt19937_64 gen;
  explicit Rng(uint64_t seed) : gen(seed) {}
  float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(gen); }
  int64_t range(int64_t lo, int64_t hi) {  // inclusive
    return std::uniform_int_distribution<int64_t>(lo, hi)(gen);
  }
};

// Weight storage in the given dtype, with a leading pad so the data can be deliberately
// misaligned (as it is inside a memory-mapped safetensors file).
struct Weight {
  std::vector<uint8_t> bytes;
  size_t offset = 0;
  DType dt = DType::F32;
  int64_t rows = 0, cols = 0;
  const void* data() const { return bytes.data() + offset; }
  WeightView view() const { return WeightView{data(), dt, rows, cols}; }
  double at(int64_t r, int64_t c) const {
    const int64_t i = r * cols + c;
    const uint8_t* p = bytes.data() + offset;
    if (dt == DType::F32) {
      float f;
      std::memcpy(&f, p + 4 * i, 4);
      return f;
    }
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    return dt == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
  }
};

Weight make_weight(Rng& rng, DType dt, int64_t rows, int64_t cols, size_t misalign) {
  Weight w;
  w.dt = dt;
  w.rows = rows;
  w.cols = cols;
  const size_t es = dtype_size(dt);
  w.offset = misalign;
  w.bytes.resize(size_t(rows * cols) * es + misalign + 64);
  uint8_t* p = w.bytes.data() + w.offset;
  for (int64_t i = 0; i < rows * cols; ++i) {
    float f = rng.uniform(-1.f, 1.f);
    if (dt == DType::F32) {
      std::memcpy(p + 4 * i, &f, 4);
    } else {
      // Occasional tiny values exercise F16 subnormals in the hardware conversion.
      if (dt == DType::F16 && rng.range(0, 63) == 0) f *= 1e-5f;
      const uint16_t h = dt == DType::F16 ? f32_to_f16(f) : f32_to_bf16(f);
      std::memcpy(p + 2 * i, &h, 2);
    }
  }
  return w;
}

// Checks one matmul call against a double reference. Error is measured relative to
// sum |x*w| + |bias| (the magnitude the float sum actually rounds at), so cancellation to a
// near-zero result does not produce spurious failures. x_dtype BF16 (BF16 weights): the reference
// multiplies x rounded to BF16 — products of BF16 values are exact, so the same bound holds, and
// x not rounded would miss it (one rounding of x is ~2^-9 of a product). panels: the BF16 weight
// packed into 64-row panels first (bf16_panels.h); the reference still reads the rows.
bool check_matmul(Rng& rng, ThreadPool& pool, DType dt, int64_t T, int64_t rows, int64_t cols,
                  bool with_bias, const char* label, DType x_dtype = DType::F32, bool panels = false) {
  const size_t misalign = size_t(rng.range(0, 3)) * dtype_size(dt);
  const Weight w = make_weight(rng, dt, rows, cols, misalign);
  // x misaligned by a random number of floats too.
  const int64_t xoff = rng.range(0, 3);
  std::vector<float> xbuf(size_t(T * cols + xoff));
  for (auto& v : xbuf) v = rng.uniform(-1.f, 1.f);
  const float* x = xbuf.data() + xoff;
  std::vector<float> bias(static_cast<size_t>(rows));
  for (auto& v : bias) v = rng.uniform(-1.f, 1.f);
  // Canaries on both sides catch writes outside y.
  const int64_t guard = 19;
  const float canary = -12345.678f;
  std::vector<float> ybuf(size_t(T * rows + 2 * guard), canary);
  float* y = ybuf.data() + guard;

  WeightView view = w.view();
  view.x_dtype = x_dtype;
  std::vector<uint32_t> packed;
  if (panels) {
    packed.resize(bf16_panel_bytes(rows, cols) / 4);
    pack_bf16_panels(static_cast<const uint16_t*>(w.data()), rows, cols, packed.data(), pool);
    view.data = packed.data();
    view.panels = true;
  }
  matmul(x, T, view, with_bias ? bias.data() : nullptr, y, pool);
  ++g_checks;
  const auto x_at = [&](int64_t i) { return x_dtype == DType::BF16 ? double(bf16_to_f32(f32_to_bf16(x[i]))) : double(x[i]); };

  double worst = 0.0;
  int64_t wt = 0, wr = 0;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0.0, mag = 0.0;
      for (int64_t k = 0; k < cols; ++k) {
        const double p = x_at(t * cols + k) * w.at(r, k);
        s += p;
        mag += std::fabs(p);
      }
      if (with_bias) {
        s += bias[size_t(r)];
        mag += std::fabs(bias[size_t(r)]);
      }
      const double err = std::fabs(double(y[t * rows + r]) - s) / (mag + 1e-30);
      if (!(err <= worst)) {  // also catches NaN
        worst = std::isnan(err) ? INFINITY : err;
        wt = t;
        wr = r;
      }
    }
  }
  bool ok = worst <= 1e-5;
  for (int64_t i = 0; i < guard; ++i) {
    if (ybuf[size_t(i)] != canary || ybuf[size_t(guard + T * rows + i)] != canary) ok = false;
  }
  if (!ok) {
    ++g_failures;
    std::printf("FAIL %-7s %s%s x %s T=%lld rows=%lld cols=%lld bias=%d: rel err %.3g at t=%lld r=%lld"
                " (or canary overwritten)\n",
                label, dtype_name(dt), panels ? " panels" : "", dtype_name(x_dtype), (long long)T, (long long)rows, (long long)cols,
                int(with_bias), worst, (long long)wt, (long long)wr);
  }
  return ok;
}

// Activations the kernels have no product for are refused, not multiplied as something else.
void check_activation_refusals() {
  const auto refused = [](const char* what, auto&& call) {
    ++g_checks;
    try {
      call();
    } catch (const EngineError& e) {
      if (e.code() == codes::kInvalidArgument) return;
    }
    ++g_failures;
    std::printf("FAIL activations: %s was not refused with INVALID_ARGUMENT\n", what);
  };
  ThreadPool pool(1);
  std::vector<uint8_t> bytes(64 * 32, 0);
  std::vector<uint16_t> scales(64, 0);
  std::vector<float> x(32, 1.f), y(64 * 2);
  WeightView f32{bytes.data(), DType::F32, 8, 32}, q8{bytes.data(), DType::Q8_0, 8, 32, scales.data()};
  WeightView bf16{bytes.data(), DType::BF16, 8, 32}, bf16_rounded = bf16;
  f32.x_dtype = DType::BF16;
  q8.x_dtype = DType::BF16;
  bf16_rounded.x_dtype = DType::BF16;
  refused("F32 weights with BF16 activations", [&] { matmul(x.data(), 1, f32, nullptr, y.data(), pool); });
  refused("Q8_0 weights with BF16 activations", [&] { matmul(x.data(), 1, q8, nullptr, y.data(), pool); });
  const MatmulOutput mixed[] = {{&bf16_rounded, nullptr, y.data()}, {&bf16, nullptr, y.data() + 8}};
  refused("fused weights with different activations", [&] { matmul_fused(x.data(), 1, mixed, 2, pool); });
  WeightView bf16_panels = bf16, f32_panels = f32;
  bf16_panels.panels = f32_panels.panels = true;
  f32_panels.x_dtype = DType::F32;
  const MatmulOutput layouts[] = {{&bf16_panels, nullptr, y.data()}, {&bf16, nullptr, y.data() + 8}};
  refused("fused weights in different layouts", [&] { matmul_fused(x.data(), 1, layouts, 2, pool); });
  refused("F32 weights in panels", [&] { matmul(x.data(), 1, f32_panels, nullptr, y.data(), pool); });
}

void check_vec(Rng& rng, const char* label) {
  std::vector<int64_t> sizes;
  for (int64_t n = 0; n <= 70; ++n) sizes.push_back(n);
  for (int64_t n : {127, 128, 129, 255, 256, 1000, 4097}) sizes.push_back(n);
  for (int64_t n : sizes) {
    const int64_t off = rng.range(0, 3);
    std::vector<float> a(size_t(n + off + 8)), b(size_t(n + off + 8));
    for (auto& v : a) v = rng.uniform(-1.f, 1.f);
    for (auto& v : b) v = rng.uniform(-1.f, 1.f);
    const float* pa = a.data() + off;
    const float* pb = b.data() + off;

    double ref = 0.0, mag = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      ref += double(pa[i]) * pb[i];
      mag += std::fabs(double(pa[i]) * pb[i]);
    }
    const float d = dot_f32(pa, pb, n);
    ++g_checks;
    if (!(std::fabs(d - ref) <= 1e-5 * mag + 1e-30)) {
      ++g_failures;
      std::printf("FAIL %-7s dot_f32 n=%lld: got %.9g want %.9g\n", label, (long long)n, d, ref);
    }

    // axpy / scale: each element is one rounding from the double result; check elementwise and
    // that the element past the end is untouched.
    const float alpha = rng.uniform(-2.f, 2.f);
    std::vector<float> y(b);
    float* py = y.data() + off;
    axpy_f32(alpha, pa, py, n);
    bool ok = py[n] == pb[n];
    for (int64_t i = 0; i < n; ++i) {
      const double want = double(alpha) * pa[i] + pb[i];
      if (!(std::fabs(py[i] - want) <= 1e-6 * (std::fabs(alpha * pa[i]) + std::fabs(pb[i]))))
        ok = false;
    }
    ++g_checks;
    if (!ok) {
      ++g_failures;
      std::printf("FAIL %-7s axpy_f32 n=%lld\n", label, (long long)n);
    }
    std::vector<float> z(b);
    float* pz = z.data() + off;
    scale_f32(alpha, pz, n);
    ok = pz[n] == pb[n];
    for (int64_t i = 0; i < n; ++i) {
      if (pz[i] != float(double(alpha) * pb[i])) ok = false;  // a single multiply is exact-rounded
    }
    ++g_checks;
    if (!ok) {
      ++g_failures;
      std::printf("FAIL %-7s scale_f32 n=%lld\n", label, (long long)n);
    }
  }
}

// attend_block over two blocks of n keys (F32, and BF16 keys and values through attend_block_bf16
// where the level has a kernel for them) against softmax(q·K / sqrt(hd))·V in double precision,
// over the same (for BF16: rounded) keys and values.
void check_attention(Rng& rng, const char* label) {
  for (int64_t hd : {8, 16, 24, 64, 128})  // 8 and 24: AVX2's kernel, AVX-512's generic fallback
    for (int64_t group : {1, 3})
      for (int64_t n : {1, 5, 16, 17, 32})
        for (bool bf16 : {false, true}) {
          std::vector<float> q(size_t(group * hd)), k(size_t(2 * n * hd)), v(size_t(2 * n * hd));
          for (auto& x : q) x = rng.uniform(-2.f, 2.f);
          for (auto& x : k) x = rng.uniform(-1.f, 1.f);
          for (auto& x : v) x = rng.uniform(-1.f, 1.f);
          std::vector<uint16_t> kb(k.size()), vb(v.size());
          if (bf16) {
            for (size_t i = 0; i < k.size(); ++i) k[i] = bf16_to_f32(kb[i] = f32_to_bf16(k[i]));
            for (size_t i = 0; i < v.size(); ++i) v[i] = bf16_to_f32(vb[i] = f32_to_bf16(v[i]));
          }
          const float scale = 1.0f / std::sqrt(float(hd));
          std::vector<float> max_score(size_t(group), -INFINITY), denom(size_t(group), 0.f), acc(size_t(group * hd), 0.f),
              scores(size_t(group * n));
          const OnlineSoftmax st{max_score.data(), denom.data(), acc.data()};
          for (int64_t b = 0; b < 2; ++b) {
            const size_t at = size_t(b * n * hd);
            if (!bf16 || !attend_block_bf16(q.data(), group, hd, kb.data() + at, vb.data() + at, n, scale, scores.data(), st))
              attend_block(q.data(), group, hd, k.data() + at, v.data() + at, n, scale, scores.data(), st);
          }
          bool ok = true;
          for (int64_t h = 0; h < group; ++h) {
            std::vector<double> p(size_t(2 * n));
            double top = -INFINITY, sum = 0;
            for (int64_t j = 0; j < 2 * n; ++j) {
              double dot = 0;
              for (int64_t d = 0; d < hd; ++d) dot += double(q[size_t(h * hd + d)]) * k[size_t(j * hd + d)];
              top = std::max(top, p[size_t(j)] = dot * scale);
            }
            for (auto& x : p) sum += (x = std::exp(x - top));
            for (int64_t d = 0; d < hd; ++d) {
              double want = 0;
              for (int64_t j = 0; j < 2 * n; ++j) want += p[size_t(j)] / sum * v[size_t(j * hd + d)];
              const double got = double(acc[size_t(h * hd + d)]) / denom[size_t(h)];
              if (!(std::fabs(got - want) <= 1e-5 * (1 + std::fabs(want)))) ok = false;
            }
          }
          ++g_checks;
          if (!ok) {
            ++g_failures;
            std::printf("FAIL %-7s attention hd=%lld group=%lld n=%lld %s\n", label, (long long)hd, (long long)group,
                        (long long)n, bf16 ? "bf16" : "f32");
          }
        }
}

// attend_rows16 over three chunks of up to 16 keys, each of the 16 rows given its own key range in
// each (empty ones included: some rows see nothing in the first chunk, one sees nothing at all),
// against softmax(q·K / sqrt(hd))·V over exactly the keys each row was given, in double precision.
void check_rows16(Rng& rng, const char* label) {
  constexpr int64_t kLanes = 16, kChunks = 3;
  for (int64_t hd : {8, 64, 128}) {
    if (!has_rows16_kernel(hd)) continue;
    std::vector<float> q_t(size_t(hd * kLanes)), k(size_t(kChunks * kLanes * hd), 0.f), v(k.size(), 0.f);
    for (auto& x : q_t) x = rng.uniform(-2.f, 2.f);
    std::vector<int32_t> lo(size_t(kChunks * kLanes)), hi(lo.size());
    for (int64_t c = 0; c < kChunks; ++c) {
      const int64_t n = rng.range(1, kLanes);  // keys in this chunk; the rest stay zero
      for (int64_t i = 0; i < n * hd; ++i) {
        k[size_t(c * kLanes * hd + i)] = rng.uniform(-1.f, 1.f);
        v[size_t(c * kLanes * hd + i)] = rng.uniform(-1.f, 1.f);
      }
      for (int64_t r = 0; r < kLanes; ++r) {
        int32_t a = int32_t(rng.range(0, n)), b = int32_t(rng.range(0, n));
        if (a > b) std::swap(a, b);
        if (r == 15 || (c == 0 && r % 3 == 0)) b = a;  // row 15 never sees a key; every third starts late
        lo[size_t(c * kLanes + r)] = a;
        hi[size_t(c * kLanes + r)] = b;
      }
    }
    std::vector<float> max_score(size_t(kLanes), -INFINITY), denom(size_t(kLanes), 0.f), acc(size_t(hd * kLanes), 0.f);
    const float scale = 1.0f / std::sqrt(float(hd));
    for (int64_t c = 0; c < kChunks; ++c)
      attend_rows16(q_t.data(), hd, k.data() + c * kLanes * hd, v.data() + c * kLanes * hd, lo.data() + c * kLanes,
                    hi.data() + c * kLanes, scale, {max_score.data(), denom.data(), acc.data()});
    bool ok = true;
    for (int64_t r = 0; r < kLanes; ++r) {
      std::vector<double> p;
      std::vector<const float*> rows;
      double top = -INFINITY, sum = 0;
      for (int64_t c = 0; c < kChunks; ++c)
        for (int64_t j = lo[size_t(c * kLanes + r)]; j < hi[size_t(c * kLanes + r)]; ++j) {
          const float* key = k.data() + (c * kLanes + j) * hd;
          double dot = 0;
          for (int64_t d = 0; d < hd; ++d) dot += double(q_t[size_t(d * kLanes + r)]) * key[d];
          p.push_back(dot * scale);
          top = std::max(top, p.back());
          rows.push_back(v.data() + (c * kLanes + j) * hd);
        }
      if (p.empty()) {  // untouched
        ok = ok && max_score[size_t(r)] == -INFINITY && denom[size_t(r)] == 0.f;
        for (int64_t d = 0; d < hd; ++d) ok = ok && acc[size_t(d * kLanes + r)] == 0.f;
        continue;
      }
      for (auto& x : p) sum += (x = std::exp(x - top));
      for (int64_t d = 0; d < hd; ++d) {
        double want = 0;
        for (size_t j = 0; j < p.size(); ++j) want += p[j] / sum * rows[j][d];
        const double got = double(acc[size_t(d * kLanes + r)]) / denom[size_t(r)];
        if (!(std::fabs(got - want) <= 1e-5 * (1 + std::fabs(want)))) ok = false;
      }
    }
    ++g_checks;
    if (!ok) {
      ++g_failures;
      std::printf("FAIL %-7s attention rows16 hd=%lld\n", label, (long long)hd);
    }
  }
}

void run_checks(SimdLevel level, ThreadPool& pool1, ThreadPool& pool2) {
  force_simd_level_for_testing(level);
  const char* label = simd_level_name(level);
  const int before = g_failures;
  Rng rng(0x5eed + uint64_t(level));
  check_attention(rng, label);
  check_rows16(rng, label);
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    // Tiny shapes, exhaustively: every remainder path of every micro-kernel.
    for (int64_t rows = 1; rows <= 9; ++rows)
      for (int64_t cols = 1; cols <= 17; ++cols)
        for (int64_t T = 1; T <= 5; ++T)
          check_matmul(rng, (rows + cols + T) % 2 ? pool1 : pool2, dt, T, rows, cols,
                       (rows + cols) % 2 == 0, label);
    // Shapes around vector widths, token-block and tile boundaries, and chunk boundaries.
    const int64_t fixed[][3] = {{8, 40, 33},   {6, 16, 48},  {7, 13, 31},  {13, 37, 65},
                                {32, 64, 64},  {33, 64, 65}, {65, 24, 129}, {130, 17, 100},
                                {1, 300, 257}, {2, 513, 40}, {3, 1000, 8},  {12, 77, 1},
                                // several k-blocks (accumulation across blocks), several tiles
                                {20, 24, 2100}, {7, 13, 1500}, {40, 21, 4100}, {1, 9, 3000}};
    for (const auto& s : fixed) {
      check_matmul(rng, pool2, dt, s[0], s[1], s[2], true, label);
      check_matmul(rng, pool2, dt, s[0], s[1], s[2], false, label);
    }
    for (int i = 0; i < 25; ++i) {
      const int64_t T = rng.range(0, 3) == 0 ? 1 : rng.range(1, 140);
      check_matmul(rng, pool2, dt, T, rng.range(1, 300), rng.range(1, 700), rng.range(0, 1) == 1,
                   label);
    }
  }
  // BF16 weights times activations rounded to BF16 (the dot-product GEMM and GEMV where the CPU
  // has AVX-512 BF16; rounded F32 rows elsewhere): every remainder of its 4 x 6 kernel and of
  // its 32-column steps, k-blocks of 2048, several token tiles.
  for (int64_t rows = 1; rows <= 9; ++rows)
    for (int64_t cols : {1, 15, 31, 32, 33, 64, 95})
      for (int64_t T = 1; T <= 13; T += 3)
        check_matmul(rng, (rows + T) % 2 ? pool1 : pool2, DType::BF16, T, rows, cols, (rows + cols) % 2 == 0, label, DType::BF16);
  const int64_t bf16_fixed[][3] = {{6, 16, 64}, {32, 64, 768}, {33, 37, 2100}, {70, 24, 4100}, {1, 300, 2048}, {128, 40, 96}};
  for (const auto& s : bf16_fixed) {
    check_matmul(rng, pool2, DType::BF16, s[0], s[1], s[2], true, label, DType::BF16);
    check_matmul(rng, pool2, DType::BF16, s[0], s[1], s[2], false, label, DType::BF16);
  }
  // BF16 weights in 64-row panels: the AVX-512 BF16 kernels with one and two x terms where the CPU
  // has them, the portable one elsewhere; partial panels, odd columns, every token-block size of
  // both kernels (1-6 tokens, x_lo on its own accumulators at 1-2), k-blocks of 2048 columns, several chunks and token tiles.
  for (int64_t T = 1; T <= 8; ++T)
    for (DType xd : {DType::F32, DType::BF16}) check_matmul(rng, T % 2 ? pool1 : pool2, DType::BF16, T, 65, 33, T % 3 == 0, label, xd, true);
  const int64_t panel_fixed[][3] = {{1, 1, 1},      {1, 64, 2},      {2, 63, 3},     {13, 130, 95},   {32, 64, 768},
                                    {33, 70, 2049}, {5, 129, 4100}, {70, 24, 100},  {1, 300, 2048},  {3, 1000, 8}};
  for (const auto& s : panel_fixed)
    for (DType xd : {DType::F32, DType::BF16}) {
      check_matmul(rng, pool2, DType::BF16, s[0], s[1], s[2], true, label, xd, true);
      check_matmul(rng, pool2, DType::BF16, s[0], s[1], s[2], false, label, xd, true);
    }
  check_vec(rng, label);
  std::printf("checks %-7s %s\n", label, g_failures == before ? "ok" : "FAILED");
}

// ---------------------------------------------------------------------------------------------
// Timing.

using Clock = std::chrono::steady_clock;

// Peak F32 FMA throughput of one core: many independent FMA chains, nothing else.
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#pragma GCC diagnostic push  // GCC 12 warns inside its own intrinsics (PR 105593)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
__attribute__((target("avx512f"), noinline)) float fma_peak_kernel(int64_t iters) {
  __m512 a[12];
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(float(i));
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
  __m512 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
  return _mm512_reduce_add_ps(s);
}
// Runs the FMA loop on every pool thread at once: on a VM the vCPUs may share physical cores,
// so the pool's peak is measured rather than assumed to be threads x single-thread peak.
double fma_peak_gflops(ThreadPool& pool) {
  if (simd_level_detected() != SimdLevel::Avx512) return 0.0;
  const int64_t iters = 10'000'000;
  double best = 0.0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = Clock::now();
    pool.parallel_for(pool.size(), 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        volatile float sink = fma_peak_kernel(iters);
        (void)sink;
      }
    });
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, double(iters) * 12 * 16 * 2 * pool.size() / s / 1e9);
  }
  return best;
}
#else
double fma_peak_gflops(ThreadPool&) { return 0.0; }
#endif

// Bytes of weight copies the timing rotates over, so every call reads its weight from DRAM as in a
// real model. This VM reports a 512 MB L3, and a 1 GB rotation still ran faster than DRAM at T=1.
constexpr size_t kRotateBytes = size_t(4) << 30;

// Times one shape. Rotates over enough copies of the weight to exceed the last-level cache, so
// the T=1 numbers are DRAM numbers as in a real model (whose weights never fit in cache).
void time_shape(ThreadPool& pool, DType dt, int64_t rows, int64_t cols,
                const std::vector<int64_t>& Ts, double t1_tok_per_s[], DType x_dtype = DType::F32) {
  Rng rng(42);
  const size_t bytes = size_t(rows * cols) * dtype_size(dt);
  const size_t kRotate = kRotateBytes;
  const size_t copies = std::max<size_t>(2, (kRotate + bytes - 1) / bytes);
  std::vector<Weight> ws;
  ws.push_back(make_weight(rng, dt, rows, cols, 0));
  for (size_t i = 1; i < copies; ++i) ws.push_back(ws[0]);
  const int64_t Tmax = *std::max_element(Ts.begin(), Ts.end());
  std::vector<float> x(size_t(Tmax * cols)), y(size_t(Tmax * rows));
  std::vector<float> bias(static_cast<size_t>(rows));
  for (auto& v : x) v = rng.uniform(-1.f, 1.f);
  for (auto& v : bias) v = rng.uniform(-1.f, 1.f);

  for (size_t ti = 0; ti < Ts.size(); ++ti) {
    const int64_t T = Ts[ti];
    size_t which = 0;
    auto call = [&] {
      WeightView view = ws[which].view();
      view.x_dtype = x_dtype;
      matmul(x.data(), T, view, bias.data(), y.data(), pool);
      which = (which + 1) % ws.size();
    };
    for (size_t i = 0; i < ws.size(); ++i) call();  // warm-up: page in every copy
    std::vector<double> times;
    const auto start = Clock::now();
    while (times.size() < 5 ||
           (std::chrono::duration<double>(Clock::now() - start).count() < 0.4 &&
            times.size() < 2000)) {
      const auto a = Clock::now();
      call();
      times.push_back(std::chrono::duration<double>(Clock::now() - a).count());
    }
    std::sort(times.begin(), times.end());
    const double med = times[times.size() / 2], best = times[0];
    // Rates use the best call: on a shared machine the median includes other processes' load.
    const double gflops = 2.0 * double(rows) * double(cols) * double(T) / best / 1e9;
    const double gbs = double(bytes) / best / 1e9;
    const double tok = double(T) / best;
    if (T == 1) t1_tok_per_s[0] = tok;
    char speed[32] = "";
    if (T != 1 && t1_tok_per_s[0] > 0)
      std::snprintf(speed, sizeof speed, "%6.1fx", tok / t1_tok_per_s[0]);
    const std::string label = x_dtype == DType::F32 ? dtype_name(dt) : std::string(dtype_name(dt)) + "x" + dtype_name(x_dtype);
    std::printf("%6lldx%-5lld %-9s T=%-4lld %9.1f %9.1f %8.1f %7.1f %10.0f %s\n", (long long)rows,
                (long long)cols, label.c_str(), (long long)T, med * 1e6, best * 1e6, gflops, gbs,
                tok, speed);
  }
}

void run_timing(SimdLevel level, ThreadPool& pool) {
  force_simd_level_for_testing(level);
  std::printf("\ntiming: %s, %d threads; weight rotated over >= 4 GB of copies so it comes from DRAM;"
              "\nrates from the best call; x = tok/s relative to T=1\n",
              simd_level_name(simd_level()), pool.size());
  std::printf("%-12s %-9s %-6s %9s %9s %8s %7s %10s\n", "shape", "dtype", "T", "med us", "best us",
              "GFLOP/s", "W GB/s", "tok/s");
  const int64_t shapes[][2] = {{2048, 768}, {768, 2048}, {32000, 768}};
  const std::vector<int64_t> Ts = {1, 8, 32, 128};
  for (DType dt : {DType::F32, DType::BF16}) {
    for (const auto& s : shapes) {
      double t1 = 0;
      time_shape(pool, dt, s[0], s[1], Ts, &t1);
    }
  }
  // BF16 weights times activations rounded to BF16 (ModelOptions::activations).
  for (const auto& s : shapes) {
    double t1 = 0;
    time_shape(pool, DType::BF16, s[0], s[1], Ts, &t1, DType::BF16);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, all_levels = false;
  int timing_threads = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--all-levels") == 0) all_levels = true;
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) timing_threads = std::atoi(argv[++i]);
  }
  const SimdLevel detected = simd_level_detected();
  std::printf("detected SIMD level: %s (in effect at startup: %s)\n", simd_level_name(detected),
              simd_level_name(simd_level()));
  const SimdLevel startup = simd_level();

  ThreadPool pool1(1), pool2(2);
  std::vector<SimdLevel> levels;
  for (SimdLevel l : {SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512})
    if (int(l) <= int(detected)) levels.push_back(l);
  for (SimdLevel l : levels) run_checks(l, pool1, pool2);
  check_activation_refusals();
  if (cpu_has_avx512_bf16()) {
    // The BF16 GEMV uses AVX-512 BF16 where the CPU has it; check the plain AVX-512 path too.
    allow_avx512_bf16_for_testing(false);
    std::printf("without AVX-512 BF16:\n");
    run_checks(SimdLevel::Avx512, pool1, pool2);
    allow_avx512_bf16_for_testing(true);
  }
  std::printf("%d checks, %d failures\n", g_checks, g_failures);

  if (!quick) {
    const double peak1 = fma_peak_gflops(pool1), peak2 = fma_peak_gflops(pool2);
    if (peak1 > 0)
      std::printf("measured F32 FMA peak (AVX-512): %.1f GFLOP/s on 1 thread, %.1f on %d threads\n",
                  peak1, peak2, pool2.size());
    ThreadPool timing_pool(timing_threads);
    if (all_levels) {
      for (auto it = levels.rbegin(); it != levels.rend(); ++it) run_timing(*it, timing_pool);
    } else {
      run_timing(startup, timing_pool);
    }
  }
  return g_failures == 0 ? 0 : 1;
}
