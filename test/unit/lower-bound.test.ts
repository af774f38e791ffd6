import { describe, expect, it } from 'vitest';
import { POLICY_NAMES } from '../../lib/sched/registry.js';
import { H100_LLAMA3_8B, CPU_SMALL, type SimulationProfile } from '../../lib/sim/cost-model.js';
import { jobBounds, meanJctLowerBound, srptCompletions, type JobBound } from '../../lib/sim/lower-bound.js';
import { simulate } from '../../lib/sim/simulate.js';
import type { WorkloadJob, WorkloadSegment } from '../../lib/workload/format.js';
import { generateWorkload } from '../../lib/workload/generators/index.js';
import { expectCode } from './expect-code.js';

// Round numbers: a step costs 1 s + 0.1 s per token + 0.01 s per context token; a pool of one
// 16-token block; at most 2 tokens a step.
const TOY: SimulationProfile = {
  model: { name: 't', vocabSize: 100, maxPositionEmbeddings: 4096, kvBytesPerToken: 1 },
  costs: { name: 'toy', fixedS: 1, tokenS: 0.1, contextTokenS: 0.01, swapBytesPerS: 1e9 },
  deviceBlocks: 1,
  hostBlocks: 1,
  maxBatchTokens: 2,
  maxBatchSequences: 4,
};

function seg(inputTokens: number, outputTokens: number, tool: number | null = null): WorkloadSegment {
  return { inputTokens, outputTokens, tool: tool === null ? null : { name: 't', durationS: tool } };
}

