# Sourced, not run: seed_line SETTING FAMILY SCENARIO "SEEDS" RUN — calls `RUN seed setting` for each
# seed (RUN prints one `astraea simulate --json` result) and prints one line in sweep.ts's shape
# ({setting, family, scenario, jct.mean, bySeed}) for bench/policies/ablation-verdict.ts.
seed_line() {
  local setting=$1 family=$2 scenario=$3 seeds=$4 run=$5 means
  means=$(for s in $seeds; do "$run" "$s" "$setting" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).jct_s.mean+"\n"))'; done | paste -sd,)
  node -e "const m=[$means];console.log(JSON.stringify({setting:'${setting:-default}',family:'$family',scenario:'$scenario',jct:{mean:m.reduce((a,b)=>a+b)/m.length},bySeed:m.map(x=>({mean:x}))}))"
}
