/**
 * Every route, status and error shape of the HTTP server, through fastify's inject, on the tiny
 * preset (random weights, the byte tokenizer and its ChatML template). Expected token counts come
 * from the tokenizer and the Node API directly, not from the server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { buildServer, type ServerOptions } from '../../lib/server/app.js';
import type { ServerContext } from '../../lib/server/context.js';
import { expectNoLeaks } from '../expect-no-leaks.js';

const engines: Engine[] = [];
const closers: (() => Promise<void>)[] = [];

async function server(options: ServerOptions = {}, kvBlocks = 128) {
  const engine = await Engine.create({ model: 'tiny', kvBlocks, blockSize: 16 });
  engines.push(engine);
  const built = buildServer(engine, { modelName: 'tiny', ...options });
  contexts.set(engine, built.context);
  closers.push(() => built.app.close());
  return { engine, ...built };
}

const contexts = new Map<Engine, ServerContext>();

/** Closes the jobs the server keeps open between calls, then checks that nothing leaked. */
function expectClean(engine: Engine): void {
  contexts.get(engine)!.jobs.expire(Infinity);
  expectNoLeaks(engine);
}

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  for (const e of engines.splice(0)) await e.close();
});

const user = (content: string) => ({ role: 'user', content });
const chat = (extra: object = {}) => ({ model: 'tiny', messages: [user('hi')], max_tokens: 4, temperature: 0, ignore_eos: true, ...extra });

function expectError(res: { statusCode: number; json(): any }, status: number, code: string | null, message?: RegExp): void {
  expect(res.statusCode).toBe(status);
  const body = res.json();
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error).toMatchObject({ message: expect.any(String), type: expect.any(String), code });
  expect(body.error.param === null || typeof body.error.param === 'string').toBe(true);
  if (message) expect(body.error.message).toMatch(message);
}

/** The SSE events of a streamed response, [DONE] excluded. */
function events(body: string): any[] {
  const lines = body.split('\n\n').filter((l) => l.startsWith('data: '));
  expect(lines.at(-1)).toBe('data: [DONE]');
  return lines.slice(0, -1).map((l) => JSON.parse(l.slice(6)));
}

