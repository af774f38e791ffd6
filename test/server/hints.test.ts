/**
 * Hints over HTTP (docs/server.md, "Hints"): each envelope's fields reach the engine as the
 * inputs they name — seen by a recording policy — a malformed hint is a 400 naming its field,
 * and a well-formed hint this server cannot read is skipped, never refused. What each input then
 * changes is pinned in test/unit/hints-astraea.test.ts, block-retention.test.ts and
 * engine-hints.test.ts. And the history a call's conversation carries (JobOptions.history): the
 * model calls made before this server saw the job.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { buildServer } from '../../lib/server/app.js';
import type { PausedJobView, Policy, SchedulingCandidate } from '../../lib/sched/policy.js';
import { expectNoLeaks } from '../expect-no-leaks.js';

const engines: Engine[] = [];
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  for (const e of engines.splice(0)) await e.close();
});

/** A first-come policy that records the last candidate and pause view of each engine job, in the order they first appear. */
function recorder() {
  const candidates = new Map<string, SchedulingCandidate>();
  const pauses = new Map<string, PausedJobView>();
  const policy: Policy = {
    name: 'recorder',
    preemption: 'recompute',
    order: (cs) => (cs.forEach((c) => candidates.set(c.jobId, c)), [...cs]),
    onToolWait: (job) => (pauses.set(job.jobId, job), 'release'),
  };
  return { policy, candidates, pauses };
}

async function server() {
  const rec = recorder();
  const engine = await Engine.create({ model: 'tiny', kvBlocks: 64, blockSize: 16, policy: rec.policy });
  engines.push(engine);
  const built = buildServer(engine, { modelName: 'tiny' });
  closers.push(() => built.app.close());
  const done = () => {
    built.context.jobs.expire(Infinity);
    expectNoLeaks(engine);
  };
  return { ...rec, app: built.app, done };
}

const chat = (extra: object) => ({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, temperature: 0, ignore_eos: true, ...extra });
const envelope = (...actions: object[]) => ({ kv_hints: { protocol_version: '0.1', message_id: 'm1', actions } });
const action = (action_type: string, payload: object, action_version = '1.0') => ({ action_id: 'x', action_type, action_version, payload });

function expect400(res: { statusCode: number; json(): any }, param: string, message?: string): void {
  expect(res.statusCode).toBe(400);
  const { error } = res.json();
  expect(error.type).toBe('invalid_request_error');
  expect(error.param).toBe(param);
  expect(error.message).toContain(message ?? param);
}

/**
 * Four completions on 8 blocks of 16 tokens under fcfs (each call's blocks go to the prefix cache
 * when it ends): A (64 tokens: blocks 0–3, with `hints`), C (32: blocks 4, 5), B (64: the free
 * 6, 7 and two evicted — by LRU a's 3 and 2, a's tail having been released first), then A's
 * prompt plus one token. Its cached_tokens: 64 if A's blocks outlived C's, 32 by plain LRU.
 */
async function cachedAfterEviction(hints: object): Promise<number> {
  const engine = await Engine.create({ model: 'tiny', kvBlocks: 8, blockSize: 16, policy: 'fcfs' });
  engines.push(engine);
  const { app, context } = buildServer(engine, { modelName: 'tiny' });
  closers.push(() => app.close());
  const complete = async (prompt: number[], extra: object = {}) => {
    const res = await app.inject({ method: 'POST', url: '/v1/completions', payload: { model: 'tiny', prompt, max_tokens: 1, ignore_eos: true, ...extra } });
    expect(res.statusCode).toBe(200);
    return res.json().usage.prompt_tokens_details.cached_tokens as number;
  };
  const range = (first: number, n: number) => Array.from({ length: n }, (_, i) => first + i);
  await complete(range(1, 64), hints);
  await complete(range(70, 32));
  await complete(range(110, 64));
  const cached = await complete([...range(1, 64), 65]);
  context.jobs.expire(Infinity);
  expectNoLeaks(engine);
  return cached;
}

