/**
 * A policy may bring a waiting job's KV back from the host before its tool returns
 * (Policy.prefetchToolWaits; Tokencake's upload). On the simulator, exact in virtual time: the
 * swap-in runs while the tool is still running (beside another job's steps), so the job resumes
 * with its KV on the device and no KV recovery; a job the policy does not name stays on the host
 * and pays the swap-in on its return; blocks the plan needs are never taken for a prefetch.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { FcfsPolicy } from '../../lib/sched/fcfs.js';
import type { Policy, WaitingJobView } from '../../lib/sched/policy.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import type { WorkloadJob } from '../../lib/workload/format.js';
import { runWorkload } from '../../lib/workload/replay.js';
import { simulate } from '../../lib/sim/simulate.js';
import { syntheticAgentWorkload } from '../../lib/workload/agent-mix.js';

const MODEL = { name: 't', vocabSize: 1000, maxPositionEmbeddings: 8192, kvBytesPerToken: 1000 };
// 10 ms a step plus 1 ms a token; a block of 16 tokens (16,000 B) copies in 16 µs.
const COSTS = { name: 'c', fixedS: 0.01, tokenS: 0.001, contextTokenS: 0, swapBytesPerS: 1e9 };

/** Swaps every pausing job's KV to the host; brings back the ones `wanted` names. */
function swapping(wanted: (views: readonly WaitingJobView[], nowS: number) => string[]): Policy {
  const fcfs = new FcfsPolicy();
  return { name: 'swap-prefetch', preemption: 'recompute', order: (c) => fcfs.order(c), onToolWait: () => 'swap', prefetchToolWaits: wanted };
}

async function run(policy: Policy, jobs: WorkloadJob[], kvBlocks = 64) {
  const clock = new VirtualClock();
  const engine = Engine.withBackend(new SimulatedBackend(MODEL, COSTS, 16, clock), { policy, kvBlocks, hostBlocks: 64, clock });
  const done = runWorkload(engine, jobs, clock);
  await clock.run();
  const outcomes = await done;
  const stats = engine.stats({ jobs: true });
  engine.checkInvariants();
  await engine.close();
  return { outcomes, stats };
}

// 'waiter' (48 tokens: 4 blocks with the outputs) calls a 1 s tool; 'busy' decodes 400 tokens
// meanwhile, so steps keep running (each 11 ms) while the tool does.
const jobs: WorkloadJob[] = [
  { id: 'waiter', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 48, outputTokens: 2, tool: { name: 't', durationS: 1 } }, { inputTokens: 4, outputTokens: 2, tool: null }] },
  { id: 'busy', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 16, outputTokens: 400, tool: null }] },
];

const decisionsOf = (stats: Awaited<ReturnType<typeof run>>['stats'], id: string) =>
  stats.jobAccounts!.find((a) => a.id === id)!.segments[0].decisions.map((d) => [d.action, d.cause, d.atS] as const);

