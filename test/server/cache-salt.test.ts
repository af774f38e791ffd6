/**
 * `cache_salt` through the HTTP routes: two calls with the same prompt and different salts share no
 * cached block (cached_tokens 0), the same salt shares them, and no salt behaves as before. A call
 * never joins, by conversation or by id, a job opened under another salt.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { buildServer, type AstraeaServer } from '../../lib/server/app.js';
import { expectNoLeaks } from '../expect-no-leaks.js';

let engine: Engine;
let server: AstraeaServer;

async function start(): Promise<void> {
  engine = await Engine.create({ model: 'tiny', kvBlocks: 128, blockSize: 16 });
  server = buildServer(engine, { modelName: 'tiny' });
}

afterEach(async () => {
  server.context.jobs.expire(Infinity);
  expectNoLeaks(engine);
  await server.app.close();
  await engine.close();
});

// 40 token ids: two full blocks of 16 can be served from the cache (the last token is always computed).
const PROMPT = Array.from({ length: 40 }, (_, i) => 3 + ((i * 7) % 200));
const FULL_BLOCKS_TOKENS = 32;

async function complete(salt?: string): Promise<number> {
  const res = await server.app.inject({
    method: 'POST',
    url: '/v1/completions',
    payload: { model: 'tiny', prompt: PROMPT, max_tokens: 1, temperature: 0, ...(salt === undefined ? {} : { cache_salt: salt }) },
  });
  expect(res.statusCode).toBe(200);
  return res.json().usage.prompt_tokens_details.cached_tokens;
}

describe('cache_salt', () => {
  it('isolates the prefix cache per salt; no salt shares as before', async () => {
    await start();
    expect(await complete('tenant-a')).toBe(0);
    expect(await complete('tenant-b')).toBe(0);
    expect(await complete('tenant-a')).toBe(FULL_BLOCKS_TOKENS);
    expect(await complete('tenant-b')).toBe(FULL_BLOCKS_TOKENS);
    expect(await complete()).toBe(0);
    expect(await complete()).toBe(FULL_BLOCKS_TOKENS);
  });

  it('a chat call joins a conversation only under the salt it was started with', async () => {
    await start();
    const system = { role: 'system', content: 'You are a careful assistant. '.repeat(3) };
    const first = { role: 'user', content: 'What is two plus two?' };
    const call = (messages: object[], salt: string) =>
      server.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: { model: 'tiny', messages, max_tokens: 3, temperature: 0, ignore_eos: true, cache_salt: salt } });
    const r1 = await call([system, first], 'a');
    expect(r1.statusCode).toBe(200);
    const jobA = r1.json().job_id;
    const history = [system, first, r1.json().choices[0].message, { role: 'user', content: 'And three plus three?' }];
    const other = await call(history, 'b');
    expect(other.json().job_id).not.toBe(jobA);
    expect(other.json().usage.prompt_tokens_details.cached_tokens).toBe(0);
    const same = await call(history, 'a');
    expect(same.json().job_id).toBe(jobA);
    expect(same.json().usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
  });

  it('naming a job opened under another salt is a 409; an empty salt is a 400', async () => {
    await start();
    const call = (salt: string | undefined) =>
      server.app.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        payload: { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, job_id: 'j1', ...(salt === undefined ? {} : { cache_salt: salt }) },
      });
    expect((await call('a')).statusCode).toBe(200);
    const mismatch = await call('b');
    expect(mismatch.statusCode).toBe(409);
    expect(mismatch.json().error.code).toBe('cache_salt_mismatch');
    expect((await call(undefined)).json().error.code).toBe('cache_salt_mismatch');
    expect((await call('a')).statusCode).toBe(200);
    const empty = await call('');
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error.param).toBe('body.cache_salt');
    expect(() => engine.createJob({ cacheSalt: '' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
