#!/usr/bin/env bash
# Builds the device checks for one GPU architecture: every source compiled once, all in parallel,
# then the five programs linked in parallel. Called by bench/cuda/run.sh under its timeout.
#   bash bench/cuda/build.sh ARCH WORKDIR      # ARCH as nvidia-smi's compute_cap without the dot: 90
set -uo pipefail
cd "$(dirname "$0")/../.."
arch=$1 work=$2
obj="$work/obj"
mkdir -p "$obj"
case "$arch" in
  90) gencode=(-gencode=arch=compute_90a,code=sm_90a) ;;  # Hopper's own instructions need the a-target
  *) gencode=(-gencode=arch=compute_${arch},code=sm_${arch}) ;;
esac
flags=(-std=c++17 -I. -Icpp -O3 -Xcompiler -fno-math-errno "${gencode[@]}")

# Waits for every background job; fails if any did.
wait_all() {
  local ok=0 pid
  for pid in $(jobs -p); do wait "$pid" || ok=1; done
  return $ok
}

for src in cuda/*.cu cuda/harness/*.cu cpp/core/*.cc cpp/core/kernels/*.cc; do
  nvcc "${flags[@]}" -c "$src" -o "$obj/$(echo "$src" | tr / _).o" &
done
wait_all || { echo "build: compile failed"; exit 1; }

# Objects are named by path: the kernels are the cuda_*.o that are neither harnesses nor the
# pieces needing cuBLAS or the whole model.
kernels=$(ls "$obj"/cuda_*.o | grep -v -E 'harness|gemm_cublas|device_model')
core=$(ls "$obj"/cpp_core_*.o)
link=(nvcc "${flags[@]}" -lcublas -lpthread)
"${link[@]}" $kernels "$obj/cuda_harness_kernel_check.cu.o" "$obj/cpp_core_sampler.cc.o" -o "$work/kernel_check" &
"${link[@]}" "$obj/cuda_gemm_cublas.cu.o" "$obj/cuda_harness_gemm_check.cu.o" -o "$work/gemm_check" &
for name in model_check gpu_logits speed; do
  "${link[@]}" $kernels "$obj/cuda_gemm_cublas.cu.o" "$obj/cuda_device_model.cu.o" "$obj/cuda_harness_$name.cu.o" $core -o "$work/$name" &
done
wait_all || { echo "build: link failed"; exit 1; }
echo "build: sm_$arch, $(ls "$obj" | wc -l) objects, 5 programs"
