import { describe, expect, it } from 'vitest';
import type { JobMetrics } from '../../lib/agent/job-state.js';
import { Engine } from '../../lib/engine/engine.js';
import type { EngineStats } from '../../lib/engine/types.js';
import type { PausedJobView, Policy, SchedulingCandidate, ToolWaitKvAction } from '../../lib/sched/policy.js';
import { POLICY_NAMES } from '../../lib/sched/registry.js';
import type { SimulationProfile } from '../../lib/sim/cost-model.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { simulate } from '../../lib/sim/simulate.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import type { WorkloadJob, WorkloadSegment } from '../../lib/workload/format.js';
import { runWorkload, type JobOutcome } from '../../lib/workload/replay.js';
import { quantile, summarizeRun, type RunMeta } from '../../lib/bench/summary.js';
import { RunSummarySchema } from '../../lib/bench/summary-schema.js';
import { Value } from 'typebox/value';
import { expectCode } from './expect-code.js';
import { ROUND_NUMBER_PROFILE } from './round-number-profile.js';

// A step of k tokens costs 0.01 + 0.001·k seconds, nothing per context token (./round-number-profile.ts).
const PROFILE = ROUND_NUMBER_PROFILE;
const META: RunMeta = {
  policy: 'p',
  engine: 'sim',
  workload: { name: 'w', seed: 3, load: 2, jobs: 5, scale: { tokens: 0.5, time: 0.25 }, arrivalRatePerS: 1.5 },
  predictor: 'learned',
  model: 'c',
  kvBlocks: 64,
  makespanS: 0,
  swapBytesPerS: 25e9,
};
const DECODE_S = 0.011;
const BLOCK_COPY_S = 1.6e-5;

function seg(inputTokens: number, outputTokens: number, tool: [string, number] | null = null): WorkloadSegment {
  return { inputTokens, outputTokens, tool: tool === null ? null : { name: tool[0], durationS: tool[1] } };
}

function job(id: string, arrivalS: number, segments: WorkloadSegment[], kind = 'k'): WorkloadJob {
  return { id, arrivalS, kind, segments };
}


/** A policy with a fixed tool-wait action, ordering by job id, recording what it is told. */
class RecordingPolicy implements Policy {
  readonly name = 'recording';
  readonly preemption = 'recompute' as const;
  readonly candidates: SchedulingCandidate[] = [];
  readonly paused: PausedJobView[] = [];
  constructor(private readonly action: ToolWaitKvAction) {}
  order(candidates: readonly SchedulingCandidate[]): SchedulingCandidate[] {
    this.candidates.push(...candidates);
    return [...candidates].sort((a, b) => (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0));
  }
  onToolWait(view: PausedJobView): ToolWaitKvAction {
    this.paused.push(view);
    return this.action;
  }
}

// The two-segment job used below: 40 prompt tokens → 5 output tokens → tool (2 s) → 10 tool-result
// tokens → 3 output tokens.
//
// Segment 1: one step of the 40 prompt tokens samples token 1 (0.01 + 0.040 = 0.050 s), then 4
// decode steps (4 × 0.011 = 0.044 s): 0.094 s. KV is computed for 40 + 4 = 44 tokens (the 5th
// sampled token has no KV yet); the context is 45 tokens; 3 device blocks (48 slots) are held.
const TWO_SEGMENTS = job('two', 0, [seg(40, 5, ['search', 2]), seg(10, 3)]);
const SEGMENT1_S = 0.05 + 4 * DECODE_S; // 0.094

