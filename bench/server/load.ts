/**
 * What the HTTP path costs over the Node API: the same chat call (tiny preset, greedy, a fixed
 * number of generated tokens) made through `job.generate` and through POST /v1/chat/completions
 * on loopback. Latency: calls one at a time (the added latency is the difference of the means).
 * Throughput: `--concurrency` calls in flight, for `--calls` calls, both ways.
 *
 *   npm run build:ts && node dist/bench/server/load.js [--calls 300] [--concurrency 8] [--tokens 8]
 */
import { parseArgs } from 'node:util';
import { Engine } from '../../lib/engine/engine.js';
import { buildServer } from '../../lib/server/app.js';
import type { ChatMessage } from '../../lib/model/tokenizer.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '8' },
    tokens: { type: 'string', default: '8' },
  },
});
const calls = Number(values.calls);
const concurrency = Number(values.concurrency);
const tokens = Number(values.tokens);
const messages: ChatMessage[] = [{ role: 'user', content: 'Name three cities.' }];

async function timeEach(n: number, call: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call();
    out.push(performance.now() - t);
  }
  return out;
}

async function throughput(n: number, inFlight: number, call: () => Promise<void>): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next++ < n) await call();
  }));
  return n / ((performance.now() - t) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const engine = await Engine.create({ model: 'tiny', kvBlocks: 1024 });
  const { app } = buildServer(engine, { modelName: 'tiny', autoBind: false });
  const url = `${await app.listen({ port: 0, host: '127.0.0.1' })}/v1/chat/completions`;
  const body = JSON.stringify({ model: 'tiny', messages, max_tokens: tokens, temperature: 0, ignore_eos: true });
  const viaApi = async () => {
    const job = engine.createJob();
    await job.generate({ messages, maxTokens: tokens, ignoreEos: true }).done;
    job.close();
  };
  const viaHttp = async () => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    await res.json();
  };
  try {
    await timeEach(20, viaApi); // warm up both paths
    await timeEach(20, viaHttp);
    const api = await timeEach(calls, viaApi);
    const http = await timeEach(calls, viaHttp);
    const apiRate = await throughput(calls, concurrency, viaApi);
    const httpRate = await throughput(calls, concurrency, viaHttp);
    process.stdout.write(`tiny preset, ${tokens} generated tokens per call, ${calls} calls\n\n`);
    process.stdout.write('| path | latency mean (ms) | latency median (ms) | calls/s at concurrency ' + concurrency + ' |\n| --- | ---: | ---: | ---: |\n');
    process.stdout.write(`| Node API | ${mean(api).toFixed(2)} | ${median(api).toFixed(2)} | ${apiRate.toFixed(0)} |\n`);
    process.stdout.write(`| HTTP (loopback) | ${mean(http).toFixed(2)} | ${median(http).toFixed(2)} | ${httpRate.toFixed(0)} |\n`);
    process.stdout.write(`\nadded latency: ${(mean(http) - mean(api)).toFixed(2)} ms mean, ${(median(http) - median(api)).toFixed(2)} ms median; throughput ratio ${(httpRate / apiRate).toFixed(3)}\n`);
  } finally {
    await app.close();
    await engine.close();
  }
}

await main();
