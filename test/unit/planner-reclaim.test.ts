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

/** 12 blocks of 16 tokens and by default no host pool, so a reclaimed job's KV is discarded. */
async function run(policy: Policy, jobs: WorkloadJob[], pools = { kvBlocks: 12, hostBlocks: 0 }) {
  const clock = new VirtualClock();
  const engine = Engine.withBackend(new SimulatedBackend(MODEL, COSTS, 16, clock), { policy, ...pools, clock });
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

/** 'a-back' swaps its KV out through a 1 s tool call; 'm-paused' keeps its KV through a 10 s one. */
const swapBack: Policy = { ...byIdPreserving(), onToolWait: (job) => (job.jobId === 'a-back' ? 'swap' : 'preserve') };
const backAndPaused = (): WorkloadJob[] => [
  { ...pausing('a-back', 0), segments: [{ inputTokens: 48, outputTokens: 2, tool: { name: 't', durationS: 1 } }, { inputTokens: 1, outputTokens: 1, tool: null }] },
  pausing('m-paused', 0),
];

/** A job's KV decisions in one segment: action, cause, time and bytes moved. */
function decisionsOf(stats: Awaited<ReturnType<typeof run>>['stats'], id: string, segment: number) {
  return stats.jobAccounts!.find((a) => a.id === id)!.segments[segment].decisions.map((d) => [d.action, d.cause, d.atS, d.bytes] as const);
}

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

  it('swaps the paused job to the host even in a step that swaps another job in', async () => {
    // 16 blocks, a 16-block host pool. 'a-back' (50 tokens: 4 blocks) goes to the host at its 1 s
    // tool call (t = 0.133) and returns at 1.133; 'm-paused' (4 blocks) keeps its KV through a
    // 10 s call from 0.145; 'z-low' decodes 200 tokens from 16, holding 7 blocks by then. 'b-new'
    // (60 tokens: 4 blocks) arrives at 1.13, in the step before a-back's return, so one plan (at
    // 1.135) has a-back first (ids rank) and b-new after it: a-back's 4 blocks come back into the
    // 5 free, and b-new's 4 must come from m-paused. The swap-in holds its host blocks until the
    // step completes, so m-paused's swap-out cannot overwrite them: it is swapped, not discarded
    // (it was discarded, and recomputed on return, before the host blocks were held).
    const jobs: WorkloadJob[] = [
      ...backAndPaused(),
      { id: 'z-low', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 16, outputTokens: 200, tool: null }] },
      { id: 'b-new', arrivalS: 1.13, kind: 'k', segments: [{ inputTokens: 60, outputTokens: 1, tool: null }] },
    ];
    const { outcomes, stats } = await run(swapBack, jobs, { kvBlocks: 16, hostBlocks: 16 });
    expect(outcomes.map((o) => o.error)).toEqual([null, null, null, null]);
    const decisions = (id: string, segment: number) => decisionsOf(stats, id, segment).map(([action, cause, atS]) => [action, cause, atS] as const);
    const [[inAction, inCause, inAtS]] = decisions('a-back', 1);
    const [kept, taken] = decisions('m-paused', 0);
    expect([inAction, inCause]).toEqual(['swap_in', 'resume']);
    expect([kept[0], taken[0], taken[1]]).toEqual(['preserve', 'swap', 'reclaimed']);
    expect(taken[2]).toBe(inAtS); // the same plan
    expect(decisions('m-paused', 1).map(([a, c]) => [a, c])).toEqual([['swap_in', 'resume']]);
    expect(stats.preemptions).toBe(0);
    expect(stats.kvTraffic.recomputedPrefillTokens).toBe(0);
  });

  it('a full host pool: the job coming back lends its host blocks to the KV that makes room for it', async () => {
    // The scenario above without b-new, on 12 device blocks and a host pool of exactly a-back's 4,
    // z-low decoding 100 tokens (at most 116: 8 blocks, which fit beside m-paused's 4). At 1.117
    // a-back returns needing 4 blocks; m-paused holds 4 and z-low 7 (~105 tokens), so 1 is free or
    // cached and m-paused's KV must go. The host has no free block: a-back's own 4 hold its KV. Taking
    // m-paused's blocks is sure to make the room (1 + 4 >= 4), so a-back lends its host blocks and
    // m-paused's KV is written into them after a-back's swap-in has read them: swapped, not
    // discarded (before the exchange it was discarded and recomputed on return).
    const jobs: WorkloadJob[] = [...backAndPaused(), { id: 'z-low', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 16, outputTokens: 100, tool: null }] }];
    const { outcomes, stats } = await run(swapBack, jobs, { kvBlocks: 12, hostBlocks: 4 });
    expect(outcomes.map((o) => o.error)).toEqual([null, null, null]);
    const decisions = (id: string, segment: number) => decisionsOf(stats, id, segment);
    const [[inAction, , inAtS]] = decisions('a-back', 1);
    const [kept, taken] = decisions('m-paused', 0);
    expect(inAction).toBe('swap_in');
    expect([kept[0], taken[0], taken[1], taken[3]]).toEqual(['preserve', 'swap', 'reclaimed', 4 * 16 * 1000]);
    expect(taken[2]).toBe(inAtS); // the same plan
    expect(decisions('m-paused', 1).map(([a, c]) => [a, c])).toEqual([['swap_in', 'resume']]);
    // All four of m-paused's blocks went into the host blocks a-back vacated (16 tokens of 1,000 B each).
    expect(stats.kvTraffic.exchangedBytes).toBe(4 * 16 * 1000);
    expect(stats.preemptions).toBe(0);
    expect(stats.kvTraffic.recomputedPrefillTokens).toBe(0);
  });
});