describe('hints over HTTP', () => {
  it('a retained range, or a prioritized request, survives the eviction that takes it by LRU', async () => {
    expect(await cachedAfterEviction({})).toBe(32);
    expect(await cachedAfterEviction(envelope(action('kv.retain', { directives: [{ start: 0, end: 64, priority: 50, duration: 600 }] })))).toBe(64);
    expect(await cachedAfterEviction(envelope(action('vllm.set_priority', { value: 10, ttl_seconds: 600 })))).toBe(64);
  });

  it('each hint reaches the engine as the input it names', async () => {
    const { app, candidates, pauses, done } = await server();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: chat({
        job_id: 'j1',
        nvext: { agent_hints: { priority: 5, osl: 3, speculative_prefill: true }, router: { any: 1 } },
        ...envelope(
          action('astraea.remaining_segments', { segments: 4 }),
          action('astraea.tool_time', { seconds: 2.5 }),
          action('kv.retain', { scope: null, directives: [{ start: 0, end: 8, priority: 60, duration: 30 }, { start: 8, priority: 10 }] }),
          action('vllm.set_priority', { target: 'request_cached', location: 'local_g1', claim_id: 'c', revision: 1, value: 10, ttl_seconds: 60 }),
        ),
      }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-astraea-hints-skipped']).toBeUndefined();
    const [c] = candidates.values();
    // Dynamo's priority as given (higher sooner); osl 3 under max_tokens 4; 4 segments ahead.
    expect([c.priority, c.expectedOutputTokens, c.expectedFutureSegments, c.lastSegmentChance]).toEqual([5, 3, 4, 0]);
    // The pause after the reply: the tool-time hint, and the strongest retain priority in force.
    expect([...pauses.values()][0]).toMatchObject({ expectedToolS: 2.5, retainPriority: 60 });
    done();
  });

  it("vLLM's request priority is lower-sooner: the engine gets its negation; Dynamo's wins when both come", async () => {
    const { app, candidates, done } = await server();
    await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ job_id: 'v', priority: 3 }) });
    await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ job_id: 'both', priority: 3, nvext: { agent_hints: { priority: 2 } } }) });
    await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ job_id: 'none' }) });
    // (Calls in turn: the engine jobs appear in the calls' order.)
    expect([...candidates.values()].map((c) => c.priority)).toEqual([-3, 2, undefined]);
    done();
  });

  it('the completions route reads the same hints', async () => {
    const { app, candidates, done } = await server();
    const ok = await app.inject({
      method: 'POST',
      url: '/v1/completions',
      payload: { model: 'tiny', prompt: [1, 2, 3, 4, 5, 6], max_tokens: 2, ignore_eos: true, nvext: { agent_hints: { priority: -4 } }, ...envelope(action('kv.retain', { directives: [{ start: 0, end: 6, priority: 5 }] })) },
    });
    expect(ok.statusCode).toBe(200);
    expect([...candidates.values()].map((c) => c.priority)).toEqual([-4]);
    const past = await app.inject({
      method: 'POST',
      url: '/v1/completions',
      payload: { model: 'tiny', prompt: [1, 2, 3, 4, 5, 6], max_tokens: 2, ...envelope(action('kv.retain', { directives: [{ start: 2, end: 7, priority: 5 }] })) },
    });
    expect(past.statusCode).toBe(400);
    expect(past.json().error.message).toContain("kv_hints.actions[0].payload.directives[0].end 7 is past the prompt's 6 tokens");
    done();
  });

  it('a malformed hint is a 400 naming its field', async () => {
    const { app, done } = await server();
    const post = (extra: object) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat(extra) });
    // Shapes the schema checks.
    expect400(await post({ kv_hints: { message_id: 'm', actions: [] } }), 'body.kv_hints', 'protocol_version');
    expect400(await post({ kv_hints: { protocol_version: '0.1', message_id: 'm', actions: [{ action_type: 'kv.retain', action_version: '1.0', payload: [] }] } }), 'body.kv_hints.actions.0.payload');
    expect400(await post({ priority: 1.5 }), 'body.priority');
    expect400(await post({ nvext: { agent_hints: { osl: 0 } } }), 'body.nvext.agent_hints.osl');
    expect400(await post({ nvext: { agent_hints: { priority: 'high' } } }), 'body.nvext.agent_hints.priority');
    // Payloads this server reads.
    const at = 'kv_hints.actions[0]';
    expect400(await post(envelope(action('astraea.bogus', {}))), `${at}.action_type`, 'unknown action "astraea.bogus"');
    expect400(await post(envelope(action('vllm.set_priorty', {}))), `${at}.action_type`);
    expect400(await post(envelope(action('kv.retain', { directives: [{ start: 0, end: 4, priority: 101 }] }))), `${at}.payload.directives[0].priority`, '[0, 100]');
    expect400(await post(envelope(action('kv.retain', { directives: [{ start: 0, priority: '50' }] }))), `${at}.payload.directives[0].priority`);
    expect400(await post(envelope(action('kv.retain', { directives: [{ start: 4, end: 4, priority: 5 }] }))), `${at}.payload.directives[0].end`);
    expect400(await post(envelope(action('kv.retain', { directives: [{ start: 0, priority: 5, pin: true }] }))), `${at}.payload.directives[0].pin`);
    expect400(await post(envelope(action('kv.retain', { directives: 'all' }))), `${at}.payload.directives`);
    expect400(await post(envelope(action('vllm.set_priority', { value: 10 }))), `${at}.payload.ttl_seconds`);
    expect400(await post(envelope(action('vllm.set_priority', { value: 1.5, ttl_seconds: 5 }))), `${at}.payload.value`);
    expect400(await post(envelope(action('vllm.set_priority', { value: 1, ttl_seconds: 5, target: 'all' }))), `${at}.payload.target`);
    expect400(await post(envelope(action('astraea.remaining_segments', { segments: -1 }))), `${at}.payload.segments`);
    expect400(await post(envelope(action('astraea.tool_time', { seconds: 'soon' }))), `${at}.payload.seconds`);
    // A range past the prompt: the engine knows the prompt's length once the messages are rendered.
    const past = await post(envelope(action('kv.retain', { directives: [{ start: 0, end: 100000, priority: 5 }] })));
    expect(past.statusCode).toBe(400);
    expect(past.json().error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_argument' });
    expect(past.json().error.message).toMatch(/kv_hints\.actions\[0\]\.payload\.directives\[0\]\.end 100000 is past the prompt's \d+ tokens/);
    done();
  });

  it('a well-formed hint this server cannot read is skipped and listed, never refused', async () => {
    const { app, candidates, done } = await server();
    const post = (job: string, extra: object) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ job_id: job, ...extra }) });
    // A future protocol version: every action is skipped, even one this version would read.
    const future = await post('p', { kv_hints: { protocol_version: '0.2', message_id: 'm', actions: [action('astraea.remaining_segments', { segments: 9 })] } });
    expect(future.statusCode).toBe(200);
    expect(future.headers['x-astraea-hints-skipped']).toBe('actions[0] astraea.remaining_segments@1.0');
    expect([...candidates.values()][0].expectedFutureSegments).toBe(0);
    // A future major action version, another component's action, another namespace; the rest applies.
    const mixed = await post('m', envelope(action('kv.retain', { anything: 1 }, '2.0'), action('kv.fetch', { blocks: [] }), action('dynamo.route', {}), action('astraea.remaining_segments', { segments: 2 }, '1.3')));
    expect(mixed.statusCode).toBe(200);
    expect(mixed.headers['x-astraea-hints-skipped']).toBe('actions[0] kv.retain@2.0, actions[1] kv.fetch@1.0, actions[2] dynamo.route@1.0');
    expect([...candidates.values()][1].expectedFutureSegments).toBe(2);
    // Streamed, the header comes with the stream.
    const streamed = await post('s', { stream: true, ...envelope(action('kv.fetch', {})) });
    expect(streamed.statusCode).toBe(200);
    expect(streamed.headers['x-astraea-hints-skipped']).toBe('actions[0] kv.fetch@1.0');
    done();
  });
});

