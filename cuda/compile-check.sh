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
# Objects are named by path (cuda/harness/x.cu -> cuda_harness_x.cu.o), so the kernels are the
# cuda_*.o that are neither harnesses nor the pieces needing cuBLAS at link time. gemm_cublas.cu
# needs cuBLAS's headers, which these machines lack: it is compiled only where they are.
with_cublas=0
if [ -f "$(dirname "$(command -v nvcc)")/../include/cublas_v2.h" ]; then with_cublas=1; fi
sources=(cuda/*.cu cuda/harness/*.cu cpp/core/sampler.cc cpp/core/logprobs.cc)
pids=()
for src in "${sources[@]}"; do
  [ "$src" != cuda/gemm_cublas.cu ] || [ $with_cublas -eq 1 ] || continue
  nvcc "${flags[@]}" -c "$src" -o "$out/$(echo "$src" | tr / _).o" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ $status -eq 0 ] || { echo "cuda compile check: FAILED"; exit 1; }
kernels=$(ls "$out"/cuda_*.o | grep -v -E 'cuda_harness_|gemm_cublas|device_model')
nvcc "${flags[@]}" $kernels "$out/cuda_harness_kernel_check.cu.o" "$out/cpp_core_sampler.cc.o" "$out/cpp_core_logprobs.cc.o" -o "$out/kernel_check"
[ $with_cublas -eq 0 ] || nvcc "${flags[@]}" "$out/cuda_gemm_cublas.cu.o" "$out/cuda_harness_gemm_check.cu.o" -lcublas -o "$out/gemm_check"
files=$(ls "$out"/*.o | wc -l)
cublas_note=$([ $with_cublas -eq 1 ] && echo "cuBLAS found" || echo "no cuBLAS here: gemm_cublas.cu not compiled, gemm_check not linked")
echo "cuda compile check: $files files compiled for sm_80 and sm_90a, harnesses linked; $cublas_note ($(nvcc --version | grep -o 'release [0-9.]*'))"
