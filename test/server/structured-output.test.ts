/**
 * Structured output through the HTTP server on the tiny preset (random weights, the byte tokenizer
 * and its ChatML template, whose tool calls are Hermes `<tool_call>` blocks): over 50 seeds at
 * temperature 1, every json_schema reply validates against its schema (ajv, an independent
 * validator) and every forced tool call comes back as tool_calls whose arguments validate against
 * the tool's parameters — one or more under "required", exactly one with parallel_tool_calls false
 * or a named function. A stop string that occurs inside the structure does not cut it. A reply cut
 * by max_tokens is finish_reason "length". Bad schemas and combinations are 400s naming the field,
 * and the engine keeps serving.
 */
import { Ajv } from 'ajv';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { buildServer } from '../../lib/server/app.js';
import type { ServerContext } from '../../lib/server/context.js';
import { expectNoLeaks } from '../expect-no-leaks.js';

const SEEDS = Array.from({ length: 50 }, (_, i) => i);
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function server() {
  const engine = await Engine.create({ model: 'tiny', kvBlocks: 1024, blockSize: 16 });
  const built = buildServer(engine, { modelName: 'tiny' });
  closers.push(async () => {
    await built.app.close();
    await engine.close();
  });
  return { engine, app: built.app, context: built.context };
}

function expectClean(engine: Engine, context: ServerContext): void {
  context.jobs.expire(Infinity);
  expectNoLeaks(engine);
}

const ask = (extra: object) => ({ model: 'tiny', messages: [{ role: 'user', content: 'plan a trip' }], max_tokens: 600, temperature: 1, ...extra });

/** Every string and number is bounded, so a random model always completes it well within max_tokens. */
const TRIP_SCHEMA = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 8 },
    days: { type: 'integer', minimum: 1, maximum: 14 },
    units: { enum: ['metric', 'imperial'] },
    flexible: { type: 'boolean' },
    stops: { type: 'array', items: { type: 'string', maxLength: 4 }, maxItems: 3 },
    note: { type: 'null' },
    kind: { const: 'trip' },
  },
  required: ['city', 'days', 'units', 'flexible', 'stops', 'note', 'kind'],
  additionalProperties: false,
};

/**
 * Room for parallel calls: after each call a random model ends or writes another (over these 50
 * seeds 1 to 10 calls, each 67–98 byte tokens), so 600 tokens would cut the longest runs. The
 * prompt (911 tokens) plus this stays within the tiny model's 2,048 positions.
 */
const MANY_CALLS_TOKENS = 1100;

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 10 }, unit: { enum: ['c', 'f'] } }, required: ['city', 'unit'], additionalProperties: false },
  },
};
const SEARCH = {
  type: 'function',
  function: {
    name: 'search',
    parameters: { type: 'object', properties: { query: { type: 'string', maxLength: 12 }, limit: { type: 'integer', minimum: 1, maximum: 5 } }, required: ['query', 'limit'], additionalProperties: false },
  },
};

