/**
 * Logprobs and the sampling fields over HTTP, through the official openai client, on the tiny
 * model (random weights, the byte tokenizer). Every expected value comes from the model run alone:
 * each position's context prefilled on its own through the native step, its logits through the
 * plain TypeScript sampler of test/reference (the token drawn, the log softmax, the best ids), and
 * each token's text and bytes from the byte tokenizer's layout (ids 0–255 are the bytes; added
 * tokens are their content).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { loadModel, type LoadedModel } from '../../lib/model/load.js';
import { buildStepPlan } from '../../lib/native/plan.js';
import type { NativeKvCache } from '../../lib/native/types.js';
import { buildServer, type AstraeaServer } from '../../lib/server/app.js';
import { choiceSeeds } from '../../lib/server/request-fields.js';
import { expectNoLeaks } from '../expect-no-leaks.js';
import { until } from './loopback.js';
import { referenceLogprobs, referenceSample, referenceTopLogprobs, type ReferenceSampling } from '../reference/sampler-reference.js';

let engine: Engine;
let server: AstraeaServer;
let client: OpenAI;
let model: LoadedModel;
let cache: NativeKvCache;

beforeAll(async () => {
  engine = await Engine.create({ model: 'tiny', kvBlocks: 128, blockSize: 16 });
  server = buildServer(engine, { modelName: 'tiny' });
  const address = await server.app.listen({ port: 0, host: '127.0.0.1' });
  client = new OpenAI({ baseURL: `${address}/v1`, apiKey: 'none', maxRetries: 0 });
  model = await loadModel({ model: 'tiny' });
  cache = model.native.createKvCache({ blockSize: 16, deviceBlocks: 8 });
});

afterAll(async () => {
  await server.app.close();
  await engine.close();
  cache.dispose();
  model.dispose();
});

/** Fields the openai types do not know (vLLM's), sent in the body as they are. */
type Extra = Record<string, unknown>;

interface ReferenceStep {
  token: number;
  logprobs: Map<number, number>;
  top: { id: number; logprob: number }[];
}

/** The reference run: `count` tokens drawn after `prompt`, each from its context prefilled alone. */
async function referenceRun(prompt: number[], sampling: ReferenceSampling, count: number, topN: number): Promise<ReferenceStep[]> {
  const steps: ReferenceStep[] = [];
  const generated: number[] = [];
  for (let k = 0; k < count; k++) {
    const context = [...prompt, ...generated];
    const result = await model.native.step(cache, buildStepPlan({ sequences: [{ tokens: context, startPosition: 0, blocks: [0, 1, 2, 3, 4, 5, 6, 7] }], logits: 'last' }));
    const options = { ...sampling, sampleable: engine.tokenizer!.vocabSize, outputTokens: [...generated] };
    const token = referenceSample(result.logits!, options, context.length);
    steps.push({ token, logprobs: referenceLogprobs(result.logits!, options), top: referenceTopLogprobs(result.logits!, options, topN) });
    generated.push(token);
  }
  return steps;
}

/** A byte token's bytes are its id; an added token's are its content's UTF-8. */
function bytesOf(id: number): number[] {
  return id < 256 ? [id] : [...Buffer.from(engine.tokenizer!.decode([id]), 'utf8')];
}
const textOf = (id: number) => new TextDecoder().decode(Uint8Array.from(bytesOf(id)));

/**
 * A reply's text by hand (skip_special_tokens, the default): the byte tokens' bytes through one
 * UTF-8 decoder; an added token ends a held, unfinished character (U+FFFD, as the engine's decoder
 * does) and adds its content unless the tokenizer flags it special.
 */
