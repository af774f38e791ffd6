#!/usr/bin/env bash
# Issue 4's tail criterion — `astraea` no worse than `fcfs` at p99 — checked with more seeds
# than the main sweep. A p99 over 150–600 jobs is the 2nd–6th largest JCT, so two seeds rank it
# no better than a few percent; this reruns, with 6 seeds, every pair where the 2-seed sweep put
# the two within 2% of each other or `astraea` behind. One JSON line per (family, scenario,
# policy). Results: docs/policies.md, "The tail".
#   npm run build:ts && bash bench/policies/p99-check.sh [seeds]     # ~10 min on 2 cores
set -euo pipefail
seeds=${1:-6}
cd "$(dirname "$0")/../.."
for case in "chat light,heavy,pressure" "mixed light" "airline light,heavy" "tau light,heavy" "conversation light" "coding light"; do
  set -- $case
  node dist/bench/policies/sweep.js --families "$1" --scenarios "$2" --seeds "$seeds" --policies fcfs,astraea,astraea-paper --json 2>/dev/null
done
