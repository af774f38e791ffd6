/**
 * A soak of agent jobs over HTTP, with the faults real clients bring: streams aborted midway or
 * before the first byte, two calls at once on one named job, a job closed during its call,
 * malformed bodies, slow stream readers, forced tool calls (constrained decoding) — on a KV pool
 * small enough that jobs are preempted, swapped and recomputed. Each job makes 2–5 calls, each
 * call extending the conversation with the reply and a tool result. What it reports: calls,
 * status counts, latency quantiles of the completed calls, RSS over time, and the engine's KV and
 * queues at the end, after every job was closed — which must be empty.
 *
 * Driven by bench/server/soak.ts (minutes to hours) and test/server/soak.test.ts (seconds).
 */
import { Engine } from '../../lib/engine/engine.js';
import type { PolicyName } from '../../lib/sched/registry.js';
import { buildServer } from '../../lib/server/app.js';
import { hashString, mulberry32, type Rng } from '../../lib/workload/random.js';

export interface SoakOptions {
  /** Stop starting jobs after this many seconds (jobs in progress finish). */
  durationS: number;
  /** Jobs in flight at once. */
  concurrency: number;
  /** At most this many jobs in all (default: no limit). */
  maxJobs?: number;
  /** Device KV blocks (small: preemption and swaps); host blocks as many. */
  kvBlocks: number;
  seed: number;
  /** Largest max_tokens a call asks for. */
  maxTokens: number;
  /** Longest tool call between a job's calls, ms (each draws uniformly up to it; default 0). */
  toolMs?: number;
  /** The scheduling policy (default the engine's). */
  policy?: PolicyName;
  /** Called every second with the RSS sample. */
  onSample?: (sample: RssSample) => void;
}

export interface RssSample {
  atS: number;
  rssMiB: number;
  calls: number;
}

type Fault = 'none' | 'abort-mid-stream' | 'abort-early' | 'two-at-once' | 'close-during' | 'malformed' | 'slow-reader' | 'forced-tool';

export interface SoakReport {
  jobs: number;
  calls: number;
  seconds: number;
  /** Responses by status (a call aborted by its client before a status counts as "aborted"). */
  statuses: Record<string, number>;
  /** Error responses by status, code and the fault the call carried. */
  errorCodes: Record<string, number>;
  /** Calls per fault kind. */
  faults: Record<Fault, number>;
  /** Latency of the calls that completed with 200, milliseconds. */
  p50Ms: number;
  p99Ms: number;
  rss: RssSample[];
  /** After every job was closed. */
  end: { ownedBlocks: number; hostOwned: number; runningJobs: number; openJobs: number; waiting: number };
  /** What the tight pool made the engine do: the pool was small enough to matter. */
  pressure: { preemptions: number; swappedToolWaits: number; discardedToolWaits: number; recomputedPrefillTokens: number; swapOutBytes: number };
  /** Responses that broke the rules (5xx, a non-OpenAI error body, a reply without choices). */
  violations: string[];
}

const FAULTS: [Fault, number][] = [
  ['none', 40],
  ['forced-tool', 15],
  ['abort-mid-stream', 10],
  ['abort-early', 6],
  ['two-at-once', 8],
  ['close-during', 8],
  ['malformed', 8],
  ['slow-reader', 5],
];

function pickFault(rng: Rng): Fault {
  const total = FAULTS.reduce((s, [, w]) => s + w, 0);
  let u = rng() * total;
  for (const [fault, w] of FAULTS) if ((u -= w) < 0) return fault;
  return 'none';
}

const TOOLS = [{ type: 'function', function: { name: 'run', description: 'Runs a shell command', parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] } } }];

