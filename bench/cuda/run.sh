#!/usr/bin/env bash
# The device run for the CUDA backend (issue 7), prepared to fit one short lease: builds the
# kernels and the harness for the card found, runs the correctness checks, and prints the table
# last. The device machine has nvcc but no Node, so everything here is plain CUDA C++.
#   bash bench/cuda/run.sh            # on the GPU machine, from the repository root
set -euo pipefail
cd "$(dirname "$0")/../.."
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '.')
case "$arch" in
  90) gencode=(-gencode=arch=compute_90a,code=sm_90a) ;;
  *) gencode=(-gencode=arch=compute_${arch},code=sm_${arch}) ;;
esac
out=${OUT:-$(mktemp -d)}
nvcc -std=c++17 -I. -Icpp -O3 "${gencode[@]}" cuda/*.cu cuda/harness/kernel_check.cu cpp/core/sampler.cc -o "$out/kernel_check"
if command -v compute-sanitizer >/dev/null; then
  compute-sanitizer --tool memcheck --error-exitcode 1 "$out/kernel_check" > "$out/memcheck.log" 2>&1 &&
    echo "memcheck: clean" || echo "memcheck: ERRORS (see memcheck.log)"
fi
"$out/kernel_check" | tee "$out/kernel_check.log"