function replyText(ids: readonly number[]): string {
  const utf8 = new TextDecoder('utf-8');
  let out = '';
  for (const id of ids) {
    if (id < 256) {
      out += utf8.decode(Uint8Array.of(id), { stream: true });
    } else {
      out += utf8.decode();
      if (!engine.tokenizer!.isSpecialId(id)) out += textOf(id);
    }
  }
  return out + utf8.decode();
}
/**
 * `expected` with every number replaced by "within float rounding of it". The forward pass is not
 * batch-invariant (a step of one token runs the GEMV, a step of several the blocked matmul, which
 * sums in another order), and how a call's choices share steps depends on timing: two runs of one
 * seeded request draw the same tokens but may differ in a logprob's last float bits.
 */
function roundingOf<T>(expected: T): T {
  if (typeof expected === 'number') return expect.closeTo(expected, 5) as T;
  if (Array.isArray(expected)) return expected.map(roundingOf) as T;
  if (expected && typeof expected === 'object') return Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, roundingOf(v)])) as T;
  return expected;
}
const isSpecialEntry = (e: { token: string }) => engine.tokenizer!.isSpecialId(engine.tokenizer!.tokenId(e.token) ?? -1);

const chatPrompt = (content: string) =>
  engine.tokenizer!.encode(engine.tokenizer!.applyChatTemplate([{ role: 'user', content }], { addGenerationPrompt: true }), { addSpecialTokens: false });

function closeAndCheck(): void {
  server.context.jobs.expire(Infinity);
  expectNoLeaks(engine);
}

describe('chat logprobs', () => {
  it('equal the log softmax of the model\'s logits for each content token, with top_logprobs best first', async () => {
    const sampling = { temperature: 0.8, seed: 11 };
    const expected = await referenceRun(chatPrompt('Tell me a story.'), sampling, 8, 4);
    const r = await client.chat.completions.create({
      model: 'tiny', messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 8, ...sampling, logprobs: true, top_logprobs: 4,
      ...({ ignore_eos: true } as Extra),
    });
    const content = r.choices[0].logprobs!.content!;
    // The reply is plain text (no leading whitespace, no tool markup), so every token is content,
    // special ones too: their entries keep their text, which the content itself drops.
    expect(r.choices[0].message.content).toBe(replyText(expected.map((s) => s.token)));
    expect(expected.some((s) => engine.tokenizer!.isSpecialId(s.token))).toBe(true); // so the above dropped some
    expect(content).toHaveLength(8);
    content.forEach((entry, k) => {
      const { token, logprobs, top } = expected[k];
      expect(entry.bytes).toEqual(bytesOf(token));
      expect(entry.token).toBe(textOf(token));
      expect(entry.logprob).toBeCloseTo(logprobs.get(token)!, 4);
      expect(entry.top_logprobs).toHaveLength(4);
      expect(entry.top_logprobs.map((t) => t.bytes)).toEqual(top.map((t) => bytesOf(t.id)));
      entry.top_logprobs.forEach((t, i) => expect(t.logprob).toBeCloseTo(top[i].logprob, 4));
      for (let i = 1; i < 4; i++) expect(entry.top_logprobs[i].logprob).toBeLessThanOrEqual(entry.top_logprobs[i - 1].logprob);
    });
    closeAndCheck();
  });

  it('streamed, the chunks\' logprobs concatenated equal the non-streamed call\'s; each chunk\'s cover its own text', async () => {
    const request = {
      model: 'tiny', messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 12, temperature: 1.3, seed: 5, logprobs: true, top_logprobs: 2,
      ...({ ignore_eos: true } as Extra),
    };
    const whole = await client.chat.completions.create(request);
    const stream = await client.chat.completions.create({ ...request, stream: true });
    const streamed: OpenAI.Chat.ChatCompletionTokenLogprob[] = [];
    let text = '';
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      const entries = choice.logprobs?.content ?? [];
      // A chunk's tokens' bytes, less the special ones', decode to the text it carries (this reply
      // has no split characters).
      if (entries.length > 0) expect(Buffer.from(entries.filter((e) => !isSpecialEntry(e)).flatMap((e) => e.bytes!)).toString('utf8')).toBe(choice.delta.content ?? '');
      streamed.push(...entries);
      text += choice.delta.content ?? '';
    }
    expect(text).toBe(whole.choices[0].message.content);
    expect(streamed).toEqual(roundingOf(whole.choices[0].logprobs!.content));
    expect(streamed).toHaveLength(12);
    closeAndCheck();
  });

  it('without logprobs the choice has none', async () => {
    const r = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, temperature: 0 });
    expect(r.choices[0].logprobs).toBeNull();
    closeAndCheck();
  });
});

