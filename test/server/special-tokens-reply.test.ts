/**
 * Special tokens never reach a reply's text (skip_special_tokens, default true), streamed or not,
 * chat and completions, while tool-call markers that are special tokens still reach the parsers.
 * The model is the scripted assistant (./scripted-backend.ts): a script's special tokens are
 * encoded as their single ids, so the engine generates them mid-text as a model would. Tokenizers:
 * the byte-level one (`<|reserved_3|>`, `<|pad|>` are special), the same with Mistral's
 * `[TOOL_CALLS]` and `[ARGS]` and Llama 3.1's `<|python_tag|>` as special tokens, and the real
 * Qwen3 one. Expected replies are the scripts with the special tokens' text taken out by hand.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildByteLevelTokenizer } from '../../lib/model/byte-tokenizer-files.js';
import { Tokenizer } from '../../lib/model/tokenizer.js';
import { expectNoLeaks } from '../expect-no-leaks.js';
import { realTokenizerFiles } from '../fixtures/real-tokenizers.js';
import { collectChatStream } from './openai-stream.js';
import { scriptedLoopback, type Loopback } from './loopback.js';

const SCRIPTS: Record<string, string> = {
  'plain': 'Hello<|reserved_3|> there<|pad|>!',
  'mistral v3': 'Checking.<|reserved_9|> [TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}]',
  'mistral v11': '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]get_time[ARGS]{}',
  'mistral broken': 'Oops [TOOL_CALLS] no call here',
  'llama python_tag': '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}',
  'llama broken': 'Sure.<|python_tag|> Later.',
  'qwen plain': 'Hi<|endoftext|> there<|box_start|>!',
  'qwen call': 'Let me check.<|vision_pad|>\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
};
const script = (prompt: string) => Object.entries(SCRIPTS).find(([name]) => prompt.includes(`script ${name}.`))?.[1] ?? 'No script.';

/** The byte-level tokenizer with Mistral's and Llama 3.1's markers as special added tokens (in place of reserved ones). */
function markerTokenizer(): Tokenizer {
  const files = buildByteLevelTokenizer({ vocabSize: 512 });
  const added = (files.tokenizerJson as { added_tokens: { id: number; content: string; special: boolean }[] }).added_tokens;
  for (const token of added) {
    if (token.content === '<|reserved_0|>') token.content = '[TOOL_CALLS]';
    if (token.content === '<|reserved_1|>') token.content = '[ARGS]';
    if (token.content === '<|reserved_2|>') token.content = '<|python_tag|>';
  }
  return Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);
}

function qwen3Tokenizer(): Tokenizer {
  const files = realTokenizerFiles('qwen3');
  return Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);
}

const tools: OpenAI.Chat.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
];

interface Reply {
  content: string | null;
  calls: { name: string; arguments: object }[];
  finish: string | null;
  jobId?: string;
}

async function chat(loopback: Loopback, name: string, extra: object = {}): Promise<Reply> {
  const r = await loopback.client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: `Run script ${name}.` }], tools, ...extra } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
  const calls = (r.choices[0].message.tool_calls ?? []) as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
  return { content: r.choices[0].message.content, calls: calls.map((c) => ({ name: c.function.name, arguments: JSON.parse(c.function.arguments) })), finish: r.choices[0].finish_reason, jobId: (r as unknown as { job_id: string }).job_id };
}

/** The streamed reply, and every content delta (none may hold a special token's text). */
async function chatStream(loopback: Loopback, name: string, extra: object = {}): Promise<Reply & { deltas: string[] }> {
  const stream = await loopback.client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: `Run script ${name}.` }], tools, stream: true, ...extra } as OpenAI.Chat.ChatCompletionCreateParamsStreaming);
  const { deltas, calls, finish } = await collectChatStream(stream);
  return { deltas, content: deltas.length > 0 ? deltas.join('') : null, calls: calls.map((c) => ({ name: c.name, arguments: JSON.parse(c.arguments) })), finish };
}

const PARIS = { name: 'get_weather', arguments: { city: 'Paris' } };

