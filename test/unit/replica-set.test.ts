// Several simulated replicas behind a router (lib/sim/simulate-replicas.ts, replica-set.ts).
import { describe, expect, it } from 'vitest';
import type { EngineStats } from '../../lib/engine/types.js';
import { findCapacity } from '../../lib/bench/capacity.js';
import { simulationProfile } from '../../lib/sim/cost-model.js';
import { findReplicaCapacity } from '../../lib/sim/replica-capacity.js';
import { simulate } from '../../lib/sim/simulate.js';
import { simulateReplicas } from '../../lib/sim/simulate-replicas.js';
import { Engine } from '../../lib/engine/engine.js';
import type { Policy, SchedulingCandidate } from '../../lib/sched/policy.js';
import { ReplicaSet, type MovedCalls } from '../../lib/sim/replica-set.js';
import { createRouter } from '../../lib/sim/routers.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { replayOnClock } from '../../lib/sim/simulate.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import { ROUTER_NAMES } from '../../lib/sim/routers.js';
import { generateWorkload } from '../../lib/workload/generators/index.js';
import type { WorkloadJob } from '../../lib/workload/format.js';
import { ROUND_NUMBER_PROFILE } from './round-number-profile.js';

// A step of k tokens costs 0.01 + 0.001·k seconds, nothing per context token (./round-number-profile.ts).
const PROFILE = ROUND_NUMBER_PROFILE;

// One job: a 100-token prompt, one token out, a 1 s tool, then 20 tokens in and one out.
const ONE_JOB: WorkloadJob[] = [
  {
    id: 'j',
    arrivalS: 0,
    kind: 'k',
    segments: [
      { inputTokens: 100, outputTokens: 1, tool: { name: 't', durationS: 1 } },
      { inputTokens: 20, outputTokens: 1, tool: null },
    ],
  },
];

/** Tokens a replica computed (the engine files a prompt's last token, the one that samples, under decode). */
const computed = (s: EngineStats) => s.tokens.prefill + s.tokens.decode;

describe('a job split across two replicas', () => {
  it('round-robin moves its second call, which recomputes the whole conversation there', async () => {
    const r = await simulateReplicas(ONE_JOB, { profile: PROFILE, policy: 'fcfs', replicas: 2, router: 'round-robin' });
    // Call 1 on replica 0: a 100-token prefill, 0.01 + 0.100 = 0.110 s; the tool until 1.110.
    // Call 2 on replica 1, which has nothing: the prompt is 100 + 1 + 20 = 121 tokens, all
    // computed: 0.01 + 0.121 = 0.131 s, ending at 1.241.
    expect(r.outcomes[0].jctS).toBeCloseTo(1.241, 9);
    expect(r.routing).toEqual({ calls: 2, moves: 1, movedPromptTokens: 121, movedComputedTokens: 121, callsPerReplica: [1, 1] });
    expect(r.replicaStats.map(computed)).toEqual([100, 121]);
    expect(computed(r.stats)).toBe(221);
    // The two engine jobs' metrics add up: 0.110 + 0.131 s computing, 1 s on the tool.
    const b = r.outcomes[0].breakdown;
    expect([b.queueingS, b.computeS, b.toolS, b.kvRecoveryS].map((x) => +x.toFixed(9))).toEqual([0, 0.241, 1, 0]);
  });

  it('session affinity keeps it on one replica, which serves the second call from its cache', async () => {
    const r = await simulateReplicas(ONE_JOB, { profile: PROFILE, policy: 'fcfs', replicas: 2, router: 'session' });
    expect(r.routing).toEqual({ calls: 2, moves: 0, movedPromptTokens: 0, movedComputedTokens: 0, callsPerReplica: [2, 0] });
    // fcfs gives the job's blocks to the prefix cache at the tool call; the resume finds the
    // prompt's 6 full blocks (96 tokens) and computes the other 121 − 96 = 25: 0.01 + 0.025 s.
    expect(r.outcomes[0].jctS).toBeCloseTo(1.11 + 0.035, 9);
    expect(r.replicaStats.map(computed)).toEqual([100 + 25, 0]);
  });
});

describe('what a moved call tells its new replica', () => {
  // Three calls, round-robin over two replicas: replica 0, then 1 (moved), then 0 (moved back).
  const THREE_CALLS: WorkloadJob[] = [
    {
      id: 'j',
      arrivalS: 5,
      kind: 'k',
      segments: [
        { inputTokens: 100, outputTokens: 1, tool: { name: 't', durationS: 1 } },
        { inputTokens: 20, outputTokens: 1, tool: { name: 't', durationS: 1 } },
        { inputTokens: 20, outputTokens: 1, tool: null },
      ],
    },
  ];
  /** The (segment index, job arrival) each replica's policy was shown for the job's first step there. */
  async function shown(movedCalls: MovedCalls): Promise<[number, number][]> {
    const seen: SchedulingCandidate[][] = [[], []];
    const clock = new VirtualClock();
    const engines = seen.map((log) => {
      const policy: Policy = { name: 'rec', preemption: 'recompute', order: (c) => (log.push(...c), [...c]), onToolWait: () => 'preserve' };
      return Engine.withBackend(new SimulatedBackend(PROFILE.model, PROFILE.costs, 16, clock), { policy, kvBlocks: 64, clock });
    });
    const set = new ReplicaSet(engines, createRouter('round-robin', 2), { movedCalls, now: () => clock.now() });
    await replayOnClock(set, THREE_CALLS, clock, {});
    for (const e of engines) await e.close();
    // Replica 0 saw calls 1 and 3, replica 1 call 2: each call's first candidate, in call order.
    const firsts = (log: SchedulingCandidate[]) => log.filter((c, i) => i === 0 || log[i - 1].segmentIndex !== c.segmentIndex || log[i - 1].jobArrivalS !== c.jobArrivalS);
    const [zero, one] = seen.map(firsts);
    return [zero[0], one[0], zero[1]].map((c) => [c.segmentIndex, c.jobArrivalS]);
  }

  it("'history': each call is the job's next segment, and the job arrived when it began", async () => {
    expect(await shown('history')).toEqual([
      [0, 5],
      [1, 5],
      [2, 5],
    ]);
  });

  it("'segments' (the default, what the server infers): each call is the job's next segment, arriving as it is made", async () => {
    const calls = await shown('segments');
    expect(calls.map((c) => c[0])).toEqual([0, 1, 2]);
    expect(calls[1][1]).toBeCloseTo(5 + 1.11, 9);
    expect(calls[2][1]).toBeGreaterThan(calls[1][1] + 1);
  });

  it("'fresh': each moved call is a new job's first segment, arriving as it is made", async () => {
    const calls = await shown('fresh');
    expect(calls.map((c) => c[0])).toEqual([0, 0, 0]);
    // Call 2 is made when call 1 (a 100-token prefill, 0.110 s) and its 1 s tool are over.
    expect(calls[1][1]).toBeCloseTo(5 + 1.11, 9);
    expect(calls[2][1]).toBeGreaterThan(calls[1][1] + 1);
  });
});

