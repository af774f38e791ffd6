/**
 * Constrained decoding through the engine on the tiny model (random weights, byte tokenizer): at
 * temperature 1 over 50 seeds every drawn token is one its constraint allowed at that step, every
 * output validates against the schema (ajv) and ends where the JSON does; a segment cancelled
 * mid-way frees its constraint while the others finish; a bad combination is refused up front.
 */
import { Ajv } from 'ajv';
import { afterEach, describe, expect, it } from 'vitest';
import { constraintForModel } from '../../lib/constrain/engine-constraint.js';
import type { TokenConstraint } from '../../lib/constrain/constraint.js';
import { Engine } from '../../lib/engine/engine.js';
import { EngineError } from '../../lib/errors.js';
import { expectNoLeaks } from '../expect-no-leaks.js';

const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

async function tiny(): Promise<Engine> {
  const engine = await Engine.create({ model: 'tiny', kvBlocks: 512, blockSize: 16 });
  engines.push(engine);
  return engine;
}

/** Wraps a constraint to record, per accepted token, whether its mask allowed it; and disposals. */
function recorded(inner: TokenConstraint) {
  const log = { allowed: [] as boolean[], disposed: 0 };
  const constraint: TokenConstraint = {
    allowedTokens: () => inner.allowedTokens(),
    isComplete: () => inner.isComplete(),
    accept(token) {
      const mask = inner.allowedTokens();
      log.allowed.push(((mask[token >>> 5] >>> (token & 31)) & 1) === 1);
      return inner.accept(token);
    },
    dispose() {
      log.disposed++;
      inner.dispose();
    },
  };
  return { constraint, log };
}

const SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'integer', minimum: 0, maximum: 999 },
    tags: { type: 'array', items: { enum: ['red', 'green', 'blue'] }, maxItems: 4 },
    label: { type: 'string', maxLength: 6 },
    ratio: { anyOf: [{ type: 'integer', minimum: -50, maximum: 50 }, { type: 'null' }] },
  },
  required: ['id', 'tags', 'label', 'ratio'],
  additionalProperties: false,
};

describe('constrained decoding in the engine', () => {
  it('json_schema over 50 seeds: every token within its mask, every output valid and whole', async () => {
    const engine = await tiny();
    const validate = new Ajv({ strict: true }).compile(SCHEMA);
    const runs = await Promise.all(
      Array.from({ length: 50 }, async (_, seed) => {
        const { constraint, log } = recorded(await constraintForModel(engine, { kind: 'json_schema', schema: SCHEMA }));
        const job = engine.createJob({ id: `s${seed}` });
        const result = await job.generate({ tokens: [72, 105], maxTokens: 400, sampling: { temperature: 1, seed }, constraint }).done;
        job.close();
        return { result, log };
      }),
    );
    const eos = new Set(engine.tokenizer!.eosIds);
    for (const { result, log } of runs) {
      expect(result.finishReason).toBe('stop');
      expect(eos.has(result.tokens.at(-1)!)).toBe(true); // ended by end of sequence, forced at completion
      expect(log.allowed.every(Boolean)).toBe(true);
      expect(log.allowed.length).toBe(result.tokens.length - 1); // the last token (EOS) ends the segment unaccepted
      expect(log.disposed).toBe(1);
      const value = JSON.parse(result.text);
      expect(validate(value), JSON.stringify([validate.errors, result.text])).toBe(true);
    }
    expect(new Set(runs.map((r) => r.result.text)).size).toBeGreaterThan(40);
    expectNoLeaks(engine);
  }, 120_000);

  it('a cancelled constrained segment frees its constraint; the others finish valid', async () => {
    const engine = await tiny();
    const a = recorded(await constraintForModel(engine, { kind: 'json_object' }));
    const b = recorded(await constraintForModel(engine, { kind: 'json_schema', schema: SCHEMA }));
    const jobA = engine.createJob({ id: 'a' });
    const jobB = engine.createJob({ id: 'b' });
    const controller = new AbortController();
    const segA = jobA.generate({ tokens: [1, 2, 3], maxTokens: 500, sampling: { temperature: 1, seed: 3 }, constraint: a.constraint, signal: controller.signal });
    const segB = jobB.generate({ tokens: [4, 5, 6], maxTokens: 400, sampling: { temperature: 1, seed: 4 }, constraint: b.constraint });
    let seen = 0;
    for await (const _ of segA) if (++seen === 2) controller.abort();
    expect((await segA.done).finishReason).toBe('cancelled');
    const resultB = await segB.done;
    expect(resultB.finishReason).toBe('stop');
    expect(new Ajv().validate(SCHEMA, JSON.parse(resultB.text))).toBe(true);
    expect([a.log.disposed, b.log.disposed]).toEqual([1, 1]);
    jobB.close();
    expectNoLeaks(engine);
  }, 60_000);

  it('refuses a constraint with ignoreEos, before anything is committed', async () => {
    const engine = await tiny();
    const { constraint, log } = recorded(await constraintForModel(engine, { kind: 'json_object' }));
    const job = engine.createJob({ id: 'x' });
    let error: unknown;
    try {
      job.generate({ tokens: [1], maxTokens: 8, ignoreEos: true, constraint });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe('INVALID_ARGUMENT');
    expect(log.disposed).toBe(0); // not the engine's: the caller still owns it
    constraint.dispose();
    // The job is untouched and can still generate, constrained.
    const again = await constraintForModel(engine, { kind: 'json_object' });
    const result = await job.generate({ tokens: [1], maxTokens: 300, sampling: { temperature: 1, seed: 0 }, constraint: again }).done;
    expect(result.finishReason === 'stop' ? typeof JSON.parse(result.text) : 'length').toMatch(/object|length/);
    job.close();
    expectNoLeaks(engine);
  }, 60_000);
});
