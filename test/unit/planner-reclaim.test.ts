/**
 * When a job that may run needs memory, the step planner takes back KV preserved through a tool
 * wait before it preempts a runnable job (a job that can run now matters more than one that
 * might return soon), in the order the policy's `reclaimOrder` gives.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import type { Policy, WaitingJobView } from '../../lib/sched/policy.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import type { WorkloadJob } from '../../lib/workload/format.js';
import { runWorkload } from '../../lib/workload/replay.js';

/** Ranks by job id (so 'a-high' outranks 'z-low' whatever their arrivals) and pins KV at tool waits. */
function byIdPreserving(reclaimOrder?: Policy['reclaimOrder']): Policy {
  return {
    name: 'by-id',
    preemption: 'recompute',
    order: (c) => [...c].sort((x, y) => (x.jobId < y.jobId ? -1 : 1)),
    onToolWait: () => 'preserve',
    ...(reclaimOrder ? { reclaimOrder } : {}),
  };
}

const MODEL = { name: 't', vocabSize: 1000, maxPositionEmbeddings: 4096, kvBytesPerToken: 1000 };
const COSTS = { name: 'c', fixedS: 0.01, tokenS: 0.001, contextTokenS: 0, swapBytesPerS: 1e9 };

async function run(policy: Policy, jobs: WorkloadJob[]) {
  const clock = new VirtualClock();
  // 12 blocks of 16 tokens; no host pool, so a reclaimed job's KV is discarded.
  const engine = Engine.withBackend(new SimulatedBackend(MODEL, COSTS, 16, clock), { policy, kvBlocks: 12, hostBlocks: 0, clock });
  const done = runWorkload(engine, jobs, clock);
  await clock.run();
  const outcomes = await done;
  const stats = engine.stats({ jobs: true });
  engine.checkInvariants();
  await engine.close();
  return { outcomes, stats };
}

const pausing = (id: string, arrivalS: number): WorkloadJob => ({
  id,
  arrivalS,
  kind: 'k',
  segments: [{ inputTokens: 48, outputTokens: 2, tool: { name: 't', durationS: 10 } }, { inputTokens: 1, outputTokens: 1, tool: null }],
});

describe('the planner reclaims preserved KV before preempting', () => {
  it('a higher-ranked arrival takes the paused job\'s blocks, not the running low-ranked job\'s', async () => {
    // t ≈ 0.06: 'm-paused' (50 tokens: 4 blocks) pauses for 10 s, keeping its KV. 'z-low' runs a
    // 100-token decode from 16 prompt tokens. At 0.5 s it holds ceil((16 + ~40)/16) = 4 blocks,
    // so 4 are free; 'a-high' needs ceil(91/16) = 6. The planner takes m-paused's 4 blocks
    // (a reclaim), and z-low keeps running: no preemption.
    const jobs: WorkloadJob[] = [
      pausing('m-paused', 0),
      { id: 'z-low', arrivalS: 0.05, kind: 'k', segments: [{ inputTokens: 16, outputTokens: 100, tool: null }] },
      { id: 'a-high', arrivalS: 0.5, kind: 'k', segments: [{ inputTokens: 90, outputTokens: 1, tool: null }] },
    ];
    const { outcomes, stats } = await run(byIdPreserving(), jobs);
    expect(outcomes.map((o) => o.error)).toEqual([null, null, null]);
    expect(stats.preemptions).toBe(0);
    expect(stats.reclaimedToolWaits).toBe(1);
    const paused = stats.jobAccounts!.find((a) => a.id === 'm-paused')!;
    expect(paused.segments[0].decisions.map((d) => [d.action, d.cause])).toEqual([
      ['preserve', 'tool_wait'],
      ['discard', 'reclaimed'],
    ]);
  });

  it("takes first the job the policy's reclaimOrder names, else the largest", async () => {
    // Two paused jobs of 4 blocks ('p1', 50 tokens) and 5 blocks ('p2', 66 tokens) leave 3 free;
    // 'a-high' needs ceil(61/16) = 4, so exactly one of them gives its KV back.
    const jobs: WorkloadJob[] = [
      pausing('p1', 0),
      { ...pausing('p2', 0), segments: [{ inputTokens: 64, outputTokens: 2, tool: { name: 't', durationS: 10 } }, { inputTokens: 1, outputTokens: 1, tool: null }] },
      { id: 'a-high', arrivalS: 1, kind: 'k', segments: [{ inputTokens: 60, outputTokens: 1, tool: null }] },
    ];
    const reclaimedOf = (stats: Awaited<ReturnType<typeof run>>['stats']) =>
      stats.jobAccounts!.filter((a) => a.segments[0].decisions.some((d) => d.cause === 'reclaimed')).map((a) => a.id);
    expect(reclaimedOf((await run(byIdPreserving(), jobs)).stats)).toEqual(['p2']); // the largest
    const p1First = (views: readonly WaitingJobView[]) => [...views].sort((x, y) => (x.jobId < y.jobId ? -1 : 1)).map((v) => v.jobId);
    expect(reclaimedOf((await run(byIdPreserving(p1First), jobs)).stats)).toEqual(['p1']);
  });
});
