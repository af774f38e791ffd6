// Per-job breakdown and KV traffic of one policy on bench/policies' workload in the simulator, summed over
// seeds 1..SEEDS (docs/policies.md, rule 16's section: recomputed prompt tokens, discards, the batch-cap
// experiment). From the repository root, after npm run build:ts:
//   node docs/results/issue-19/fifteenth/sim-stats.mjs docs/results/issue-19/fifteenth/cpu-small-zen3.json 40 astraea
//   SEQS=4 node docs/results/issue-19/fifteenth/sim-stats.mjs … 40 astraea     # the batch capped at 4 sequences
//   OPTS=admissionScope=segment node …                                         # a policy option (key=value,…)
//   JSON=1 node …        # instead: one line {"jct":{"mean"},"bySeed":[{"mean"}…]} (bench/policies/ablation-verdict.ts)
import { syntheticAgentWorkload } from '../../../../dist/lib/workload/agent-mix.js';
import { simulate } from '../../../../dist/lib/sim/simulate.js';
import { loadProfile } from '../../../../dist/lib/sim/profile-file.js';
import { jctSummary } from '../../../../dist/lib/bench/summary.js';
const [profileName, seeds, policy] = process.argv.slice(2);
const profile = await loadProfile(profileName);
const CPU_SIZED = { name: 'synthetic', weight: 1, segments: { min: 2, max: 4 }, prefixTokens: 64,
  firstInputTokens: { type: 'uniform', min: 32, max: 160 }, toolResultTokens: { type: 'uniform', min: 16, max: 64 },
  outputTokens: { type: 'uniform', min: 8, max: 32 }, toolDurationS: { type: 'uniform', min: 0.1, max: 1.5 } };
const bySeed = [];
const tot = { jct: 0, q: 0, c: 0, kv: 0, pre: 0, rec: 0, swap: 0, disc: 0, steps: 0, mk: 0 };
for (let s = 1; s <= Number(seeds); s++) {
  const jobs = syntheticAgentWorkload({ jobs: 24, arrivalRatePerS: 4, seed: s, kinds: [CPU_SIZED] });
  // Values as the CLI's --set reads them: true/false, numbers, else the string.
  const value = (v) => (v === 'true' || v === 'false' ? v === 'true' : v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v);
  const policyOptions = Object.fromEntries((process.env.OPTS ?? '').split(',').filter(Boolean).map((kv) => kv.split('=')).map(([k, v]) => [k, value(v)]));
  const r = await simulate(jobs, { profile, policy, policyOptions, kvBlocks: 96, hostBlocks: 96, maxBatchTokens: 512, ...(process.env.SEQS ? { maxBatchSequences: Number(process.env.SEQS) } : {}) });
  bySeed.push({ mean: r.outcomes.reduce((a, o) => a + o.jctS, 0) / r.outcomes.length });
  for (const o of r.outcomes) { tot.jct += o.jctS; tot.q += o.breakdown.queueingS; tot.c += o.breakdown.computeS; tot.kv += o.breakdown.kvRecoveryS; }
  tot.pre += r.stats.preemptions; tot.rec += r.stats.kvTraffic.recomputedPrefillTokens; tot.swap += r.stats.kvActions.swap; tot.disc += r.stats.kvActions.discard; tot.steps += r.stats.steps; tot.mk += r.makespanS;
}
const n = 24 * Number(seeds);
if (process.env.JSON) console.log(JSON.stringify({ jct: { mean: tot.jct / n }, bySeed }));
else console.log(`${policy} SEQS=${process.env.SEQS ?? '-'}: jct ${(tot.jct / n).toFixed(2)} queue ${(tot.q / n).toFixed(2)} compute ${(tot.c / n).toFixed(2)} kvrec ${(tot.kv / n).toFixed(2)} | preempt ${tot.pre} recomputed ${tot.rec} swaps ${tot.swap} discards ${tot.disc} steps ${tot.steps} makespan ${(tot.mk / seeds).toFixed(2)}`);
