/**
 * The scripted backend behind the server tests: through a real engine it says its scripted reply,
 * makes Hermes tool calls that the engine parses, sees the whole conversation, and leaves no block
 * behind. Its context comes only from the KV slots the engine's block tables name, so the
 * concurrent and swapping runs below (preemption, prefix-cache hits, swaps) check those tables too.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import type { EngineOptions } from '../../lib/engine/types.js';
import type { Policy } from '../../lib/sched/policy.js';
import { ScriptedChatBackend } from './scripted-backend.js';
import { expectNoLeaks } from '../expect-no-leaks.js';

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const TOOL_CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>';

const engines: Engine[] = [];
function engineWith(backend: ScriptedChatBackend, options: Omit<EngineOptions, 'model'> = {}): Engine {
  const engine = Engine.withBackend(backend, { kvBlocks: 64, ...options });
  engines.push(engine);
  return engine;
}
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

describe('ScriptedChatBackend', () => {
  it('says its scripted reply, then ends the turn', async () => {
    const engine = engineWith(new ScriptedChatBackend({ reply: () => 'Hello there' }));
    const job = engine.createJob();
    const result = await job.generate({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 64 }).done;
    expect(result.text).toBe('Hello there');
    expect(result.finishReason).toBe('stop');
    // One byte per token: 11 characters, then <|im_end|>.
    expect(result.usage.completionTokens).toBe(12);
    job.close();
  });

  it('makes a Hermes tool call and answers from the tool result', async () => {
    const engine = engineWith(new ScriptedChatBackend({ reply: (prompt) => (prompt.includes('"temp": 21') ? 'It is 21 degrees.' : TOOL_CALL) }));
    const job = engine.createJob();
    const messages = [{ role: 'user' as const, content: 'Weather in Paris?' }];
    const call = await job.generate({ messages, tools: [WEATHER_TOOL], maxTokens: 64 }).done;
    expect(call.finishReason).toBe('tool_call');
    expect(call.toolCalls).toHaveLength(1);
    expect(call.toolCalls[0].function.name).toBe('get_weather');
    expect(JSON.parse(call.toolCalls[0].function.arguments)).toEqual({ city: 'Paris' });

    const answer = await job.resume({ toolResult: '{"temp": 21}', maxTokens: 64 }).done;
    expect(answer.text).toBe('It is 21 degrees.');
    expect(answer.finishReason).toBe('stop');
    // The template re-renders the call exactly as generated, so the tool turn extends the
    // context. fcfs releases the KV to the prefix cache at the tool wait; what comes back is the
    // full blocks of the computed tokens (all but the last sampled one, which never ran).
    const computed = call.usage.promptTokens + call.usage.completionTokens - 1;
    expect(answer.usage.cachedPromptTokens).toBe(16 * Math.floor(computed / 16));
    expect(answer.usage.cachedPromptTokens).toBeGreaterThan(0);
    job.close();
  });

  it('keepOpen: a plain reply leaves the job waiting for the next turn with its KV, and the turn resumes it', async () => {
    const reply = (prompt: string) => (prompt.includes('And Rome?') ? 'Rome is warmer.' : 'Paris is mild.');
    const engine = engineWith(new ScriptedChatBackend({ reply }), { policy: 'astraea' });
    const job = engine.createJob();
    const messages = [{ role: 'user' as const, content: 'Weather in Paris?' }];
    const first = await job.generate({ messages, maxTokens: 64, keepOpen: true }).done;
    expect(first.finishReason).toBe('stop'); // the caller sees its own finish reason
    expect(job.state).toBe('tool_wait');
    expect(job.kvDecisions().map((d) => d.action)).toEqual(['preserve']); // nothing waits for memory
    const second = await job.resume({ messages: [...messages, { role: 'assistant', content: first.content }, { role: 'user', content: 'And Rome?' }], maxTokens: 64 }).done;
    expect(second.text).toBe('Rome is warmer.');
    // Everything the first turn computed is reused: its prompt and reply but the last sampled token.
    expect(second.usage.cachedPromptTokens).toBe(first.usage.promptTokens + first.usage.completionTokens - 1);
    job.close();
    // Without keepOpen the same reply ends the job.
    const plain = engine.createJob();
    await plain.generate({ messages, maxTokens: 64 }).done;
    expect(plain.state).toBe('finished');
    expect(() => plain.resume({ messages, maxTokens: 8 })).toThrow(expect.objectContaining({ code: 'JOB_FINISHED' }));
    plain.close();
    expectNoLeaks(engine);
  });

  it('gives the reply function the whole conversation', async () => {
    const prompts: string[] = [];
    const engine = engineWith(new ScriptedChatBackend({ reply: (prompt) => (prompts.push(prompt), 'ok') }));
    const job = engine.createJob();
    const messages = [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: 'Say ok.' },
    ];
    expect((await job.generate({ messages, maxTokens: 8 }).done).text).toBe('ok');
    // The ChatML rendering, written out by hand, up to and including the generation prompt.
    expect(prompts).toEqual(['<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nSay ok.<|im_end|>\n<|im_start|>assistant\n']);
    job.close();
  });

  it('leaves no block behind and is disposed once', async () => {
    const backend = new ScriptedChatBackend({ reply: () => 'Hello there' });
    const engine = engineWith(backend);
    const job = engine.createJob();
    await job.generate({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 64 }).done;
    job.close();
    await engine.close();
    expectNoLeaks(engine);
    expect(backend.disposed).toBe(1);
  });

  it('keeps concurrent conversations apart under preemption and prefix sharing', async () => {
    // Replies are scripted for the exact prompts, written out by hand, so a job that reads any
    // other slot than its own says 'off script'. The system prompt spans 4 blocks that all jobs
    // share; 8 jobs of ~9 blocks on 20 blocks: some must be preempted and recomputed.
    const system = 'You repeat what the user said, politely and in full.';
    const script = new Map(
      Array.from({ length: 8 }, (_, i) => [
        `<|im_start|>system\n${system}<|im_end|>\n<|im_start|>user\nnumber ${i}<|im_end|>\n<|im_start|>assistant\n`,
        `You said number ${i}, and that is a fine thing to say.`,
      ]),
    );
    const engine = engineWith(new ScriptedChatBackend({ reply: (prompt) => script.get(prompt) ?? 'off script' }), { kvBlocks: 20, maxBatchTokens: 64 });
    const said = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const job = engine.createJob();
        const messages = [
          { role: 'system' as const, content: system },
          { role: 'user' as const, content: `number ${i}` },
        ];
        const result = await job.generate({ messages, maxTokens: 64 }).done;
        job.close();
        return result.text;
      }),
    );
    expect(said).toEqual([...script.values()]);
    const stats = engine.stats();
    expect(stats.preemptions).toBeGreaterThan(0);
    expect(stats.kv.prefixHitTokens).toBeGreaterThan(0);
    expectNoLeaks(engine);
  });

  it('reads a conversation back after its KV was swapped out and its device blocks reused', async () => {
    // Every tool wait swaps to the host pool. While A waits, B's turn takes most of the 12 device
    // blocks, A's old ones among them: A's resumed turn reads its history only through the
    // swap-in (with the swap-in skipped, its prompt is off script).
    const swapAtToolWait: Policy = { name: 'always-swap', preemption: 'swap', order: (c) => [...c], onToolWait: () => 'swap' };
    const paris = '<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n';
    const long = '<|im_start|>user\nTell me something long.<|im_end|>\n<|im_start|>assistant\n';
    const toolTurn = `${TOOL_CALL}<|im_end|>\n<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response><|im_end|>\n<|im_start|>assistant\n`;
    const script = new Map([
      [paris, TOOL_CALL],
      [long, 'A long answer that fills most of the small KV pool with its many tokens.'],
      [paris + toolTurn, 'It is 21 degrees.'],
    ]);
    const engine = engineWith(new ScriptedChatBackend({ reply: (prompt) => script.get(prompt) ?? 'off script' }), { policy: swapAtToolWait, kvBlocks: 12, hostBlocks: 12 });
    const a = engine.createJob();
    const call = await a.generate({ messages: [{ role: 'user', content: 'Weather in Paris?' }], maxTokens: 96 }).done;
    expect(call.finishReason).toBe('tool_call');
    const b = engine.createJob();
    const other = await b.generate({ messages: [{ role: 'user', content: 'Tell me something long.' }], maxTokens: 80 }).done;
    expect(other.text).toBe(script.get(long));
    b.close();
    const answer = await a.resume({ toolResult: '{"temp": 21}', maxTokens: 24 }).done;
    expect(answer.text).toBe('It is 21 degrees.');
    // Nothing recomputed: every token computed before the tool wait came back from the host.
    expect(answer.usage.cachedPromptTokens).toBe(call.usage.promptTokens + call.usage.completionTokens - 1);
    expect(engine.stats().kvTraffic.swapInBytes).toBeGreaterThan(0);
    a.close();
    expectNoLeaks(engine);
  });
});
