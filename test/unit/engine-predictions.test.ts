/**
 * What the engine learns and hands to the policy in each candidate: the segments a job of a
 * kind runs (from finished jobs) and the output length of a segment (per kind and index); and
 * what a job's history (JobOptions.history: segments run elsewhere, its age) changes in both.
 */
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../lib/errors.js';
import { Engine } from '../../lib/engine/engine.js';
import type { Policy, SchedulingCandidate } from '../../lib/sched/policy.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import type { WorkloadJob } from '../../lib/workload/format.js';
import { runWorkload } from '../../lib/workload/replay.js';

/** An engine on a round-number simulated backend whose policy runs jobs in order and records every candidate it is shown. */
function recordingEngine() {
  const seen: SchedulingCandidate[] = [];
  const policy: Policy = { name: 'rec', preemption: 'recompute', order: (c) => (seen.push(...c), [...c]), onToolWait: () => 'preserve' };
  const clock = new VirtualClock();
  const model = { name: 't', vocabSize: 1000, maxPositionEmbeddings: 4096, kvBytesPerToken: 1000 };
  const costs = { name: 'c', fixedS: 0.01, tokenS: 0.001, contextTokenS: 0, swapBytesPerS: 1e9 };
  return { seen, clock, engine: Engine.withBackend(new SimulatedBackend(model, costs, 16, clock), { policy, kvBlocks: 64, clock }) };
}

/** A job of kind 'k' with three segments (two tool calls of 0.1 s). */
function threeSegments(id: string, arrivalS: number): WorkloadJob {
  return {
    id,
    arrivalS,
    kind: 'k',
    segments: [
      { inputTokens: 8, outputTokens: 4, tool: { name: 't', durationS: 0.1 } },
      { inputTokens: 2, outputTokens: 6, tool: { name: 't', durationS: 0.1 } },
      { inputTokens: 2, outputTokens: 2, tool: null },
    ],
  };
}

describe('predictions in the scheduling candidates', () => {
  it('a new job of a kind seen finishing with 3 segments expects 2 after its first', async () => {
    const { seen, clock, engine } = recordingEngine();
    const job = threeSegments;
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
    // What a later segment adds to the context (its input and output; a first segment does not
    // count): the second 2 + 6 = 8, the third 2 + 2 = 4, in a and in b: a mean of 6. So 'c'
    // expects its next segment to add min(1, 2) × 6 = 6 tokens after its first segment, min(1, 1)
    // × 6 = 6 after its second, none after its last; 'a', with nothing learned, none.
    expect([0, 1, 2].map((i) => first('c', i).nextSegmentTokens)).toEqual([6, 6, 0]);
    expect(first('a', 0).nextSegmentTokens).toBe(0);
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

  it('a job with a history is ranked, predicted and counted as the job it is', async () => {
    const { seen, clock, engine } = recordingEngine();
    const three = threeSegments;
    await Promise.all([runWorkload(engine, [three('a', 0), three('b', 0)], clock), clock.run()]);
    // A job that ran two segments elsewhere and began 4 s ago comes in: its one segment here is
    // its third, the last of a 3-segment job as far as the predictors know.
    const nowS = clock.now();
    const m = engine.createJob({ id: 'm', kind: 'k', history: { segments: 2, ageS: 4 } });
    const segment = m.generate({ tokens: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], maxTokens: 2, ignoreEos: true });
    await Promise.all([segment.done, clock.run()]);
    const mc = seen.find((c) => c.jobId === 'm')!;
    expect([mc.segmentIndex, mc.expectedFutureSegments, mc.lastSegmentChance, mc.jobArrivalS]).toEqual([2, 0, 1, nowS - 4]);
    // Its metrics are this engine's: from its creation here, one segment.
    expect(m.metrics().jctS).toBeCloseTo(clock.now() - nowS, 12);
    expect(m.metrics().segments).toBe(1);
    m.close();
    // It finished as a 3-segment job: counts (3, 3, 3), so a new job expects 2 after its first.
    // (Counted as the one segment it ran here, (3, 3, 1) would give (2 + 2 + 0) / 3.)
    await Promise.all([runWorkload(engine, [three('n', 0)], clock), clock.run()]);
    expect(seen.find((c) => c.jobId === 'n' && c.segmentIndex === 0)!.expectedFutureSegments).toBe(2);
    // Malformed histories are refused, and no job is left behind.
    for (const history of [{ segments: -1 }, { segments: 1.5 }, { segments: 1, ageS: Number.NaN }, { segments: 1, ageS: -2 }]) {
      expect(() => engine.createJob({ id: 'bad', history })).toThrow(EngineError);
      expect(engine.hasJob('bad')).toBe(false);
    }
    await engine.close();
  });
});
