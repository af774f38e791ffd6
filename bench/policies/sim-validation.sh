#!/usr/bin/env bash
# The simulator against the real engine on the same workload (docs/simulator.md): calibrate the
# cost model on this machine, run `astraea bench` (the default workload, every policy, the real
# engine), then `astraea simulate` on the same jobs with the calibrated profile, and print the
# simulated mean JCT over the real one per policy. Each round recalibrates, so the rounds show
# how much the machine itself drifts.
#
#   npm run build:ts && bash bench/policies/sim-validation.sh [rounds] [outdir]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-1}
outdir=${2:-docs/results/sim-validation}
mkdir -p "$outdir"
astraea() { node bin/astraea.js "$@"; }
for round in $(seq 1 "$rounds"); do
  # Calibrated on seed 2 of the bench workload; validated on seed 1 (the bench's default).
  astraea calibrate --seed 2 --name cpu-small --out "$outdir/profile-$round.json" >&2
  astraea bench --json --no-chart 2>/dev/null >"$outdir/real-$round.jsonl"
  astraea simulate --workload paper --jobs 40 --seed 1 --scale-tokens 0.1 --scale-time 0.1 --kv-blocks 256 \
    --profile "$outdir/profile-$round.json" --json --no-chart 2>/dev/null >"$outdir/sim-$round.jsonl"
  node -e '
    const fs = require("fs");
    const read = (f) => fs.readFileSync(f, "utf8").trim().split("\n").map(JSON.parse);
    const [real, sim] = [read(process.argv[1]), read(process.argv[2])];
    console.log(`round ${process.argv[3]}: policy, real mean JCT s, simulated, simulated / real`);
    for (const r of real) {
      const s = sim.find((x) => x.policy === r.policy);
      console.log([r.policy, r.jct_s.mean.toFixed(3), s.jct_s.mean.toFixed(3), (s.jct_s.mean / r.jct_s.mean).toFixed(3)].join(" | "));
    }' "$outdir/real-$round.jsonl" "$outdir/sim-$round.jsonl" "$round"
done
