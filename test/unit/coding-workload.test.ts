/**
 * The `coding` workload (lib/workload/generators/coding.ts and its fits): the generated figures
 * against TraceLab's published ones (../shared/traces/tracelab), determinism, scaling with
 * subagents, the three arrival shapes, and the replay of a subagent fan-out on the simulator,
 * timed by hand.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { FcfsPolicy } from '../../lib/sched/fcfs.js';
import type { Policy } from '../../lib/sched/policy.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import { formatWorkload, parseWorkload, type WorkloadJob, type WorkloadSegment } from '../../lib/workload/format.js';
import { toolStepsPerRequest, TRACELAB_CODING } from '../../lib/workload/generators/coding-fits.js';
import { TOOL_KINDS } from '../../lib/workload/generators/coding-tools.js';
import {
  CODING_BASE_RATE_PER_S,
  CODING_PREFIX_ID,
  CODING_PREFIX_TOKENS,
  codingJobs,
  codingRequests,
  CONTEXT_WINDOW_TOKENS,
  SUBAGENT_MAX_TOOL_STEPS,
  TASK_TOOL,
} from '../../lib/workload/generators/coding.js';
import { applyScale, generateWorkload } from '../../lib/workload/generators/index.js';
import { randomStreams } from '../../lib/workload/generators/streams.js';
import { loadAzureGapsS } from '../../lib/workload/generators/trace-data.js';
import { mulberry32 } from '../../lib/workload/random.js';
import { runWorkload } from '../../lib/workload/replay.js';
import { expectCode } from './expect-code.js';

const mean = (xs: readonly number[]) => xs.reduce((sum, x) => sum + x, 0) / xs.length;
/** Nearest-rank quantile. */
const quantile = (xs: readonly number[], p: number) => {
  const sorted = Float64Array.from(xs).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
};
const cv = (xs: readonly number[]) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((sum, x) => sum + (x - m) ** 2, 0) / (xs.length - 1)) / m;
};
/** Relative closeness: |actual − expected| ≤ tolerance·|expected|. */
const expectWithin = (actual: number, expected: number, tolerance: number) => {
  expect(Math.abs(actual - expected), `${actual} vs ${expected} ± ${tolerance * 100}%`).toBeLessThanOrEqual(tolerance * Math.abs(expected));
};
const gaps = (times: readonly number[]) => times.map((t, i) => t - (i === 0 ? 0 : times[i - 1]));

/** Every tool call in the jobs (subagents' included), with the segment that made it. */
function toolCalls(jobs: readonly WorkloadJob[]): { name: string; durationS: number }[] {
  const out: { name: string; durationS: number }[] = [];
  const visit = (segments: readonly WorkloadSegment[]) => {
    for (const seg of segments) {
      if (seg.tool === null) continue;
      out.push(seg.tool);
      for (const sub of seg.tool.subagents ?? []) visit(sub.segments);
    }
  };
  for (const job of jobs) visit(job.segments);
  return out;
}

/** The largest context the job reaches: its own end, or a subagent's end on top of the context it forked. */
function peakContext(job: WorkloadJob): number {
  let context = job.prefixTokens ?? 0;
  let peak = 0;
  for (const seg of job.segments) {
    context += seg.inputTokens + seg.outputTokens;
    peak = Math.max(peak, context);
    for (const sub of seg.tool?.subagents ?? []) {
      peak = Math.max(peak, sub.segments.reduce((c, s) => c + s.inputTokens + s.outputTokens, context));
    }
  }
  return peak;
}

