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
# gemm_cublas.cu needs cuBLAS's headers, which these machines lack; it is compiled where found.
sources=($(ls cuda/*.cu cuda/harness/*.cu) cpp/core/sampler.cc)
sources=("${sources[@]/cuda\/gemm_cublas.cu/}")  # its check, harness/gemm_check.cu, needs only cuda/gemm.h
with_cublas=0
if [ -f "$(dirname "$(command -v nvcc)")/../include/cublas_v2.h" ]; then with_cublas=1; fi
pids=()
for src in "${sources[@]}"; do
  [ -n "$src" ] || continue
  nvcc "${flags[@]}" -c "$src" -o "$out/$(basename "$src").o" &
  pids+=($!)
done
if [ $with_cublas -eq 1 ]; then
  nvcc "${flags[@]}" -c cuda/gemm_cublas.cu -o "$out/gemm_cublas.cu.o" &
  pids+=($!)
fi
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ $status -eq 0 ] || { echo "cuda compile check: FAILED"; exit 1; }
kernels=$(ls "$out"/*.o | grep -v -E 'gemm_cublas|gemm_check|kernel_check|model_check|gpu_logits|speed|device_model|sampler')
nvcc "${flags[@]}" $kernels "$out/kernel_check.cu.o" "$out/sampler.cc.o" -o "$out/kernel_check"
[ $with_cublas -eq 0 ] || nvcc "${flags[@]}" "$out/gemm_cublas.cu.o" "$out/gemm_check.cu.o" -lcublas -o "$out/gemm_check"
files=$(ls "$out"/*.o | wc -l)
cublas_note=$([ $with_cublas -eq 1 ] && echo "cuBLAS found" || echo "no cuBLAS here: gemm_cublas.cu not compiled, gemm_check not linked")
echo "cuda compile check: $files files compiled for sm_80 and sm_90a, harnesses linked; $cublas_note ($(nvcc --version | grep -o 'release [0-9.]*'))"
