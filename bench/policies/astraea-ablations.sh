#!/usr/bin/env bash
# Turns each of `astraea`'s rules off (or to its alternative) one at a time, on the simulator,
# for the memory-pressure scenarios of the trace-shaped families and single-turn chat. Each output line is one
# run's result (JSON) tagged with the setting. Results: docs/policies.md.
#   npm run build:ts && bash bench/policies/astraea-ablations.sh [seeds]
set -euo pipefail
seeds=${1:-4}
cd "$(dirname "$0")/../.."
source bench/policies/ablation-settings.sh
# Also the dropped rule 4 and the off-by-default rule 6.
settings=("${ABLATION_SETTINGS[@]}" astraea.preemption=swap astraea.tailSlack=5)
for setting in "${settings[@]}"; do
  node dist/bench/policies/sweep.js --families airline,tau,chat --scenarios pressure --seeds "$seeds" --policies astraea ${setting:+--set "$setting"} --json 2>/dev/null |
    sed "s/^{/{\"setting\":\"${setting:-default}\",/"
done
