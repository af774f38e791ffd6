# bench/policies' CPU workload, its 40 simulated seeds (Zen 3 profile), with each rule switched: lines for ablation-verdict.js.
cd "$(dirname "$0")/../../../.."   # the repository root; npm run build:ts first
source bench/policies/ablation-settings.sh
for setting in "${ABLATION_SETTINGS[@]}"; do
  JSON=1 OPTS=${setting#astraea.} node docs/results/issue-19/fifteenth/sim-stats.mjs docs/results/issue-19/fifteenth/cpu-small-zen3.json 40 astraea |
    sed "s/^{/{\"setting\":\"${setting:-default}\",\"family\":\"policies bench (Zen 3 profile)\",\"scenario\":\"40 seeds\",/"
done
