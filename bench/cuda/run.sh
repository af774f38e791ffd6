#!/usr/bin/env bash
# The device run for the CUDA backend (issue 7), prepared to fit one short lease: builds the
# kernels and the harnesses for the card found, runs compute-sanitizer's memcheck over the kernel
# checks, then the checks themselves, and prints a summary last. The device machine has nvcc and
# cuBLAS but no Node, so everything here is plain CUDA C++. Logs go to $OUT when set.
#   bash bench/cuda/run.sh            # on the GPU machine, from the repository root
set -uo pipefail
cd "$(dirname "$0")/../.."
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '.')
case "$arch" in
  90) gencode=(-gencode=arch=compute_90a,code=sm_90a) ;;
  *) gencode=(-gencode=arch=compute_${arch},code=sm_${arch}) ;;
esac
out=${OUT:-$(mktemp -d)}
flags=(-std=c++17 -I. -Icpp -O3 "${gencode[@]}")
nvcc "${flags[@]}" $(ls cuda/*.cu | grep -v -E 'gemm_cublas|device_model') cuda/harness/kernel_check.cu cpp/core/sampler.cc -o "$out/kernel_check" || exit 1
nvcc "${flags[@]}" cuda/gemm_cublas.cu cuda/harness/gemm_check.cu -lcublas -o "$out/gemm_check" || exit 1
nvcc "${flags[@]}" -Xcompiler -fno-math-errno cuda/*.cu cuda/harness/model_check.cu cpp/core/*.cc cpp/core/kernels/*.cc \
  -lcublas -lpthread -o "$out/model_check" || exit 1
memcheck="not run (no compute-sanitizer)"
if command -v compute-sanitizer >/dev/null; then
  compute-sanitizer --tool memcheck --error-exitcode 1 "$out/kernel_check" > "$out/memcheck.log" 2>&1 &&
    memcheck="clean" || memcheck="ERRORS (memcheck.log)"
fi
"$out/kernel_check" | tee "$out/kernel_check.log"; kernels=$?
"$out/gemm_check" | tee "$out/gemm_check.log"; gemms=$?
"$out/model_check" | tee "$out/model_check.log"; models=$?
echo
echo "| check | result |"
echo "| --- | --- |"
echo "| kernels | $(tail -1 "$out/kernel_check.log") |"
echo "| gemm | $(tail -1 "$out/gemm_check.log") |"
echo "| forward vs CPU | $(tail -1 "$out/model_check.log") |"
echo "| memcheck | $memcheck |"
[ $kernels -eq 0 ] && [ $gemms -eq 0 ] && [ $models -eq 0 ]
