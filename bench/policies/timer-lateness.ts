/**
 * Are a real run's tool calls late? Replays a `coding` workload on the real engine (the default
 * bench model) under one policy and prints, per job, its tool time beside the tool durations the
 * workload asked for (a call with subagents counts their run as tool time), how late each tool
 * sleep woke, and the event loop's delay over the run (docs/simulator.md, "Validation").
 *
 *   npm run build:ts && node dist/bench/policies/timer-lateness.js [policy] [seed] [kvBlocks]
 *
 * Defaults: infercept, seed 3, 512 blocks; the workload is the 4K-context validation's (6 jobs,
 * load 1, tokens ×0.028, time ×0.02).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ensureDefaultModel } from '../../lib/bench/default-model.js';
import { Engine } from '../../lib/engine/engine.js';
import { POLICY_NAMES, type PolicyName } from '../../lib/sched/registry.js';
import { generateWorkload } from '../../lib/workload/generators/index.js';
import { runWorkload, wallTimers, type Timers } from '../../lib/workload/replay.js';
import { endQuietlyOnClosedPipe } from '../../lib/util/closed-pipe.js';

endQuietlyOnClosedPipe();

const [policyText = 'infercept', seedText = '3', blocksText = '512'] = process.argv.slice(2);
if (!(POLICY_NAMES as readonly string[]).includes(policyText)) throw new Error(`unknown policy ${policyText}: one of ${POLICY_NAMES.join(', ')}`);
const policy = policyText as PolicyName;
const workload = generateWorkload('coding', { jobs: 6, load: 1, seed: Number(seedText), scale: { tokens: 0.028, time: 0.02 } });
const kvBlocks = Number(blocksText);
const engine = await Engine.create({ model: await ensureDefaultModel(), kvBlocks, hostBlocks: kvBlocks, policy, workloadScale: workload.params.scale });
const lateS: number[] = [];
const timers: Timers = {
  now: wallTimers.now,
  sleep: async (seconds) => {
    const start = wallTimers.now();
    await wallTimers.sleep(seconds);
    lateS.push(wallTimers.now() - start - seconds);
  },
};
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
try {
  const outcomes = await runWorkload(engine, workload.jobs, timers);
  loopDelay.disable();
  const ms = (s: number) => (s * 1e3).toFixed(1);
  for (const o of outcomes) {
    const asked = workload.jobs.find((j) => j.id === o.id)!.segments.reduce((sum, s) => sum + (s.tool?.durationS ?? 0), 0);
    console.log(`${o.id}: JCT ${o.jctS.toFixed(2)} s, tool time ${o.breakdown.toolS.toFixed(3)} s (tool durations asked ${asked.toFixed(3)} s, subagents aside)`);
  }
  lateS.sort((a, b) => a - b);
  console.log(`${lateS.length} tool sleeps: late by ${ms(lateS[lateS.length >> 1] ?? 0)} ms at the median, ${ms(lateS.at(-1) ?? 0)} ms at most`);
  console.log(`event loop delay: mean ${(loopDelay.mean / 1e6).toFixed(1)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms`);
  const stats = engine.stats();
  console.log(`mean JCT ${(outcomes.reduce((s, o) => s + o.jctS, 0) / outcomes.length).toFixed(2)} s, ${stats.preemptions} preemptions, ${stats.kvTraffic.recomputedPrefillTokens} prompt tokens recomputed`);
} finally {
  await engine.close();
}