describe('coding: the generated shape against TraceLab', () => {
  // 20,000 requests, seed 1: 176,000 steps, 200,000 tool calls.
  const requests = codingRequests(20_000, CODING_BASE_RATE_PER_S, randomStreams('coding', 1));
  const jobs = requests.map((r) => r.job);
  const published = TRACELAB_CODING;

  it('tool-initiated steps per request: mean 7.8, p50 1, p90 20, p99 86 (±10%)', () => {
    const steps = jobs.map((job) => job.segments.length - 1);
    expectWithin(mean(steps), 7.8, 0.1);
    expect(quantile(steps, 0.25)).toBe(0);
    expect(quantile(steps, 0.5)).toBe(1);
    expectWithin(quantile(steps, 0.9), 20, 0.1);
    expectWithin(quantile(steps, 0.99), 86, 0.1);
    // The 20,000 requests sit a little low (mean 7.33, p99 80): the longest 1% decide both. The
    // fit itself, on 400,000 draws:
    const rng = mulberry32(1);
    const draws = Array.from({ length: 400_000 }, () => toolStepsPerRequest(rng));
    expectWithin(mean(draws), 7.8, 0.03);
    expect(quantile(draws, 0.9)).toBe(20);
    expectWithin(quantile(draws, 0.99), 86, 0.03);
  });

  it('tool-call latency: mean 18.4 s, p50 0.3 s, p90 13.6 s, p99 3.6 min; 85% of tool time in calls over a minute (±10%)', () => {
    const durations = toolCalls(jobs)
      .filter((call) => call.name !== TASK_TOOL)
      .map((call) => call.durationS);
    expect(durations.length).toBeGreaterThan(150_000);
    expectWithin(mean(durations), 18.4, 0.1);
    expectWithin(quantile(durations, 0.5), 0.3, 0.1);
    expectWithin(quantile(durations, 0.9), 13.6, 0.1);
    expectWithin(quantile(durations, 0.99), 216, 0.1);
    const long = durations.filter((d) => d > 60);
    expectWithin(long.reduce((a, b) => a + b, 0) / durations.reduce((a, b) => a + b, 0), 0.85, 0.1);
    // The published "about 4%" of calls over a minute is not matched: the fit through p90 and p99
    // puts 1 − Φ(1.2816 + ln(60/13.6)/2.647) = 1 − Φ(1.8425) = 3.27% there.
    expectWithin(long.length / durations.length, 0.0327, 0.1);
  });

  it('tool kinds: shares and medians as the band table implies (Read 36 ms and Edit 95 ms published)', () => {
    // Worked out by integrating the TraceLab fit over each band with the table's shares
    // (coding-tools.ts): share, median.
    const implied: Record<string, [number, number]> = {
      read: [0.133, 0.036],
      grep: [0.057, 0.137],
      plan: [0.047, 0.017],
      edit: [0.174, 0.092],
      bash: [0.56, 0.632],
      web: [0.029, 5.58],
    };
    const calls = toolCalls(jobs).filter((call) => call.name !== TASK_TOOL);
    expect(new Set(calls.map((c) => c.name))).toEqual(new Set(TOOL_KINDS));
    for (const kind of TOOL_KINDS) {
      const mine = calls.filter((c) => c.name === kind).map((c) => c.durationS);
      expectWithin(mine.length / calls.length, implied[kind][0], 0.05);
      expectWithin(quantile(mine, 0.5), implied[kind][1], 0.1);
    }
    // Published per-kind medians (README): Read 36 ms, Edit 95 ms.
    expectWithin(quantile(calls.filter((c) => c.name === 'read').map((c) => c.durationS), 0.5), 0.036, 0.1);
    expectWithin(quantile(calls.filter((c) => c.name === 'edit').map((c) => c.durationS), 0.5), 0.095, 0.1);
  });

  /** Per parent step: output, the step's growth (previous output + appended), its context before the append. */
  function perStep(selected: typeof requests) {
    const output: number[] = [];
    const growth: number[] = [];
    const context: number[] = [];
    for (const { job, historyTokens } of selected) {
      let held = CODING_PREFIX_TOKENS;
      job.segments.forEach((seg, k) => {
        // The first step's append is the user's message; what came before it is cached context.
        context.push(k === 0 ? held + historyTokens : held);
        // A subagent's report is no tool result of the fit's: leave those steps out of the growth.
        if (k > 0 && job.segments[k - 1].tool?.subagents === undefined) growth.push(job.segments[k - 1].outputTokens + seg.inputTokens);
        held += seg.inputTokens + seg.outputTokens;
        output.push(seg.outputTokens);
      });
    }
    return { output, growth, context };
  }

  it('tokens per step, in requests that fit the window: output median 214, append median 875, growth mean 1,705 (±10%)', () => {
    const fitting = requests.filter((r) => r.compaction === 1);
    const { output, growth } = perStep(fitting);
    expectWithin(quantile(output, 0.5), published.outputTokensPerStep.p50, 0.1);
    expectWithin(mean(output), 468, 0.1); // 11.5 s per step at 40.7 tokens/s
    expectWithin(quantile(growth, 0.5), published.appendedTokensPerStep.p50, 0.1);
    expectWithin(mean(growth), published.contextGrowthPerStep.mean, 0.1);
  });

  it('compaction: the longest 1.7% of requests hold 28% of the steps; over all steps the medians drop by a fifth', () => {
    const compacted = requests.filter((r) => r.compaction < 1);
    expectWithin(compacted.length / requests.length, 0.017, 0.15);
    const stepsOf = (rs: typeof requests) => rs.reduce((n, r) => n + r.job.segments.length, 0);
    expectWithin(stepsOf(compacted) / stepsOf(requests), 0.28, 0.15);
    expect(compacted.every((r) => r.historyTokens === 0)).toBe(true);
    const { output, growth } = perStep(requests);
    // Not matched: the published medians are over steps of requests that compact their context
    // (or run on 200K+ windows); here those steps are scaled down instead.
    for (const [median, target] of [
      [quantile(output, 0.5), published.outputTokensPerStep.p50],
      [quantile(growth, 0.5), published.appendedTokensPerStep.p50],
    ]) {
      expect(median / target).toBeGreaterThan(0.7);
      expect(median / target).toBeLessThan(0.9);
    }
  });

  it('context per step: median 118,656 (±10%), and no job or subagent passes the 131,072-token window', () => {
    const { context } = perStep(requests);
    expectWithin(quantile(context, 0.5), published.cachedContextPerStep.p50, 0.1);
    expect(Math.max(...jobs.map(peakContext))).toBeLessThanOrEqual(CONTEXT_WINDOW_TOKENS);
    expect(jobs.every((job) => job.prefixId === CODING_PREFIX_ID && job.prefixTokens === CODING_PREFIX_TOKENS)).toBe(true);
  });

  it('subagents: 1% of tool calls start 1–3 of them, each with at most 20 tool-initiated steps and no subagents of its own', () => {
    const calls = toolCalls(jobs);
    const tasks = jobs.flatMap((job) => job.segments.flatMap((seg) => (seg.tool?.subagents !== undefined ? [seg.tool] : [])));
    const parentCalls = jobs.reduce((n, job) => n + job.segments.length - 1, 0);
    expectWithin(tasks.length / parentCalls, 0.01, 0.1);
    const children = tasks.flatMap((t) => t.subagents!);
    expectWithin(children.length / tasks.length, 2, 0.05);
    expect(Math.max(...tasks.map((t) => t.subagents!.length))).toBe(3);
    expect(tasks.every((t) => t.name === TASK_TOOL && t.durationS === 0)).toBe(true);
    expect(children.every((c) => c.segments.length - 1 <= SUBAGENT_MAX_TOOL_STEPS)).toBe(true);
    expect(children.every((c) => c.segments.every((s) => s.tool?.subagents === undefined))).toBe(true);
    expect(calls.filter((c) => c.name === TASK_TOOL)).toHaveLength(tasks.length);
  });
});

