/**
 * Draining (SIGTERM) and cancellation a client can see. A drain stops new calls at once (`/health`
 * and a new call: 503), lets the calls in flight finish until its deadline, then cuts the rest: a
 * cut stream ends with a `server_shutting_down` error event before `[DONE]` (no finish chunk), a
 * cut plain call gets a 503 with that error, and every block is freed. A stream whose job is
 * closed under it ends with a `job_closed` error event, as the plain call gets a 409 `job_closed`.
 * The scripted model waits 2 ms per step here, so a 3,000-token call outlasts any deadline below.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { callerOf, scriptedLoopback, until, type Loopback } from './loopback.js';
import { readBody, readUntil, sseEvents } from './sse-events.js';

const LONG_TOKENS = 3000;
const STEP_DELAY_MS = 2;
/** Long calls ask for LONG_TOKENS of an endless reply; short ones get 40 bytes (40 tokens). */
const reply = (prompt: string) => (prompt.includes('LONG') ? 'word '.repeat(LONG_TOKENS) : 'abc '.repeat(10));

let lb: Loopback | null = null;
afterEach(async () => {
  await lb?.close();
  lb = null;
});

const caller = (loopback: Loopback) => callerOf(loopback, { model: 'scripted', max_tokens: LONG_TOKENS });

/** Four content deltas have arrived (the scripted model streams a character per token). */
const someContent = (text: string) => (text.match(/"content":"[^"]/g) ?? []).length >= 4;

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'user', content }], ...extra });

describe('drain', () => {
  it('past its deadline: new calls 503 at once, calls in flight finish or are cut with server_shutting_down, nothing left', async () => {
    lb = await scriptedLoopback(reply, { wrap: { delayMs: STEP_DELAY_MS } });
    const call = caller(lb);
    const longStream = await call('chat/completions', chat('LONG stream', { stream: true }));
    // The scripted model replies to what follows a generation prompt, so the completion's prompt is one.
    const longCompletion = await call('completions', { prompt: '<|im_start|>user\nLONG completion<|im_end|>\n<|im_start|>assistant\n', stream: true });
    const longPlain = call('chat/completions', chat('LONG plain'));
    const { head: streamedSoFar, rest: streamRest } = await readUntil(longStream, someContent);
    const { head: completedSoFar, rest: completionRest } = await readUntil(longCompletion, (t) => (t.match(/"text":"[^"]/g) ?? []).length >= 4);
    await until(() => lb!.engine.stats().jobs.running >= 3);
    const shortStream = await call('chat/completions', chat('short', { stream: true }));
    const shortText = readBody(shortStream);

    const startedMs = performance.now();
    const drained = lb.server.drain(0.5);
    // The server still listens while it drains: a probe learns to send no more, a call to go elsewhere.
    const health = await fetch(`${lb.address}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ status: 'draining' });
    const late = await call('chat/completions', chat('late'));
    expect(late.status).toBe(503);
    expect((await late.json()).error).toMatchObject({ type: 'server_error', code: 'server_shutting_down' });

    expect(await drained).toEqual({ cut: 3 });
    const drainS = (performance.now() - startedMs) / 1000;
    expect(drainS).toBeGreaterThanOrEqual(0.5);
    expect(drainS).toBeLessThan(2.5); // the long calls had ≥ 6 s of steps left

    // The short call finished normally inside the deadline.
    const short = sseEvents(await shortText);
    expect(short.at(-1)).toBe('[DONE]');
    expect(short.some((e) => e !== '[DONE]' && e.choices?.[0]?.finish_reason === 'stop')).toBe(true);
    // The long stream: content, then the cut's error event, then [DONE]; no finish chunk.
    for (const text of [streamedSoFar + (await streamRest), completedSoFar + (await completionRest)]) {
      const events = sseEvents(text);
      expect(events.at(-1)).toBe('[DONE]');
      expect(events.at(-2)).toEqual({ error: { message: expect.stringMatching(/shutting down/), type: 'server_error', param: null, code: 'server_shutting_down' } });
      expect(events.some((e) => e !== '[DONE]' && e.choices?.some((c: { finish_reason: string | null }) => c.finish_reason !== null))).toBe(false);
    }
    const plain = await longPlain;
    expect(plain.status).toBe(503);
    expect((await plain.json()).error.code).toBe('server_shutting_down');

    const stats = lb.engine.stats();
    expect(stats.kv.ownedBlocks).toBe(0);
    expect(stats.jobs.open).toBe(0);
    lb.engine.checkInvariants();
  });

  it('calls that finish inside the deadline are not cut, and the drain ends with them', async () => {
    lb = await scriptedLoopback(reply, { wrap: { delayMs: STEP_DELAY_MS } });
    const call = caller(lb);
    const shortStream = await call('chat/completions', chat('short', { stream: true }));
    const startedMs = performance.now();
    expect(await lb.server.drain(30)).toEqual({ cut: 0 });
    expect(performance.now() - startedMs).toBeLessThan(2000);
    const events = sseEvents(await readBody(shortStream));
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.some((e) => e !== '[DONE]' && 'error' in e)).toBe(false);
  });

  it('a client that stops reading cannot hold the drain open: its connection is closed after a grace', async () => {
    lb = await scriptedLoopback(reply, { wrap: { delayMs: STEP_DELAY_MS } });
    const call = caller(lb);
    // Read a little, then never again: the socket fills and the response cannot finish.
    const stalled = await call('chat/completions', chat('LONG', { stream: true }));
    await readUntil(stalled, someContent);
    const startedMs = performance.now();
    expect(await lb.server.drain(0.2)).toEqual({ cut: 1 });
    // The deadline plus the one-second grace, not the stream's six seconds of steps.
    expect(performance.now() - startedMs).toBeLessThan(3000);
    expect(lb.engine.stats().kv.ownedBlocks).toBe(0);
  });
});

describe('a job closed under its call', () => {
  it('a stream ends with a job_closed error event, not as a normal completion', async () => {
    lb = await scriptedLoopback(reply, { wrap: { delayMs: STEP_DELAY_MS } });
    const call = caller(lb);
    const stream = await call('chat/completions', chat('LONG', { stream: true, job_id: 'closed-mid-stream' }));
    const { head, rest } = await readUntil(stream, someContent);
    const closed = await fetch(`${lb.baseURL}/jobs/closed-mid-stream/close`, { method: 'POST', headers: { authorization: 'Bearer test-key' } });
    expect(closed.status).toBe(200);
    const events = sseEvents(head + (await rest));
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.at(-2)).toEqual({ error: { message: 'job closed-mid-stream was closed while this call ran', type: 'invalid_request_error', param: null, code: 'job_closed' } });
    expect(events.some((e) => e !== '[DONE]' && e.choices?.[0]?.finish_reason)).toBe(false);
    expect(lb.engine.stats().kv.ownedBlocks).toBe(0);
  });

  it('a plain call gets 409 job_closed', async () => {
    lb = await scriptedLoopback(reply, { wrap: { delayMs: STEP_DELAY_MS } });
    const call = caller(lb);
    const pending = call('chat/completions', chat('LONG', { job_id: 'closed-mid-call' }));
    await until(() => lb!.engine.stats().jobs.running === 1);
    await fetch(`${lb.baseURL}/jobs/closed-mid-call/close`, { method: 'POST', headers: { authorization: 'Bearer test-key' } });
    const response = await pending;
    expect(response.status).toBe(409);
    expect((await response.json()).error.code).toBe('job_closed');
  });
});