describe('simulate: step timing of single jobs', () => {
  it('one segment: one prefill step sampling the first token, then M − 1 decode steps', async () => {
    // N = 40, M = 5: (0.01 + 0.040) + 4 × 0.011 = 0.094
    const result = await simulate([job('one', 0, [seg(40, 5)])], { profile: PROFILE });
    expect(result.outcomes).toHaveLength(1);
    const [o] = result.outcomes;
    expect(o.error).toBeNull();
    expect(o.arrivalS).toBe(0);
    expect(o.jctS).toBeCloseTo(0.094, 9);
    expect(result.makespanS).toBeCloseTo(0.094, 9);
    // 5 steps; the prefill step counts 39 prompt tokens as prefill and its last one as the step
    // that samples token 1; 5 output tokens in all.
    expect(result.stats.steps).toBe(5);
    expect(result.stats.tokens).toEqual({ prefill: 39, decode: 5 });
    expect(result.stats.time.nativeS).toBeCloseTo(0.094, 9);
    expect(result.stats.jobs.open).toBe(0);
    expect(result.stats.kv.ownedBlocks).toBe(0);
  });

  it('a prompt longer than maxBatchTokens is prefilled in chunks', async () => {
    // N = 600 > 512: a chunk of 512 (0.01 + 0.512 = 0.522), then 88 more sampling token 1
    // (0.01 + 0.088 = 0.098), then 2 decode steps (0.022): 0.642.
    const result = await simulate([job('long', 0, [seg(600, 3)])], { profile: PROFILE });
    expect(result.outcomes[0].error).toBeNull();
    expect(result.outcomes[0].jctS).toBeCloseTo(0.642, 9);
    expect(result.stats.steps).toBe(4);
  });

  it('shows every step and its price to an onStep observer (bench/policies/step-mix.ts)', async () => {
    // The same 600-token prompt: steps of 512, 88, 1 and 1 tokens at 0.522, 0.098, 0.011, 0.011 s.
    const seen: [number, number][] = [];
    await simulate([job('long', 0, [seg(600, 3)])], { profile: PROFILE, onStep: (step, r) => seen.push([step.sequences[0].tokens.length, r.elapsedS]) });
    expect(seen.map(([tokens]) => tokens)).toEqual([512, 88, 1, 1]);
    [0.522, 0.098, 0.011, 0.011].forEach((s, i) => expect(seen[i][1]).toBeCloseTo(s, 9));
  });

  it('charges attention per context token (start position + tokens run)', async () => {
    // contextTokenS 1e-4, N = 40, M = 3:
    // step 1: 0.01 + 0.040 + 40 × 1e-4 = 0.054; step 2 (position 40): 0.011 + 41 × 1e-4 = 0.0151;
    // step 3 (position 41): 0.011 + 42 × 1e-4 = 0.0152. Total 0.0843.
    const profile: SimulationProfile = { ...PROFILE, costs: { ...PROFILE.costs, contextTokenS: 1e-4 } };
    const result = await simulate([job('ctx', 0, [seg(40, 3)])], { profile });
    expect(result.outcomes[0].jctS).toBeCloseTo(0.0843, 9);
  });

  it('tool call with fcfs: the KV goes to the prefix cache and only the partial block is recomputed', async () => {
    // At the tool call fcfs releases the blocks. Of the 44 computed tokens, floor(44/16) = 2 full
    // blocks (32 tokens) were keyed and stay cached in the large pool; the partial third block is
    // freed. On resume the context is 45 + 10 = 55 tokens; 32 come from the cache, so the first step
    // runs 55 − 32 = 23 tokens (12 recomputed, the unsampled 5th output token, 10 new):
    // 0.01 + 0.023 = 0.033; then 2 decode steps 0.022. Segment 2: 0.055.
    // JCT = 0.094 + 2 + 0.055 = 2.149.
    const result = await simulate([TWO_SEGMENTS], { profile: PROFILE, policy: 'fcfs' });
    const [o] = result.outcomes;
    expect(o.error).toBeNull();
    expect(o.jctS).toBeCloseTo(SEGMENT1_S + 2 + 0.055, 9);
    expect(o.jctS).toBeCloseTo(2.149, 9);
    expect(result.makespanS).toBeCloseTo(2.149, 9);
    expect(result.stats.kvActions).toEqual({ release: 1, preserve: 0, swap: 0, discard: 0 });
    // Prefill: 39 (segment 1) + 22 (the 23-token step, less the token that samples) = 61; decode 8.
    expect(result.stats.tokens).toEqual({ prefill: 61, decode: 8 });
    expect(result.stats.steps).toBe(5 + 3);
    // Where the time went: 12 of the resume step's 23 tokens sat below the 44 tokens that once
    // had KV, so 12/23 of its 0.033 s is KV recovery; the rest of both segments' running is compute.
    const recovery = (0.033 * 12) / 23;
    expect(o.breakdown.kvRecoveryS).toBeCloseTo(recovery, 12);
    expect(o.breakdown.computeS).toBeCloseTo(0.094 + 0.055 - recovery, 12);
    expect(o.breakdown.toolS).toBeCloseTo(2, 12);
    expect(o.breakdown.queueingS).toBeCloseTo(0, 12);
  });

  it('tool call with astraea and nothing waiting for memory: the KV is preserved and nothing is recomputed', async () => {
    // Nothing waits for memory: the KV stays. The resume step runs
    // the 5th output token (no KV yet) and the 10 new ones: 11 tokens, 0.021; then 0.022.
    // JCT = 0.094 + 2 + 0.043.
    const result = await simulate([TWO_SEGMENTS], { profile: PROFILE, policy: 'astraea' });
    const [o] = result.outcomes;
    expect(o.error).toBeNull();
    expect(o.jctS).toBeCloseTo(2.137, 9);
    expect(result.stats.kvActions.preserve).toBe(1);
    expect(result.stats.tokens).toEqual({ prefill: 39 + 10, decode: 8 });
    expect(o.breakdown).toEqual({ queueingS: 0, computeS: expect.closeTo(0.137, 12), toolS: expect.closeTo(2, 12), kvRecoveryS: 0 });
  });

  it('tool call with a swapping policy: the swap-in is prefetched by a copy-only step', async () => {
    // At the tool call the 3 device blocks are swapped out (deferred: nothing runs during the
    // wait, so the copy rides with the next step). On resume the planner swaps the job in and runs
    // it from the step after: that first step computes nothing and carries 3 swap-outs + 3 swap-ins
    // over the same host blocks — a round trip, which the native rule (cpp/core/swap_schedule.h)
    // runs in order before the step, so all 6 block: 6 × 1.6e-5 = 9.6e-5 s (a step with no compute
    // takes as long either way). Then 11 tokens (0.021) and 2 decode steps (0.022).
    // JCT = 0.094 + 2 + 9.6e-5 + 0.043 = 2.137096.
    const policy = new RecordingPolicy('swap');
    const result = await simulate([TWO_SEGMENTS], { profile: PROFILE, policy });
    const [o] = result.outcomes;
    expect(o.error).toBeNull();
    expect(o.jctS).toBeCloseTo(SEGMENT1_S + 2 + 6 * BLOCK_COPY_S + 0.043, 9);
    expect(result.stats.kvActions.swap).toBe(1);
    // 3 blocks of 16,000 B each way.
    expect(result.stats.kvTraffic.swapOutBytes).toBe(48_000);
    expect(result.stats.kvTraffic.swapInBytes).toBe(48_000);
    expect(result.stats.kvTraffic.overlappedSwapBytes).toBe(0);
    expect(result.stats.kvTraffic.blockingSwapS).toBeCloseTo(6 * BLOCK_COPY_S, 12);
    expect(result.stats.kv.inFlightBlocks).toBe(0);
    expect(result.stats.kv.ownedBlocks).toBe(0);
    // The job waited in the queue only for its swap-in (the copy-only step): that is KV recovery.
    expect(o.breakdown.kvRecoveryS).toBeCloseTo(6 * BLOCK_COPY_S, 12);
    expect(o.breakdown.queueingS).toBeCloseTo(0, 12);
    expect(o.breakdown.computeS).toBeCloseTo(0.094 + 0.043, 12);
  });

  it('a tool that returns nothing: the next segment starts from the last generated token', async () => {
    // The KV is preserved (astraea, nothing waiting). The resume step runs only the 5th output
    // token, which had no KV yet: 0.011; then 2 decode steps. JCT = 0.094 + 1 + 0.033 = 1.127.
    const result = await simulate([job('empty', 0, [seg(40, 5, ['t', 1]), seg(0, 3)])], { profile: PROFILE, policy: 'astraea' });
    expect(result.outcomes[0].error).toBeNull();
    expect(result.outcomes[0].jctS).toBeCloseTo(1.127, 9);
    expect(result.stats.tokens).toEqual({ prefill: 39, decode: 8 });
  });

  it('refuses a backend whose KV blocks hold a different number of tokens than blockSize, and frees it', () => {
    const backend = new SimulatedBackend(PROFILE.model, PROFILE.costs, 16, new VirtualClock());
    let disposed = 0;
    const dispose = backend.dispose.bind(backend);
    backend.dispose = () => {
      disposed++;
      dispose();
    };
    expect(() => Engine.withBackend(backend, { blockSize: 8 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/hold 16 tokens but blockSize is 8/) }));
    expect(disposed).toBe(1);
  });

  it('without prefetch the swap-in blocks the step that runs the job; the swap-out overlaps it', async () => {
    // Through runWorkload on an engine built by hand (simulate does not expose prefetchSwapIns).
    // The resume step swaps the 3 blocks in and runs 11 tokens on them: the 3 swap-ins touch its
    // blocks, and the 3 deferred swap-outs write the host blocks those swap-ins read (a round
    // trip): all 6 block, 9.6e-5 s before the 0.021 s compute. JCT = 0.094 + 2 + 0.021096 + 0.022
    // = 2.137096. The job's own step waited on the copies: KV recovery, all 9.6e-5 s of it.
    const clock = new VirtualClock();
    const engine = Engine.withBackend(new SimulatedBackend(PROFILE.model, PROFILE.costs, 16, clock), {
      policy: new RecordingPolicy('swap'),
      kvBlocks: 64,
      hostBlocks: 64,
      blockSize: 16,
      maxBatchTokens: 512,
      maxBatchSequences: 8,
      prefetchSwapIns: false,
      clock,
    });
    try {
      const running = runWorkload(engine, [TWO_SEGMENTS], clock);
      await clock.run();
      const [o] = await running;
      expect(o.error).toBeNull();
      expect(o.jctS).toBeCloseTo(2.137096, 9);
      // The blocking swaps held up the job's own step: KV recovery, not compute.
      expect(o.breakdown.kvRecoveryS).toBeCloseTo(6 * BLOCK_COPY_S, 12);
      expect(o.breakdown.computeS).toBeCloseTo(0.094 + 0.021 + 0.022, 12);
      expect(o.breakdown.queueingS).toBeCloseTo(0, 12);
      const stats = engine.stats();
      expect(stats.kvTraffic.blockingSwapS).toBeCloseTo(6 * BLOCK_COPY_S, 12);
      expect(stats.kvTraffic.overlappedSwapBytes).toBe(0);
      expect(stats.steps).toBe(5 + 3);
      engine.checkInvariants();
    } finally {
      await engine.close();
    }
  });
});