describe("a conversation's history over HTTP", () => {
  it('a call bringing earlier assistant turns is ranked as that many segments in; a new conversation as its first', async () => {
    const { app, candidates, done } = await server();
    // A conversation begun elsewhere (a call a gateway moved from another replica): two model
    // calls already made, so this one is the job's third segment (index 2).
    const moved = [
      { role: 'user', content: 'fix the failing test' },
      { role: 'assistant', content: 'reading the test file' },
      { role: 'user', content: 'here it is' },
      { role: 'assistant', content: 'now the source' },
      { role: 'user', content: 'here is the source' },
    ];
    const before = performance.now() / 1000; // the engine's clock
    for (const [id, messages] of [['moved', moved], ['new', [{ role: 'user', content: 'hi' }]]] as const) {
      const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ job_id: id, messages }) });
      expect(res.statusCode).toBe(200);
    }
    expect([candidates.get('moved.1')!.segmentIndex, candidates.get('new.1')!.segmentIndex]).toEqual([2, 0]);
    // Its age is what this server knows: from its first call here.
    expect(candidates.get('moved.1')!.jobArrivalS).toBeGreaterThanOrEqual(before - 1);
    // The next call on the same job resumes its engine job: the segment after.
    const next = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ job_id: 'new', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'x' }, { role: 'user', content: 'more' }] }) });
    expect(next.statusCode).toBe(200);
    expect(candidates.get('new.1')!.segmentIndex).toBe(1);
    done();
  });
});
