/**
 * What the Kubernetes inference gateway / llm-d router reads from a replica (the Gateway API
 * Inference Extension's model-server protocol), checked with a Prometheus text-format parser, not
 * our own: the gauges by their exact names and types, and their values against the engine's
 * state while it is frozen mid-run (one call running, two waiting); load shedding (429 with
 * Retry-After); and job affinity without a custom router — llm-d's `llm-d-session` cookie set on a
 * reply and honoured on the next call, and a call for a job this replica never saw served as a
 * normal miss.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { callerOf, scriptedLoopback, until, type Loopback } from './loopback.js';
import { readUntil } from './sse-events.js';

const KV_BLOCKS = 64;
const reply = (prompt: string) => (prompt.includes('LONG') ? 'word '.repeat(500) : 'ok');

interface ParsedFamily {
  name: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

let lb: Loopback | null = null;
afterEach(async () => {
  lb?.backend?.resume();
  await lb?.close();
  lb = null;
});

async function scrape(loopback: Loopback): Promise<Map<string, ParsedFamily>> {
  const text = await (await fetch(`${loopback.address}/metrics`)).text();
  return new Map((parsePrometheusTextFormat(text) as ParsedFamily[]).map((f) => [f.name, f]));
}

describe('the model-server protocol', () => {
  it('the gauges a router reads: names, types, and values equal to the engine’s state', async () => {
    lb = await scriptedLoopback(reply, { kvBlocks: KV_BLOCKS, wrap: { delayMs: 1 } });
    const call = callerOf(lb, { model: 'scripted', max_tokens: 500 });
    const running = await call('chat/completions', { messages: [{ role: 'user', content: 'LONG' }], stream: true });
    const { rest } = await readUntil(running, (t) => (t.match(/"content":"[^"]/g) ?? []).length >= 3);
    rest.catch(() => undefined);
    lb.backend!.pause(); // the engine freezes between steps: the state below holds while we scrape
    const queued = [call('chat/completions', { messages: [{ role: 'user', content: 'first queued' }] }), call('chat/completions', { messages: [{ role: 'user', content: 'second queued' }] })];
    await until(() => lb!.engine.stats().jobs.waiting === 2);

    const families = await scrape(lb);
    const stats = lb.engine.stats();
    const gauge = (name: string) => {
      const family = families.get(name);
      expect(family, name).toBeDefined();
      expect(family!.type, name).toBe('GAUGE');
      expect(family!.metrics).toHaveLength(1);
      return family!.metrics[0];
    };
    expect(Number(gauge('vllm:num_requests_running').value)).toBe(1);
    expect(Number(gauge('vllm:num_requests_waiting').value)).toBe(2);
    // Used blocks over the pool: the running call's prompt and output so far, 16 tokens a block.
    const usage = Number(gauge('vllm:kv_cache_usage_perc').value);
    expect(usage).toBe(stats.kv.ownedBlocks / KV_BLOCKS);
    expect(usage).toBeGreaterThan(0);
    expect(usage).toBeLessThanOrEqual(1);
    const info = gauge('vllm:cache_config_info');
    expect(Number(info.value)).toBe(1);
    expect(info.labels).toMatchObject({ block_size: '16', num_gpu_blocks: String(KV_BLOCKS) });

    lb.backend!.resume();
    for (const r of await Promise.all(queued)) expect(r.status).toBe(200);
  });

  it('load shedding: past --max-waiting, a call gets 429 with Retry-After', async () => {
    lb = await scriptedLoopback(reply, { wrap: { delayMs: 1 }, server: { maxWaiting: 1 } });
    const call = callerOf(lb, { model: 'scripted', max_tokens: 20 });
    lb.backend!.pause();
    // The first call is planned into the step the pause holds (running); the second waits.
    const runs = call('chat/completions', { messages: [{ role: 'user', content: 'runs' }] });
    await until(() => lb!.engine.stats().jobs.running === 1);
    const waiting = call('chat/completions', { messages: [{ role: 'user', content: 'waits' }] });
    await until(() => lb!.engine.stats().jobs.waiting === 1);
    const shed = await call('chat/completions', { messages: [{ role: 'user', content: 'shed' }] });
    expect(shed.status).toBe(429);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect((await shed.json()).error).toMatchObject({ type: 'rate_limit_error', code: 'queue_full' });
    lb.backend!.resume();
    expect((await runs).status).toBe(200);
    expect((await waiting).status).toBe(200);
  });

  it('/health is 200 with the engine ready', async () => {
    lb = await scriptedLoopback(reply);
    const health = await fetch(`${lb.address}/health`);
    expect(health.status).toBe(200);
    expect((await health.json()).status).toBe('ok');
  });
});

describe('job affinity without a custom router', () => {
  it('a reply sets the llm-d-session cookie to its job; a call bringing it joins that session’s group and sets none', async () => {
    lb = await scriptedLoopback(reply);
    const call = callerOf(lb, { model: 'scripted', max_tokens: 8 });
    const first = await call('chat/completions', { messages: [{ role: 'user', content: 'hello' }] });
    const jobId = first.headers.get('x-astraea-job-id')!;
    expect(first.headers.get('set-cookie')).toBe(`llm-d-session=${encodeURIComponent(jobId)}; Path=/; HttpOnly; SameSite=Lax`);
    await first.json();

    // Two calls of the session (another conversation each) are one group: one program to the policy.
    const groupsBefore = lb.engine.stats().jobs.groups;
    const headers = { 'content-type': 'application/json', authorization: 'Bearer test-key', cookie: `other=1; llm-d-session=${encodeURIComponent('session-7')}` };
    const post = (content: string) => fetch(`${lb!.baseURL}/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'scripted', max_tokens: 8, messages: [{ role: 'user', content }] }) });
    const [a, b] = await Promise.all([post('branch a'), post('branch b')]);
    expect(a.headers.get('set-cookie')).toBeNull(); // the router's (or our earlier) value stands
    expect(b.headers.get('set-cookie')).toBeNull();
    await Promise.all([a.json(), b.json()]);
    expect(lb.engine.stats().jobs.groups).toBe(groupsBefore + 1);
  });

  it('a call for a job, session or cookie this replica never saw is a normal miss: served, nothing cached', async () => {
    lb = await scriptedLoopback(reply);
    const call = callerOf(lb, { model: 'scripted', max_tokens: 8 });
    // Contents that differ from their first character: no full block of one is a prefix of another.
    for (const [content, extra] of [['Alpha: a long history from elsewhere', { job_id: 'job-from-another-replica' }], ['Bravo: a long history from elsewhere', { prompt_cache_key: 'session-from-another-replica' }]] as const) {
      const response = await call('chat/completions', { messages: [{ role: 'user', content }], ...extra });
      expect(response.status).toBe(200);
      expect((await response.json()).usage.prompt_tokens_details.cached_tokens).toBe(0);
    }
    const viaHeaders = await fetch(`${lb.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer test-key', 'x-session-token': 'token-from-another-replica', cookie: 'llm-d-session=unknown' },
      body: JSON.stringify({ model: 'scripted', max_tokens: 8, messages: [{ role: 'user', content: 'Charlie: another history' }] }),
    });
    expect(viaHeaders.status).toBe(200);
    expect((await viaHeaders.json()).usage.prompt_tokens_details.cached_tokens).toBe(0);
  });
});
