/**
 * Forks and groups on the tiny model. A fork's first segment shares its parent's KV copy-on-write
 * (full blocks shared, the partial last block copied by the native step) — checked by outputs: a
 * fork and its still-running parent each give exactly the greedy tokens a job alone with the same
 * context gives on an engine with no cache at all, so a missing copy or a shared block written
 * twice would show. The policy sees a group's branches with the group's id, arrival and attained
 * service; stats count groups and forks; nothing leaks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import type { EngineOptions } from '../../lib/engine/types.js';
import { FcfsPolicy } from '../../lib/sched/fcfs.js';
import type { Policy, SchedulingCandidate } from '../../lib/sched/policy.js';
import { expectNoLeaks } from '../expect-no-leaks.js';
import { testIds } from './fixtures.js';

const engines: Engine[] = [];
async function engine(options: Partial<EngineOptions> = {}): Promise<Engine> {
  const e = await Engine.create({ model: 'tiny', kvBlocks: 64, blockSize: 16, ...options });
  engines.push(e);
  return e;
}
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

const greedy = { ignoreEos: true } as const;

/** Keeps every paused job's KV on the device, so a fork finds its parent's there. */
const preserving: Policy = { name: 'preserve', preemption: 'recompute', order: (cs) => new FcfsPolicy().order(cs), onToolWait: () => 'preserve' };

/** The greedy tokens a job alone generates from `context`, on an engine without a prefix cache. */
async function alone(context: number[], maxTokens: number): Promise<number[]> {
  const e = await engine({ prefixCaching: false });
  const job = e.createJob();
  const out = (await job.generate({ tokens: context, maxTokens, ...greedy }).done).tokens;
  job.close();
  return out;
}