function job(id: string, arrivalS: number, segments: WorkloadSegment[]): WorkloadJob {
  return { id, arrivalS, kind: 'k', segments };
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

describe('a job alone, worked by hand', () => {
  it('prices the fewest chunks, the short one first, and one step per further output token', () => {
    // 3 prompt tokens, 2 a step: chunks of 1 and 2 ending at positions 1 and 3, then one decode step
    // at position 3 (context 4). Alone: 2·1 + 3·0.1 + (1 + 3)·0.01 = 2.34, then 1 + 0.1 + 4·0.01 = 1.14.
    // Owed: the same without fixedS, plus fixedS × own KV / 16 pool tokens per step: 0.3 + 0.04 +
    // (1 + 3)/16 = 0.59, then 0.1 + 0.04 + 4/16 = 0.39.
    const [b] = jobBounds([job('a', 0, [seg(3, 2)])], TOY);
    expect(b.aloneS).toBeCloseTo(3.48, 12);
    expect(b.workS).toBeCloseTo(0.98, 12);
  });

  it('adds tool time, resumes after the last sampled token, and waits for the slowest subagent', () => {
    // Segment 1 as above ends with 4 tokens computed (the last sampled one, at position 4, is not).
    // Segment 2 runs that token and its 1 new one: one chunk of 2 ending at 6 (1 + 0.2 + 0.06 = 1.26),
    // and samples position 6. Its tool starts two subagents on the fork of those 6 computed tokens;
    // each runs the parent's last token and its task prompt: one of 1 token, a chunk of 2 ending at 8
    // (1.28); one of 3 tokens and 2 outputs, chunks of 2 ending at 8 and 10 (2 + 0.4 + 0.18 = 2.58)
    // and a decode at 10 (1 + 0.1 + 0.11 = 1.21): 3.79. The call returns 0.5 s after the slowest;
    // the parent resumes at 6 with 1 new token: a chunk of 2 ending at 8 (1.28).
    const subagents = [{ segments: [seg(1, 1)] }, { segments: [seg(3, 2)] }];
    const segments = [seg(3, 2, 2), { inputTokens: 1, outputTokens: 1, tool: { name: 'task', durationS: 0.5, subagents } }, seg(1, 1)];
    const [b] = jobBounds([job('a', 0, segments)], TOY);
    expect(b.aloneS).toBeCloseTo(3.48 + 2 + 1.26 + 3.79 + 0.5 + 1.28, 12);
    expect(b.toolS).toBeCloseTo(2 + 0.5, 12);
    // Owed: a subagent's own KV is what it holds beyond the 6 forked tokens.
    const owed =
      0.98 + (0.2 + 0.06 + 6 / 16) + (0.2 + 0.08 + 2 / 16) + (0.4 + 0.18 + (2 + 4) / 16) + (0.1 + 0.11 + 5 / 16) + (0.2 + 0.08 + 8 / 16);
    expect(b.workS).toBeCloseTo(owed, 12);
  });

  it('counts a shared prefix as cached, running a prompt the cache covers entirely from its last token', () => {
    const withPrefix = (input: number): WorkloadJob => ({ ...job('a', 0, [seg(input, 1)]), prefixId: 'p', prefixTokens: 10 });
    // 2 own tokens after a 10-token prefix: one chunk ending at 12, owning 2 tokens of KV: 1 + 0.2 + 0.12.
    const [own] = jobBounds([withPrefix(2)], TOY);
    expect(own.aloneS).toBeCloseTo(1.32, 12);
    expect(own.workS).toBeCloseTo(0.32 + 2 / 16, 12);
    // No own tokens: the prefix's last token runs (1 + 0.1 + 0.1), and the job owns none of it.
    const [none] = jobBounds([withPrefix(0)], TOY);
    expect(none.aloneS).toBeCloseTo(1.2, 12);
    expect(none.workS).toBeCloseTo(0.2, 12);
  });

  it('gives a roofline profile max(fixedS, tokens·tokenS) alone and no matrix work owed', () => {
    const roofline: SimulationProfile = { ...TOY, costs: { ...TOY.costs, roofline: true, tokenS: 0.8 }, maxBatchTokens: 8 };
    // 3 tokens in one chunk: max(1, 2.4) + 3·0.01; a decode: max(1, 0.8) + 4·0.01.
    const [b] = jobBounds([job('a', 0, [seg(3, 2)])], roofline);
    expect(b.aloneS).toBeCloseTo(2.43 + 1.04, 12);
    expect(b.workS).toBeCloseTo(0.03 + 3 / 16 + 0.04 + 4 / 16, 12);
  });
});

describe('shortest remaining work first on one server', () => {
  it('finishes jobs where the schedule worked by hand does', () => {
    // a (t 0, 3 s) runs 0–1; b (t 1, 1 s) is shorter than a's 2 left: 1–2; a 2–4; c (t 2, 5 s) 4–9.
    expect(srptCompletions([{ arrivalS: 0, workS: 3 }, { arrivalS: 1, workS: 1 }, { arrivalS: 2, workS: 5 }])).toEqual([2, 4, 9]);
    // An idle gap: the second job starts at its arrival.
    expect(srptCompletions([{ arrivalS: 5, workS: 1 }, { arrivalS: 0, workS: 2 }])).toEqual([2, 6]);
  });

  it('combines the two relaxations completion by completion', () => {
    const bounds: JobBound[] = [
      { id: 'a', arrivalS: 0, aloneS: 3, toolS: 1, workS: 3 },
      { id: 'b', arrivalS: 1, aloneS: 4, toolS: 2, workS: 1 },
      { id: 'c', arrivalS: 2, aloneS: 1, toolS: 0, workS: 5 },
    ];
    // Alone, the ends are 3, 5, 3 → sorted 3, 3, 5; SRPT's 2, 4, 9; larger of each: 3, 4, 9.
    const bound = meanJctLowerBound(bounds);
    expect(bound.meanJctS).toBeCloseTo((3 + 4 + 9 - 3) / 3, 12);
    expect(bound.aloneMeanJctS).toBeCloseTo((3 + 3 + 5 - 3) / 3, 12);
    expect(bound.workMeanJctS).toBeCloseTo((2 + 4 + 9 - 3) / 3, 12);
    expect(bound.totalWorkS).toBe(9);
    expect(bound.meanToolS).toBe(1);
  });

  it('refuses what has no bound', () => {
    expectCode(() => meanJctLowerBound([]), 'INVALID_ARGUMENT', 'at least one job');
    expectCode(() => jobBounds([job('a', 0, [seg(3, 1)])], TOY, { kvBlocks: 0 }), 'INVALID_ARGUMENT', 'kvBlocks 0');
  });
});

describe('against the simulator', () => {
  it('is what a job alone takes on the H100 profile, short prompts, tools and a subagent', async () => {
    // The fork comes at 5,004 + 306 + 2 = 5,312 computed tokens, a whole number of blocks: the
    // subagent copies no partly filled block on write (the bound counts no copies).
    const withSubagents = (subagents: { segments: WorkloadSegment[] }[]) =>
      job('a', 0, [seg(5000, 5, 1.5), { inputTokens: 305, outputTokens: 3, tool: { name: 'task', durationS: 0.5, subagents } }, seg(900, 2)]);
    const one = withSubagents([{ segments: [seg(100, 4, 0.2), seg(10, 2)] }]);
    const [b] = jobBounds([one], H100_LLAMA3_8B);
    const { outcomes } = await simulate([one], { policy: 'astraea' });
    expect(outcomes[0].error).toBeNull();
    expect(outcomes[0].jctS).toBeCloseTo(b.aloneS, 9);
    // Two subagents share their steps, each slowing the other: the bound, which gives each the device, is below.
    const two = withSubagents([{ segments: [seg(100, 4, 0.2), seg(10, 2)] }, { segments: [seg(40, 3)] }]);
    const [b2] = jobBounds([two], H100_LLAMA3_8B);
    const { outcomes: outcomes2 } = await simulate([two], { policy: 'astraea' });
    expect(outcomes2[0].jctS).toBeGreaterThan(b2.aloneS + 1e-4);
  });

  it('is below a long prompt alone by exactly the context the engine’s chunk order reads more', async () => {
    // 20,000 tokens in chunks of 8,192: the engine runs 8,192, 8,192, 3,616 (ends 8,192 + 16,384 + 20,000);
    // the bound's order 3,616, 8,192, 8,192 ends at 3,616 + 11,808 + 20,000: 9,152 context tokens fewer.
    const long = job('a', 0, [seg(20_000, 3)]);
    const [b] = jobBounds([long], H100_LLAMA3_8B);
    const { outcomes } = await simulate([long], { policy: 'fcfs' });
    expect(outcomes[0].jctS - b.aloneS).toBeCloseTo(9152 * H100_LLAMA3_8B.costs.contextTokenS, 12);
  });

  it('no policy beats it on the main job’s workload, each job nor the mean', async () => {
    // The default bench's workload (14 coding jobs, load 2, scaled) on the CPU profile's tight pool.
    for (const seed of [1, 2]) {
      const { jobs } = generateWorkload('coding', { jobs: 14, load: 2, seed, scale: { tokens: 0.006, time: 0.02 } });
      const bounds = jobBounds(jobs, CPU_SMALL, { kvBlocks: 96 });
      const bound = meanJctLowerBound(bounds);
      for (const policy of POLICY_NAMES) {
        const { outcomes } = await simulate(jobs, { profile: CPU_SMALL, policy, kvBlocks: 96 });
        for (const o of outcomes) {
          expect(o.error).toBeNull();
          expect(o.jctS).toBeGreaterThanOrEqual(bounds.find((b) => b.id === o.id)!.aloneS - 1e-9);
        }
        expect(mean(outcomes.map((o) => o.jctS))).toBeGreaterThanOrEqual(bound.meanJctS - 1e-9);
      }
    }
  });

  it('binds by work when every job arrives at once, and no policy beats that either', async () => {
    // Twelve jobs of a 2,000-token prompt and 40 outputs at t = 0: alone each takes ~0.32 s, but the
    // device owes ~0.10 s to each, one after another (mean ≥ ~0.65 s).
    const jobs = Array.from({ length: 12 }, (_, i) => job(`j${i}`, 0, [seg(2000, 40)]));
    const bound = meanJctLowerBound(jobBounds(jobs, H100_LLAMA3_8B, { kvBlocks: 800 }));
    expect(bound.workMeanJctS).toBeGreaterThan(bound.aloneMeanJctS);
    for (const policy of POLICY_NAMES) {
      const { outcomes } = await simulate(jobs, { policy, kvBlocks: 800 });
      expect(mean(outcomes.map((o) => o.jctS))).toBeGreaterThanOrEqual(bound.meanJctS - 1e-9);
    }
  });
});
