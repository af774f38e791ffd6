# Rules 3 and 9 on the cells where the eighteenth session's three seeds said they cost > 1%, over
# ten seeds: a sweep line per setting (bySeed) for ablation-verdict.js.
cd "$(dirname "$0")/../../../.."   # the repository root; npm run build:ts first
N=docs/results/issue-19/nineteenth
for setting in '' astraea.reclaim=off; do
  node dist/bench/policies/sweep.js --families airline --scenarios pressure --seeds 10 --policies astraea ${setting:+--set "$setting"} --json 2>/dev/null | sed "s/^{/{\"setting\":\"${setting:-default}\",/"
done > $N/ablation-reclaim-airline-pressure-10-seeds.jsonl
for setting in '' astraea.serviceScope=segment; do
  node dist/bench/policies/sweep.js --families conversation --scenarios heavy --seeds 10 --policies astraea ${setting:+--set "$setting"} --json 2>/dev/null | sed "s/^{/{\"setting\":\"${setting:-default}\",/"
done > $N/ablation-service-scope-conversation-heavy-10-seeds.jsonl
node dist/bench/policies/ablation-verdict.js $N/ablation-reclaim-airline-pressure-10-seeds.jsonl
node dist/bench/policies/ablation-verdict.js $N/ablation-service-scope-conversation-heavy-10-seeds.jsonl
