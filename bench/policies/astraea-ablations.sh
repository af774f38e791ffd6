#!/usr/bin/env bash
# Turns each of `astraea`'s rules off (or to its alternative) one at a time, on the simulator.
# Each output line is one sweep cell's result (JSON, as sweep.ts --json prints it) tagged with the
# setting. By default the memory-pressure scenarios of the trace-shaped families and single-turn
# chat; FAMILIES and SCENARIOS name others (the whole sweep: every family and scenario, the table
# of bench/policies/ablation-verdict.ts). Results: docs/policies.md.
#   npm run build:ts && [FAMILIES=airline,tau,chat] [SCENARIOS=pressure] [EXTRA=1] bash bench/policies/astraea-ablations.sh [seeds]
# EXTRA=1 (the default) adds the dropped rule 4 and the off-by-default rule 6.
set -euo pipefail
seeds=${1:-4}
cd "$(dirname "$0")/../.."
source bench/policies/ablation-settings.sh
settings=("${ABLATION_SETTINGS[@]}")
[ "${EXTRA:-1}" = 1 ] && settings+=(astraea.preemption=swap astraea.tailSlack=5)
for setting in "${settings[@]}"; do
  node dist/bench/policies/sweep.js --families "${FAMILIES:-airline,tau,chat}" --scenarios "${SCENARIOS:-pressure}" --seeds "$seeds" --policies astraea ${setting:+--set "$setting"} --json 2>/dev/null |
    sed "s/^{/{\"setting\":\"${setting:-default}\",/"
done