describe('structured output', () => {
  it('json_schema: 50 of 50 seeds validate against the schema, ending where the JSON does', async () => {
    const { engine, app, context } = await server();
    const validate = new Ajv({ strict: true }).compile(TRIP_SCHEMA);
    const responses = await Promise.all(
      SEEDS.map((seed) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed, response_format: { type: 'json_schema', json_schema: { name: 'trip', schema: TRIP_SCHEMA, strict: true } } }) })),
    );
    for (const res of responses) {
      expect(res.statusCode).toBe(200);
      const choice = res.json().choices[0];
      expect(choice.finish_reason).toBe('stop');
      const value = JSON.parse(choice.message.content); // the whole content: nothing after the JSON
      expect(validate(value), JSON.stringify([validate.errors, value, [...value.city ?? ""].map((c: string) => c.codePointAt(0)!.toString(16))])).toBe(true);
    }
    // Not one output: the seeds draw different replies.
    expect(new Set(responses.map((r) => r.json().choices[0].message.content)).size).toBeGreaterThan(40);
    expectClean(engine, context);
  }, 120_000);

  it('json_object: every reply that ends parses as a JSON object; one cut by max_tokens says "length"', async () => {
    const { engine, app, context } = await server();
    const responses = await Promise.all(SEEDS.map((seed) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed, max_tokens: 400, response_format: { type: 'json_object' } }) })));
    let ended = 0;
    for (const res of responses) {
      const choice = res.json().choices[0];
      if (choice.finish_reason === 'stop') {
        ended++;
        const value = JSON.parse(choice.message.content);
        expect(typeof value === 'object' && value !== null && !Array.isArray(value)).toBe(true);
      } else {
        // A random model's strings are unbounded: such a reply is marked, never passed off as whole.
        expect(choice.finish_reason).toBe('length');
        expect(res.json().usage.completion_tokens).toBe(400);
        expect(() => JSON.parse(choice.message.content)).toThrow();
      }
    }
    expect(ended).toBeGreaterThan(25);
    expectClean(engine, context);
  }, 120_000);

  it('tool_choice "required": 50 of 50 replies are one or more tool calls of offered tools with valid arguments, streamed and not', async () => {
    const { engine, app, context } = await server();
    const ajv = new Ajv({ strict: true });
    const validators = new Map([WEATHER, SEARCH].map((t) => [t.function.name, ajv.compile(t.function.parameters)]));
    const expectValid = (calls: { name: string; arguments: string }[], where: string) => {
      expect(calls.length, where).toBeGreaterThanOrEqual(1);
      for (const call of calls) {
        const validate = validators.get(call.name);
        expect(validate, `${where}: ${call.name}`).toBeDefined();
        expect(validate!(JSON.parse(call.arguments)), `${where}: ${JSON.stringify(validate!.errors)}`).toBe(true);
      }
    };
    const responses = await Promise.all(SEEDS.map((seed) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed, max_tokens: MANY_CALLS_TOKENS, tools: [WEATHER, SEARCH], tool_choice: 'required' }) })));
    const names = new Set<string>();
    const counts: number[] = [];
    for (const [seed, res] of responses.entries()) {
      expect(res.statusCode).toBe(200);
      const choice = res.json().choices[0];
      expect(choice.finish_reason, JSON.stringify(choice.message)).toBe('tool_calls');
      expect(choice.message.content).toBeNull();
      const calls = choice.message.tool_calls.map((c: any) => c.function);
      expectValid(calls, `seed ${seed}`);
      for (const c of calls) names.add(c.name);
      counts.push(calls.length);
    }
    expect([...names].sort()).toEqual(['get_weather', 'search']); // both tools are reachable
    // Parallel calls are admitted: some seed writes more than one (a random model ends after a
    // block or writes another about evenly), and the ids within a reply differ.
    expect(Math.max(...counts)).toBeGreaterThanOrEqual(2);
    for (const res of responses) {
      const ids = res.json().choices[0].message.tool_calls.map((c: any) => c.id);
      expect(new Set(ids).size).toBe(ids.length);
    }
    // Streamed: the same calls as the same seed non-streamed.
    const streamed = await Promise.all(SEEDS.slice(0, 10).map((seed) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed, max_tokens: MANY_CALLS_TOKENS, stream: true, tools: [WEATHER, SEARCH], tool_choice: 'required' }) })));
    for (const [seed, res] of streamed.entries()) {
      const chunks = res.body.split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
      const calls: { name: string; arguments: string }[] = [];
      for (const chunk of chunks) for (const c of chunk.choices[0]?.delta?.tool_calls ?? []) calls[c.index] = { name: c.function.name, arguments: c.function.arguments };
      expectValid(calls, `streamed seed ${seed}`);
      expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBe(0); // no markup as content
      expect(chunks.at(-1).choices[0].finish_reason).toBe('tool_calls');
      expect(calls).toEqual(responses[seed].json().choices[0].message.tool_calls.map((c: any) => c.function));
    }
    expectClean(engine, context);
  }, 180_000);

  it('tool_choice "required" with parallel_tool_calls false: 50 of 50 replies are exactly one valid call', async () => {
    const { engine, app, context } = await server();
    const ajv = new Ajv({ strict: true });
    const validators = new Map([WEATHER, SEARCH].map((t) => [t.function.name, ajv.compile(t.function.parameters)]));
    const responses = await Promise.all(
      SEEDS.map((seed) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed, tools: [WEATHER, SEARCH], tool_choice: 'required', parallel_tool_calls: false }) })),
    );
    for (const res of responses) {
      expect(res.statusCode).toBe(200);
      const choice = res.json().choices[0];
      expect(choice.finish_reason, JSON.stringify(choice.message)).toBe('tool_calls');
      expect(choice.message.tool_calls).toHaveLength(1);
      const call = choice.message.tool_calls[0].function;
      const validate = validators.get(call.name)!;
      expect(validate(JSON.parse(call.arguments)), JSON.stringify(validate.errors)).toBe(true);
    }
    const streamed = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed: 3, stream: true, tools: [WEATHER, SEARCH], tool_choice: 'required', parallel_tool_calls: false }) });
    const chunks = streamed.body.split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
    expect(chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? [])).toHaveLength(1);
    expectClean(engine, context);
  }, 120_000);

  it('a stop string that occurs inside the structure does not cut it: the grammar decides the end, streamed and not', async () => {
    const { engine, app, context } = await server();
    const validate = new Ajv({ strict: true }).compile(TRIP_SCHEMA);
    // Every reply to TRIP_SCHEMA holds both: '",' after the city's value, ':' after every key.
    const stop = ['",', ':'];
    const format = { type: 'json_schema', json_schema: { name: 'trip', schema: TRIP_SCHEMA } };
    const seeds = SEEDS.slice(0, 10);
    const plain = await Promise.all(seeds.map((seed) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed, stop, response_format: format }) })));
    for (const res of plain) {
      const choice = res.json().choices[0];
      expect(choice.finish_reason).toBe('stop');
      expect(choice.message.content).toContain(':');
      expect(validate(JSON.parse(choice.message.content)), choice.message.content).toBe(true);
    }
    const streamed = await Promise.all(seeds.map((seed) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed, stop, stream: true, response_format: format }) })));
    for (const [i, res] of streamed.entries()) {
      const chunks = res.body.split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
      const pieces = chunks.map((c) => c.choices[0]?.delta?.content ?? '').filter((p) => p.length > 0);
      expect(pieces.join('')).toBe(plain[i].json().choices[0].message.content);
      // Sent as it is written, one byte token's character a chunk (two UTF-16 units at most): no
      // tail waits as a possible stop string.
      for (const piece of pieces) expect(piece.length, JSON.stringify(pieces)).toBeLessThanOrEqual(2);
    }
    // A forced call too: every call holds both ('"name":"…",' at least).
    const validators = new Map([WEATHER, SEARCH].map((t) => [t.function.name, new Ajv({ strict: true }).compile(t.function.parameters)]));
    const calls = await Promise.all(seeds.map((seed) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed, stop, max_tokens: MANY_CALLS_TOKENS, tools: [WEATHER, SEARCH], tool_choice: 'required' }) })));
    for (const res of calls) {
      const choice = res.json().choices[0];
      expect(choice.finish_reason, JSON.stringify(choice.message)).toBe('tool_calls');
      for (const c of choice.message.tool_calls) expect(validators.get(c.function.name)!(JSON.parse(c.function.arguments))).toBe(true);
    }
    expectClean(engine, context);
  }, 120_000);

  it('a json_schema reply shaped like a Llama-3 call is content, not a call, and streams as it is written', async () => {
    const { engine, app, context } = await server();
    // The only value this schema admits: the Llama-3 tool-call form.
    const schema = {
      type: 'object',
      properties: { name: { const: 'get_weather' }, parameters: { type: 'object', properties: {}, additionalProperties: false } },
      required: ['name', 'parameters'],
      additionalProperties: false,
    };
    const format = { type: 'json_schema', json_schema: { name: 'call_like', schema } };
    const whole = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed: 4, response_format: format }) });
    const choice = whole.json().choices[0];
    expect(choice.finish_reason).toBe('stop');
    expect(choice.message.tool_calls).toBeUndefined();
    expect(choice.message.content).toBe('{"name":"get_weather","parameters":{}}');
    const streamed = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed: 4, stream: true, response_format: format }) });
    const chunks = streamed.body.split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
    const pieces = chunks.map((c) => c.choices[0]?.delta?.content ?? '').filter((p) => p.length > 0);
    expect(pieces.join('')).toBe('{"name":"get_weather","parameters":{}}');
    for (const piece of pieces) expect(piece.length).toBe(1); // one byte token a chunk: nothing held back
    expect(chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? [])).toEqual([]);
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
    expectClean(engine, context);
  }, 60_000);

  it('a named function: 50 of 50 replies call that function, streamed and not', async () => {
    const { engine, app, context } = await server();
    const validate = new Ajv({ strict: true }).compile(SEARCH.function.parameters);
    const named = { type: 'function', function: { name: 'search' } };
    const responses = await Promise.all(SEEDS.map((seed) => app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed, tools: [WEATHER, SEARCH], tool_choice: named }) })));
    for (const res of responses) {
      const choice = res.json().choices[0];
      expect(choice.finish_reason, JSON.stringify(choice.message)).toBe('tool_calls');
      expect(choice.message.tool_calls.map((c: any) => c.function.name)).toEqual(['search']);
      expect(validate(JSON.parse(choice.message.tool_calls[0].function.arguments)), JSON.stringify(validate.errors)).toBe(true);
    }
    const streamed = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed: 7, stream: true, tools: [WEATHER, SEARCH], tool_choice: named }) });
    const chunks = streamed.body.split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    expect(calls.map((c: any) => c.function.name)).toEqual(['search']);
    expect(chunks.at(-1).choices[0].finish_reason).toBe('tool_calls');
    // The same seed gives the same call streamed or not.
    expect(calls[0].function.arguments).toBe(responses[7].json().choices[0].message.tool_calls[0].function.arguments);
    expectClean(engine, context);
  }, 120_000);

  it('max_tokens before the structure completes: finish_reason "length", no tool call, no valid JSON', async () => {
    const { engine, app, context } = await server();
    // Three byte tokens are three characters: no reply to these schemas is that short.
    const json = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed: 1, max_tokens: 3, response_format: { type: 'json_schema', json_schema: { name: 'trip', schema: TRIP_SCHEMA } } }) });
    expect(json.json().choices[0].finish_reason).toBe('length');
    expect(json.json().choices[0].message.content).toBe('{"c'); // the schema's first property, forced
    const call = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed: 1, max_tokens: 3, tools: [WEATHER], tool_choice: 'required' }) });
    expect(call.json().choices[0].finish_reason).toBe('length');
    expect(call.json().choices[0].message.tool_calls).toBeUndefined();
    expectClean(engine, context);
  }, 60_000);

  it('bad requests are 400s naming the field; the server keeps serving', async () => {
    const { engine, app, context } = await server();
    const cases: [object, string][] = [
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: 'a+' } } } }, 'response_format.json_schema.schema.pattern'],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { $ref: '#/x' } } } } } }, 'response_format.json_schema.schema.properties.a.$ref'],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'objekt' } } } }, 'response_format.json_schema.schema.type'],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', required: ['b'] } } } }, 'response_format.json_schema.schema.required'],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x' } } }, 'response_format.json_schema.schema'],
      [{ response_format: { type: 'json_schema', json_schema: { schema: {} } } }, 'response_format.json_schema.name'],
      [{ response_format: { type: 'xml' } }, 'response_format.type'],
      [{ response_format: 'json' }, 'response_format'],
      [{ response_format: { type: 'json_object' }, ignore_eos: true }, 'ignore_eos'],
      [{ tool_choice: 'required' }, 'tools'],
      [{ tools: [WEATHER], tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice.function.name'],
      [{ tools: [WEATHER, { type: 'function', function: { name: 'f', parameters: { type: 'object', oneOf: [] } } }], tool_choice: 'required' }, 'tools[1].function.parameters.oneOf'],
    ];
    for (const [extra, param] of cases) {
      const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed: 0, ...extra }) });
      expect(res.statusCode, param).toBe(400);
      expect(res.json().error.param).toBe(param);
      expect(res.json().error.type).toBe('invalid_request_error');
    }
    // A tool outside the forced one's schema subset does not matter when it is not the one forced.
    const ok = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed: 0, tools: [WEATHER, { type: 'function', function: { name: 'f', parameters: { oneOf: [] } } }], tool_choice: { type: 'function', function: { name: 'get_weather' } } }) });
    expect(ok.json().choices[0].finish_reason).toBe('tool_calls');
    // "none" and "auto" are unconstrained as before: a random model's reply is no tool call.
    const none = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: ask({ seed: 0, max_tokens: 8, ignore_eos: true, tools: [WEATHER], tool_choice: 'none' }) });
    expect(none.json().choices[0].finish_reason).toBe('length');
    expectClean(engine, context);
  }, 60_000);
});
