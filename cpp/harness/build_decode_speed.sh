#!/usr/bin/env bash
# Builds decode_speed (cpp/harness/decode_speed.cc) into ${1:-build/harness} and prints its path.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-build/harness}"
mkdir -p "$out"
g++ -O3 -std=c++17 -fno-math-errno -Wall -Wextra -Wno-unused-parameter -Icpp cpp/harness/decode_speed.cc cpp/core/*.cc \
  cpp/core/kernels/*.cc -lpthread -o "$out/decode_speed"
echo "$out/decode_speed"
