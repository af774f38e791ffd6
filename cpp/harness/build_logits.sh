#!/usr/bin/env bash
# Builds astraea-logits, the Node-free driver of the core, into ${1:-build/harness}.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-build/harness}"
mkdir -p "$out"
g++ -O2 -std=c++17 -fno-math-errno -Icpp cpp/harness/logits_main.cc cpp/core/*.cc cpp/core/kernels/*.cc \
  -lpthread -o "$out/astraea-logits"
echo "$out/astraea-logits"
