#!/bin/bash
# One rule-16 variant of variants.patch (applied to b33ee88, then npx tsc -p tsconfig.json), from the
# repository root: R16=<new|nothost|newhost|ski:K|skinew:K|rel:A> bash docs/results/issue-19/twentieth/variants/try.sh NAME
# writes NAME-{coding-loads-2-2.5-3,cpu-bench-40-seeds,sweep-heavy-pressure}.jsonl here, two lanes, ~3 min.
V=docs/results/issue-19/twentieth/variants; N=$V/$1
( for s in 1 2 3; do node bin/astraea.js simulate --workload coding --seed $s --loads 2,2.5,3 --kv-blocks 25000 --policies astraea --json --no-chart; done > $N-coding-loads-2-2.5-3.jsonl ) &
( JSON=1 node docs/results/issue-19/fifteenth/sim-stats.mjs docs/results/issue-19/fifteenth/cpu-small-zen3.json 40 astraea > $N-cpu-bench-40-seeds.jsonl
  node dist/bench/policies/sweep.js --policies astraea --seeds 3 --families conversation,mixed,coding,airline,tau,chat --scenarios heavy,pressure --json > $N-sweep-heavy-pressure.jsonl ) &
wait
