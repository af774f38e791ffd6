// Measures how fast this machine streams memory into the cores: the physical limit a decode step
// (which reads every weight once) is compared with in the benchmarks.
#pragma once
#include <cstdint>

namespace astraea {

// Reads a buffer of `bytes` with `threads` threads (0: all), `repeats` times; returns the best
// observed read bandwidth in bytes per second.
double measure_read_bandwidth(uint64_t bytes, int threads, int repeats);

}  // namespace astraea