describe('completion logprobs (the legacy shape)', () => {
  it('logprobs: k gives the sampled token\'s log-probability, k alternatives by text, and text offsets', async () => {
    const prompt = engine.tokenizer!.encode('Hello');
    const sampling = { temperature: 0 };
    const expected = await referenceRun(prompt, sampling, 6, 3);
    const r = await client.completions.create({ model: 'tiny', prompt, max_tokens: 6, ...sampling, logprobs: 3, ...({ ignore_eos: true } as Extra) });
    const lp = r.choices[0].logprobs!;
    expect(lp.tokens).toEqual(expected.map((s) => textOf(s.token)));
    lp.token_logprobs!.forEach((v, k) => expect(v).toBeCloseTo(expected[k].logprobs.get(expected[k].token)!, 4));
    lp.top_logprobs!.forEach((top, k) => {
      // Alternatives with one text (two bytes that each only start a character) share a key: the likelier one's.
      const want = new Map<string, number>();
      for (const t of expected[k].top) if (!want.has(textOf(t.id))) want.set(textOf(t.id), t.logprob);
      expect(Object.keys(top).sort()).toEqual([...want.keys()].sort());
      for (const [key, value] of want) expect(top[key]).toBeCloseTo(value, 4);
    });
    expect(r.choices[0].text).toBe(replyText(expected.map((s) => s.token)));
    // Each token's text starts where the text released before it ends (a UTF-8 decoder fed the
    // bytes one token at a time): a byte that only starts a character starts where it does. The
    // offsets count characters of the returned text, which has no special token's: a special one
    // releases only the character it interrupted.
    const utf8 = new TextDecoder('utf-8');
    let released = 0;
    expected.forEach((s, k) => {
      expect(lp.text_offset![k]).toBe(released);
      if (s.token < 256) released += utf8.decode(Uint8Array.of(s.token), { stream: true }).length;
      else released += utf8.decode().length + (engine.tokenizer!.isSpecialId(s.token) ? 0 : textOf(s.token).length);
    });
    expect(expected.some((s, k) => k < 5 && engine.tokenizer!.isSpecialId(s.token))).toBe(true); // so offsets after it moved
    closeAndCheck();
  });

  it('streamed: the chunks\' legacy logprobs concatenated equal the non-streamed call\'s', async () => {
    const request = { model: 'tiny', prompt: 'abc', max_tokens: 10, temperature: 1.1, seed: 9, logprobs: 2, ...({ ignore_eos: true } as Extra) };
    const whole = (await client.completions.create(request)).choices[0].logprobs!;
    const stream = await client.completions.create({ ...request, stream: true });
    const joined = { tokens: [] as string[], token_logprobs: [] as number[], top_logprobs: [] as object[], text_offset: [] as number[] };
    for await (const chunk of stream) {
      const lp = chunk.choices[0]?.logprobs;
      if (!lp) continue;
      joined.tokens.push(...lp.tokens!);
      joined.token_logprobs.push(...lp.token_logprobs!);
      joined.top_logprobs.push(...lp.top_logprobs!);
      joined.text_offset.push(...lp.text_offset!);
    }
    expect(joined).toEqual(whole);
    expect(joined.tokens).toHaveLength(10);
    closeAndCheck();
  });
});