/** Swaps at every tool wait; a job whose KV is on the host goes first (so it is swapped in), then by job id. */
class HostFirstPolicy implements Policy {
  readonly name = 'host-first';
  readonly preemption = 'recompute' as const;
  order(candidates: readonly SchedulingCandidate[]): SchedulingCandidate[] {
    const rank = (c: SchedulingCandidate) => (c.kv === 'host' ? 0 : 1);
    return [...candidates].sort((a, b) => rank(a) - rank(b) || (a.jobId < b.jobId ? -1 : 1));
  }
  onToolWait(): ToolWaitKvAction {
    return 'swap';
  }
}

describe('simulate: a job swapped in ahead of running keeps its prefix keys', () => {
  it('preempted before it runs, it recomputes only its last partial block', async () => {
    // One sequence a step, 16 blocks of 16 tokens. z (0 s): 100 prompt tokens, 2 out, a 1 s tool:
    // KV for 101 tokens (6 full blocks = 96 tokens keyed, 5 in a 7th), swapped to the host at
    // 0.121 s. a (0.8 s): 120 prompt tokens, 40 out — 8 blocks, growing. z returns at 1.121 s
    // and, first in the order while on the host, is swapped in beside a's decode step (7 blocks:
    // 15 of 16 held); the batch then holds only a. a's context reaches its 10th block 24 decode
    // steps after its prefill (0.93 + 24 × 0.011 = 1.194 s): the pool is full and z, after a in
    // the order, is preempted before it ran. Its 6 keyed blocks stay in the prefix cache (a takes
    // the unkeyed 7th from the free stack), so when a ends z recomputes 101 − 96 = 5 tokens. With
    // the keys restored only at z's next compute, all 101 were recomputed.
    const clock = new VirtualClock();
    const engine = Engine.withBackend(new SimulatedBackend(PROFILE.model, PROFILE.costs, 16, clock), {
      policy: new HostFirstPolicy(),
      kvBlocks: 16,
      hostBlocks: 16,
      blockSize: 16,
      maxBatchTokens: 512,
      maxBatchSequences: 1,
      clock,
    });
    try {
      const jobs = [job('z', 0, [seg(100, 2, ['t', 1]), seg(10, 2)]), job('a', 0.8, [seg(120, 40)])];
      const running = runWorkload(engine, jobs, clock);
      await clock.run();
      const outcomes = await running;
      expect(outcomes.map((o) => o.error)).toEqual([null, null]);
      const stats = engine.stats();
      expect(stats.preemptions).toBe(1);
      expect(outcomes.find((o) => o.id === 'z')!.metrics.recomputedPrefillTokens).toBe(5);
      expect(stats.kvTraffic.recomputedPrefillTokens).toBe(5);
      engine.checkInvariants();
    } finally {
      await engine.close();
    }
  });
});

