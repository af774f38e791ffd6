# Coding at GPU scale in overload (load 3, 25,000 blocks, seeds 1-3), with each of astraea's rules
# switched: a line per setting in sweep.ts's shape (bySeed) for ablation-verdict.js — the cell the
# 24 of the ablation sweep lacked (rule 16's cost there went unseen for four sessions). ~15 min.
cd "$(dirname "$0")/../../../.."   # the repository root; npm run build:ts first
source bench/policies/ablation-settings.sh
for setting in "${ABLATION_SETTINGS[@]}"; do
  means=$(for s in 1 2 3; do node bin/astraea.js simulate --workload coding --seed $s --loads 3 --kv-blocks 25000 --policies astraea ${setting:+--set $setting} --json --no-chart | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).jct_s.mean+"\n"))'; done | paste -sd,)
  node -e "const m=[$means];console.log(JSON.stringify({setting:'${setting:-default}',family:'coding load 3, 25000 blocks',scenario:'3 seeds',jct:{mean:m.reduce((a,b)=>a+b)/m.length},bySeed:m.map(x=>({mean:x}))}))"
done
