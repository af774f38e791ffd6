# The verdicts the twentieth session's three seeds left open, over more seeds: rule 3 (reclaim) on
# coding under pressure (10 seeds), rule 11's admission order on coding at load 3 (seeds 1-10), rule
# 13 (brief first) on the main job (48 seeds, as the nineteenth did). Lines for ablation-verdict.js.
cd "$(dirname "$0")/../../../.."   # the repository root; npm run build:ts first
N=docs/results/issue-19/twentieth
source bench/policies/seed-line.sh
coding_load_3() { node bin/astraea.js simulate --workload coding --seed "$1" --loads 3 --kv-blocks 25000 --policies astraea ${2:+--set "$2"} --json --no-chart; }
main_job() { node bin/astraea.js simulate --workload coding --jobs 14 --load 2 --scale-tokens 0.006 --scale-time 0.02 --kv-blocks 96 --host-blocks 96 \
  --profile docs/results/issue-19/fifteenth/cpu-small-zen3.json --seed "$1" --policies astraea ${2:+--set "$2"} --json --no-chart; }
case ${1:-all} in
reclaim|all)
for setting in '' astraea.reclaim=off; do
  node dist/bench/policies/sweep.js --families coding --scenarios pressure --seeds 10 --policies astraea ${setting:+--set "$setting"} --json 2>/dev/null | sed "s/^{/{\"setting\":\"${setting:-default}\",/"
done > $N/ablation-reclaim-coding-pressure-10-seeds.jsonl
node dist/bench/policies/ablation-verdict.js $N/ablation-reclaim-coding-pressure-10-seeds.jsonl ;;&
order|all)
for setting in '' astraea.admissionOrder=likeliest-to-end; do
  seed_line "$setting" 'coding load 3, 25000 blocks' '10 seeds' "$(seq 1 10)" coding_load_3
done > $N/ablation-admission-order-coding-load-3-10-seeds.jsonl
node dist/bench/policies/ablation-verdict.js $N/ablation-admission-order-coding-load-3-10-seeds.jsonl ;;&
brief|all)
for setting in '' astraea.briefFirst=false; do
  seed_line "$setting" 'main job (Zen 3 profile)' '48 seeds' "$(seq 1 48)" main_job
done > $N/ablation-brief-first-main-job-48-seeds.jsonl
node dist/bench/policies/ablation-verdict.js $N/ablation-brief-first-main-job-48-seeds.jsonl ;;
esac