describe('one replica is the single-engine simulation', () => {
  // Coding requests shrunk to a small pool so policies preempt, swap and reclaim; 40 requests
  // include one with subagents (forks), so that path is replayed too.
  const workload = generateWorkload('coding', { jobs: 40, load: 2, seed: 3, scale: { tokens: 0.01, time: 0.05 } });
  const options = { kvBlocks: 300, workloadScale: workload.params.scale } as const;

  it('the workload exercises subagents', () => {
    expect(workload.jobs.some((j) => j.segments.some((s) => s.tool?.subagents !== undefined))).toBe(true);
  });

  for (const policy of ['fcfs', 'astraea', 'thunderagent'] as const) {
    it(`${policy}: the same JCTs and stats under every router`, async () => {
      const single = await simulate(workload.jobs, { ...options, policy });
      const jcts = (o: { id: string; jctS: number }[]) => Object.fromEntries(o.map((x) => [x.id, x.jctS]));
      for (const router of ROUTER_NAMES) {
        const one = await simulateReplicas(workload.jobs, { ...options, policy, replicas: 1, router });
        expect(jcts(one.outcomes)).toEqual(jcts(single.outcomes));
        expect(one.stats.tokens).toEqual(single.stats.tokens);
        expect(one.stats.preemptions).toBe(single.stats.preemptions);
        expect(one.routing.moves).toBe(0);
      }
    });
  }
});

describe('capacity of a replica set', () => {
  // Small probes: coding shrunk, 30 jobs at least, 5 minutes of arrivals.
  const workloadAt = (load: number, jobs: number) => generateWorkload('coding', { jobs, load, seed: 2, scale: { tokens: 0.01, time: 0.05 } });
  const target = { profile: simulationProfile('h100-llama3-8b'), kvBlocks: 300 };
  const search = { minJobs: 30, windowS: 300, precision: 1.2 };

  it('one replica: the single-engine search, probe for probe', async () => {
    const single = await findCapacity(workloadAt, ['fcfs'], target, search);
    const one = await findReplicaCapacity(workloadAt, ['fcfs'], target, { ...search, replicas: 1, router: 'round-robin' });
    expect(one[0].probes).toEqual(single[0].probes);
    expect(one[0].jobsPerHour).toBe(single[0].jobsPerHour);
    expect(one[0].jobsPerHourPerReplica).toBe(single[0].jobsPerHour);
    expect(one[0].objectiveP90S).toBe(single[0].objectiveP90S);
  });

  it('N replicas: the load searched is per replica, the rate reported is the set’s', async () => {
    const two = await findReplicaCapacity(workloadAt, ['fcfs'], target, { ...search, replicas: 2, router: 'session' });
    const pass = two[0].bracket.pass!;
    // The generator's rate at the total load 2 × pass, per hour.
    expect(two[0].jobsPerHour).toBeCloseTo(workloadAt(2 * pass, 1).params.arrivalRatePerS * 3600, 9);
    expect(two[0].jobsPerHourPerReplica).toBeCloseTo(two[0].jobsPerHour / 2, 9);
  });
});

describe("an engine job's context (what a moved call resends)", () => {
  it('is every input and generated token in order, and never the caller’s array', async () => {
    const clock = new VirtualClock();
    const engine = Engine.withBackend(new SimulatedBackend(PROFILE.model, PROFILE.costs, 16, clock), { policy: 'fcfs', kvBlocks: 64, clock });
    const job = engine.createJob({ id: 'c' });
    const prompt = [5, 6, 7];
    const run = (async () => {
      const first = await job.generate({ tokens: prompt, maxTokens: 2, ignoreEos: true, endsWithToolCall: true }).done;
      const afterFirst = [...job.context];
      const second = await job.resume({ tokens: [8, 9], maxTokens: 1, ignoreEos: true }).done;
      return { first: first.tokens, afterFirst, second: second.tokens };
    })();
    await clock.run();
    const { first, afterFirst, second } = await run;
    expect(first).toHaveLength(2);
    expect(afterFirst).toEqual([5, 6, 7, ...first]);
    expect(job.context).toEqual([5, 6, 7, ...first, 8, 9, ...second]);
    // The engine grew its own copy: the prompt the caller passed is as it was.
    expect(prompt).toEqual([5, 6, 7]);
    job.close();
    await engine.close();
  });
});