describe('simulate: arrivals, determinism, policies', () => {
  // Four jobs, 2–3 segments each, whose peak contexts need 10 + 9 + 13 + 4 = 36 blocks of 16
  // tokens: more than the 24-block device pool, so policies must preempt, swap or release.
  const MIXED: WorkloadJob[] = [
    job('j1', 0, [seg(60, 12, ['a', 0.3]), seg(40, 10, ['b', 0.05]), seg(30, 8)], 'x'),
    job('j2', 0.02, [seg(90, 20, ['a', 0.5]), seg(20, 6)], 'y'),
    job('j3', 0.05, [seg(120, 15, ['c', 0.1]), seg(50, 10)], 'x'),
    job('j4', 0.1, [seg(30, 25)], 'y'),
  ];
  // Output tokens: 12 + 10 + 8 + 20 + 6 + 15 + 10 + 25 = 106.
  const MIXED_OUTPUT = 106;

  it('gives a larger device pool a host pool at least as large, as the real bench does', async () => {
    // The bench's engine gets as many host blocks as device blocks. PROFILE's host pool is 64:
    // asked for 200 device blocks the simulator must offer 200 host blocks, not 64 (a swap of a
    // context over 64 blocks would otherwise fail and be recomputed); asked for 32, it keeps 64;
    // an explicit host pool wins.
    const one = [job('a', 0, [seg(40, 5)])];
    expect((await simulate(one, { profile: PROFILE, kvBlocks: 200 })).stats.kv.hostBlocks).toBe(200);
    expect((await simulate(one, { profile: PROFILE, kvBlocks: 32 })).stats.kv.hostBlocks).toBe(64);
    expect((await simulate(one, { profile: PROFILE, kvBlocks: 200, hostBlocks: 10 })).stats.kv.hostBlocks).toBe(10);
  });

  it('honours arrival times and does not count the wait before arrival in the JCT', async () => {
    // 'late' arrives at 5 s, long after 'early' (arrival 0) ended at 0.094: both take 0.094 s.
    const result = await simulate([job('early', 0, [seg(40, 5)]), job('late', 5, [seg(40, 5)])], { profile: PROFILE });
    const byId = new Map(result.outcomes.map((o) => [o.id, o]));
    expect(byId.get('early')!.arrivalS).toBe(0);
    expect(byId.get('early')!.jctS).toBeCloseTo(0.094, 9);
    expect(byId.get('late')!.arrivalS).toBe(5);
    expect(byId.get('late')!.jctS).toBeCloseTo(0.094, 9);
    expect(result.makespanS).toBeCloseTo(5.094, 9);
  });

  it('is deterministic: the same workload twice gives identical outcomes and stats', async () => {
    const options = { profile: { ...PROFILE, deviceBlocks: 24, hostBlocks: 16 }, policy: 'astraea' as const };
    const a = await simulate(MIXED, options);
    const b = await simulate(MIXED, options);
    expect(b.outcomes).toEqual(a.outcomes);
    expect(b.makespanS).toBe(a.makespanS);
    // time.loopS is the wall time of the step loop (documented as such), the one field that may differ.
    const withoutWall = (s: EngineStats) => ({ ...s, time: { nativeS: s.time.nativeS } });
    expect(withoutWall(b.stats)).toEqual(withoutWall(a.stats));
  });

  /**
   * A JCT no schedule can beat: each output token takes its own step (≥ fixedS), every input token
   * and every output token but the segment's last runs once (≥ tokenS each), plus the tool time.
   */
  function lowerBoundS(spec: WorkloadJob): number {
    let s = 0;
    for (const sg of spec.segments) {
      s += sg.outputTokens * 0.01 + (sg.inputTokens + sg.outputTokens - 1) * 0.001 + (sg.tool?.durationS ?? 0);
    }
    return s;
  }

  // 24/16 blocks: tool waits' KV is released, swapped or reclaimed; 16/8: tighter still, prefix
  // blocks are evicted and (with some policies) running jobs preempted.
  const POOLS: [number, number][] = [
    [24, 16],
    [16, 8],
  ];
  const CASES = POLICY_NAMES.flatMap((policy) => POOLS.map(([kvBlocks, hostBlocks]) => ({ policy, kvBlocks, hostBlocks })));

  it.each(CASES)('policy $policy completes a multi-segment workload on a tight pool ($kvBlocks device / $hostBlocks host blocks)', async ({ policy, kvBlocks, hostBlocks }) => {
    const result = await simulate(MIXED, { profile: PROFILE, policy, kvBlocks, hostBlocks });
    expect(result.outcomes).toHaveLength(4);
    for (const o of result.outcomes) expect(o.error, `${policy}: job ${o.id}`).toBeNull();
    const byId = new Map(result.outcomes.map((o) => [o.id, o]));
    for (const spec of MIXED) {
      const o = byId.get(spec.id)!;
      expect(o.arrivalS).toBeCloseTo(spec.arrivalS, 12);
      expect(o.jctS).toBeGreaterThanOrEqual(lowerBoundS(spec) - 1e-9);
      expect(o.metrics.outputTokens).toBe(spec.segments.reduce((n, sg) => n + sg.outputTokens, 0));
    }
    // Every output token is sampled exactly once, whatever was preempted or recomputed.
    expect(result.stats.tokens.decode).toBe(MIXED_OUTPUT);
    // The run ends with the last job.
    expect(result.makespanS).toBeCloseTo(Math.max(...result.outcomes.map((o) => o.arrivalS + o.jctS)), 9);
    // Nothing leaked: every job closed, no device or host block owned, no copy in flight.
    expect(result.stats.jobs.open).toBe(0);
    expect(result.stats.kv.ownedBlocks).toBe(0);
    expect(result.stats.kv.hostFree).toBe(hostBlocks);
    expect(result.stats.kv.inFlightBlocks).toBe(0);

    // Every job's time is split into parts that add up to its JCT, with none negative.
    for (const o of result.outcomes) {
      const b = o.breakdown;
      expect(b.queueingS + b.computeS + b.toolS + b.kvRecoveryS, `${policy}: job ${o.id}`).toBeCloseTo(o.metrics.jctS!, 9);
      for (const part of Object.values(b)) expect(part).toBeGreaterThanOrEqual(-1e-12);
    }
    const summary = summarizeRun({ ...META, policy, makespanS: result.makespanS }, result.outcomes, result.stats);
    expect(summary).toMatchObject({ policy, engine: 'sim', jobs: 4, completed: 4, failed: 0 });
  });
});

