/**
 * The new sampling paths through a real forward pass (the tiny model): the logprobs a step returns
 * are the log softmax of the logits it returns (over the allowed ids when masked); the tokens are
 * the reference sampler's on those logits with the limit, a mask, min_p and penalties; and through
 * the engine's Node API, penalties count the segment's own output and logprobs come back per token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { EngineError } from '../../lib/errors.js';
import { loadModel, type LoadedModel } from '../../lib/model/load.js';
import { buildStepPlan, stepLogprobs, type PlannedSequence, type SamplingOptions } from '../../lib/native/plan.js';
import type { NativeKvCache } from '../../lib/native/types.js';
import { referenceLogprobs, referenceSample, referenceTopLogprobs } from '../reference/sampler-reference.js';
import { testIds } from './fixtures.js';

const VOCAB = 384;
let model: LoadedModel;
let cache: NativeKvCache;

beforeAll(async () => {
  model = await loadModel({ model: 'tiny' });
  cache = model.native.createKvCache({ blockSize: 16, deviceBlocks: 64 });
});
afterAll(() => {
  cache.dispose();
  model.dispose();
});

function maskOf(ids: Iterable<number>): Uint32Array {
  const words = new Uint32Array(Math.ceil(VOCAB / 32));
  for (const id of ids) words[id >> 5] |= 1 << (id & 31);
  return words;
}

/** log softmax in double over `ids` of one row. */
function logSoftmax(row: Float32Array, ids: number[]): Map<number, number> {
  let max = -Infinity;
  for (const id of ids) max = Math.max(max, row[id]);
  let sum = 0;
  for (const id of ids) sum += Math.exp(row[id] - max);
  return new Map(ids.map((id) => [id, row[id] - max - Math.log(sum)]));
}

describe('logprobs of a real step', () => {
  it('equal the log softmax of the logits the same step returns', async () => {
    const allowed = Array.from({ length: VOCAB }, (_, i) => i).filter((i) => i % 5 === 2);
    const all = Array.from({ length: VOCAB }, (_, i) => i);
    const sequences: PlannedSequence[] = [
      { tokens: testIds(7, VOCAB, 1), startPosition: 0, blocks: [0], sampling: { logprobs: true, topLogprobs: 20 } },
      { tokens: testIds(9, VOCAB, 2), startPosition: 0, blocks: [1], sampling: { temperature: 1, seed: 3, logprobs: true, topLogprobs: 5 } },
      { tokens: testIds(4, VOCAB, 3), startPosition: 0, blocks: [2] },
      { tokens: testIds(6, VOCAB, 4), startPosition: 0, blocks: [3], sampling: { logprobs: true, topLogprobs: 20 }, allowedTokens: maskOf(allowed) },
      { tokens: testIds(5, VOCAB, 5), startPosition: 0, blocks: [4], sampling: { temperature: 0.8, presencePenalty: 2, logprobs: true }, outputTokens: [1, 2, 3] },
    ];
    const result = await model.native.step(cache, buildStepPlan({ sequences, logits: 'last' }));
    const logprobs = stepLogprobs(result, sequences.length);
    const ids = [all, all, all, allowed, all];
    expect(logprobs[2]).toBeNull();
    for (const s of [0, 1, 3, 4]) {
      const row = result.logits!.subarray(s * VOCAB, (s + 1) * VOCAB);
      const expected = logSoftmax(row, ids[s]);
      const token = result.tokens[s];
      expect(expected.has(token), `sequence ${s} drew ${token}`).toBe(true);
      expect(logprobs[s]!.logprob).toBeCloseTo(expected.get(token)!, 5);
      const n = sequences[s].sampling!.topLogprobs ?? 0;
      const best = [...expected.keys()].sort((a, b) => row[b] - row[a] || a - b).slice(0, n);
      expect(logprobs[s]!.top.map((t) => t.id)).toEqual(best);
      logprobs[s]!.top.forEach((t) => expect(t.logprob).toBeCloseTo(expected.get(t.id)!, 5));
    }
    // Greedy: the token is the top one, with the top one's log-probability.
    expect(logprobs[0]!.top[0].id).toBe(result.tokens[0]);
    expect(logprobs[3]!.top[0].id).toBe(result.tokens[3]);
  });
});

