/**
 * The official `openai` client, unchanged, against the server on loopback. The model is the
 * scripted assistant of ./scripted-backend.ts (real tokenizer, chat template and KV bookkeeping),
 * so replies and tool calls are known in advance: a weather agent that calls `get_weather` and
 * then answers from the tool's result.
 */
import autocannon from 'autocannon';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../lib/engine/engine.js';
import { scriptedLoopback, until, type Loopback } from './loopback.js';

const TOOL_CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>';
const LONG = 'word '.repeat(300);

function reply(prompt: string): string {
  if (prompt.includes('"temp": 21')) return 'It is 21 degrees in Paris.';
  if (prompt.includes('weather')) return TOOL_CALL;
  if (prompt.includes('essay')) return LONG;
  return 'Hello there';
}

const tools: OpenAI.Chat.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
];

let engine: Engine;
let client: OpenAI;
let baseURL: string;
let loopback: Loopback;

beforeAll(async () => {
  loopback = await scriptedLoopback(reply);
  ({ engine, client, baseURL } = loopback);
});

afterAll(() => loopback.close());

const closeAllJobs = () => loopback.closeAllJobs();
const metric = (line: RegExp) => loopback.metric(line);

describe('the openai client against astraea serve', () => {
  it('a chat completion', async () => {
    const r = await client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'Say hello.' }] });
    expect(r.choices[0].message.content).toBe('Hello there');
    expect(r.choices[0].finish_reason).toBe('stop');
    expect(r.usage!.completion_tokens).toBe('Hello there'.length + 1); // a byte each, and end of sequence
  });

  it('a streamed chat completion', async () => {
    const stream = await client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'Say hello.' }], stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe('Hello there');
    expect(finish).toBe('stop');
  });

  it('a full tool loop: the job continues on the KV it kept through the tool call', async () => {
    const preservedBefore = await metric(/astraea_kv_actions_total\{action="preserve",model_name="scripted"\}/);
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are a weather agent.' },
      { role: 'user', content: 'What is the weather in Paris?' },
    ];
    const first = await client.chat.completions.create({ model: 'scripted', messages, tools });
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    const call = first.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });
    expect(first.choices[0].message.content).toBeNull();

    // The agent runs the tool and sends the whole conversation back, with no job id: the server
    // joins it to the job whose conversation it extends.
    messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"temp": 21}' });
    const second = await client.chat.completions.create({ model: 'scripted', messages, tools });
    expect(second.choices[0].message.content).toBe('It is 21 degrees in Paris.');
    expect((second as unknown as { job_id: string }).job_id).toBe((first as unknown as { job_id: string }).job_id);
    // Kept KV: everything the first call computed is reused — its prompt and its reply but the
    // last sampled token, which was never run through the model.
    const firstContext = first.usage!.prompt_tokens + first.usage!.completion_tokens - 1;
    expect(second.usage!.prompt_tokens_details!.cached_tokens).toBe(firstContext);
    // Preserved twice: through the tool call, then waiting for the agent's next call.
    expect(await metric(/astraea_kv_actions_total\{action="preserve",model_name="scripted"\}/)).toBe(preservedBefore + 2);
  });

  it('a chat that goes on: the next turn reuses the KV kept for it', async () => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Say hello.' }];
    const first = await client.chat.completions.create({ model: 'scripted', messages, prompt_cache_key: 'chat-1' });
    messages.push(first.choices[0].message, { role: 'user', content: 'Again, please.' });
    const second = await client.chat.completions.create({ model: 'scripted', messages, prompt_cache_key: 'chat-1' });
    expect(second.choices[0].message.content).toBe('Hello there');
    expect(second.usage!.prompt_tokens_details!.cached_tokens).toBe(first.usage!.prompt_tokens + first.usage!.completion_tokens - 1);
  });

  it('streams tool calls as tool_call deltas', async () => {
    closeAllJobs();
    const stream = await client.chat.completions.create({
      model: 'scripted',
      messages: [{ role: 'user', content: 'weather in Paris, streamed' }],
      tools,
      stream: true,
    });
    let content = '';
    const calls: { name?: string; arguments: string }[] = [];
    let finish: string | null = null;
    let jobId = '';
    for await (const chunk of stream) {
      jobId = (chunk as unknown as { job_id: string }).job_id;
      const delta = chunk.choices[0]?.delta;
      content += delta?.content ?? '';
      for (const c of delta?.tool_calls ?? []) {
        calls[c.index] ??= { arguments: '' };
        if (c.function?.name) calls[c.index].name = c.function.name;
        calls[c.index].arguments += c.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(content).toBe(''); // the markup never streams as content
    expect(calls).toHaveLength(1);
    expect(calls[0].name).toBe('get_weather');
    expect(JSON.parse(calls[0].arguments)).toEqual({ city: 'Paris' });
    expect(finish).toBe('tool_calls');
    // The job waits on its tool with its KV kept until the agent calls again, closes it, or it idles out.
    expect(engine.stats().jobs.toolWait).toBe(1);
    // One open job, in the most urgent queue of astraea's MLFQ (it has run a few dozen tokens).
    expect(await metric(/astraea_queue_level_jobs\{level="0",model_name="scripted"\}/)).toBe(1);
    const closed = await fetch(`${baseURL}/jobs/${jobId}/close`, { method: 'POST', headers: { authorization: 'Bearer test-key' } });
    expect(await closed.json()).toEqual({ id: jobId, object: 'job', closed: true });
    expect(engine.stats().jobs.open).toBe(0);
    expect(engine.stats().kv.ownedBlocks).toBe(0);
  });

  it('errors surface as the client’s own error classes', async () => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'hi' }];
    await expect(client.chat.completions.create({ model: 'gpt-4o', messages })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.chat.completions.create({ model: 'scripted', messages, max_tokens: 0 })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    const stranger = new OpenAI({ baseURL, apiKey: 'wrong', maxRetries: 0 });
    await expect(stranger.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    // Only a job named by id refuses a second call while one runs.
    const named = { headers: { 'x-astraea-job-id': 'busy-job' } };
    const busy = client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'an essay' }], max_tokens: 2000 }, named);
    await until(() => engine.stats().jobs.running + engine.stats().jobs.waiting > 0);
    await expect(client.chat.completions.create({ model: 'scripted', messages }, named)).rejects.toBeInstanceOf(OpenAI.ConflictError);
    expect((await busy).choices[0].message.content).toBe(LONG.trim());
  });

  it('a client that disconnects mid-stream frees the job’s blocks', async () => {
    closeAllJobs();
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'scripted', messages: [{ role: 'user', content: 'write an essay' }], stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    try {
      for await (const _chunk of stream) if (++chunks === 5) controller.abort();
    } catch {
      // an abort may end the iteration quietly or with an error; either way the client is gone
    }
    expect(chunks).toBe(5);
    await until(() => engine.stats().kv.ownedBlocks === 0 && engine.stats().jobs.open === 0);
    expect(await metric(/vllm:request_success_total\{finished_reason="cancelled",model_name="scripted"\}/)).toBeGreaterThanOrEqual(1);
    engine.checkInvariants();
  });

  it('a bounded load test on loopback: no errors, no leaked blocks', async () => {
    const result = await autocannon({
      url: `${baseURL}/chat/completions`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' },
      body: JSON.stringify({ model: 'scripted', messages: [{ role: 'user', content: 'Say hello.' }] }),
      connections: 8,
      amount: 200,
    });
    expect(result.errors).toBe(0);
    expect(result.timeouts).toBe(0);
    expect(result.non2xx).toBe(0);
    expect(result['2xx']).toBe(200);
    expect(engine.stats().jobs.running + engine.stats().jobs.waiting).toBe(0);
    closeAllJobs(); // the jobs wait for their next call until then
    expect(engine.stats().jobs.open).toBe(0);
    expect(engine.stats().kv.ownedBlocks).toBe(0);
    engine.checkInvariants();
  });
});
