/**
 * `astraea serve` started and stopped as an orchestrator does it. While the model loads the port
 * already answers: `/health` is 503 "loading", then 200. On SIGTERM with `--drain-timeout-s 0` a
 * stream in flight is cut at once — it ends with a `server_shutting_down` error event before
 * `[DONE]` — and the process exits 0 promptly; with the default deadline a call in flight
 * finishes normally first — also when the reader of its stdout has gone (EPIPE on every message).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBody, readUntil, sseEvents } from '../server/sse-events.js';
import { startServe } from './serve-process.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'astraea.js');

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

describe('astraea serve with its log reader gone', () => {
  it('keeps serving, and on SIGTERM drains the call in flight and exits 0 though its stdout is a closed pipe', async () => {
    const serve = await startServe(['--preset', 'tiny']);
    serve.closeStdout();
    expect((await fetch(serve.baseURL.replace(/\/v1$/, '/health'))).status).toBe(200);
    const response = await post(serve.baseURL, streamBody(40));
    // The drain's messages go to the closed pipe (EPIPE): the process must neither crash nor quit
    // before the call in flight has finished.
    const exit = serve.stop();
    const events = sseEvents(await readBody(response));
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.some((e) => e !== '[DONE]' && e.choices?.[0]?.finish_reason === 'length')).toBe(true);
    expect(await exit).toBe(0);
    expect(serve.stderr()).not.toMatch(/EPIPE|Error/);
  });
});

describe('astraea serve while it loads', () => {
  it('the port answers at once: /health is 503 "loading" until the model is in, then 200', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--preset', 'small'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const healthUrl = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const m = /answers 503 until it is ready/.test(out) && /(http:\/\/\S+\/health)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
      });
      const seen: number[] = [];
      let loadingBody: unknown = null;
      for (;;) {
        const response = await fetch(healthUrl).catch(() => null); // the hand-over leaves a millisecond without a listener
        if (response === null) continue;
        seen.push(response.status);
        if (response.status === 503) loadingBody ??= await response.json();
        else await response.arrayBuffer();
        if (response.status === 200) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      // Loading `small` (random weights for ~100M parameters) takes far longer than one poll.
      expect(seen[0]).toBe(503);
      expect(loadingBody).toEqual({ status: 'loading' });
      expect(seen.at(-1)).toBe(200);
      expect(new Set(seen)).toEqual(new Set([503, 200]));
    } finally {
      child.kill('SIGTERM');
    }
  });
});