describe('hints', () => {
  const HINTED = job('h', 0, [seg(20, 5, ['lookup', 0.75]), seg(8, 3)]);

  it("'oracle' passes each segment's output length and tool duration to the engine", async () => {
    const policy = new RecordingPolicy('release');
    const result = await simulate([HINTED], { profile: PROFILE, policy, hints: 'oracle' });
    expect(result.outcomes[0].error).toBeNull();
    const bySegment = (i: number) => policy.candidates.filter((c) => c.segmentIndex === i).map((c) => c.expectedOutputTokens);
    expect(new Set(bySegment(0))).toEqual(new Set([5]));
    expect(new Set(bySegment(1))).toEqual(new Set([3]));
    expect(policy.paused).toHaveLength(1);
    expect(policy.paused[0].expectedToolS).toBe(0.75);
  });

  it("'none' (the default) passes no tool duration", async () => {
    const policy = new RecordingPolicy('release');
    await simulate([HINTED], { profile: PROFILE, policy });
    expect(policy.paused).toHaveLength(1);
    expect(policy.paused[0].expectedToolS).toBeUndefined();
  });

  it("a workload's tool calls are timed under the name the policy is asked about", async () => {
    // x calls 'lookup' twice, for 0.5 s and then 1.5 s; y decodes through x's second wait, so the
    // engine plans steps (and `continuum` looks at x's kept KV) while x waits. Continuum keeps a
    // waiting job's KV for the 0.9-quantile of its tool's observed durations, else 2 s. The pause
    // is filed under 'lookup', whose one observation is 0.5 s: x's KV is released 0.5 s into its
    // second call. (Filed under the engine's default name 'tool', never observed, the TTL stayed
    // 2 s and the KV outlived the 1.5 s call: every workload's tool calls were predicted at the
    // predictor's 1 s default.)
    const jobs = [job('x', 0, [seg(20, 2, ['lookup', 0.5]), seg(8, 2, ['lookup', 1.5]), seg(8, 2)]), job('y', 0.6, [seg(20, 300)])];
    const { outcomes, stats } = await simulate(jobs, { profile: PROFILE, policy: 'continuum' });
    expect(outcomes.map((o) => o.error)).toEqual([null, null]);
    expect(stats.kvActions).toMatchObject({ preserve: 2, release: 1 });
  });

  it('an invalid hint is rejected synchronously with INVALID_ARGUMENT and commits nothing', async () => {
    const clock = new VirtualClock();
    const engine = Engine.withBackend(new SimulatedBackend(PROFILE.model, PROFILE.costs, 16, clock), {
      kvBlocks: 64,
      hostBlocks: 64,
      blockSize: 16,
      clock,
    });
    try {
      const j = engine.createJob({ id: 'bad-hints' });
      const base = { tokens: [1, 2, 3], maxTokens: 2, ignoreEos: true };
      for (const expectedOutputTokens of [0, -1, 1.5, NaN]) {
        expectCode(() => j.generate({ ...base, expectedOutputTokens }), 'INVALID_ARGUMENT');
      }
      for (const expectedToolS of [-1, NaN, Infinity]) {
        expectCode(() => j.generate({ ...base, expectedToolS }), 'INVALID_ARGUMENT');
      }
      expect(clock.pendingTimers).toBe(0); // no step was started
      // The job is untouched: a valid call now runs a 3-token prompt (0.01 + 0.003) and one decode
      // step (0.011): 0.024 s. Had a rejected call appended its tokens, the prompt would be longer.
      const segment = j.generate({ ...base, expectedOutputTokens: 2, expectedToolS: 0 });
      await clock.run();
      const done = await segment.done;
      expect(done.tokens).toHaveLength(2);
      expect(done.usage.promptTokens).toBe(3);
      expect(clock.now()).toBeCloseTo(0.024, 12);
      engine.checkInvariants();
    } finally {
      await engine.close();
    }
  });
});


