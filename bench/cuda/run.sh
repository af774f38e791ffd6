#!/usr/bin/env bash
# The device run for the CUDA backend (issue 7), prepared to fit one short lease: compiles every
# source once (in parallel) for the card found, links the checks, runs compute-sanitizer's
# memcheck over the kernel checks, then the checks — kernels, matrix products, whole steps against
# the CPU backend, logits against Hugging Face transformers — and prints a summary table last.
# The device machine has nvcc, cuBLAS, PyTorch and transformers but no Node. Logs go to $OUT.
#   bash bench/cuda/run.sh            # on the GPU machine, from the repository root
set -uo pipefail
cd "$(dirname "$0")/../.."
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '.')
case "$arch" in
  90) gencode=(-gencode=arch=compute_90a,code=sm_90a) ;;
  *) gencode=(-gencode=arch=compute_${arch},code=sm_${arch}) ;;
esac
out=${OUT:-$(mktemp -d)}  # logs only: $OUT brings back a few files
bin=/tmp/astraea-cuda
obj="$bin/obj"
mkdir -p "$obj"
flags=(-std=c++17 -I. -Icpp -O3 -Xcompiler -fno-math-errno "${gencode[@]}")
for src in cuda/*.cu cuda/harness/*.cu cpp/core/*.cc cpp/core/kernels/*.cc; do
  nvcc "${flags[@]}" -c "$src" -o "$obj/$(echo "$src" | tr / _).o" &
done
wait
ok=1
kernels=$(ls "$obj"/cuda_*.o | grep -v -E 'harness|gemm_cublas|device_model')
core=$(ls "$obj"/cpp_core_*.o)
link() { nvcc "${flags[@]}" "$@" -lcublas -lpthread || ok=0; }
link $kernels "$obj/cuda_harness_kernel_check.cu.o" "$obj/cpp_core_sampler.cc.o" -o "$bin/kernel_check"
link "$obj/cuda_gemm_cublas.cu.o" "$obj/cuda_harness_gemm_check.cu.o" -o "$bin/gemm_check"
link $kernels "$obj/cuda_gemm_cublas.cu.o" "$obj/cuda_device_model.cu.o" "$obj/cuda_harness_model_check.cu.o" $core -o "$bin/model_check"
link $kernels "$obj/cuda_gemm_cublas.cu.o" "$obj/cuda_device_model.cu.o" "$obj/cuda_harness_gpu_logits.cu.o" $core -o "$bin/gpu_logits"
link $kernels "$obj/cuda_gemm_cublas.cu.o" "$obj/cuda_device_model.cu.o" "$obj/cuda_harness_speed.cu.o" $core -o "$bin/speed"
[ $ok -eq 1 ] || { echo "build failed"; exit 1; }

memcheck="not run (no compute-sanitizer)"
if command -v compute-sanitizer >/dev/null; then
  compute-sanitizer --tool memcheck --error-exitcode 1 "$bin/kernel_check" > "$out/memcheck.log" 2>&1 &&
    memcheck="clean" || memcheck="ERRORS (memcheck.log)"
fi
status=0
"$bin/kernel_check" | tee "$out/kernel_check.log" || status=1
"$bin/gemm_check" | tee "$out/gemm_check.log" || status=1
"$bin/model_check" | tee "$out/model_check.log" || status=1
PYTHONUNBUFFERED=1 python3 bench/cuda/hf_check.py --gpu-logits "$bin/gpu_logits" --work /tmp/hf_check | tee "$out/hf_check.log" || status=1
PYTHONUNBUFFERED=1 python3 bench/cuda/hf_speed.py > "$out/hf_speed.log" 2>&1 || echo "hf_speed failed (hf_speed.log)"
"$bin/speed" > "$out/speed.log" 2>&1 || status=1
echo
echo "| check | result |"
echo "| --- | --- |"
echo "| kernels | $(tail -1 "$out/kernel_check.log") |"
echo "| matrix products | $(tail -1 "$out/gemm_check.log") |"
echo "| whole steps vs the CPU backend | $(tail -1 "$out/model_check.log") |"
echo "| logits vs transformers | $(tail -1 "$out/hf_check.log") |"
echo "| memcheck | $memcheck |"
echo
cat "$out/speed.log" | grep -E '^\||^device'
echo
cat "$out/hf_speed.log" | grep -E '^\||^transformers'
exit $status