describe('forks', () => {
  // 30 prompt tokens + 7 generated: the parent's context is 37 tokens, 36 of them computed (the
  // last sampled token never ran). A fork extending it shares 36: two full blocks and 4 tokens
  // of the third, which is copied.
  const prompt = testIds(30, 384, 3);

  it('a fork shares its parent’s KV (two blocks shared, one copied) and both give their solo outputs', async () => {
    const e = await engine({ policy: preserving });
    const parent = e.createJob({ id: 'parent' });
    const first = await parent.generate({ tokens: prompt, maxTokens: 7, endsWithToolCall: true, ...greedy }).done;
    const context = [...prompt, ...first.tokens];
    expect(context).toHaveLength(37);

    const childInput = testIds(5, 384, 11);
    const parentInput = testIds(6, 384, 12);
    const child = e.createJob({ id: 'child', forkOf: 'parent' });
    // The parent resumes in the same steps as the fork: it writes into its partial block right
    // after the copy has read it.
    const [childOut, parentOut] = await Promise.all([
      child.generate({ tokens: [...context, ...childInput], maxTokens: 6, ...greedy }).done,
      parent.resume({ tokens: parentInput, maxTokens: 6, ...greedy }).done,
    ]);
    expect(childOut.tokens).toEqual(await alone([...context, ...childInput], 6));
    expect(parentOut.tokens).toEqual(await alone([...context, ...parentInput], 6));
    expect(e.stats().forks).toEqual({ jobs: 1, sharedTokens: 36, copiedBlocks: 1 });
    expect(childOut.usage.cachedPromptTokens).toBe(36);
    expect(e.stats().jobs.groups).toBe(1); // the fork joined its parent's group
    child.close();
    parent.close();
    expectNoLeaks(e);
    expect(e.stats().jobs.groups).toBe(0);
  });

  it('shares only the common prefix of the two contexts', async () => {
    const e = await engine({ policy: preserving });
    const parent = e.createJob({ id: 'parent' });
    await parent.generate({ tokens: prompt, maxTokens: 7, endsWithToolCall: true, ...greedy }).done;
    // The fork's context agrees with the parent's for its first 20 tokens only.
    const diverging = [...prompt.slice(0, 20), ...testIds(12, 384, 9)];
    const child = e.createJob({ forkOf: 'parent' });
    const out = await child.generate({ tokens: diverging, maxTokens: 5, ...greedy }).done;
    expect(out.tokens).toEqual(await alone(diverging, 5));
    expect(e.stats().forks).toEqual({ jobs: 1, sharedTokens: 20, copiedBlocks: 1 });
    child.close();
    parent.close();
    expectNoLeaks(e);
  });

  it('a parent with no KV on the device leaves the fork to the prefix cache', async () => {
    const e = await engine({ policy: { name: 'discard', preemption: 'recompute', order: (cs) => new FcfsPolicy().order(cs), onToolWait: () => 'discard' } });
    const parent = e.createJob({ id: 'parent' });
    const first = await parent.generate({ tokens: prompt, maxTokens: 7, endsWithToolCall: true, ...greedy }).done;
    const context = [...prompt, ...first.tokens, 5];
    const child = e.createJob({ forkOf: 'parent' });
    const out = await child.generate({ tokens: context, maxTokens: 4, ...greedy }).done;
    expect(out.tokens).toEqual(await alone(context, 4));
    expect(e.stats().forks).toEqual({ jobs: 1, sharedTokens: 0, copiedBlocks: 0 });
    expect(out.usage.cachedPromptTokens).toBe(32); // the two full blocks, from the prefix cache
    child.close();
    parent.close();
    expectNoLeaks(e);
  });

  it('refuses a fork of a job that is not open, or into another group', async () => {
    const e = await engine();
    e.createJob({ id: 'p', group: 'g' });
    expect(() => e.createJob({ forkOf: 'nope' })).toThrow(expect.objectContaining({ code: 'UNKNOWN_JOB' }));
    expect(() => e.createJob({ forkOf: 'p', group: 'other' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => e.createJob({ forkOf: 'p', cacheSalt: 's' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => e.createJob({ group: '' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('groups as the policy sees them', () => {
  it('branches carry the group’s id, arrival and attained service; a job alone its own', async () => {
    const seen: SchedulingCandidate[][] = [];
    const fcfs = new FcfsPolicy();
    const recording: Policy = {
      name: 'recording',
      preemption: 'recompute',
      order: (cs) => (seen.push(cs.map((c) => ({ ...c }))), fcfs.order(cs)),
      onToolWait: (job) => fcfs.onToolWait(job),
    };
    const e = await engine({ policy: recording });
    const a = e.createJob({ id: 'a', group: 'run' });
    const first = await a.generate({ tokens: testIds(10, 384, 1), maxTokens: 3, ...greedy }).done;
    expect(first.tokens).toHaveLength(3);
    // a's service: 9 prompt tokens computed as prefill (the 10th runs in the step that samples the
    // first token, counted as that token) and 3 tokens generated.
    const attainedA = 9 + 3;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const b = e.createJob({ id: 'b', group: 'run' });
    const solo = e.createJob({ id: 'solo' });
    seen.length = 0;
    // solo starts first: its prefill is in flight when b queues, so the first step that sees both
    // sees b before any service and solo after its prefill (7 prompt tokens + 1 generated).
    const soloDone = solo.generate({ tokens: testIds(8, 384, 3), maxTokens: 2, ...greedy }).done;
    await Promise.all([b.generate({ tokens: testIds(8, 384, 2), maxTokens: 2, ...greedy }).done, soloDone]);
    const firstStep = seen.find((cs) => cs.length === 2)!;
    const byId = new Map(firstStep.map((c) => [c.jobId, c]));
    expect(byId.get('b')!.groupId).toBe('run');
    expect(byId.get('solo')!.groupId).toBe('solo');
    // b arrived later than a, but ranks with the group's arrival: a's.
    expect(byId.get('b')!.jobArrivalS).toBeLessThan(byId.get('solo')!.jobArrivalS);
    // The group's service so far is a's (b has none yet); solo's is its own.
    expect(byId.get('b')!.attainedTokens).toBe(attainedA);
    expect(byId.get('solo')!.attainedTokens).toBe(7 + 1);
    expect(e.stats().jobs.groups).toBe(2);
    a.close();
    expect(e.stats().jobs.groups).toBe(2); // b is still open in 'run'
    b.close();
    solo.close();
    expect(e.stats().jobs.groups).toBe(0);
    expectNoLeaks(e);
  });
});
