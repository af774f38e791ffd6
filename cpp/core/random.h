// Counter-based randomness: a value depends only on its inputs, never on call order, so dummy
// weights and sampled tokens are reproducible however work is split across threads or steps.
#pragma once
#include <cstdint>
#include <string>

// The CUDA kernels draw the same values (dummy weights generated on the GPU match the CPU's).
#ifdef __CUDACC__
#define ASTRAEA_RANDOM_HD __host__ __device__
#else
#define ASTRAEA_RANDOM_HD
#endif

namespace astraea {

// The splitmix64 finaliser: a fast bijective mix of 64 bits.
ASTRAEA_RANDOM_HD inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline uint64_t hash_string(const std::string& s) {  // FNV-1a
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace astraea
