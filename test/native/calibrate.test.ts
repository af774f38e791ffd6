/**
 * `calibrate` end to end on the tiny model: probes, then two replays (short and long contexts),
 * each replay's steps counted apart and the fitted profile matching what was measured.
 */
import { describe, expect, it } from 'vitest';
import { calibrate } from '../../lib/sim/calibrate.js';
import { predictComputeS } from '../../lib/sim/fit-costs.js';
import type { WorkloadJob } from '../../lib/workload/format.js';

/** Jobs of `context` prompt tokens with one short tool call each, arriving 10 ms apart. */
function jobs(count: number, context: number): WorkloadJob[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `j${i}`,
    arrivalS: i * 0.01,
    kind: 'k',
    segments: [
      { inputTokens: context, outputTokens: 4, tool: { name: 't', durationS: 0.01 } },
      { inputTokens: 8, outputTokens: 4, tool: null },
    ],
  }));
}

describe('calibrate', () => {
  it('replays each workload in turn, builds the long one for the model, and matches the measured total', async () => {
    const positionsSeen: number[] = [];
    const { profile, samples } = await calibrate({
      model: { model: 'tiny' },
      name: 'test',
      kvBlocks: 256,
      probes: [
        { batch: 1, promptTokens: 16, decodeTokens: 4 },
        { batch: 2, promptTokens: 200, decodeTokens: 4 },
      ],
      workloads: [
        () => jobs(3, 40),
        ({ maxPositionEmbeddings }) => {
          positionsSeen.push(maxPositionEmbeddings);
          return jobs(2, Math.floor(maxPositionEmbeddings / 2));
        },
      ],
    });
    // The tiny preset has 2,048 positions.
    expect(positionsSeen).toEqual([2048]);
    const perReplay = profile.provenance!.workloadSteps as number[];
    expect(perReplay).toHaveLength(2);
    // Each job decodes 4 + 4 tokens: at least 8 steps with tokens per replay, fewer than all samples.
    for (const steps of perReplay) expect(steps).toBeGreaterThanOrEqual(8);
    expect(perReplay[0] + perReplay[1]).toBeLessThan(samples.length);
    // Whether levelled apart or with one factor, the replays' predicted total is their measured one.
    const replayed = samples.slice(samples.length - perReplay[0] - perReplay[1]);
    const predicted = replayed.reduce((sum, s) => sum + predictComputeS(profile.costs as Parameters<typeof predictComputeS>[0], s), 0);
    const measured = replayed.reduce((sum, s) => sum + s.computeS, 0);
    expect(predicted / measured).toBeCloseTo(1, 9);
  }, 60_000);
});
