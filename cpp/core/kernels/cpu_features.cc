#include "core/kernels/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace astraea {

namespace {

SimdLevel detect() {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  __builtin_cpu_init();
  // libgcc only reports AVX/AVX-512 features when XCR0 says the OS saves the wider registers,
  // so these checks also cover kernels or hypervisors that disable them.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  // F16C is not implied by AVX-512F in cpuid terms, but every AVX-512 CPU has it; check anyway
  // because the AVX-512 path converts F16 with it.
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  if (avx512) return SimdLevel::Avx512;
  if (avx2) return SimdLevel::Avx2;
#endif
  return SimdLevel::Scalar;
}

SimdLevel detected_level() {
  static const SimdLevel level = detect();  // thread-safe static init
  return level;
}

SimdLevel min_level(SimdLevel a, SimdLevel b) { return int(a) < int(b) ? a : b; }

SimdLevel initial_level() {
  SimdLevel level = detected_level();
  if (const char* env = std::getenv("ASTRAEA_SIMD")) {
    if (std::strcmp(env, "scalar") == 0) level = min_level(level, SimdLevel::Scalar);
    else if (std::strcmp(env, "avx2") == 0) level = min_level(level, SimdLevel::Avx2);
    // "avx512" or anything unrecognised: keep the detected level.
  }
  return level;
}

// -1 = not decided yet. An atomic int rather than a function-local static so the test hook can
// overwrite it; relaxed ordering is enough because every value stored is a valid level.
std::atomic<int> g_level{-1};

}  // namespace

SimdLevel simd_level() {
  int v = g_level.load(std::memory_order_relaxed);
  if (v < 0) {
    v = int(initial_level());
    int expected = -1;
    if (!g_level.compare_exchange_strong(expected, v, std::memory_order_relaxed)) v = expected;
  }
  return SimdLevel(v);
}

SimdLevel simd_level_detected() { return detected_level(); }

bool cpu_has_avx512_vnni() {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  static const bool vnni = [] {
    __builtin_cpu_init();
    return detected_level() == SimdLevel::Avx512 && __builtin_cpu_supports("avx512vnni");
  }();
  return vnni;
#else
  return false;
#endif
}

namespace {
std::atomic<bool> bf16_allowed{true};
}  // namespace

bool cpu_has_avx512_bf16() {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  static const bool bf16 = [] {
    __builtin_cpu_init();
    return detected_level() == SimdLevel::Avx512 && __builtin_cpu_supports("avx512bf16");
  }();
  return bf16 && bf16_allowed.load(std::memory_order_relaxed) && simd_level() == SimdLevel::Avx512;
#else
  return false;
#endif
}

void allow_avx512_bf16_for_testing(bool allowed) { bf16_allowed.store(allowed, std::memory_order_relaxed); }

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::Scalar: return "scalar";
    case SimdLevel::Avx2: return "avx2";
    case SimdLevel::Avx512: return "avx512";
  }
  return "?";
}

void force_simd_level_for_testing(SimdLevel level) {
  g_level.store(int(min_level(level, detected_level())), std::memory_order_relaxed);
}

}  // namespace astraea