describe('summary', () => {
  it('quantile is type 7 (linear between order statistics)', () => {
    // h = (n − 1)·q; value = x[floor h] + (h − floor h)·(x[floor h + 1] − x[floor h]).
    // [1,2,3,4], q = 0.5: h = 1.5 → 2 + 0.5 = 2.5. q = 0.99: h = 2.97 → 3 + 0.97 = 3.97.
    expect(quantile([1, 2, 3, 4], 0.5)).toBeCloseTo(2.5, 12);
    expect(quantile([1, 2, 3, 4], 0.99)).toBeCloseTo(3.97, 12);
    expect(quantile([1, 2, 3, 4], 0)).toBe(1);
    expect(quantile([1, 2, 3, 4], 1)).toBe(4);
    // [10, 20, 40], q = 0.9: h = 1.8 → 20 + 0.8 × 20 = 36.
    expect(quantile([10, 20, 40], 0.9)).toBeCloseTo(36, 12);
    expect(quantile([7], 0.5)).toBe(7);
    expect(quantile([], 0.5)).toBeNaN();
  });

  function outcome(id: string, jctS: number, error: string | null = null): JobOutcome {
    // A breakdown whose parts are easy to average: a quarter of the JCT each.
    const quarter = jctS / 4;
    return { id, kind: 'k', arrivalS: 0, jctS, error, metrics: {} as JobMetrics, breakdown: { queueingS: quarter, computeS: quarter, toolS: quarter, kvRecoveryS: quarter } };
  }

  function stats(prefill: number, decode: number): EngineStats {
    return {
      steps: 0,
      jobs: { open: 0, running: 0, waiting: 0, toolWait: 0, groups: 0 },
      forks: { jobs: 0, sharedTokens: 0, copiedBlocks: 0 },
      kv: { deviceBlocks: 0, freeBlocks: 0, cachedBlocks: 0, ownedBlocks: 0, hostBlocks: 0, hostFree: 0, hostOwned: 0, inFlightBlocks: 0, prefixHitTokens: 0, prefixQueryTokens: 0, evictions: 0 },
      tokens: { prefill, decode },
      preemptions: 3,
      reclaimedToolWaits: 0,
      kvActions: { release: 1, preserve: 2, swap: 4, discard: 5 },
      kvTraffic: { swapOutBytes: 0, swapInBytes: 0, recomputedPrefillTokens: 17, overlappedSwapBytes: 0, exchangedBytes: 0, blockingSwapS: 0 },
      time: { loopS: 0, nativeS: 0 },
    };
  }

  it('summarizeRun counts completed and failed jobs and summarises completed JCTs only', () => {
    // Completed JCTs (unsorted on purpose) 4, 1, 3, 2 → sorted [1, 2, 3, 4]; the failed job's 100 is
    // left out. mean 2.5; p50 2.5; p90: h = 2.7 → 3.7; p99: h = 2.97 → 3.97.
    const outcomes = [outcome('a', 4), outcome('b', 1), outcome('f', 100, 'OUT_OF_BLOCKS'), outcome('c', 3), outcome('d', 2)];
    // tokens/s = (600 + 200) / 8 = 100.
    const s = summarizeRun({ ...META, makespanS: 8 }, outcomes, stats(600, 200));
    expect(s.jobs).toBe(5);
    expect(s.completed).toBe(4);
    expect(s.failed).toBe(1);
    expect(s.jct_s.mean).toBeCloseTo(2.5, 12);
    expect(s.jct_s.p50).toBeCloseTo(2.5, 12);
    expect(s.jct_s.p90).toBeCloseTo(3.7, 12);
    expect(s.jct_s.p99).toBeCloseTo(3.97, 12);
    expect(s.makespan_s).toBe(8);
    expect(s.tokens_per_s).toBeCloseTo(100, 12);
    expect(s.kv).toEqual({ preserve: 2, swap: 4, discard: 5, release: 1 });
    expect(s.swap_bytes_per_s).toBe(25e9);
    expect(s.errors).toEqual({ OUT_OF_BLOCKS: 1 });
    expect(s.preemptions).toBe(3);
    expect(s.recomputed_prefill_tokens).toBe(17);
    // Completed JCTs average 2.5, a quarter each part.
    expect(s.breakdown_s).toEqual({ queueing: 0.625, compute: 0.625, tool: 0.625, kv_recovery: 0.625 });
    expect(s.workload_params).toEqual({ seed: 3, load: 2, jobs: 5, scale: { tokens: 0.5, time: 0.25 }, arrival_rate_per_s: 1.5 });
    expect(Value.Check(RunSummarySchema, s)).toBe(true);
    expect(Value.Check(RunSummarySchema, { ...s, surprise: 1 })).toBe(false);
  });

  it("summarizeRun reports a real engine's control-plane time per step, and none for the simulator's", () => {
    // 4 steps, a loop of 1.0 s of which the backend took 0.6 s: (1.0 − 0.6) / 4 = 0.1 s a step.
    const books = { ...stats(10, 10), steps: 4, time: { loopS: 1.0, nativeS: 0.6 } };
    const real = summarizeRun({ ...META, engine: 'cpu', makespanS: 8 }, [outcome('a', 1)], books);
    expect(real.steps).toBe(4);
    expect(real.step_overhead_s).toBeCloseTo(0.1, 12);
    expect(Value.Check(RunSummarySchema, real)).toBe(true);
    const simulated = summarizeRun({ ...META, engine: 'sim', makespanS: 8 }, [outcome('a', 1)], books);
    expect(simulated.step_overhead_s).toBeNull();
    expect(summarizeRun({ ...META, engine: 'cpu', makespanS: 8 }, [outcome('a', 1)], stats(0, 0)).step_overhead_s).toBeNull();
  });

  it('summarizeRun with no completed job reports NaN quantiles and zero throughput for an empty run', () => {
    const s = summarizeRun({ ...META, makespanS: 0 }, [outcome('f', 1, 'INTERNAL')], stats(0, 0));
    expect(s).toMatchObject({ jobs: 1, completed: 0, failed: 1, tokens_per_s: 0 });
    expect(s.jct_s).toEqual({ mean: null, p50: null, p90: null, p99: null });
    expect(s.breakdown_s).toEqual({ queueing: null, compute: null, tool: null, kv_recovery: null });
    expect(Value.Check(RunSummarySchema, s)).toBe(true);
  });
});

