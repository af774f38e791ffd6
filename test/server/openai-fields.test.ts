/**
 * Every OpenAI request field either works, is accepted because it changes nothing here, or is a
 * 400 naming it — never a silent 200 (docs/server.md, "OpenAI compatibility"). Through the official
 * openai client against the scripted model (./scripted-backend.ts), whose reply is known, so an
 * accepted field is seen not to change it. Also: n choices that each call a tool, and a streamed
 * reply never shows part of a stop string.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeaks } from '../expect-no-leaks.js';
import { scriptedLoopback, type Loopback } from './loopback.js';

let loopback: Loopback;
let client: OpenAI;

beforeAll(async () => {
  loopback = await scriptedLoopback((prompt) => {
    if (prompt.includes('two calls')) return '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time", "arguments": {}}]';
    if (prompt.includes('weather')) return '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>';
    return prompt.includes('stop test') ? 'abcENDxyz' : 'Hello there';
  });
  client = loopback.client;
});
afterAll(() => loopback.close());

const chatBase = { model: 'scripted', messages: [{ role: 'user' as const, content: 'Say hello.' }] };
const completionBase = { model: 'scripted', prompt: 'Say hello.', max_tokens: 4 };

async function rejected(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.BadRequestError>> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OpenAI.BadRequestError);
  return error as InstanceType<typeof OpenAI.BadRequestError>;
}

describe('chat fields', () => {
  it.each<[string, Record<string, unknown>]>([
    ['logit_bias', { logit_bias: { '72': 5 } }],
    ['audio', { audio: { voice: 'alloy', format: 'mp3' } }],
    ['modalities', { modalities: ['text', 'audio'] }],
    ['prediction', { prediction: { type: 'content', content: 'Hello' } }],
    ['web_search_options', { web_search_options: {} }],
    ['functions', { functions: [{ name: 'f', parameters: {} }] }],
    ['function_call', { function_call: 'auto' }],
    ['reasoning_effort', { reasoning_effort: 'low' }],
    ['verbosity', { verbosity: 'low' }],
    ['store', { store: true }],
    ['top_logprobs', { top_logprobs: 3 }],
    ['logprobs', { logprobs: true }], // the scripted model, like the simulator, has no logits
  ])('%s: a 400 naming it', async (field, extra) => {
    const error = await rejected(client.chat.completions.create({ ...chatBase, ...extra } as never));
    expect(error.param).toBe(field);
    expect(error.message).toContain(field);
  });

  it.each<[string, Record<string, unknown>]>([
    ['temperature', { temperature: 2.5 }],
    ['presence_penalty', { presence_penalty: 2.5 }],
    ['frequency_penalty', { frequency_penalty: -3 }],
    ['top_logprobs', { logprobs: true, top_logprobs: 21 }],
    ['top_k', { top_k: -2 }],
    ['min_p', { min_p: 1.5 }],
    ['n', { n: 0 }],
    ['n', { n: 129 }],
  ])('%s out of range: a 400 naming it', async (field, extra) => {
    const error = await rejected(client.chat.completions.create({ ...chatBase, ...extra } as never));
    expect(error.param).toBe(`body.${field}`);
  });

  it('an unknown field is a 400 naming it, not dropped', async () => {
    const error = await rejected(client.chat.completions.create({ ...chatBase, repetition_penalty: 1.1 } as never));
    expect(error.param).toBe('body.repetition_penalty');
    expect(error.code).toBe('unknown_field');
    const nested = await rejected(client.chat.completions.create({ ...chatBase, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } } as never));
    expect(nested.param).toBe('body.stream_options.continuous_usage_stats');
  });

  it('fields that change nothing here are accepted, and the reply is the same', async () => {
    const r = await client.chat.completions.create({
      ...chatBase,
      user: 'u-1', metadata: { run: '7' }, store: false, service_tier: 'auto', safety_identifier: 'hash', parallel_tool_calls: true, skip_special_tokens: true,
      logit_bias: {}, modalities: ['text'], n: 1, logprobs: false, top_logprobs: 0, prompt_cache_retention: 'in_memory',
      stream_options: null, seed: 3, top_p: 0.9, presence_penalty: 0, frequency_penalty: 0,
      ...({ top_k: -1, min_p: 0 } as object),
    } as never);
    expect((r as OpenAI.Chat.ChatCompletion).choices[0].message.content).toBe('Hello there');
    expect((r as OpenAI.Chat.ChatCompletion).choices[0].logprobs).toBeNull();
  });
});

describe('completion fields', () => {
  it.each<[string, Record<string, unknown>]>([
    ['best_of', { best_of: 2 }],
    ['echo', { echo: true }],
    ['suffix', { suffix: 'end' }],
    ['logit_bias', { logit_bias: { '1': -100 } }],
    ['best_of', { n: 2, best_of: 3 }],
    ['logprobs', { logprobs: 2 }],
  ])('%s: a 400 naming it', async (field, extra) => {
    const error = await rejected(client.completions.create({ ...completionBase, ...extra } as never));
    expect(error.param).toBe(field);
  });

  it('logprobs past 20, n past 128 and an unknown field are 400s naming them', async () => {
    expect((await rejected(client.completions.create({ ...completionBase, logprobs: 21 }))).param).toBe('body.logprobs');
    expect((await rejected(client.completions.create({ ...completionBase, n: 129 }))).param).toBe('body.n');
    expect((await rejected(client.completions.create({ ...completionBase, guided_json: {} } as never))).param).toBe('body.guided_json');
  });

  it('best_of 1, echo false, an empty suffix and user are accepted', async () => {
    const plain = await client.completions.create(completionBase);
    const r = await client.completions.create({ ...completionBase, best_of: 1, echo: false, suffix: '', user: 'u', logit_bias: {}, n: 1 });
    expect(r.choices[0].text).toBe(plain.choices[0].text);
    expect(r.choices[0].logprobs).toBeNull();
  });
});

describe('n choices with tool calls', () => {
  const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const messages = [{ role: 'user' as const, content: 'What is the weather in Paris?' }];

  it('each choice (the scripted model replies alike) has its own tool call, streamed under its index; the forks are closed', async () => {
    const r = await client.chat.completions.create({ model: 'scripted', messages, tools, n: 3 });
    expect(r.choices.map((c) => [c.index, c.finish_reason])).toEqual([[0, 'tool_calls'], [1, 'tool_calls'], [2, 'tool_calls']]);
    for (const c of r.choices) expect(JSON.parse((c.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall).function.arguments)).toEqual({ city: 'Paris' });
    const stream = await client.chat.completions.create({ model: 'scripted', messages, tools, n: 2, stream: true });
    const calls: string[][] = [[], []];
    for await (const chunk of stream) for (const c of chunk.choices) for (const t of c.delta.tool_calls ?? []) calls[c.index].push(t.function!.name!);
    expect(calls).toEqual([['get_weather'], ['get_weather']]);
    loopback.closeAllJobs();
    expectNoLeaks(loopback.engine);
  });
});

describe('parallel_tool_calls', () => {
  const tools: OpenAI.Chat.ChatCompletionTool[] = [
    { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
    { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
  ];
  const messages = [{ role: 'user' as const, content: 'Make two calls.' }];

  async function streamedNames(extra: object): Promise<string[]> {
    const stream = await client.chat.completions.create({ model: 'scripted', messages, tools, stream: true, ...extra });
    const names: string[] = [];
    for await (const chunk of stream) for (const t of chunk.choices[0]?.delta.tool_calls ?? []) names[t.index] = t.function!.name!;
    return names;
  }

  it('the model writes two calls: both come back by default, the first alone with false, streamed and not', async () => {
    const names = (r: OpenAI.Chat.ChatCompletion) => (r.choices[0].message.tool_calls as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[]).map((c) => c.function.name);
    expect(names(await client.chat.completions.create({ model: 'scripted', messages, tools }))).toEqual(['get_weather', 'get_time']);
    const one = await client.chat.completions.create({ model: 'scripted', messages, tools, parallel_tool_calls: false });
    expect(names(one)).toEqual(['get_weather']);
    expect(one.choices[0].finish_reason).toBe('tool_calls');
    expect(await streamedNames({})).toEqual(['get_weather', 'get_time']);
    expect(await streamedNames({ parallel_tool_calls: false })).toEqual(['get_weather']);
    loopback.closeAllJobs();
  });
});

describe('streamed stop strings', () => {
  const messages = [{ role: 'user' as const, content: 'stop test' }];

  async function streamedText(stop: string[]): Promise<string> {
    const stream = await client.chat.completions.create({ model: 'scripted', messages, stop, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    return text;
  }

  it('the text before the stop string, and none of the stop string, as the non-streamed reply', async () => {
    // The script is "abcENDxyz", one token a character: the stream must hold back "E" and "EN".
    expect(await streamedText(['END'])).toBe('abc');
    const whole = await client.chat.completions.create({ model: 'scripted', messages, stop: ['END'] });
    expect(whole.choices[0].message.content).toBe('abc');
  });

  it('text held back as a possible stop string is sent once it is not one', async () => {
    expect(await streamedText(['ENDX'])).toBe('abcENDxyz');
  });

  it('no blocks leak', () => {
    loopback.closeAllJobs();
    expectNoLeaks(loopback.engine);
  });
});
