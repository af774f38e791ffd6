/**
 * Every tool-call format the server understands, through the official openai client, streamed
 * and not: Hermes / Qwen (`<tool_call>`), Llama 3.x JSON (with and without `<|python_tag|>`) and
 * Mistral (`[TOOL_CALLS]`, tokenizer v3's JSON array and v11's `name[ARGS]{...}`). The model is
 * the scripted assistant of ./scripted-backend.ts, which emits the reply byte by byte, so every
 * byte boundary of the markup is a split point of the stream.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectChatStream } from './openai-stream.js';
import { scriptedLoopback, type Loopback } from './loopback.js';

interface Sample {
  format: string;
  reply: string;
  content: string | null;
  calls: { name: string; arguments: object }[];
}

const PARIS = { city: 'Paris' };
const SAMPLES: Sample[] = [
  {
    format: 'hermes',
    reply: 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    content: 'Let me check.',
    calls: [{ name: 'get_weather', arguments: PARIS }],
  },
  { format: 'llama3', reply: '{"name": "get_weather", "parameters": {"city": "Paris"}}', content: null, calls: [{ name: 'get_weather', arguments: PARIS }] },
  {
    format: 'llama3 python_tag',
    reply: '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_time", "parameters": {}}',
    content: null,
    calls: [
      { name: 'get_weather', arguments: PARIS },
      { name: 'get_time', arguments: {} },
    ],
  },
  {
    format: 'mistral v3',
    reply: 'Checking. [TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time", "arguments": {}}]',
    content: 'Checking.',
    calls: [
      { name: 'get_weather', arguments: PARIS },
      { name: 'get_time', arguments: {} },
    ],
  },
  {
    format: 'mistral v11',
    reply: '[TOOL_CALLS]get_weather[ARGS]{"city": "Zürich"}[TOOL_CALLS]get_time[ARGS]{}',
    content: null,
    calls: [
      { name: 'get_weather', arguments: { city: 'Zürich' } },
      { name: 'get_time', arguments: {} },
    ],
  },
];

const tools: OpenAI.Chat.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
];

let loopback: Loopback;

beforeAll(async () => {
  loopback = await scriptedLoopback((prompt) => SAMPLES.find((s) => prompt.includes(`format ${s.format}.`))?.reply ?? 'No format asked.');
});

afterAll(() => loopback.close());

const ask = (sample: Sample): OpenAI.Chat.ChatCompletionMessageParam[] => [{ role: 'user', content: `Answer in the format ${sample.format}.` }];

describe.each(SAMPLES)('tool calls in the $format format', (sample) => {
  it('come back as tool_calls with finish_reason "tool_calls"', async () => {
    loopback.closeAllJobs();
    const r = await loopback.client.chat.completions.create({ model: 'scripted', messages: ask(sample), tools });
    const choice = r.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe(sample.content);
    const calls = choice.message.tool_calls as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
    expect(calls.map((c) => ({ name: c.function.name, arguments: JSON.parse(c.function.arguments) }))).toEqual(sample.calls);
    expect(new Set(calls.map((c) => c.id)).size).toBe(calls.length);
    // Mistral's templates refuse any other id when the agent sends the calls back.
    if (sample.format.startsWith('mistral')) for (const c of calls) expect(c.id).toMatch(/^[A-Za-z0-9]{9}$/);
  });

  it('streamed: the same content and calls, and no markup in any content delta', async () => {
    loopback.closeAllJobs();
    const stream = await loopback.client.chat.completions.create({ model: 'scripted', messages: ask(sample), tools, stream: true });
    const { deltas, calls, finish } = await collectChatStream(stream);
    expect(finish).toBe('tool_calls');
    expect(deltas.join('')).toBe(sample.content ?? '');
    for (const markup of ['<tool_call>', '[TOOL_CALLS]', '[ARGS]', '<|python_tag|>', '"name"']) {
      for (const d of deltas) expect(d).not.toContain(markup);
    }
    expect(calls.map((c) => ({ name: c.name, arguments: JSON.parse(c.arguments) }))).toEqual(sample.calls);
  });
});
