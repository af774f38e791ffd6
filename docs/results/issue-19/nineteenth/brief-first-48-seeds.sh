# Rule 13 (brief segments first) on the main job simulated with the Zen 3 profile, seeds 1-48:
# a line per setting in sweep.ts's shape (bySeed) for ablation-verdict.js. ~2 min.
cd "$(dirname "$0")/../../../.."   # the repository root; npm run build:ts first
N=docs/results/issue-19/nineteenth
for setting in '' astraea.briefFirst=false; do
  means=$(for s in $(seq 1 48); do node bin/astraea.js simulate --workload coding --jobs 14 --load 2 --scale-tokens 0.006 --scale-time 0.02 --kv-blocks 96 --host-blocks 96 --profile docs/results/issue-19/fifteenth/cpu-small-zen3.json --seed $s --policies astraea ${setting:+--set $setting} --json --no-chart | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).jct_s.mean+"\n"))'; done | paste -sd,)
  node -e "const m=[$means];console.log(JSON.stringify({setting:'${setting:-default}',family:'main job (Zen 3 profile)',scenario:'48 seeds',jct:{mean:m.reduce((a,b)=>a+b)/m.length},bySeed:m.map(x=>({mean:x}))}))"
done > $N/ablation-brief-first-main-job-48-seeds.jsonl
node dist/bench/policies/ablation-verdict.js $N/ablation-brief-first-main-job-48-seeds.jsonl
