#!/usr/bin/env bash
# The comparison of docs/results.md, reproduced: every policy on the coding, paper, tau and chat
# workloads. Each output line is one run's result summary (JSON), as `astraea simulate --json` and
# `astraea bench --json` print them (capacity: `astraea simulate --capacity --json`), with the
# run's section tagged in front.
#
#   npm run build:ts && [WORKLOADS="coding paper tau chat"] [POLICIES=astraea,fcfs] [REAL_POOLS=1] bash bench/policies/results.sh sim-learned|sim-oracle|arrivals|ablations|capacity|real [out.jsonl]
#
# POLICIES (sim-learned, sim-oracle, capacity): the policies to run, default all nine; rerunning one
# policy after it changed, its lines replace its old ones (docs/results.md, "Reproduce").
#
# arrivals  : coding's bursty (azure) and rollout (burst) arrival shapes, 25,000 blocks, seed 1.
# sim-*     : the simulator at GPU scale (h100-llama3-8b), seed 1. sim-learned: loads 0.5–2, the
#             full H100 KV pool (25,000 blocks) and a third of it (8,000) — coding: an H200's
#             (60,000) and the H100's; sim-oracle: the true lengths passed as hints, loads 1 and 2,
#             8,000 blocks (coding: 25,000).
# ablations : `astraea` with each of its rules switched to the alternative, load 2, 8,000 blocks,
#             seeds 1 and 2 (chat: seed 1).
# capacity  : jobs per hour at a p90 JCT within 2 × the unloaded p90, per policy, on the simulator
#             at GPU scale: coding with the full pool (its contexts fill it), the others with
#             8,000 blocks (a pool under pressure), each family's probes sized for its rate.
# real      : the real engine on this machine (the default bench model), each workload shrunk to
#             a CPU's scale (see below), two KV pools.
set -euo pipefail
cd "$(dirname "$0")/../.."
section=${1:?section: sim-learned, sim-oracle, arrivals, ablations, capacity or real}
out=${2:-/dev/stdout}
astraea() { node bin/astraea.js "$@"; }
tag() { sed "s/^{/{\"section\":\"$1\",/"; }
# chat's sessions are long (tens of turns over tens of thousands of tokens): 100 of them, not the
# generator's 200, keep a simulated sweep to minutes.
chat_jobs() { [ "$1" = chat ] && echo "--jobs 100" || true; }
# The pool under memory pressure: a third of the H100's, or for coding (a request holds up to
# 8,192 blocks) the H100's whole pool, three such contexts.
pressure_pool() { [ "$1" = coding ] && echo 25000 || echo 8000; }
read -r -a workloads <<<"${WORKLOADS:-coding paper tau chat}"
policies=(--policies "${POLICIES:-fcfs,astraea,astraea-paper,infercept,autellix,continuum,thunderagent,tokencake,mori}")

