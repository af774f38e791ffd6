/**
 * Faults through HTTP. A backend step that fails answers only the calls in that step: a plain
 * call with a 500 in OpenAI's error shape (the engine's code: `device_error` for an EngineError,
 * `internal` for a bug), a stream with that error as an event before `[DONE]`; a job that was
 * waiting between its calls, and calls that come later, get the replies they would have got
 * without the fault. A client that stops reading its stream does not slow anyone else down.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BackendStep } from '../../lib/engine/backend.js';
import { EngineError } from '../../lib/errors.js';
import { callerOf, scriptedLoopback, until, type Loopback } from './loopback.js';
import { readBody, readUntil, sseEvents } from './sse-events.js';

/** A marker a prompt carries to make its steps fail (a control character no other prompt has). */
const MARK = '\u0007';
const reply = (prompt: string) => (prompt.includes('LONG') ? 'word '.repeat(3000) : `echo ${prompt.length}`);

let lb: Loopback | null = null;
afterEach(async () => {
  await lb?.close();
  lb = null;
});

function caller(loopback: Loopback) {
  const post = callerOf(loopback, { model: 'scripted', max_tokens: 3000, temperature: 0 });
  return (body: Record<string, unknown>) => post('chat/completions', body);
}

describe('a backend step that fails, through HTTP', () => {
  it.each([
    ['a device error (EngineError)', () => new EngineError('DEVICE_ERROR', 'the device went away'), 'device_error', 'the device went away'],
    ['a bug (TypeError)', () => new TypeError('x is not a function'), 'internal', 'step failed: TypeError: x is not a function'],
  ])('%s: 5xx for the calls in that step only', async (_label, error, code, message) => {
    let markId = -1;
    const fault = (step: BackendStep) => (step.sequences.some((s) => s.tokens.includes(markId)) ? error() : null);
    lb = await scriptedLoopback(reply, { wrap: { fault } });
    markId = lb.engine.tokenizer!.encode(MARK, { addSpecialTokens: false })[0];
    const call = caller(lb);

    // A job that waits between its calls while the fault happens.
    const first = [{ role: 'user', content: 'waiting job, turn 1' }];
    const r1 = await (await call({ messages: first, job_id: 'waiter' })).json();
    const firstReply = r1.choices[0].message;

    const [plain, streamed] = await Promise.all([
      call({ messages: [{ role: 'user', content: `fail ${MARK} plain` }] }),
      call({ messages: [{ role: 'user', content: `fail ${MARK} streamed` }], stream: true }),
    ]);
    expect(plain.status).toBe(500);
    expect(await plain.json()).toEqual({ error: { message, type: 'server_error', param: null, code } });
    expect(streamed.status).toBe(200); // the status line went out before the step failed
    const events = sseEvents(await readBody(streamed));
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.at(-2)).toEqual({ error: { message, type: 'server_error', param: null, code } });

    // The waiting job's next turn, and a new call: as the scripted model answers them anyway.
    const second = [...first, firstReply, { role: 'user', content: 'waiting job, turn 2' }];
    const r2 = await (await call({ messages: second, job_id: 'waiter' })).json();
    expect(r2.choices[0].message.content).toBe(reply(lb.engine.tokenizer!.applyChatTemplate(second, { addGenerationPrompt: true })));
    const later = await (await call({ messages: [{ role: 'user', content: 'a later call' }] })).json();
    expect(later.choices[0].message.content).toBe(reply(lb.engine.tokenizer!.applyChatTemplate([{ role: 'user', content: 'a later call' }], { addGenerationPrompt: true })));

    lb.closeAllJobs();
    expect(lb.engine.stats().kv.ownedBlocks).toBe(0);
    lb.engine.checkInvariants();
  });
});

describe('a client that stops reading its stream', () => {
  it('does not slow down other calls', async () => {
    lb = await scriptedLoopback(reply, { wrap: { delayMs: 1 } });
    const call = caller(lb);
    const controller = new AbortController();
    const stalled = await callerOf(lb, { model: 'scripted', max_tokens: 3000 })('chat/completions', { stream: true, messages: [{ role: 'user', content: 'LONG' }] }, controller.signal);
    // Read a little, then stop: from here on the server's writes to it only queue up.
    const { rest } = await readUntil(stalled, (t) => (t.match(/"content":"[^"]/g) ?? []).length >= 4);
    rest.catch(() => undefined); // ends in an AbortError below
    const stepsBefore = lb.engine.stats().steps;
    for (let i = 0; i < 5; i++) {
      const startedMs = performance.now();
      const response = await call({ messages: [{ role: 'user', content: `short call ${i}` }] });
      expect(response.status).toBe(200);
      await response.json();
      // A dozen one-millisecond steps; a stall behind the stream would be seconds.
      expect(performance.now() - startedMs).toBeLessThan(1000);
    }
    // The stalled stream's job kept being stepped meanwhile, beside the short calls.
    expect(lb.engine.stats().steps - stepsBefore).toBeGreaterThan(20);
    controller.abort();
    await until(() => lb!.engine.stats().jobs.running === 0);
  });
});