describe('coding: determinism, scale, arrivals', () => {
  it('same seed, same jobs; another seed, other jobs', () => {
    const a = codingJobs(300, 1, randomStreams('coding', 4));
    expect(codingJobs(300, 1, randomStreams('coding', 4))).toEqual(a);
    expect(codingJobs(300, 1, randomStreams('coding', 5))).not.toEqual(a);
    expect(generateWorkload('coding', { jobs: 300, seed: 4, load: 1 / CODING_BASE_RATE_PER_S }).jobs).toEqual(a);
  });

  it('scale multiplies the tokens and times of subagents too', () => {
    const jobs = codingJobs(400, 1, randomStreams('coding', 2));
    const parent = jobs.find((job) => job.segments.some((seg) => seg.tool?.subagents !== undefined))!;
    const [scaled] = applyScale([parent], { tokens: 0.1, time: 0.5 });
    const at = parent.segments.findIndex((seg) => seg.tool?.subagents !== undefined);
    const before = parent.segments[at].tool!.subagents!;
    const after = scaled.segments[at].tool!.subagents!;
    expect(after).toHaveLength(before.length);
    after.forEach((sub, c) =>
      sub.segments.forEach((seg, s) => {
        const original = before[c].segments[s];
        expect(seg.inputTokens).toBe(Math.round(original.inputTokens * 0.1));
        expect(seg.outputTokens).toBe(Math.max(1, Math.round(original.outputTokens * 0.1)));
        if (original.tool === null) expect(seg.tool).toBeNull();
        else expect(seg.tool!.durationS).toBeCloseTo(original.tool.durationS * 0.5, 12);
      }),
    );
    expect(scaled.prefixTokens).toBe(1700);
    expect(parseWorkload(formatWorkload([scaled]), 'scaled')).toEqual([scaled]);
  });

  it('Poisson by default, at the base rate × load', () => {
    const { jobs, params } = generateWorkload('coding', { jobs: 20_000, load: 2 });
    expect(params).toMatchObject({ arrivals: 'poisson', arrivalRatePerS: CODING_BASE_RATE_PER_S * 2 });
    const g = gaps(jobs.map((j) => j.arrivalS));
    // 20,000 exponential gaps: the mean's relative standard error is 0.7%.
    expectWithin(1 / mean(g), CODING_BASE_RATE_PER_S * 2, 0.03);
    expectWithin(cv(g), 1, 0.03);
  });

  it("'azure' replays the Azure conversation trace's gaps at the rate, burstiness kept", () => {
    const trace = loadAzureGapsS();
    // One full pass over the trace's gaps (from a random start): the same gaps, all times one factor.
    const { jobs, params } = generateWorkload('coding', { jobs: trace.length, arrivals: 'azure' });
    expect(params.arrivals).toBe('azure');
    const g = gaps(jobs.map((j) => j.arrivalS));
    expectWithin(1 / mean(g), CODING_BASE_RATE_PER_S, 1e-9);
    expectWithin(cv(g), cv(trace), 1e-9);
    expect(cv(trace)).toBeGreaterThan(1); // burstier than Poisson
  });

  it("'burst' puts every job at t = 0; every shape gives the same jobs", () => {
    const burst = generateWorkload('coding', { jobs: 200, seed: 3, arrivals: 'burst' });
    expect(burst.jobs.every((j) => j.arrivalS === 0)).toBe(true);
    expect(burst.params).toMatchObject({ arrivals: 'burst', arrivalRatePerS: Infinity });
    const poisson = generateWorkload('coding', { jobs: 200, seed: 3 }).jobs;
    const azure = generateWorkload('coding', { jobs: 200, seed: 3, arrivals: 'azure' }).jobs;
    for (const other of [poisson, azure]) expect(other.map((j) => j.segments)).toEqual(burst.jobs.map((j) => j.segments));
  });

  it('the other generators take only their own arrival shape', () => {
    expect(generateWorkload('tau', { jobs: 5, arrivals: 'azure' }).params.arrivals).toBe('azure');
    expect(generateWorkload('paper', { jobs: 5, arrivals: 'poisson' }).params.arrivals).toBe('poisson');
    expectCode(() => generateWorkload('paper', { arrivals: 'burst' }), 'INVALID_ARGUMENT', "'paper'", "'burst' is not offered", 'poisson');
    expectCode(() => generateWorkload('tau', { arrivals: 'poisson' }), 'INVALID_ARGUMENT', "'tau'", 'only azure');
    expectCode(() => generateWorkload('coding', { arrivals: 'uniform' as never }), 'INVALID_ARGUMENT', 'poisson, azure, burst', 'uniform');
  });
});

