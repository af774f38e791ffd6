/**
 * Client hints through the engine's Node API (GenerateOptions: retain, cachePriority, priority,
 * expectedFutureSegments) on the simulator: what each changes, worked out by hand, and that a bad
 * hint is an INVALID_ARGUMENT naming its field while nothing leaks.
 *
 * The KV scenario: 8 device blocks of 16 tokens, no host pool, policy fcfs (a job's blocks go to
 * the prefix cache at every tool call). 'a' computes 64 tokens (blocks 0–3) and pauses; 'c'
 * computes 32 (blocks 4, 5) and pauses; both are released, so the LRU list is 3, 2, 1, 0, 5, 4
 * (a job's tail first). 'b' then needs 4 blocks: the free 6 and 7 and two evicted. By LRU those
 * are a's 3 and 2, and a's resume (66 tokens of prompt) finds 2 blocks = 32 tokens cached; if a's
 * blocks are prioritized, c's 5 and 4 go instead and a finds all 4 = 64 tokens.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import type { GenerateOptions } from '../../lib/engine/types.js';
import type { Policy, SchedulingCandidate } from '../../lib/sched/policy.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import { expectNoLeaks } from '../expect-no-leaks.js';
import { expectCode } from './expect-code.js';

const MODEL = { name: 't', vocabSize: 1000, maxPositionEmbeddings: 4096, kvBytesPerToken: 1000 };
const COSTS = { name: 'c', fixedS: 0.01, tokenS: 0.001, contextTokenS: 0, swapBytesPerS: 1e9 };
const tokens = (first: number, n: number) => Array.from({ length: n }, (_, i) => first + i);

function engineOn(policy: Policy | 'fcfs' | 'astraea', policyOptions?: Record<string, unknown>) {
  const clock = new VirtualClock();
  const engine = Engine.withBackend(new SimulatedBackend(MODEL, COSTS, 16, clock), { policy, policyOptions, kvBlocks: 8, hostBlocks: 0, clock });
  return { clock, engine };
}

/** The scenario above; `hints` go with a's first call, `idleS` passes before 'c' starts. Returns a's cached prompt tokens on resume. */
async function resumedCache(hints: Partial<GenerateOptions>, idleS = 0): Promise<number> {
  const { clock, engine } = engineOn('fcfs');
  const drive = async () => {
    const a = engine.createJob({ id: 'a' });
    await a.generate({ tokens: tokens(100, 64), maxTokens: 1, ignoreEos: true, endsWithToolCall: true, ...hints }).done;
    if (idleS > 0) await clock.sleep(idleS);
    const c = engine.createJob({ id: 'c' });
    await c.generate({ tokens: tokens(300, 32), maxTokens: 1, ignoreEos: true, endsWithToolCall: true }).done;
    const b = engine.createJob({ id: 'b' });
    await b.generate({ tokens: tokens(500, 64), maxTokens: 1, ignoreEos: true }).done;
    const resumed = await a.resume({ tokens: [7], maxTokens: 1, ignoreEos: true }).done;
    for (const job of [a, b, c]) job.close();
    return resumed.usage.cachedPromptTokens;
  };
  const done = drive();
  await clock.run();
  const cached = await done;
  expectNoLeaks(engine);
  await engine.close();
  return cached;
}

describe('engine hints: KV', () => {
  it('by LRU, the tool wait loses half of a\'s KV (the baseline)', async () => {
    expect(await resumedCache({})).toBe(32);
  });

  it('kv.retain: the retained range survives the tool wait that releases it', async () => {
    expect(await resumedCache({ retain: [{ start: 0, end: 64, priority: 50, durationS: 60 }] })).toBe(64);
  });

  it('kv.retain: not once its duration has passed', async () => {
    expect(await resumedCache({ retain: [{ start: 0, end: 64, priority: 50, durationS: 60 }] }, 61)).toBe(32);
  });

  it('kv.retain of the first 32 tokens only: those blocks are kept, the rest go by LRU as before', async () => {
    // [0, 32): a's 0, 1 prioritized; the LRU's first unprioritized blocks, a's 3 and 2, go — the
    // same 32 tokens as without a hint. [32, 64): a's 2, 3 prioritized; a's 1 and 0 go (older than
    // c's), and a prefix cache serves a block only after its predecessors: nothing is found (why
    // vLLM asks for priorities that do not increase along the tokens).
    expect(await resumedCache({ retain: [{ start: 0, end: 32, priority: 50, durationS: 60 }] })).toBe(32);
    expect(await resumedCache({ retain: [{ start: 32, end: 64, priority: 50, durationS: 60 }] })).toBe(0);
  });

  it('vllm.set_priority: the call\'s cached blocks outlive plain ones until the ttl', async () => {
    expect(await resumedCache({ cachePriority: { value: 10, ttlS: 60 } })).toBe(64);
    expect(await resumedCache({ cachePriority: { value: 10, ttlS: 60 } }, 61)).toBe(32);
    // 0 or below is the default priority: no effect.
    expect(await resumedCache({ cachePriority: { value: -5, ttlS: 60 } })).toBe(32);
  });

  it("astraea keeps a retained job's KV where it would release it", async () => {
    const decisions = async (retain: GenerateOptions['retain']) => {
      const { clock, engine } = engineOn('astraea', { uncontendedKv: 'release' });
      const drive = async () => {
        const a = engine.createJob({ id: 'a' });
        await a.generate({ tokens: tokens(100, 40), maxTokens: 1, ignoreEos: true, endsWithToolCall: true, ...(retain ? { retain } : {}) }).done;
        const kv = engine.stats().kvActions;
        a.close();
        return kv;
      };
      const done = drive();
      await clock.run();
      const kv = await done;
      expectNoLeaks(engine);
      await engine.close();
      return [kv.release, kv.preserve];
    };
    expect(await decisions(undefined)).toEqual([1, 0]);
    expect(await decisions([{ start: 0, end: null, priority: 1, durationS: 30 }])).toEqual([0, 1]);
  });
});

