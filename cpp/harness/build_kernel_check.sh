#!/usr/bin/env bash
# Builds the kernel check/timing program into /tmp/kernel_check with the same flags node-gyp
# uses for the addon (no -march: the kernels dispatch at run time).
set -euo pipefail
cd "$(dirname "$0")/.."  # cpp/
g++ -O3 -std=c++17 -fno-math-errno -Wall -Wextra -Wno-unused-parameter -I. \
  harness/kernel_check.cc core/kernels/*.cc core/thread_pool.cc -lpthread -o /tmp/kernel_check
echo "built /tmp/kernel_check"