describe('coding: replaying subagents on the simulator', () => {
  const MODEL = { name: 't', vocabSize: 1000, maxPositionEmbeddings: 8192, kvBytesPerToken: 1000 };
  // 10 ms a step plus 1 ms a token (contextTokenS 0): a step of k tokens takes 0.01 + 0.001·k.
  const COSTS = { name: 'c', fixedS: 0.01, tokenS: 0.001, contextTokenS: 0, swapBytesPerS: 1e9 };
  /** FCFS order, and every job's KV kept through its tool waits, so the forks find it on the device. */
  function preserving(): Policy {
    const fcfs = new FcfsPolicy();
    return { name: 'preserve', preemption: 'recompute', order: (c) => fcfs.order(c), onToolWait: () => 'preserve' };
  }
  const seg = (inputTokens: number, outputTokens: number, tool: WorkloadSegment['tool'] = null): WorkloadSegment => ({ inputTokens, outputTokens, tool });

  async function run(jobs: WorkloadJob[], probesAtS: number[] = [], kvBlocks = 64) {
    const clock = new VirtualClock();
    const engine = Engine.withBackend(new SimulatedBackend(MODEL, COSTS, 16, clock), { policy: preserving(), kvBlocks, hostBlocks: kvBlocks, clock });
    const probes: ReturnType<Engine['stats']>[] = [];
    for (const t of probesAtS) void clock.sleep(t).then(() => probes.push(engine.stats()));
    const done = runWorkload(engine, jobs, clock);
    await clock.run();
    const outcomes = await done;
    const stats = engine.stats();
    engine.checkInvariants();
    await engine.close();
    return { outcomes, stats, probes };
  }

  it('three subagents share the parent’s KV as one group; the parent resumes after the last ends, plus the tool’s time', async () => {
    // Parent: 44 prompt tokens, 5 output, a 'task' call (0.5 s after its subagents), then 10 → 3.
    //   0.054 (prefill of 44) + 4 × 0.011 = 0.098: context 49 tokens, 48 with KV (3 full blocks).
    // At 0.098 three subagents fork it; each first prompt is those 49 tokens + its own, so each
    // shares the 48 computed tokens (3 full blocks, no partial block to copy) and runs the rest:
    //   A: 1 + 7 = 8 tokens, 3 output; B: 8 tokens, 3 output, a 1 s tool, then 4 → 2; C: 1 + 15 = 16, 6 output.
    //   0.098 + (0.01 + 0.032) = 0.140: each samples its first token;
    //   two steps of three decodes, 0.013 each: 0.166, A ends, B calls its tool (until 1.166);
    //   C alone, 3 × 0.011: ends at 0.199;
    //   B resumes at 1.166: its unsampled token + 4 = 5 tokens, 0.015, then one decode 0.011: 1.192.
    // The parent waits 0.5 s more (1.692), resumes with 1 + 10 tokens (0.021) and decodes 2 (0.022).
    const parent: WorkloadJob = {
      id: 'p',
      arrivalS: 0,
      kind: 'coding',
      segments: [
        seg(44, 5, {
          name: 'task',
          durationS: 0.5,
          subagents: [{ segments: [seg(7, 3)] }, { segments: [seg(7, 3, { name: 'bash', durationS: 1 }), seg(4, 2)] }, { segments: [seg(15, 6)] }],
        }),
        seg(10, 3),
      ],
    };
    const { outcomes, stats, probes } = await run([parent], [0.12, 0.5, 1.7]);
    expect(outcomes).toHaveLength(1); // subagents are no outcomes of their own
    const [o] = outcomes;
    expect(o.error).toBeNull();
    expect(o.jctS).toBeCloseTo(1.735, 9);
    // The parent waited from 0.098 to 1.692 on its call: the subagents' run and the tool's 0.5 s.
    expect(o.breakdown.toolS).toBeCloseTo(1.594, 9);
    // While they run: four open jobs (then two), one group.
    expect(probes.map((s) => [s.jobs.open, s.jobs.groups])).toEqual([
      [4, 1],
      [2, 1],
      [1, 1],
    ]);
    expect(stats.forks).toEqual({ jobs: 3, sharedTokens: 3 * 48, copiedBlocks: 0 });
    // Prefill: 43 + (7 + 7 + 15) + 4 + 10; decode: the parent's 8, A's 3, B's 5, C's 6.
    expect(stats.tokens).toEqual({ prefill: 86, decode: 22 });
    expect(stats.steps).toBe(5 + 6 + 2 + 3);
    expect(stats.jobs).toMatchObject({ open: 0, groups: 0 });
  });

  it('a subagent that fails fails its parent, after the others end; nothing is left open', async () => {
    const parent: WorkloadJob = {
      id: 'p',
      arrivalS: 0,
      kind: 'coding',
      segments: [
        seg(44, 5, { name: 'task', durationS: 0, subagents: [{ segments: [seg(7, 30)] }, { segments: [seg(9000, 3)] }] }),
        seg(10, 3),
      ],
    };
    const { outcomes, stats } = await run([parent]);
    expect(outcomes.map((o) => o.error)).toEqual(['CONTEXT_TOO_LONG']);
    // The healthy subagent ran its 30 tokens: 0.098, then 1 + 7 tokens (0.018) and 29 decodes.
    expect(outcomes[0].jctS).toBeCloseTo(0.098 + 0.018 + 29 * 0.011, 9);
    expect(stats.forks.jobs).toBe(1);
    expect(stats.jobs.open).toBe(0);
  });

  it('a generated coding workload with subagents runs to the end at a small scale', async () => {
    const jobs = generateWorkload('coding', { jobs: 40, seed: 1, scale: { tokens: 0.02, time: 0.01 } }).jobs;
    expect(jobs.some((job) => job.segments.some((s) => s.tool?.subagents !== undefined))).toBe(true);
    // Contexts up to 0.02 × 131,072 = 2,621 tokens; 4,096 blocks hold 65,536.
    const { outcomes, stats } = await run(jobs, [], 4096);
    expect(outcomes.filter((o) => o.error !== null)).toEqual([]);
    expect(stats.forks.jobs).toBeGreaterThan(0);
    expect(stats.jobs.open).toBe(0);
  });
});