describe('tokens of a real step', () => {
  it.each<SamplingOptions>([
    { temperature: 0 },
    { temperature: 1 },
    { temperature: 0.8, topK: 30, minP: 0.05 },
    { temperature: 1.4, topP: 0.7, presencePenalty: 1, frequencyPenalty: 0.5 },
  ])('%o: the reference sampler\'s draws on the returned logits, under a limit and a mask', async (sampling) => {
    const prompt = testIds(6, VOCAB, 8);
    const outputTokens = [5, 5, 17, 200, 301];
    const allowed = new Set(Array.from({ length: VOCAB }, (_, i) => i).filter((i) => i % 4 !== 1));
    const LIMIT = 320;
    const sequences: PlannedSequence[] = Array.from({ length: 32 }, (_, i) => ({
      tokens: prompt,
      startPosition: 0,
      blocks: [i],
      sampling: { ...sampling, seed: 77 + i },
      outputTokens,
      allowedTokens: i % 2 ? maskOf(allowed) : undefined,
    }));
    const result = await model.native.step(cache, buildStepPlan({ sequences, logits: 'last', sampleableIds: LIMIT }));
    const expected = sequences.map((s, i) =>
      referenceSample(result.logits!.subarray(i * VOCAB, (i + 1) * VOCAB), { ...s.sampling, sampleable: LIMIT, allowed: i % 2 ? allowed : undefined, outputTokens }, prompt.length),
    );
    expect(Array.from(result.tokens)).toEqual(expected);
  });
});

describe('through the engine', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create({ model: 'tiny', kvBlocks: 64, blockSize: 16 });
  });
  afterAll(async () => {
    await engine.close();
  });

  it('penalties count the segment\'s own output; logprobs come back per token', async () => {
    const prompt = testIds(10, VOCAB, 12);
    const sampling: SamplingOptions = { temperature: 0.9, seed: 4, frequencyPenalty: 1.5, presencePenalty: 0.5, logprobs: true, topLogprobs: 3 };
    const job = engine.createJob();
    const result = await job.generate({ tokens: prompt, maxTokens: 10, ignoreEos: true, sampling }).done;
    job.close();
    expect(result.tokens).toHaveLength(10);
    expect(result.logprobs).toHaveLength(10);
    // Replay each position on the model alone: the whole context as one prefill, its last logits
    // through the reference sampler with the tokens generated before it as the counts.
    for (let k = 0; k < 10; k++) {
      const context = [...prompt, ...result.tokens.slice(0, k)];
      const step = await model.native.step(cache, buildStepPlan({ sequences: [{ tokens: context, startPosition: 0, blocks: [40, 41] }], logits: 'last' }));
      const reference = { ...sampling, outputTokens: result.tokens.slice(0, k) };
      expect(result.tokens[k], `token ${k}`).toBe(referenceSample(step.logits!, reference, context.length));
      expect(result.logprobs![k].logprob).toBeCloseTo(referenceLogprobs(step.logits!, reference).get(result.tokens[k])!, 4);
      const top = referenceTopLogprobs(step.logits!, reference, 3);
      expect(result.logprobs![k].top.map((t) => t.id)).toEqual(top.map((t) => t.id));
    }
  });

  it('each streamed token event carries the logprobs the result lists for it', async () => {
    const job = engine.createJob();
    const segment = job.generate({ tokens: testIds(8, VOCAB, 13), maxTokens: 6, ignoreEos: true, sampling: { logprobs: true, topLogprobs: 2 } });
    const events = [];
    for await (const event of segment) events.push(event);
    const result = await segment.done;
    job.close();
    expect(events.map((e) => e.token)).toEqual(result.tokens);
    expect(events.map((e) => e.logprobs)).toEqual(result.logprobs);
    // Greedy: every token is its own top alternative.
    for (const [i, lp] of result.logprobs!.entries()) {
      expect(lp.top).toHaveLength(2);
      expect(lp.top[0]).toEqual({ id: result.tokens[i], logprob: lp.logprob });
      expect(lp.top[1].logprob).toBeLessThanOrEqual(lp.logprob);
    }
  });

  it('a segment without logprobs has none', async () => {
    const job = engine.createJob();
    const result = await job.generate({ tokens: [1, 2, 3], maxTokens: 3, ignoreEos: true }).done;
    job.close();
    expect(result.logprobs).toBeUndefined();
  });

  it.each([
    [{ logprobs: true, topLogprobs: 21 }, /topLogprobs must be an integer in \[0, 20\]/],
    [{ topLogprobs: 2 }, /topLogprobs needs logprobs/],
    [{ presencePenalty: -2.5 }, /presencePenalty must be in \[-2, 2\]/],
    [{ frequencyPenalty: 2.01 }, /frequencyPenalty must be in \[-2, 2\]/],
    [{ minP: 1.5 }, /minP must be in \[0, 1\]/],
    [{ temperature: -1 }, /temperature/],
  ] as [SamplingOptions, RegExp][])('bad options %o are an INVALID_ARGUMENT at submission, and the engine goes on', async (sampling, message) => {
    const job = engine.createJob();
    let error: unknown;
    try {
      await job.generate({ tokens: [1, 2, 3], maxTokens: 2, sampling }).done;
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe('INVALID_ARGUMENT');
    expect((error as EngineError).message).toMatch(message);
    const ok = await job.generate({ tokens: [1, 2, 3], maxTokens: 2, ignoreEos: true }).done;
    expect(ok.tokens).toHaveLength(2);
    job.close();
  });
});
