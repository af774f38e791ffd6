/**
 * A server on loopback over the scripted model (./scripted-backend.ts), with the official openai
 * client pointed at it: what the client-level tests share.
 */
import OpenAI from 'openai';
import { Engine } from '../../lib/engine/engine.js';
import type { Tokenizer } from '../../lib/model/tokenizer.js';
import type { PolicyName } from '../../lib/sched/registry.js';
import { buildServer, type AstraeaServer, type ServerOptions } from '../../lib/server/app.js';
import { WrappedBackend, type WrapOptions } from '../wrapped-backend.js';
import { ScriptedChatBackend } from './scripted-backend.js';

export interface Loopback {
  engine: Engine;
  /** The wrapper around the scripted backend, when the options asked for one. */
  backend: WrappedBackend | null;
  server: AstraeaServer;
  client: OpenAI;
  baseURL: string;
  /** The value of the first /metrics line matching `line` (a regular expression of the name and labels). */
  metric(line: RegExp): Promise<number>;
  /** Closes every job the server keeps between calls (as idle expiry would). */
  closeAllJobs(): void;
  close(): Promise<void>;
  /** http://127.0.0.1:port (without /v1). */
  address: string;
}

export interface LoopbackOptions {
  policy?: PolicyName;
  kvBlocks?: number;
  tokenizer?: Tokenizer;
  /** Delay and faults injected into the scripted backend's steps (../wrapped-backend.ts). */
  wrap?: WrapOptions;
  /** The server's logger (ServerOptions.logger). */
  logger?: ServerOptions['logger'];
  /** Other server options. */
  server?: Omit<ServerOptions, 'logger' | 'modelName' | 'apiKey'>;
}

export async function scriptedLoopback(reply: (prompt: string) => string, options: LoopbackOptions = {}): Promise<Loopback> {
  const scripted = new ScriptedChatBackend({ reply, tokenizer: options.tokenizer });
  const backend = options.wrap ? new WrappedBackend(scripted, options.wrap) : scripted;
  const engine = Engine.withBackend(backend, { kvBlocks: options.kvBlocks ?? 512, policy: options.policy ?? 'astraea' });
  const server = buildServer(engine, { modelName: 'scripted', apiKey: 'test-key', logger: options.logger, ...options.server });
  const address = await server.app.listen({ port: 0, host: '127.0.0.1' });
  const baseURL = `${address}/v1`;
  return {
    engine,
    backend: backend instanceof WrappedBackend ? backend : null,
    server,
    client: new OpenAI({ baseURL, apiKey: 'test-key', maxRetries: 0 }),
    baseURL,
    async metric(line) {
      const text = await (await fetch(`${address}/metrics`)).text();
      const m = new RegExp(`^${line.source} (\\S+)$`, 'm').exec(text);
      if (!m) throw new Error(`no metric ${line.source}`);
      return Number(m[1]);
    },
    closeAllJobs: () => server.context.jobs.expire(Infinity),
    async close() {
      // A drain, not a bare close(): a connection a client left open (some abort a fetch without
      // closing it) is closed after a second instead of holding close() until the client drops it.
      await server.drain(1);
      await engine.close();
    },
    address,
  };
}

export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** POSTs JSON to a route of the loopback server with its key, `defaults` under each body. */
export function callerOf(loopback: Loopback, defaults: Record<string, unknown>) {
  const headers = { 'content-type': 'application/json', authorization: 'Bearer test-key' };
  return (route: 'chat/completions' | 'completions', body: Record<string, unknown>, signal?: AbortSignal) =>
    fetch(`${loopback.baseURL}/${route}`, { method: 'POST', headers, body: JSON.stringify({ ...defaults, ...body }), signal });
}
