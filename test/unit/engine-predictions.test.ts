/**
 * What the engine learns and hands to the policy in each candidate: the segments a job of a
 * kind runs (from finished jobs) and the output length of a segment (per kind and index).
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import type { Policy, SchedulingCandidate } from '../../lib/sched/policy.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import type { WorkloadJob } from '../../lib/workload/format.js';
import { runWorkload } from '../../lib/workload/replay.js';

describe('predictions in the scheduling candidates', () => {
  it('a new job of a kind seen finishing with 3 segments expects 2 after its first', async () => {
    const seen: SchedulingCandidate[] = [];
    const policy: Policy = { name: 'rec', preemption: 'recompute', order: (c) => (seen.push(...c), [...c]), onToolWait: () => 'preserve' };
    const clock = new VirtualClock();
    const model = { name: 't', vocabSize: 1000, maxPositionEmbeddings: 4096, kvBytesPerToken: 1000 };
    const costs = { name: 'c', fixedS: 0.01, tokenS: 0.001, contextTokenS: 0, swapBytesPerS: 1e9 };
    const engine = Engine.withBackend(new SimulatedBackend(model, costs, 16, clock), { policy, kvBlocks: 64, clock });
    const job = (id: string, arrivalS: number): WorkloadJob => ({
      id,
      arrivalS,
      kind: 'k',
      segments: [
        { inputTokens: 8, outputTokens: 4, tool: { name: 't', durationS: 0.1 } },
        { inputTokens: 2, outputTokens: 6, tool: { name: 't', durationS: 0.1 } },
        { inputTokens: 2, outputTokens: 2, tool: null },
      ],
    });
    // Two jobs finish (well before 10 s), then a third arrives.
    const done = runWorkload(engine, [job('a', 0), job('b', 0), job('c', 10)], clock);
    await clock.run();
    await done;
    await engine.close();
    const first = (id: string, segmentIndex: number) => seen.find((c) => c.jobId === id && c.segmentIndex === segmentIndex)!;
    // Nothing had finished when 'a' began: no knowledge, 0 ahead, and the default 128 tokens
    // (capped at the segment's maxTokens of 4).
    expect([first('a', 0).expectedFutureSegments, first('a', 0).expectedOutputTokens]).toEqual([0, 4]);
    // 'c': counts (3, 3) → E[N − 1 | N > 0] = 2 after segment 0, 1 after segment 1, 0 after 2.
    // Outputs: a (kind, index) level needs 3 samples and has 2, so the kind's mean over a and b,
    // (4 + 6 + 2) × 2 / 6 = 4, capped by each segment's maxTokens (4, 6, 2): 4, 4, 2.
    expect([0, 1, 2].map((i) => [first('c', i).expectedFutureSegments, first('c', i).expectedOutputTokens])).toEqual([
      [2, 4],
      [1, 4],
      [0, 2],
    ]);
    // The chance each segment is the last: 0 for the first two (both jobs ran 3), 1 for the third;
    // 1 for 'a', which knew nothing (taken to end with this segment, as the 0 ahead says).
    expect([0, 1, 2].map((i) => first('c', i).lastSegmentChance)).toEqual([0, 0, 1]);
    expect(first('a', 0).lastSegmentChance).toBe(1);
  });

  it('a queued segment is ranked by what the predictors know now, not when it queued', async () => {
    const seen: SchedulingCandidate[] = [];
    // One sequence per step, and 'late' always last: it waits while the others finish.
    const policy: Policy = {
      name: 'rec',
      preemption: 'recompute',
      order: (c) => (seen.push(...c), [...c].sort((a, b) => Number(a.jobId === 'late') - Number(b.jobId === 'late') || a.jobArrivalS - b.jobArrivalS)),
      onToolWait: () => 'preserve',
    };
    const clock = new VirtualClock();
    const model = { name: 't', vocabSize: 1000, maxPositionEmbeddings: 4096, kvBytesPerToken: 1000 };
    const costs = { name: 'c', fixedS: 0.01, tokenS: 0.001, contextTokenS: 0, swapBytesPerS: 1e9 };
    const engine = Engine.withBackend(new SimulatedBackend(model, costs, 16, clock), { policy, kvBlocks: 64, clock, maxBatchSequences: 1 });
    const job = (id: string, outputTokens: number): WorkloadJob => ({ id, arrivalS: 0, kind: 'k', segments: [{ inputTokens: 8, outputTokens, tool: null }] });
    const done = runWorkload(engine, [job('late', 20), job('a', 3), job('b', 6), job('c', 9)], clock);
    await clock.run();
    await done;
    await engine.close();
    const late = seen.filter((c) => c.jobId === 'late');
    // Queued with nothing learned: the default 128 tokens, capped by its maxTokens (the runner
    // passes the true 20). Once a, b and c have finished (3 samples, the level's minimum): their
    // mean, (3 + 6 + 9) / 3 = 6. Frozen at queueing, it would still say 20.
    expect(late[0].expectedOutputTokens).toBe(20);
    expect(late.at(-1)!.expectedOutputTokens).toBe(6);
  });
});