describe('engine hints: scheduling', () => {
  it('the policy sees the priority and the segments ahead on the candidate', async () => {
    const seen = new Map<string, SchedulingCandidate>();
    const policy: Policy = { name: 'rec', preemption: 'recompute', order: (cs) => (cs.forEach((c) => seen.set(c.jobId, c)), [...cs]), onToolWait: () => 'release' };
    const { clock, engine } = engineOn(policy);
    const drive = async () => {
      const plain = engine.createJob({ id: 'plain' });
      const hinted = engine.createJob({ id: 'hinted' });
      const ends = [plain.generate({ tokens: tokens(1, 8), maxTokens: 1 }), hinted.generate({ tokens: tokens(1, 8), maxTokens: 1, priority: 7, expectedFutureSegments: 3 })];
      await Promise.all(ends.map((s) => s.done));
      plain.close();
      hinted.close();
    };
    const done = drive();
    await clock.run();
    await done;
    // No hints: no priority field, nothing learned yet (0 ahead, chance 1 of being the last).
    expect(seen.get('plain')!.priority).toBeUndefined();
    expect([seen.get('plain')!.expectedFutureSegments, seen.get('plain')!.lastSegmentChance]).toEqual([0, 1]);
    // Hinted: 3 segments ahead, so this one is not the last.
    expect([seen.get('hinted')!.priority, seen.get('hinted')!.expectedFutureSegments, seen.get('hinted')!.lastSegmentChance]).toEqual([7, 3, 0]);
    expectNoLeaks(engine);
    await engine.close();
  });

  it('astraea on the engine: of two jobs identical but for priority, the higher one runs first', async () => {
    // One sequence per step. 'z' starts first and, running, keeps its place until it ends; 'a'
    // and 'b' queue behind it at the same instant with the same work: a tie the job id breaks
    // ('a' first), unless b's priority 5 (ratio × √2) puts it ahead.
    const finishOrder = async (bPriority: number) => {
      const clock = new VirtualClock();
      const engine = Engine.withBackend(new SimulatedBackend(MODEL, COSTS, 16, clock), { policy: 'astraea', kvBlocks: 64, maxBatchSequences: 1, clock });
      const order: string[] = [];
      const jobs = ['z', 'a', 'b'].map((id) => engine.createJob({ id }));
      const ends = jobs.map((job, i) =>
        job.generate({ tokens: tokens(10 * i + 1, 8), maxTokens: job.id === 'z' ? 4 : 2, ignoreEos: true, ...(job.id === 'b' ? { priority: bPriority } : {}) }).done.then(() => order.push(job.id)),
      );
      await clock.run();
      await Promise.all(ends);
      for (const job of jobs) job.close();
      expectNoLeaks(engine);
      await engine.close();
      return order;
    };
    expect(await finishOrder(0)).toEqual(['z', 'a', 'b']);
    expect(await finishOrder(5)).toEqual(['z', 'b', 'a']);
  });

  it('a bad hint is INVALID_ARGUMENT naming the field; the job is untouched and nothing leaks', async () => {
    const { clock, engine } = engineOn('fcfs');
    const job = engine.createJob({ id: 'x' });
    const base = { tokens: tokens(1, 40), maxTokens: 1 };
    expectCode(() => job.generate({ ...base, retain: [{ start: 0, end: 41, priority: 5, label: 'kv_hints.actions[0].payload.directives[0]' }] }), 'INVALID_ARGUMENT', 'kv_hints.actions[0].payload.directives[0].end 41 is past the prompt\'s 40 tokens');
    expectCode(() => job.generate({ ...base, retain: [{ start: 40, priority: 5 }] }), 'INVALID_ARGUMENT', 'retain[0].start 40 is past the prompt');
    expectCode(() => job.generate({ ...base, retain: [{ start: 0, priority: 101 }] }), 'INVALID_ARGUMENT', 'retain[0].priority must be an integer in [0, 100]');
    expectCode(() => job.generate({ ...base, cachePriority: { value: 1, ttlS: 0 } }), 'INVALID_ARGUMENT', 'cachePriority.ttlS');
    expectCode(() => job.generate({ ...base, priority: Number.NaN }), 'INVALID_ARGUMENT', 'priority must be a finite number');
    expectCode(() => job.generate({ ...base, expectedFutureSegments: 1.5 }), 'INVALID_ARGUMENT', 'expectedFutureSegments');
    // Shapes a JavaScript caller can get wrong.
    expectCode(() => job.generate({ ...base, retain: { start: 0, priority: 5 } as never }), 'INVALID_ARGUMENT', 'retain must be an array');
    expectCode(() => job.generate({ ...base, retain: [null as never] }), 'INVALID_ARGUMENT', 'retain[0] must be an object');
    expectCode(() => job.generate({ ...base, cachePriority: 10 as never }), 'INVALID_ARGUMENT', 'cachePriority must be an object');
    // Nothing was committed: the same job's first segment still runs, with good hints.
    const segment = job.generate({ ...base, retain: [{ start: 0, end: 40, priority: 5 }], priority: 1 });
    await clock.run();
    expect((await segment.done).tokens.length).toBe(1);
    job.close();
    expectNoLeaks(engine);
    await engine.close();
  });
});
