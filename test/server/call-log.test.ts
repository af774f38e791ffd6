/**
 * One structured log line per call (lib/server/call-log.ts), whatever became of it: finished,
 * failed (an error status, or an error in a stream after its 200), cut by the server (its job
 * closed) or abandoned by its client — with the job, the status, the tokens and the duration;
 * warnings and errors at their levels; none for /health or /metrics.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BackendStep } from '../../lib/engine/backend.js';
import { EngineError } from '../../lib/errors.js';
import { scriptedLoopback, until, type Loopback } from './loopback.js';
import { readBody, readUntil } from './sse-events.js';

const MARK = '\u0007';
const reply = (prompt: string) => (prompt.includes('LONG') ? 'word '.repeat(3000) : 'hello');
/** pino's numeric levels. */
const INFO = 30;
const WARN = 40;
const ERROR = 50;

let lb: Loopback | null = null;
afterEach(async () => {
  await lb?.close();
  lb = null;
});

describe('call log', () => {
  it('a line for each finished, failed, cut and abandoned call, and none for the rest', async () => {
    const lines: Record<string, any>[] = [];
    let markId = -1;
    const fault = (step: BackendStep) => (step.sequences.some((s) => s.tokens.includes(markId)) ? new EngineError('DEVICE_ERROR', 'the device went away') : null);
    lb = await scriptedLoopback(reply, { wrap: { fault, delayMs: 1 }, logger: { stream: { write: (line: string) => void lines.push(JSON.parse(line)) } } });
    markId = lb.engine.tokenizer!.encode(MARK, { addSpecialTokens: false })[0];
    const headers = { 'content-type': 'application/json', authorization: 'Bearer test-key' };
    const call = (body: Record<string, unknown>, signal?: AbortSignal) =>
      fetch(`${lb!.baseURL}/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'scripted', max_tokens: 3000, ...body }), signal });
    const user = (content: string) => [{ role: 'user' as const, content }];

    await (await call({ messages: user('plain'), job_id: 'finished-plain' })).json();
    await readBody(await call({ messages: user('streamed'), job_id: 'finished-streamed', stream: true }));
    await (await call({ messages: 'not a list' })).json();
    await (await call({ messages: user(`fail ${MARK}`), job_id: 'failed-plain' })).json();
    await readBody(await call({ messages: user(`fail ${MARK} streamed`), job_id: 'failed-streamed', stream: true }));
    const cutStream = await call({ messages: user('LONG cut'), job_id: 'cut', stream: true });
    const { rest: cutRest } = await readUntil(cutStream, (t) => (t.match(/"content":"[^"]/g) ?? []).length >= 3);
    await fetch(`${lb.baseURL}/jobs/cut/close`, { method: 'POST', headers: { authorization: 'Bearer test-key' } });
    await cutRest;
    const controller = new AbortController();
    const abandoned = await call({ messages: user('LONG abandoned'), job_id: 'abandoned', stream: true }, controller.signal);
    const { rest } = await readUntil(abandoned, (t) => (t.match(/"content":"[^"]/g) ?? []).length >= 3);
    rest.catch(() => undefined);
    controller.abort();
    await fetch(`${lb.address}/health`);
    await fetch(`${lb.address}/metrics`);
    await until(() => lines.filter((l) => l.call).length === 7);

    const calls = lines.filter((l) => l.call);
    // fastify's own request lines are off: besides the calls' lines, only its start-up line.
    expect(lines.filter((l) => !l.call).map((l) => l.msg)).toEqual([expect.stringMatching(/^Server listening at/)]);
    const byJob = (job: string) => calls.find((l) => l.job === job)!;
    const promptTokens = (text: string) => lb!.engine.tokenizer!.encode(lb!.engine.tokenizer!.applyChatTemplate(user(text), { addGenerationPrompt: true }), { addSpecialTokens: false }).length;

    expect(byJob('finished-plain')).toMatchObject({ level: INFO, msg: 'call finished', call: '/v1/chat/completions', outcome: 'finished', status: 200, finish: 'stop', promptTokens: promptTokens('plain'), completionTokens: 'hello'.length + 1 });
    expect(byJob('finished-streamed')).toMatchObject({ level: INFO, outcome: 'finished', status: 200, finish: 'stop', completionTokens: 'hello'.length + 1 });
    expect(calls.find((l) => l.status === 400)).toMatchObject({ level: WARN, msg: 'call failed', outcome: 'failed', code: 'invalid_value', error: expect.stringMatching(/messages/) });
    expect(byJob('failed-plain')).toMatchObject({ level: ERROR, msg: 'call failed', outcome: 'failed', status: 500, code: 'device_error', error: 'the device went away' });
    expect(byJob('failed-streamed')).toMatchObject({ level: ERROR, msg: 'call failed', outcome: 'failed', status: 200, code: 'device_error', error: 'the device went away' });
    expect(byJob('cut')).toMatchObject({ level: WARN, msg: 'call cut', outcome: 'cut', status: 200, finish: 'cancelled' });
    expect(byJob('abandoned')).toMatchObject({ level: WARN, msg: 'call abandoned', outcome: 'abandoned', status: 200 });
    for (const line of calls) expect(line.durationMs).toBeGreaterThanOrEqual(0);
  });
});
