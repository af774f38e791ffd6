# The main job (astraea bench's default workload) simulated with the Zen 3 profile, seeds 1-16,
# with each rule switched: a line per setting in sweep.ts's shape (bySeed) for ablation-verdict.js.
cd "$(dirname "$0")/../../../.."   # the repository root; npm run build:ts first
source bench/policies/ablation-settings.sh
for setting in "${ABLATION_SETTINGS[@]}"; do
  means=$(for s in $(seq 1 16); do node bin/astraea.js simulate --workload coding --jobs 14 --load 2 --scale-tokens 0.006 --scale-time 0.02 --kv-blocks 96 --host-blocks 96 --profile docs/results/issue-19/fifteenth/cpu-small-zen3.json --seed $s --policies astraea ${setting:+--set $setting} --json --no-chart | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).jct_s.mean+"\n"))'; done | paste -sd,)
  node -e "const m=[$means];console.log(JSON.stringify({setting:'${setting:-default}',family:'main job (Zen 3 profile)',scenario:'16 seeds',jct:{mean:m.reduce((a,b)=>a+b)/m.length},bySeed:m.map(x=>({mean:x}))}))"
done