describe('simulate: giving up once enough jobs are late (SimulateOptions.giveUp)', () => {
  // a, b and d arrive at 0, each a 100-token prompt and one output token (sampled by the prefill's
  // step). The engine plans its first step as a arrives: a alone, 0.01 + 0.100 = 0.11 s; then b and
  // d together, 0.01 + 0.200 = 0.21 s more: they end at 0.11, 0.32, 0.32. c arrives at 10 alone and
  // ends at 10.11. So 0.15 s after arriving, b and d are unfinished and a and c are not.
  const JOBS = [job('a', 0, [seg(100, 1)]), job('b', 0, [seg(100, 1)]), job('d', 0, [seg(100, 1)]), job('c', 10, [seg(100, 1)])];

  it('stops at the deadline of the lateJobs-th job unfinished past afterS, with GAVE_UP', async () => {
    const run = simulate(JOBS, { profile: PROFILE, policy: 'fcfs', giveUp: { afterS: 0.15, lateJobs: 2 } });
    await expect(run).rejects.toMatchObject({ code: 'GAVE_UP', message: 'gave up at 0.15 s: 2 jobs were unfinished 0.15 s after arriving' });
  });

  it('runs to the end, exactly as without it, when fewer jobs are ever late', async () => {
    const plain = await simulate(JOBS, { profile: PROFILE, policy: 'fcfs' });
    const watched = await simulate(JOBS, { profile: PROFILE, policy: 'fcfs', giveUp: { afterS: 0.15, lateJobs: 3 } });
    expect(plain.outcomes.map((o) => [o.id, +o.jctS.toFixed(9)])).toEqual([['a', 0.11], ['b', 0.32], ['d', 0.32], ['c', 0.11]]);
    expect(watched.outcomes).toEqual(plain.outcomes);
    // Everything but the loop's wall time (EngineStats.time.loopS) is the same.
    const simulated = (stats: EngineStats) => ({ ...stats, time: { ...stats.time, loopS: 0 } });
    expect(simulated(watched.stats)).toEqual(simulated(plain.stats));
  });
});