const MALFORMED: ((model: string) => string)[] = [
  () => '{"model": "tiny", "messages": [',
  (m) => JSON.stringify({ model: m, messages: 'hello' }),
  (m) => JSON.stringify({ model: m, messages: [{ role: 'user', content: 'x' }], max_tokens: -3 }),
  (m) => JSON.stringify({ model: m, messages: [{ role: 'wizard', content: 'x' }] }),
  (m) => JSON.stringify({ model: m, messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }),
  (m) => JSON.stringify({ model: m, messages: [{ role: 'user', content: 'x' }], frobnicate: true }),
  () => JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
];

/** Reads an SSE body to its end (or `chunks` chunks), `delayMs` between reads; true if it saw [DONE]. */
async function readStream(body: ReadableStream<Uint8Array>, options: { chunks?: number; delayMs?: number } = {}): Promise<{ text: string; done: boolean }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let read = 0;
  try {
    for (;;) {
      if (options.chunks !== undefined && read >= options.chunks) return { text, done: false };
      const { value, done } = await reader.read();
      if (done) return { text, done: text.includes('data: [DONE]') };
      text += decoder.decode(value, { stream: true });
      read++;
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    }
  } finally {
    reader.releaseLock();
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const model = 'tiny';
  const engine = await Engine.create({ model, kvBlocks: options.kvBlocks, hostBlocks: options.kvBlocks, ...(options.policy ? { policy: options.policy } : {}) });
  const { app, context } = buildServer(engine, { modelName: model, maxWaiting: 4 * options.concurrency });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `${base}/v1/chat/completions`;
  const rng = mulberry32(hashString(`soak/${options.seed}`));
  const statuses: Record<string, number> = {};
  const errorCodes: Record<string, number> = {};
  const faults = Object.fromEntries(FAULTS.map(([f]) => [f, 0])) as Record<Fault, number>;
  const latencies: number[] = [];
  const violations: string[] = [];
  const rss: RssSample[] = [];
  let calls = 0;
  let jobs = 0;
  const started = performance.now();
  const elapsedS = () => (performance.now() - started) / 1000;
  const count = (key: string) => (statuses[key] = (statuses[key] ?? 0) + 1);

  const sampler = setInterval(() => {
    const sample = { atS: Math.round(elapsedS()), rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20), calls };
    rss.push(sample);
    options.onSample?.(sample);
  }, 1000);

  /** One call; returns the assistant message to extend the conversation with, or null. */
  async function call(jobId: string, messages: object[], fault: Fault): Promise<object | null> {
    calls++;
    faults[fault]++;
    const maxTokens = 1 + Math.floor(rng() * options.maxTokens);
    const stream = fault === 'abort-mid-stream' || fault === 'close-during' || fault === 'slow-reader' || (fault === 'none' && rng() < 0.5);
    const body: Record<string, unknown> = { model, messages, max_tokens: maxTokens, temperature: 1, seed: Math.floor(rng() * 1e6), job_id: jobId, stream };
    if (fault === 'forced-tool') Object.assign(body, { tools: TOOLS, tool_choice: 'required' });
    const controller = new AbortController();
    const t0 = performance.now();
    const text = fault === 'malformed' ? MALFORMED[Math.floor(rng() * MALFORMED.length)](model) : JSON.stringify(body);
    if (fault === 'abort-early') setTimeout(() => controller.abort(), 0);
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text, signal: controller.signal });
    } catch {
      count('aborted');
      return null;
    }
    count(String(response.status));
    if (response.status >= 500) violations.push(`${fault}: ${response.status} ${await response.text()}`);
    if (response.status !== 200) {
      const error = (await response.json().catch(() => null)) as { error?: { message?: string; type?: string; code?: string | null } } | null;
      if (!error?.error?.message || !error.error.type) violations.push(`${fault}: ${response.status} without an OpenAI error body`);
      else {
        const key = `${response.status} ${error.error.code ?? error.error.type} (${fault})`;
        errorCodes[key] = (errorCodes[key] ?? 0) + 1;
      }
      return null;
    }
    try {
      if (stream) {
        if (fault === 'abort-mid-stream') {
          await readStream(response.body!, { chunks: 2 });
          controller.abort();
          return null;
        }
        if (fault === 'close-during') {
          const first = readStream(response.body!, {});
          await fetch(`${base}/v1/jobs/${jobId}/close`, { method: 'POST' });
          await first;
          return null;
        }
        const { text: sse, done } = await readStream(response.body!, { delayMs: fault === 'slow-reader' ? 20 : 0 });
        if (!done) violations.push(`${fault}: a stream ended without [DONE]`);
        latencies.push(performance.now() - t0);
        const content = [...sse.matchAll(/"content":"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`)).join('');
        return { role: 'assistant', content };
      }
      const reply = (await response.json()) as { choices?: { message: object }[] };
      if (!reply.choices?.[0]?.message) {
        violations.push(`${fault}: a 200 without choices`);
        return null;
      }
      latencies.push(performance.now() - t0);
      return reply.choices[0].message;
    } catch (error) {
      if (!controller.signal.aborted) violations.push(`${fault}: reading the reply: ${String(error)}`);
      return null;
    }
  }

  async function agentJob(index: number): Promise<void> {
    const jobId = `soak-${options.seed}-${index}`;
    const messages: object[] = [
      { role: 'system', content: 'You are a coding agent.' },
      { role: 'user', content: `Task ${index}: fix the failing test.` },
    ];
    const turns = 2 + Math.floor(rng() * 4);
    for (let turn = 0; turn < turns; turn++) {
      const fault = pickFault(rng);
      if (fault === 'two-at-once') {
        // Two calls on one named job: one runs, the other is refused (409 job_busy) or, if the
        // first already finished, runs after it.
        const [first] = await Promise.all([call(jobId, messages, 'two-at-once'), call(jobId, messages, 'none')]);
        if (first) messages.push(first);
      } else {
        const reply = await call(jobId, messages, fault);
        if (reply) messages.push(reply);
      }
      // The tool runs: while it does, the job waits and the policy keeps, swaps or drops its KV.
      if (options.toolMs) await new Promise((resolve) => setTimeout(resolve, rng() * options.toolMs!));
      const last = messages.at(-1) as { tool_calls?: { id: string }[] };
      if (last.tool_calls?.length) for (const c of last.tool_calls) messages.push({ role: 'tool', tool_call_id: c.id, content: 'exit 0' });
      else messages.push({ role: 'user', content: `Output of turn ${turn}: ${'x'.repeat(Math.floor(rng() * 200))}` });
    }
    await fetch(`${base}/v1/jobs/${jobId}/close`, { method: 'POST' });
  }

  try {
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (elapsedS() < options.durationS && (options.maxJobs === undefined || jobs < options.maxJobs)) await agentJob(jobs++);
      }),
    );
  } finally {
    clearInterval(sampler);
  }
  context.jobs.expire(Infinity);
  // Aborted streams are noticed by the server when its next write fails: give it a moment.
  for (let i = 0; i < 100 && engine.stats().kv.ownedBlocks > 0; i++) await new Promise((r) => setTimeout(r, 20));
  const stats = engine.stats();
  const end = { ownedBlocks: stats.kv.ownedBlocks, hostOwned: stats.kv.hostOwned, runningJobs: stats.jobs.running, openJobs: stats.jobs.open, waiting: stats.jobs.waiting };
  const pressure = {
    preemptions: stats.preemptions,
    swappedToolWaits: stats.kvActions.swap,
    discardedToolWaits: stats.kvActions.discard,
    recomputedPrefillTokens: stats.kvTraffic.recomputedPrefillTokens,
    swapOutBytes: stats.kvTraffic.swapOutBytes,
  };
  engine.checkInvariants();
  await app.close();
  await engine.close();
  const sorted = [...latencies].sort((a, b) => a - b);
  return { jobs, calls, seconds: elapsedS(), statuses, errorCodes, faults, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), rss, end, pressure, violations };
}