describe('HTTP routes', () => {
  it('GET /v1/models and /health', async () => {
    const { app } = await server();
    const models = await app.inject({ method: 'GET', url: '/v1/models' });
    expect(models.statusCode).toBe(200);
    expect(models.json()).toMatchObject({ object: 'list', data: [{ id: 'tiny', object: 'model', owned_by: 'astraea', max_model_len: 2048 }] });
    const health = await app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ status: 'ok', kv: { deviceBlocks: 128, freeBlocks: 128 } });
  });

  it('a chat completion: OpenAI shape, usage counted from the template, the same tokens as the Node API', async () => {
    const { app, engine } = await server();
    const messages = [{ role: 'system', content: 'Be brief.' }, user('Name a city.')];
    // skip_special_tokens false: the text as the Node API decodes it (special tokens kept).
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ messages, max_tokens: 6, skip_special_tokens: false }) });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const promptTokens = engine.tokenizer!.encode(engine.tokenizer!.applyChatTemplate(messages as never, { addGenerationPrompt: true }), { addSpecialTokens: false }).length;
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'tiny',
      choices: [{ index: 0, message: { role: 'assistant' }, finish_reason: 'length' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: 6, total_tokens: promptTokens + 6, prompt_tokens_details: { cached_tokens: 0 } },
    });
    expect(res.headers['x-astraea-job-id']).toBe(body.job_id);
    const direct = engine.createJob();
    const expected = await direct.generate({ messages: messages as never, maxTokens: 6, ignoreEos: true }).done;
    direct.close();
    expect(body.choices[0].message.content).toBe(expected.content);
    // By default the reply has no special token's text (greedy, this one is six reserved tokens:
    // nothing is left, and an empty content is null).
    const skipped = (await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ messages, max_tokens: 6 }) })).json();
    expect(skipped.choices[0].message.content).toBe(engine.tokenizer!.decode(expected.tokens, { skipSpecialTokens: true }) || null);
    expectClean(engine);
  });

  it('streams chunks whose content adds up to the unstreamed reply, then usage and [DONE]', async () => {
    const { app, engine } = await server();
    const whole = (await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ max_tokens: 8 }) })).json();
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ max_tokens: 8, stream: true, stream_options: { include_usage: true } }) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const chunks = events(res.body);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(content).toBe(whole.choices[0].message.content ?? '');
    expect(chunks.at(-2).choices[0]).toMatchObject({ delta: {}, finish_reason: 'length' });
    expect(chunks.at(-1)).toMatchObject({ object: 'chat.completion.chunk', choices: [], usage: { completion_tokens: 8, prompt_tokens: whole.usage.prompt_tokens } });
    expectClean(engine);
  });

  it('POST /v1/completions: text and token prompts, streamed and not', async () => {
    const { app, engine } = await server();
    const res = await app.inject({ method: 'POST', url: '/v1/completions', payload: { model: 'tiny', prompt: 'abc', max_tokens: 3, temperature: 0, ignore_eos: true } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const tokens = engine.tokenizer!.encode('abc');
    expect(body).toMatchObject({ object: 'text_completion', choices: [{ index: 0, finish_reason: 'length' }], usage: { prompt_tokens: tokens.length, completion_tokens: 3 } });
    const byIds = (await app.inject({ method: 'POST', url: '/v1/completions', payload: { model: 'tiny', prompt: tokens, max_tokens: 3, temperature: 0, ignore_eos: true } })).json();
    expect(byIds.choices[0].text).toBe(body.choices[0].text);
    const streamed = await app.inject({ method: 'POST', url: '/v1/completions', payload: { model: 'tiny', prompt: 'abc', max_tokens: 3, temperature: 0, ignore_eos: true, stream: true } });
    expect(events(streamed.body).map((c) => c.choices[0].text).join('')).toBe(body.choices[0].text);
    expectClean(engine);
  });

  it('400 for bad fields, with the field named', async () => {
    const { app, engine } = await server();
    const post = (payload: object) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload });
    expectError(await post(chat({ max_tokens: '12' })), 400, 'invalid_value', /max_tokens/);
    expectError(await post({ model: 'tiny' }), 400, 'invalid_value', /messages/);
    expectError(await post(chat({ messages: [] })), 400, 'invalid_value', /messages/);
    expectError(await post(chat({ n: 129 })), 400, 'invalid_value', /\bn\b/);
    expectError(await post(chat({ temperature: 3 })), 400, 'invalid_value', /temperature/);
    expectError(await post(chat({ messages: [{ role: 'wizard', content: 'x' }] })), 400, 'invalid_value', /role/);
    expectError(await post(chat({ tool_choice: 'required' })), 400, null, /tool_choice/);
    expectError(await post(chat({ messages: [user('x'), { role: 'tool', content: 'r' }] })), 400, null, /tool_call_id/);
    expectError(await post(chat({ max_tokens: 100000 })), 400, 'context_length_exceeded', /exceed/);
    const badJson = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: '{"model":', headers: { 'content-type': 'application/json' } });
    expectError(badJson, 400, expect.any(String) as never);
    // The server goes on serving.
    expect((await post(chat())).statusCode).toBe(200);
    expectClean(engine);
  });

  it('401 without the API key on /v1, while /health stays open', async () => {
    const { app } = await server({ apiKey: 'sekrit' });
    expectError(await app.inject({ method: 'GET', url: '/v1/models' }), 401, 'invalid_api_key', /missing/);
    expectError(await app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: 'Bearer nope' } }), 401, 'invalid_api_key', /incorrect/);
    expect((await app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: 'Bearer sekrit' } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('404 for an unknown model, job or route; 413 for a body too large; 429 when the queue is full', async () => {
    const { app } = await server({ bodyLimit: 2048 });
    expectError(await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ model: 'gpt-4' }) }), 404, 'model_not_found', /gpt-4/);
    expectError(await app.inject({ method: 'POST', url: '/v1/jobs/nope/close' }), 404, 'unknown_job', /nope/);
    expectError(await app.inject({ method: 'GET', url: '/v2/whatever' }), 404, 'unknown_route');
    expectError(await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ messages: [user('x'.repeat(4096))] }) }), 413, 'body_too_large');
    const full = await server({ maxWaiting: 0 });
    const res = await full.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat() });
    expectError(res, 429, 'queue_full', /full/);
    expect(res.headers['retry-after']).toBe('1');
  });

  it('a job id used by two calls at once: the second gets 409; the first completes', async () => {
    const { app, engine } = await server();
    const first = app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ job_id: 'a', max_tokens: 64 }) });
    while (engine.stats().jobs.open === 0) await new Promise((r) => setTimeout(r, 5)); // the first call has acquired the job
    expectError(await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ max_tokens: 2 }), headers: { 'x-astraea-job-id': 'a' } }), 409, 'job_busy', /already generating/);
    const done = await first;
    expect(done.statusCode).toBe(200);
    expect(done.json().usage.completion_tokens).toBe(64);
    expectClean(engine);
  });

  it('a call without an id joins the job whose conversation it extends; while that job is busy, a second one forks', async () => {
    const { app, engine } = await server();
    const post = (payload: object) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload });
    const first = (await post(chat({ messages: [user('Plan a trip.')] }))).json();
    const history = [user('Plan a trip.'), first.choices[0].message, user('To Rome.')];
    const [joined, forked] = await Promise.all([post(chat({ messages: history, max_tokens: 32 })), post(chat({ messages: history, max_tokens: 2 }))]);
    expect(joined.json().job_id).toBe(first.job_id);
    expect(forked.json().job_id).not.toBe(first.job_id);
    // A different conversation does not join.
    expect((await post(chat({ messages: [user('Other.'), first.choices[0].message, user('x')] }))).json().job_id).not.toBe(first.job_id);
    const off = await server({ autoBind: false });
    const plain = (await off.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ messages: [user('Plan a trip.')] }) })).json();
    const next = (await off.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ messages: [user('Plan a trip.'), plain.choices[0].message, user('To Rome.')] }) })).json();
    expect(next.job_id).not.toBe(plain.job_id);
    expectClean(engine);
  });

  it('POST /v1/jobs/{id}/close ends a job; idle jobs expire', async () => {
    const { app, context } = await server({ jobIdleS: 60 });
    expect((await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ job_id: 'j1' }) })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat(), headers: { 'x-astraea-job-id': 'j2' } })).json().job_id).toBe('j2');
    // A session token groups calls, it does not name the job: the job gets an id of its own.
    const third = (await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat(), headers: { 'x-session-token': 's3' } })).json().job_id;
    expect(third).toMatch(/^job-/);
    expect(context.jobs.get(third)).toBeDefined();
    expect(context.jobs.get('j2')).toBeDefined();
    expect(context.jobs.get('j1')).toBeDefined();
    const closed = await app.inject({ method: 'POST', url: '/v1/jobs/j1/close' });
    expect(closed.json()).toEqual({ id: 'j1', object: 'job', closed: true });
    expect(context.jobs.get('j1')).toBeUndefined();
    context.jobs.expire(Date.now() + 59_000); // not idle long enough yet
    expect(context.jobs.size).toBe(2);
    context.jobs.expire(Date.now() + 61_000);
    expect(context.jobs.size).toBe(0);
  });

  it('closing the server lets the calls in flight finish, then refuses new ones', async () => {
    const { app, engine } = await server();
    const url = `${await app.listen({ port: 0, host: '127.0.0.1' })}/v1/chat/completions`;
    const post = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat({ max_tokens: 48 })) });
    const inFlight = post();
    while (engine.stats().jobs.open === 0) await new Promise((r) => setTimeout(r, 5)); // the call has arrived
    const closing = app.close();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect((await res.json()).usage.completion_tokens).toBe(48);
    await closing;
    await expect(post()).rejects.toThrow(); // nothing listens any more
    expectClean(engine);
  });

  it('keeps at most maxIdleJobs idle jobs, closing the least recently used', async () => {
    const { app, context, engine } = await server({ maxIdleJobs: 2 });
    const call = (id: string) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ job_id: id }) });
    await call('a');
    await call('b');
    await call('a'); // 'a' is now the most recently used
    await call('c');
    expect([context.jobs.get('a'), context.jobs.get('b'), context.jobs.get('c')].map(Boolean)).toEqual([true, false, true]);
    expect(engine.stats().jobs.open).toBe(2);
    expectClean(engine);
  });

  it('GET /metrics: vLLM names for calls, astraea_ names for jobs', async () => {
    const { app } = await server();
    await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat({ max_tokens: 5 }) });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    const value = (name: string) => Number(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'm').exec(res.body)?.[2]);
    expect(value('vllm:generation_tokens_total')).toBe(5);
    expect(value('vllm:time_to_first_token_seconds_count')).toBe(1);
    expect(value('vllm:e2e_request_latency_seconds_count')).toBe(1);
    expect(value('vllm:num_requests_running')).toBe(0);
    expect(value('vllm:kv_cache_usage_perc')).toBe(0);
    expect(res.body).toMatch(/^vllm:request_success_total\{finished_reason="length",model_name="tiny"\} 1$/m);
    expect(res.body).toMatch(/^astraea_kv_actions_total\{action="preserve",model_name="tiny"\} 0$/m);
    // The engine's running totals are counters, named as Prometheus counters are.
    for (const name of ['astraea_kv_actions', 'astraea_kv_swap_bytes', 'astraea_recomputed_prefill_tokens', 'astraea_preemptions', 'astraea_job_forks', 'astraea_fork_shared_tokens']) {
      expect(res.body).toMatch(new RegExp(`^# TYPE ${name}_total counter$`, 'm'));
    }
    expect(value('astraea_preemptions_total')).toBe(0);
  });
});