case "$section" in
  sim-learned | sim-oracle)
    # The oracle runs only where memory is short and the load high enough to queue.
    hints=$([ "$section" = sim-oracle ] && echo oracle || echo none)
    loads=$([ "$section" = sim-oracle ] && echo 1,2 || echo 0.5,1,1.5,2)
    pools=$([ "$section" = sim-oracle ] && echo 8000 || echo "25000 8000")
    for w in "${workloads[@]}"; do
      # A coding request can hold ~131K tokens (8,192 blocks): its pools are the H100's full one
      # (25,000 blocks, three such contexts) and an H200's (60,000).
      wpools=$([ "$w" = coding ] && { [ "$section" = sim-oracle ] && echo 25000 || echo "60000 25000"; } || echo "$pools")
      for blocks in $wpools; do
        astraea simulate --workload "$w" $(chat_jobs "$w") --loads "$loads" --kv-blocks "$blocks" --hints "$hints" "${policies[@]}" --json --no-chart 2>/dev/null | tag "$section"
      done
    done >"$out"
    ;;
  arrivals)
    # coding's other arrival shapes (the generator's default is Poisson), with the H100's pool:
    # bursty (Azure's LLM-inference trace shape) at loads 1 and 2, and a rollout burst of 100
    # requests all at t = 0.
    {
      astraea simulate --workload coding --arrivals azure --loads 1,2 --kv-blocks 25000 "${policies[@]}" --json --no-chart 2>/dev/null | sed 's/^{/{"arrivals":"azure",/'
      astraea simulate --workload coding --arrivals burst --jobs 100 --kv-blocks 25000 "${policies[@]}" --json --no-chart 2>/dev/null | sed 's/^{/{"arrivals":"burst",/'
    } | tag arrivals >"$out"
    ;;
  ablations)
    source bench/policies/ablation-settings.sh
    settings=("${ABLATION_SETTINGS[@]}")
    for w in "${workloads[@]}"; do
      # chat's runs are the long ones: one seed.
      seeds=$([ "$w" = chat ] && echo 1 || echo "1 2")
      for seed in $seeds; do
        for setting in "${settings[@]}"; do
          astraea simulate --workload "$w" $(chat_jobs "$w") --load 2 --kv-blocks "$(pressure_pool "$w")" --seed "$seed" --policies astraea ${setting:+--set "$setting"} --json --no-chart 2>/dev/null |
            sed "s/^{/{\"setting\":\"${setting:-default}\",/" | tag ablations
        done
      done
    done >"$out"
    ;;
  capacity)
    # Probe sizes per family (docs/simulator.md, "Capacity"): coding's defaults; paper's 6 jobs/s
    # need more than 5,000 jobs a probe past load 1; tau's window is 2x its unloaded p90, not 4x,
    # to keep a probe to minutes; chat's sessions last half an hour.
    capacity_flags() {
      case "$1" in
        paper) echo "--max-jobs 20000" ;;
        tau) echo "--max-jobs 20000 --window-s 1200" ;;
        chat) echo "--jobs 100 --window-s 7200" ;;
      esac
    }
    for w in "${workloads[@]}"; do
      blocks=$(pressure_pool "$w")
      # shellcheck disable=SC2046 # the flags split into words on purpose
      astraea simulate --workload "$w" --capacity --kv-blocks "$blocks" $(capacity_flags "$w") "${policies[@]}" --json 2>/dev/null | sed "s/^{/{\"workload\":\"$w\",\"kv_blocks\":$blocks,/" | tag capacity
    done >"$out"
    ;;
  real)
    # CPU scale per workload (a 2-core machine, a few minutes per policy): coding at the bench's
    # default (lib/bench/defaults.ts: 14 requests, tokens ×0.006, time ×0.02, load 2); paper at
    # the bench's default (tokens ×0.1, time ×0.1, 40 jobs); tau's tools and customers are slower,
    # time ×0.02; chat's contexts are tens of thousands of tokens and its people take minutes, 16
    # sessions at tokens ×0.02, time ×0.01. Two pools each, the one below the working set first;
    # REAL_POOLS=1 runs only that one (about half the time).
    run() { astraea bench "$@" --json --no-chart 2>/dev/null | tag real; }
    pools() { echo "$@" | cut -d' ' -f"1-${REAL_POOLS:-2}"; }
    for w in "${workloads[@]}"; do
      case "$w" in
        coding) for blocks in $(pools 96 256); do run --workload coding --kv-blocks "$blocks"; done ;;
        paper) for blocks in $(pools 96 256); do run --workload paper --kv-blocks "$blocks"; done ;;
        tau) for blocks in $(pools 96 256); do run --workload tau --scale-time 0.02 --kv-blocks "$blocks"; done ;;
        chat) for blocks in $(pools 128 256); do run --workload chat --jobs 16 --scale-tokens 0.02 --scale-time 0.01 --kv-blocks "$blocks"; done ;;
      esac
    done >"$out"
    ;;
  *)
    echo "unknown section $section" >&2
    exit 2
    ;;
esac
