#!/usr/bin/env bash
# Builds the kernel check/timing program (cpp/harness/kernel_check.cc) into ${1:-build/harness}/kernel_check
# with the same flags node-gyp uses for the addon (no -march: the kernels dispatch at run time), and
# prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-build/harness}"
mkdir -p "$out"
g++ -O3 -std=c++17 -fno-math-errno -Wall -Wextra -Wno-unused-parameter -Icpp \
  cpp/harness/kernel_check.cc cpp/core/kernels/*.cc cpp/core/thread_pool.cc -lpthread -o "$out/kernel_check"
echo "$out/kernel_check"
