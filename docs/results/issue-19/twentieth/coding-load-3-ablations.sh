# Coding at GPU scale in overload (load 3, 25,000 blocks, seeds 1-3), with each of astraea's rules
# switched: a line per setting in sweep.ts's shape (bySeed) for ablation-verdict.js — the cell the
# 24 of the ablation sweep lacked (rule 16's cost there went unseen for four sessions). ~15 min.
cd "$(dirname "$0")/../../../.."   # the repository root; npm run build:ts first
source bench/policies/ablation-settings.sh
source bench/policies/seed-line.sh
coding_load_3() { node bin/astraea.js simulate --workload coding --seed "$1" --loads 3 --kv-blocks 25000 --policies astraea ${2:+--set "$2"} --json --no-chart; }
for setting in "${ABLATION_SETTINGS[@]}"; do
  seed_line "$setting" 'coding load 3, 25000 blocks' '3 seeds' '1 2 3' coding_load_3
done
