/**
 * A hint never refuses a call. Through the official openai client against the scripted model
 * (which reads every context back from the blocks the engine names, so a wrong shared block or a
 * missing copy gives a wrong reply): concurrent calls sharing a `prompt_cache_key` or a session
 * token all succeed with the replies they get one at a time; calls that extend one busy job fork
 * it and share its KV; the engine schedules each hint's calls as one group; metrics count both.
 */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildByteLevelTokenizer } from '../../lib/model/byte-tokenizer-files.js';
import { Tokenizer } from '../../lib/model/tokenizer.js';
import { scriptedLoopback, type Loopback } from './loopback.js';

/** The script: a subagent answers its own task; a weather tool result is read back. */
function reply(prompt: string): string {
  const temp = /"temp": (\d+)/.exec(prompt);
  if (temp) return `It is ${temp[1]} degrees.`;
  if (prompt.includes('weather')) return '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>';
  const task = [...prompt.matchAll(/task (\d+)/g)].at(-1);
  return task ? `Done with task ${task[1]}.` : 'Hello there';
}

const SYSTEM = { role: 'system' as const, content: `You are one of many subagents. ${'Follow the house rules. '.repeat(20)}` };
const task = (i: number): OpenAI.Chat.ChatCompletionMessageParam[] => [SYSTEM, { role: 'user', content: `Please do task ${i}.` }];
const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }];

let loopback: Loopback;
beforeAll(async () => {
  loopback = await scriptedLoopback(reply);
});
afterAll(() => loopback.close());

/** Prompt tokens two rendered conversations share, in whole blocks of 16 (what the prefix cache can serve). */
function sharedBlockTokens(a: OpenAI.Chat.ChatCompletionMessageParam[], b: OpenAI.Chat.ChatCompletionMessageParam[]): number {
  const files = buildByteLevelTokenizer({ vocabSize: 512 });
  const tokenizer = Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);
  const render = (m: OpenAI.Chat.ChatCompletionMessageParam[]) =>
    tokenizer.encode(tokenizer.applyChatTemplate(m as never, { addGenerationPrompt: true }), { addSpecialTokens: false });
  const [x, y] = [render(a), render(b)];
  let same = 0;
  while (same < x.length && x[same] === y[same]) same++;
  return Math.floor(same / 16) * 16;
}

describe('hints group calls, they never lock them', () => {
  it('16 concurrent calls with one prompt_cache_key all succeed, as they do one at a time, sharing the prefix', async () => {
    const { client, engine } = loopback;
    loopback.closeAllJobs();
    const solo: string[] = [];
    for (let i = 0; i < 16; i++) solo.push((await client.chat.completions.create({ model: 'scripted', messages: task(i) })).choices[0].message.content!);
    loopback.closeAllJobs();
    expect(solo[3]).toBe('Done with task 3.');

    const key = { prompt_cache_key: 'subagent-template' };
    await client.chat.completions.create({ model: 'scripted', messages: task(100), ...key }); // computes the shared prefix once
    const replies = await Promise.all(Array.from({ length: 16 }, (_, i) => client.chat.completions.create({ model: 'scripted', messages: task(i), ...key })));
    expect(replies.map((r) => r.choices[0].message.content)).toEqual(solo);
    const shared = sharedBlockTokens(task(0), task(1));
    expect(shared).toBeGreaterThanOrEqual(160);
    for (const r of replies) expect(r.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThanOrEqual(shared);
    // Seventeen jobs, each its own conversation, scheduled as one group.
    const ids = new Set(replies.map((r) => (r as unknown as { job_id: string }).job_id));
    expect(ids.size).toBe(16);
    expect(engine.stats().jobs).toMatchObject({ open: 17, groups: 1 });
    expect(await loopback.metric(/astraea_job_groups\{model_name="scripted"\}/)).toBe(1);
    loopback.closeAllJobs();
    expect(engine.stats().jobs.groups).toBe(0);
  });

  it('parallel calls on one session token that extend one job fork it, and each reads its own tool result', async () => {
    const { client, engine } = loopback;
    loopback.closeAllJobs();
    const session = { headers: { 'x-session-token': 'agent-run-7' } };
    const ask: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in four cities?' }];
    const first = await client.chat.completions.create({ model: 'scripted', messages: ask, tools }, session);
    const call = first.choices[0].message;
    expect(call.tool_calls).toHaveLength(1);
    const forksBefore = engine.stats().forks.jobs;
    // Four parallel branches, each with its own tool result: one resumes the job, three fork it.
    const branches = await Promise.all(
      [11, 12, 13, 14].map((t) =>
        client.chat.completions.create(
          { model: 'scripted', tools, messages: [...ask, call, { role: 'tool', tool_call_id: call.tool_calls![0].id, content: `{"temp": ${t}}` }] },
          session,
        ),
      ),
    );
    expect(branches.map((b) => b.choices[0].message.content)).toEqual(['It is 11 degrees.', 'It is 12 degrees.', 'It is 13 degrees.', 'It is 14 degrees.']);
    const jobIds = branches.map((b) => (b as unknown as { job_id: string }).job_id);
    expect(jobIds).toContain((first as unknown as { job_id: string }).job_id);
    expect(new Set(jobIds).size).toBe(4);
    const stats = engine.stats();
    expect(stats.forks.jobs - forksBefore).toBe(3);
    expect(stats.forks.sharedTokens).toBeGreaterThan(0);
    expect(stats.jobs).toMatchObject({ open: 4, groups: 1 }); // the fan-out is one job to the scheduler
    expect(await loopback.metric(/astraea_job_forks_total\{model_name="scripted"\}/)).toBe(stats.forks.jobs);
    loopback.closeAllJobs();
    expect(engine.stats().kv.ownedBlocks).toBe(0);
    engine.checkInvariants();
  });

  it('a call that extends no job of its hint starts a new job in the group, replacing no one’s context', async () => {
    const { client, engine } = loopback;
    loopback.closeAllJobs();
    const key = { prompt_cache_key: 'k' };
    const a = await client.chat.completions.create({ model: 'scripted', messages: task(1), ...key });
    const b = await client.chat.completions.create({ model: 'scripted', messages: task(2), ...key });
    expect((b as unknown as { job_id: string }).job_id).not.toBe((a as unknown as { job_id: string }).job_id);
    // The first job's context was not replaced: a call extending it still joins it.
    const next = await client.chat.completions.create({ model: 'scripted', messages: [...task(1), a.choices[0].message, { role: 'user', content: 'And task 3?' }], ...key });
    expect((next as unknown as { job_id: string }).job_id).toBe((a as unknown as { job_id: string }).job_id);
    expect(next.choices[0].message.content).toBe('Done with task 3.');
    // The same conversation under another hint is another group's: it does not join.
    const other = await client.chat.completions.create({ model: 'scripted', messages: [...task(1), a.choices[0].message, { role: 'user', content: 'And task 4?' }], prompt_cache_key: 'other' });
    expect((other as unknown as { job_id: string }).job_id).not.toBe((a as unknown as { job_id: string }).job_id);
    expect(engine.stats().jobs.groups).toBe(2);
    loopback.closeAllJobs();
  });
});
