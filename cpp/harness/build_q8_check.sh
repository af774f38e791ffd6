#!/usr/bin/env bash
# Builds the Q8_0 matmul check (cpp/harness/q8_check.cc) into ${1:-build/harness}/q8_check with the
# addon's flags (no -march: the kernels dispatch at run time) and prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-build/harness}"
mkdir -p "$out"
g++ -O3 -std=c++17 -fno-math-errno -Wall -Wextra -Wno-unused-parameter -Icpp cpp/harness/q8_check.cc \
  cpp/core/kernels/*.cc cpp/core/thread_pool.cc -lpthread -o "$out/q8_check"
echo "$out/q8_check"