describe('the byte-level tokenizer: reserved and pad tokens mid-text', () => {
  let loopback: Loopback;
  beforeAll(async () => {
    loopback = await scriptedLoopback(script);
  });
  afterAll(() => loopback.close());

  it('chat: content without them, streamed and not; skip_special_tokens false keeps them', async () => {
    const t = loopback.engine.tokenizer!;
    expect(t.isSpecialId(t.tokenId('<|reserved_3|>')!) && t.isSpecialId(t.tokenId('<|pad|>')!)).toBe(true);
    expect((await chat(loopback, 'plain')).content).toBe('Hello there!');
    const streamed = await chatStream(loopback, 'plain');
    expect(streamed.content).toBe('Hello there!');
    for (const d of streamed.deltas) expect(d).not.toMatch(/<\||\|>/);
    expect((await chat(loopback, 'plain', { skip_special_tokens: false })).content).toBe('Hello<|reserved_3|> there<|pad|>!');
    expect((await chatStream(loopback, 'plain', { skip_special_tokens: false })).content).toBe('Hello<|reserved_3|> there<|pad|>!');
    expect((await chat(loopback, 'plain', { skip_special_tokens: true })).content).toBe('Hello there!');
  });

  it('completions: the text without them, streamed and not', async () => {
    // A ChatML prompt, so the scripted model plays its script on a raw completion too.
    const prompt = '<|im_start|>user\nRun script plain.<|im_end|>\n<|im_start|>assistant\n';
    const base = { model: 'scripted', prompt, max_tokens: 64 };
    expect((await loopback.client.completions.create(base)).choices[0].text).toBe('Hello there!');
    const stream = await loopback.client.completions.create({ ...base, stream: true });
    const pieces: string[] = [];
    for await (const chunk of stream) if (chunk.choices[0]?.text) pieces.push(chunk.choices[0].text);
    expect(pieces.join('')).toBe('Hello there!');
    for (const p of pieces) expect(p).not.toMatch(/<\||\|>/);
    expect((await loopback.client.completions.create({ ...base, skip_special_tokens: false } as never)).choices[0].text).toBe('Hello<|reserved_3|> there<|pad|>!');
  });

  it('the reply as the client got it extends the job: sent back, the next call joins the same job', async () => {
    loopback.closeAllJobs();
    const first = await chat(loopback, 'plain');
    const r = await loopback.client.chat.completions.create({
      model: 'scripted',
      tools,
      messages: [
        { role: 'user', content: 'Run script plain.' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: 'Again.' },
      ],
    });
    expect((r as unknown as { job_id: string }).job_id).toBe(first.jobId);
  });

  it('skip_special_tokens that is not a boolean is a 400 naming it', async () => {
    for (const call of [
      loopback.client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'x' }], skip_special_tokens: 'yes' } as never),
      loopback.client.completions.create({ model: 'scripted', prompt: 'x', skip_special_tokens: 1 } as never),
    ]) {
      const error = await call.then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('body.skip_special_tokens');
    }
    loopback.closeAllJobs();
    expectNoLeaks(loopback.engine);
  });
});

describe("tool-call markers as special tokens: Mistral's [TOOL_CALLS] and [ARGS], Llama 3.1's <|python_tag|>", () => {
  let loopback: Loopback;
  beforeAll(async () => {
    loopback = await scriptedLoopback(script, { tokenizer: markerTokenizer() });
  });
  afterAll(() => loopback.close());

  it('are single special ids', () => {
    const t = loopback.engine.tokenizer!;
    for (const marker of ['[TOOL_CALLS]', '[ARGS]', '<|python_tag|>']) {
      const ids = t.encode(marker, { addSpecialTokens: false });
      expect(ids).toHaveLength(1);
      expect(t.isSpecialId(ids[0])).toBe(true);
    }
  });

  it.each([
    ['mistral v3', 'Checking.', [PARIS]],
    ['mistral v11', null, [PARIS, { name: 'get_time', arguments: {} }]],
    ['llama python_tag', null, [PARIS]],
  ] as const)('%s: the calls are still found, and the content has no special token', async (name, content, calls) => {
    for (const reply of [await chat(loopback, name), await chatStream(loopback, name)]) {
      expect(reply.finish).toBe('tool_calls');
      expect(reply.content).toBe(content);
      expect(reply.calls).toEqual(calls);
    }
  });

  it('a marker that starts no call is content, less the marker, streamed and not', async () => {
    for (const reply of [await chat(loopback, 'mistral broken'), await chatStream(loopback, 'mistral broken')]) {
      expect(reply.finish).toBe('stop');
      expect(reply.calls).toEqual([]);
      expect(reply.content).toBe('Oops  no call here');
    }
    expect((await chat(loopback, 'mistral broken', { skip_special_tokens: false })).content).toBe('Oops [TOOL_CALLS] no call here');
    for (const reply of [await chat(loopback, 'llama broken'), await chatStream(loopback, 'llama broken')]) {
      expect(reply.calls).toEqual([]);
      expect(reply.content).toBe('Sure. Later.');
    }
    loopback.closeAllJobs();
    expectNoLeaks(loopback.engine);
  });
});

describe('the real Qwen3 tokenizer', () => {
  let loopback: Loopback;
  beforeAll(async () => {
    loopback = await scriptedLoopback(script, { tokenizer: qwen3Tokenizer() });
  });
  afterAll(() => loopback.close());

  it('special ids mid-text are not in the content, streamed and not', async () => {
    expect((await chat(loopback, 'qwen plain')).content).toBe('Hi there!');
    const streamed = await chatStream(loopback, 'qwen plain');
    expect(streamed.content).toBe('Hi there!');
    for (const d of streamed.deltas) expect(d).not.toMatch(/<\||\|>/);
  });

  it('a Hermes call after a special id: the call, and the content before it without the special', async () => {
    for (const reply of [await chat(loopback, 'qwen call'), await chatStream(loopback, 'qwen call')]) {
      expect(reply.finish).toBe('tool_calls');
      expect(reply.content).toBe('Let me check.');
      expect(reply.calls).toEqual([PARIS]);
    }
    loopback.closeAllJobs();
    expectNoLeaks(loopback.engine);
  });
});