describe('prefetching KV before a tool returns', () => {
  it('a named job comes back during its tool call and resumes with no KV recovery', async () => {
    // Prefetch once the tool has run 0.5 s.
    const { outcomes, stats } = await run(swapping((views) => views.filter((v) => v.waitedS >= 0.5).map((v) => v.jobId)), jobs);
    expect(outcomes.map((o) => o.error)).toEqual([null, null]);
    const waiter = outcomes.find((o) => o.id === 'waiter')!;
    const decisions = decisionsOf(stats, 'waiter');
    expect(decisions.map(([a, c]) => [a, c])).toEqual([
      ['swap', 'tool_wait'],
      ['swap_in', 'prefetch'],
    ]);
    const toolStartS = decisions[0][2];
    const prefetchS = decisions[1][2];
    // Brought back after half the tool's second, and before its end.
    expect(prefetchS - toolStartS).toBeGreaterThanOrEqual(0.5);
    expect(prefetchS - toolStartS).toBeLessThan(1);
    expect(waiter.breakdown.kvRecoveryS).toBe(0);
    // Out once, in once: 4 blocks each way (48 + 2 tokens), never recomputed.
    expect(stats.kvTraffic.swapOutBytes).toBe(64_000);
    expect(stats.kvTraffic.swapInBytes).toBe(64_000);
    expect(stats.kvTraffic.recomputedPrefillTokens).toBe(0);
  });

  it('a job the policy does not name stays on the host and is swapped in when its tool returns', async () => {
    const { outcomes, stats } = await run(swapping(() => []), jobs);
    const waiter = outcomes.find((o) => o.id === 'waiter')!;
    expect(decisionsOf(stats, 'waiter').map(([a, c]) => [a, c])).toEqual([['swap', 'tool_wait']]);
    const resumed = stats.jobAccounts!.find((a) => a.id === 'waiter')!.segments[1].decisions.map((d) => [d.action, d.cause]);
    expect(resumed).toEqual([['swap_in', 'resume']]);
    // The swap-in ran a step ahead of the job, which waited for it queued: KV recovery.
    expect(waiter.breakdown.kvRecoveryS).toBeGreaterThan(0);
  });

  it('yields to the plan: a prefetched job’s blocks are taken back when running work needs them', async () => {
    // 8 blocks. 'waiter' (4 blocks) is swapped out at its 2 s tool call (t = 0.069). Prefetches are
    // decided when the engine plans a step, so it comes back at the first plan after 'late'
    // arrives (0.5 s), the pool being nearly empty. 'late' decodes from 16 to 96 tokens (6
    // blocks): at its 5th block the pool is full, and the planner takes the waiter's blocks back —
    // a reclaim, not a preemption of 'late'. 'late' ends at 1.395 s and the engine falls idle, so
    // nothing brings the waiter back before its tool returns (2.069 s): it is swapped in then.
    const plan: WorkloadJob[] = [
      { ...jobs[0], segments: [{ inputTokens: 48, outputTokens: 2, tool: { name: 't', durationS: 2 } }, { inputTokens: 4, outputTokens: 2, tool: null }] },
      { id: 'late', arrivalS: 0.5, kind: 'k', segments: [{ inputTokens: 16, outputTokens: 80, tool: null }] },
    ];
    const { outcomes, stats } = await run(swapping((views) => views.map((v) => v.jobId)), plan, 8);
    expect(outcomes.map((o) => o.error)).toEqual([null, null]);
    expect(stats.preemptions).toBe(0);
    const [out, back, taken] = decisionsOf(stats, 'waiter');
    expect([out, back, taken].map(([a, c]) => [a, c])).toEqual([
      ['swap', 'tool_wait'],
      ['swap_in', 'prefetch'],
      ['swap', 'reclaimed'],
    ]);
    expect(back[2]).toBeGreaterThanOrEqual(0.5);
    expect(taken[2]).toBeGreaterThan(back[2]);
    const resumed = stats.jobAccounts!.find((a) => a.id === 'waiter')!.segments[1].decisions.map((d) => [d.action, d.cause]);
    expect(resumed).toEqual([['swap_in', 'resume']]);
  });

  it('never prefetches KV the same plan has just taken back (its swap-out has not begun)', async () => {
    // As above, but the waiter's KV is preserved at the tool call; when 'late' needs the room the
    // planner swaps it to the host, and the prefetch after that same plan must leave it alone (it
    // once tried, and failed the job with INVALID_STATE). It may come back at a later plan.
    const fcfs = new FcfsPolicy();
    const preserving: Policy = { name: 'keep-prefetch', preemption: 'recompute', order: (c) => fcfs.order(c), onToolWait: () => 'preserve', prefetchToolWaits: (views) => views.map((v) => v.jobId) };
    const plan: WorkloadJob[] = [
      { ...jobs[0], segments: [{ inputTokens: 48, outputTokens: 2, tool: { name: 't', durationS: 2 } }, { inputTokens: 4, outputTokens: 2, tool: null }] },
      { id: 'late', arrivalS: 0.5, kind: 'k', segments: [{ inputTokens: 16, outputTokens: 80, tool: null }] },
    ];
    const { outcomes, stats } = await run(preserving, plan, 8);
    expect(outcomes.map((o) => o.error)).toEqual([null, null]);
    const [kept, taken] = decisionsOf(stats, 'waiter');
    expect([kept, taken].map(([a, c]) => [a, c])).toEqual([
      ['preserve', 'tool_wait'],
      ['swap', 'reclaimed'],
    ]);
  });

  it('on a mixed workload under memory pressure, keeping and prefetching every paused job fails no job', async () => {
    // Many plans reclaim several preserved jobs at once; a job taken back by a plan must not be
    // prefetched after it (this run failed dozens of jobs with INVALID_STATE before the guard).
    const fcfs = new FcfsPolicy();
    const preserving: Policy = { name: 'keep-prefetch', preemption: 'recompute', order: (c) => fcfs.order(c), onToolWait: () => 'preserve', prefetchToolWaits: (views) => views.map((v) => v.jobId) };
    const mixed = syntheticAgentWorkload({ jobs: 120, arrivalRatePerS: 2, seed: 1 });
    const result = await simulate(mixed, { policy: preserving, kvBlocks: 6000 });
    expect(result.outcomes.filter((o) => o.error !== null).map((o) => o.error)).toEqual([]);
    expect(result.stats.reclaimedToolWaits).toBeGreaterThan(0);
  });
});