describe('sampling fields', () => {
  it('penalties, top_k and min_p draw what the reference sampler draws on a fixed seed, and change the output', async () => {
    const prompt = engine.tokenizer!.encode('abc');
    const plain = { temperature: 0.9, seed: 7 };
    const penalised = { ...plain, presence_penalty: 1, frequency_penalty: 1.5, top_k: 20, min_p: 0.05 };
    const expectedPlain = await referenceRun(prompt, plain, 10, 0);
    const expectedPenalised = await referenceRun(prompt, { ...plain, presencePenalty: 1, frequencyPenalty: 1.5, topK: 20, minP: 0.05 }, 10, 0);
    const decode = (steps: ReferenceStep[]) => replyText(steps.map((s) => s.token));
    expect(decode(expectedPenalised)).not.toBe(decode(expectedPlain));
    const a = await client.completions.create({ model: 'tiny', prompt, max_tokens: 10, ...plain, ...({ ignore_eos: true } as Extra) });
    const b = await client.completions.create({ model: 'tiny', prompt, max_tokens: 10, ...penalised, ...({ ignore_eos: true } as Extra) });
    expect(a.choices[0].text).toBe(decode(expectedPlain));
    expect(b.choices[0].text).toBe(decode(expectedPenalised));
    // The same through chat: the fields reach the engine there too.
    const chat = await client.chat.completions.create({
      model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10, ...plain, presence_penalty: 2, frequency_penalty: -1,
      ...({ ignore_eos: true, top_k: 5 } as Extra), logprobs: true,
    });
    const expectedChat = await referenceRun(chatPrompt('hi'), { ...plain, presencePenalty: 2, frequencyPenalty: -1, topK: 5 }, 10, 0);
    expect(chat.choices[0].logprobs!.content!.map((e) => e.bytes)).toEqual(expectedChat.map((s) => bytesOf(s.token)));
    closeAndCheck();
  });
});

describe('n choices (completions)', () => {
  // 40 tokens: two full blocks of 16 that the forks can take instead of computing, and 8 more.
  const prompt = Array.from({ length: 40 }, (_, i) => (i * 7) % 250);
  const request = { model: 'tiny', prompt, max_tokens: 6, temperature: 1, seed: 7, n: 3, logprobs: 1, ...({ ignore_eos: true } as Extra) };

  it('n = 3 with a seed: choice i draws what the reference draws with seed + i; usage counts the prompt once; forks share it; no leaks', async () => {
    const before = engine.stats();
    const r = await client.completions.create(request);
    const after = engine.stats();
    expect(r.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    // The prompt is computed once; each fork computes at most the 8 tokens past its full blocks.
    expect(after.tokens.prefill - before.tokens.prefill).toBeLessThanOrEqual(40 + 2 * 8);
    for (const [i, c] of r.choices.entries()) {
      const expected = await referenceRun(prompt, { temperature: 1, seed: 7 + i }, 6, 1);
      expect(c.text).toBe(replyText(expected.map((s) => s.token)));
      c.logprobs!.token_logprobs!.forEach((v, k) => expect(v).toBeCloseTo(expected[k].logprobs.get(expected[k].token)!, 4));
    }
    expect(r.usage).toMatchObject({ prompt_tokens: prompt.length, completion_tokens: 18, total_tokens: prompt.length + 18 });
    expect(after.forks.jobs - before.forks.jobs).toBe(2);
    // Choice 0 is the n = 1 call with the same seed.
    const single = await client.completions.create({ ...request, n: 1 });
    expect(single.choices[0].text).toBe(r.choices[0].text);
    closeAndCheck();
  });

  it('streamed: chunks name their choice; each choice\'s text and logprobs equal the non-streamed call\'s; usage sums them', async () => {
    const whole = await client.completions.create(request);
    const stream = await client.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    const text = ['', '', ''];
    const tokenLogprobs: number[][] = [[], [], []];
    const finishes: (string | null)[] = [null, null, null];
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        text[c.index] += c.text;
        tokenLogprobs[c.index].push(...(c.logprobs?.token_logprobs ?? []));
        finishes[c.index] = c.finish_reason ?? finishes[c.index];
      }
    }
    expect(text).toEqual(whole.choices.map((c) => c.text));
    expect(tokenLogprobs).toEqual(roundingOf(whole.choices.map((c) => c.logprobs!.token_logprobs)));
    expect(finishes).toEqual(['length', 'length', 'length']);
    expect(usage).toMatchObject({ prompt_tokens: prompt.length, completion_tokens: 18 });
    closeAndCheck();
  });

  it('a client that goes away mid-stream cancels every choice; the forks\' KV is freed', async () => {
    const decodedBefore = engine.stats().tokens.decode;
    const controller = new AbortController();
    const stream = await client.completions.create({ ...request, max_tokens: 400, stream: true }, { signal: controller.signal });
    let chunks = 0;
    try {
      for await (const _chunk of stream) if (++chunks === 3) controller.abort();
    } catch {
      // The client may end the iteration or throw its abort error: either way it went away.
    }
    await until(() => engine.stats().jobs.open === 0);
    expectNoLeaks(engine);
    // All three stopped early: far fewer than their 3 × 400 tokens were generated.
    expect(engine.stats().tokens.decode - decodedBefore).toBeLessThan(600);
  });

  it('seeds: the call\'s plus the index; without one, a random base, so the choices (and calls) differ', () => {
    expect(choiceSeeds(7, 3)).toEqual([7, 8, 9]);
    // One choice without a seed draws afresh too (the engine's default seed would repeat every call).
    const single = Array.from({ length: 20 }, () => choiceSeeds(undefined, 1));
    for (const seeds of single) expect(seeds).toHaveLength(1);
    expect(new Set(single.map(([s]) => s)).size).toBeGreaterThan(1);
    const [a, b, c] = choiceSeeds(undefined, 3) as number[];
    expect(Number.isInteger(a)).toBe(true);
    expect([b, c]).toEqual([a + 1, a + 2]);
  });
});

