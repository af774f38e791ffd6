/**
 * `astraea serve` stopped by SIGTERM, as an orchestrator stops it: with `--drain-timeout-s 0` a
 * stream in flight is cut at once — it ends with a `server_shutting_down` error event before
 * `[DONE]` — and the process exits 0 promptly; with the default deadline a call in flight
 * finishes normally first.
 */
import { describe, expect, it } from 'vitest';
import { readBody, readUntil, sseEvents } from '../server/sse-events.js';
import { startServe } from './serve-process.js';

const streamBody = (maxTokens: number) =>
  JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'Count.' }], max_tokens: maxTokens, ignore_eos: true, stream: true, temperature: 0 });
const post = (baseURL: string, body: string) => fetch(`${baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('astraea serve on SIGTERM', () => {
  it('--drain-timeout-s 0: the stream in flight is cut with an error event, and the process exits 0', async () => {
    const serve = await startServe(['--preset', 'tiny', '--drain-timeout-s', '0']);
    const response = await post(serve.baseURL, streamBody(1900));
    const { head, rest } = await readUntil(response, (t) => (t.match(/"content":"/g) ?? []).length >= 3);
    const startedMs = performance.now();
    const exit = serve.stop();
    const events = sseEvents(head + (await rest));
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.at(-2)).toMatchObject({ error: { type: 'server_error', code: 'server_shutting_down' } });
    expect(await exit).toBe(0);
    expect(performance.now() - startedMs).toBeLessThan(5000);
    expect(serve.stdout()).toMatch(/draining: calls in flight have 0 s to finish/);
    expect(serve.stdout()).toMatch(/drained, 1 call\(s\) cut at the deadline/);
  });

  it('the default deadline: a call in flight finishes normally, then the process exits 0', async () => {
    const serve = await startServe(['--preset', 'tiny']);
    const response = await post(serve.baseURL, streamBody(40));
    const exit = serve.stop();
    const events = sseEvents(await readBody(response));
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.some((e) => e !== '[DONE]' && 'error' in e)).toBe(false);
    expect(events.some((e) => e !== '[DONE]' && e.choices?.[0]?.finish_reason === 'length')).toBe(true);
    expect(await exit).toBe(0);
  });
});
