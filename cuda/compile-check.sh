#!/usr/bin/env bash
# Compiles every CUDA source for the GPUs the backend targets (sm_80, sm_90a), warnings as
# errors, and links the device harness. Runs in CI, where nvcc is installed but no GPU (nothing
# is run). Without nvcc it says so and succeeds: the CPU build needs none of this.
#   bash cuda/compile-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvcc >/dev/null; then
  echo "cuda compile check: skipped (no nvcc on PATH)"
  exit 0
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags=(-std=c++17 -I. -Icpp -O3 -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror
  -gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90a,code=sm_90a)
sources=(cuda/*.cu cuda/harness/*.cu cpp/core/sampler.cc)
pids=()
for src in "${sources[@]}"; do
  nvcc "${flags[@]}" -c "$src" -o "$out/$(basename "$src").o" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ $status -eq 0 ] || { echo "cuda compile check: FAILED"; exit 1; }
nvcc "${flags[@]}" "$out"/*.o -o "$out/kernel_check"
echo "cuda compile check: ${#sources[@]} files compiled for sm_80 and sm_90a, harness linked ($(nvcc --version | grep -o 'release [0-9.]*'))"
