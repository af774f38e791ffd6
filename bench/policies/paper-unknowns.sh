#!/usr/bin/env bash
# Sweeps each unknown of the paper (ASTRAEA-PAPER.md) for `astraea-paper` on the simulator, one
# at a time around the defaults, on two memory-pressure scenarios (where the KV manager and the
# queues matter most). Each line of
# output is one run's result (JSON), tagged with the setting. Results: docs/policies.md.
#   npm run build:ts && bash bench/policies/paper-unknowns.sh [seeds]
set -euo pipefail
seeds=${1:-2}
cd "$(dirname "$0")/../.."
settings=(
  ''
  astraea-paper.highWatermark=0.5 astraea-paper.highWatermark=0.7 astraea-paper.highWatermark=0.9 astraea-paper.highWatermark=0.95
  astraea-paper.agingThreshold=2 astraea-paper.agingThreshold=4 astraea-paper.agingThreshold=16
  astraea-paper.thresholds=64:256:1024:Infinity astraea-paper.thresholds=1024:4096:16384:Infinity
  astraea-paper.levels=2 astraea-paper.levels=1
  astraea-paper.prefillTokenCost=0.01 astraea-paper.prefillTokenCost=1
)
for setting in "${settings[@]}"; do
  for case in "airline pressure" "tau pressure"; do
    set -- $case
    node dist/bench/policies/sweep.js --families "$1" --scenarios "$2" --seeds "$seeds" --policies astraea-paper ${setting:+--set "$setting"} --json 2>/dev/null |
      sed "s/^{/{\"setting\":\"${setting:-default}\",/"
  done
done
