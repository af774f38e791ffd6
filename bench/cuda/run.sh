#!/usr/bin/env bash
# The device run for the CUDA backend, prepared to fit one short lease (15 minutes of GPU time in
# all, starts included). It compiles every source once, in parallel, for the card found (one
# architecture, not the build's whole list); links the checks; then, each step under its own
# timeout so one hang cannot eat the budget:
#   checks: kernels against double references, matrix products, whole steps against the CPU
#           backend, logits against Hugging Face transformers; compute-sanitizer's memcheck over
#           the kernel checks runs beside them (never beside the timings);
#   speed:  our speed table (speed.cu), then transformers on the same shapes (hf_speed.py).
# Each check's line prints as it finishes; the summary and the speed tables print last. Under
# $OUT it leaves run.log (everything printed), memcheck.log and figures.json (every check's
# result and every figure, machine-readable) — three files, inside the tool's eight.
#
#   bash bench/cuda/run.sh [all|checks|speed]      # on the GPU machine, from the repository root
#
# ASTRAEA_RUN_BUDGET_S (default 420) is the whole run's budget: a step starts only with its
# minimum time left and never runs past the budget, so the tables still print before the device
# tool's timeout_s (give it the budget plus a minute). `checks` or `speed` alone make a rerun
# cheaper. The device machine has no network: Hugging Face is told so up front (no download is
# attempted), and Python writes no bytecode into the tree.
set -uo pipefail
cd "$(dirname "$0")/../.."
what=${1:-all}
case "$what" in all | checks | speed) ;; *) echo "usage: bash bench/cuda/run.sh [all|checks|speed]"; exit 2 ;; esac
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
budget=${ASTRAEA_RUN_BUDGET_S:-420}
out=${OUT:-$(mktemp -d)}
work=/tmp/astraea-cuda
mkdir -p "$work" "$out"
results="$work/results.tsv"  # step, status, seconds, last line
: > "$results"
rm -f "$work"/*.json "$work"/*.log  # nothing from an earlier run on this machine is reported

# Runs one step under min(its limit, what is left of the budget); records how it ended.
#   step NAME MIN_S LIMIT_S COMMAND...   (prints the command's output as it comes)
step() {
  local name=$1 min=$2 limit=$3
  shift 3
  local left=$((budget - SECONDS))
  if [ "$left" -lt "$min" ]; then
    echo "$name: skipped, ${left}s of the budget left (needs ${min}s)"
    printf '%s\tskipped\t0\tbudget\n' "$name" >> "$results"
    return 1
  fi
  [ "$limit" -le "$left" ] || limit=$left
  local start=$SECONDS rc status
  timeout -k 5 "$limit" "$@" 2>&1 | tee "$work/$name.log"
  rc=${PIPESTATUS[0]}
  case $rc in 0) status=ok ;; 124 | 137) status="timeout ${limit}s" ;; *) status="failed ($rc)" ;; esac
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" $((SECONDS - start)) "$(tail -1 "$work/$name.log" | tr '\t' ' ')" >> "$results"
  [ $rc -eq 0 ]
}

main() {
  arch=${ASTRAEA_CUDA_ARCH:-$(timeout 30 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')}
  [ -n "$arch" ] || { echo "no GPU: nvidia-smi found no device"; return 1; }
  echo "$(timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null), sm_$arch, $(nvcc --version | grep -o 'release [0-9.]*')"

  step build 60 240 bash bench/cuda/build.sh "$arch" "$work" || { echo "build failed: nothing to run"; return 1; }

  status=0
  memcheck_pid=
  if [ "$what" != speed ]; then
    if command -v compute-sanitizer >/dev/null; then
      # Beside the checks, on the same card: it slows them a little and perturbs no timing.
      timeout -k 5 240 compute-sanitizer --tool memcheck --error-exitcode 1 "$work/kernel_check" > "$out/memcheck.log" 2>&1 &
      memcheck_pid=$!
    else
      echo "compute-sanitizer not found" > "$out/memcheck.log"
    fi
    step kernel_check 20 90 "$work/kernel_check" || status=1
    step gemm_check 20 90 "$work/gemm_check" || status=1
    step model_check 30 150 "$work/model_check" || status=1
    step hf_check 60 240 python3 bench/cuda/hf_check.py --gpu-logits "$work/gpu_logits" --work "$work/hf_check" || status=1
    if [ -n "$memcheck_pid" ]; then
      wait "$memcheck_pid"
      case $? in 0) m=clean ;; 124 | 137) m="timeout 240s" ;; *) m="ERRORS (memcheck.log)" ;; esac
    else
      m="not run (no compute-sanitizer)"
    fi
    printf 'memcheck\t%s\t0\t%s\n' "$m" "$(tail -1 "$out/memcheck.log" | tr '\t' ' ')" >> "$results"
  fi
  if [ "$what" != checks ]; then
    step speed 60 180 "$work/speed" "$work/speed.json" || status=1
    step hf_speed 60 180 python3 bench/cuda/hf_speed.py --json "$work/hf_speed.json" || echo "hf_speed did not complete (run.log): the side-by-side column is missing"
  fi

  # figures.json: every step's result, then our figures and transformers' (each null if not run).
  python3 - "$results" "$work/speed.json" "$work/hf_speed.json" > "$out/figures.json" <<'EOF'
import json, os, sys
steps = []
for line in open(sys.argv[1]):
    name, status, seconds, last = line.rstrip("\n").split("\t", 3)
    steps.append({"step": name, "status": status, "seconds": int(seconds), "last_line": last})
load = lambda p: json.load(open(p)) if os.path.exists(p) else None
print(json.dumps({"steps": steps, "speed": load(sys.argv[2]), "transformers": load(sys.argv[3])}, indent=1))
EOF

  echo
  echo "| step | result | s | last line |"
  echo "| --- | --- | ---: | --- |"
  awk -F'\t' '{ gsub(/\|/, "/", $4); printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$results"
  for log in speed hf_speed; do
    [ -f "$work/$log.log" ] && { echo; grep -E '^\||^device|^transformers' "$work/$log.log"; }
  done
  echo "run: ${SECONDS}s of ${budget}s"
  return $status
}

main 2>&1 | tee "$out/run.log"
exit "${PIPESTATUS[0]}"
