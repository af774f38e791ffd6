#!/usr/bin/env bash
# The comparison of docs/results.md, reproduced: every policy on the paper, tau and chat
# workloads. Each output line is one run's result summary (JSON), as `astraea simulate --json` and
# `astraea bench --json` print them, with the run's section tagged in front.
#
#   npm run build:ts && bash bench/results.sh sim-learned|sim-oracle|ablations|real [out.jsonl]
#
# sim-*     : the simulator at GPU scale (h100-llama3-8b), loads 0.5–2, the full H100 KV pool
#             (25,000 blocks) and a third of it (8,000), learned or oracle lengths; seed 1.
# ablations : `astraea` with each of its rules switched to the alternative, load 2, 8,000 blocks,
#             seeds 1 and 2.
# real      : the real engine on this machine (the default bench model), each workload at the
#             bench's CPU scale, two KV pools.
set -euo pipefail
cd "$(dirname "$0")/.."
section=${1:?section: sim-learned, sim-oracle, ablations or real}
out=${2:-/dev/stdout}
astraea() { node bin/astraea.js "$@"; }
tag() { sed "s/^{/{\"section\":\"$1\",/"; }
workloads=(paper tau chat)

case "$section" in
  sim-learned | sim-oracle)
    hints=$([ "$section" = sim-oracle ] && echo oracle || echo none)
    for w in "${workloads[@]}"; do
      for blocks in 25000 8000; do
        astraea simulate --workload "$w" --loads 0.5,1,1.5,2 --kv-blocks "$blocks" --hints "$hints" --json --no-chart 2>/dev/null | tag "$section"
      done
    done >"$out"
    ;;
  ablations)
    settings=(
      ''
      astraea.kvRule=watermark
      astraea.reclaim=off
      astraea.waitBasis=accumulated
      astraea.swapCost=copy
      astraea.serviceScope=segment
      astraea.uncontendedKv=release
      astraea.ageFrom=lowest
      astraea.memoryWeight=off
      astraea.segmentsAheadCap=Infinity
    )
    for w in "${workloads[@]}"; do
      for seed in 1 2; do
        for setting in "${settings[@]}"; do
          astraea simulate --workload "$w" --load 2 --kv-blocks 8000 --seed "$seed" --policies astraea ${setting:+--set "$setting"} --json --no-chart 2>/dev/null |
            sed "s/^{/{\"setting\":\"${setting:-default}\",/" | tag ablations
        done
      done
    done >"$out"
    ;;
  real)
    for w in "${workloads[@]}"; do
      for blocks in 256 96; do
        astraea bench --workload "$w" --kv-blocks "$blocks" --json --no-chart 2>/dev/null | tag real
      done
    done >"$out"
    ;;
  *)
    echo "unknown section $section" >&2
    exit 2
    ;;
esac