describe('n choices (chat)', () => {
  const messages = [{ role: 'user' as const, content: 'Tell me a story.' }];
  const request = { model: 'tiny', messages, max_tokens: 6, temperature: 1, seed: 3, n: 2, logprobs: true, ...({ ignore_eos: true } as Extra) };

  it('n = 2: choice i draws the reference\'s tokens with seed + i, streamed and not; usage sums; no leaks', async () => {
    const forksBefore = engine.stats().forks.jobs;
    const r = await client.chat.completions.create(request);
    expect(r.choices.map((c) => c.index)).toEqual([0, 1]);
    for (const [i, c] of r.choices.entries()) {
      const expected = await referenceRun(chatPrompt('Tell me a story.'), { temperature: 1, seed: 3 + i }, 6, 0);
      expect(c.logprobs!.content!.map((e) => e.bytes)).toEqual(expected.map((s) => bytesOf(s.token)));
      expect(c.message.content).toBe(replyText(expected.map((s) => s.token)) || null);
    }
    expect(r.choices[0].message.content).not.toBe(r.choices[1].message.content);
    expect(r.usage).toMatchObject({ prompt_tokens: chatPrompt('Tell me a story.').length, completion_tokens: 12 });
    expect(engine.stats().forks.jobs - forksBefore).toBe(1);
    closeAndCheck();

    const stream = await client.chat.completions.create({ ...request, stream: true });
    const content = ['', ''];
    const entries: OpenAI.Chat.ChatCompletionTokenLogprob[][] = [[], []];
    const roles = [0, 0];
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        if (c.delta.role === 'assistant') roles[c.index]++;
        content[c.index] += c.delta.content ?? '';
        entries[c.index].push(...(c.logprobs?.content ?? []));
      }
    }
    expect(roles).toEqual([1, 1]);
    expect(content).toEqual(r.choices.map((c) => c.message.content));
    expect(entries).toEqual(roundingOf(r.choices.map((c) => c.logprobs!.content)));
    closeAndCheck();
  });
});
