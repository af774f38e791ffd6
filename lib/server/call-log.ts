/**
 * One structured log line per call (fastify's pino logger, on with `astraea serve --log`): when
 * the response closes, whatever happened — finished, failed (an error status or an error event in
 * a stream), cut by the server (its job closed, a drain's deadline) or abandoned by its client —
 * with the job, the status, the tokens and the duration. Routes add what only they know with
 * `noteCall`; the line is written from the response's `close` event, so no path can skip it.
 * Finished calls log at info; the others at warn, and 5xx at error.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SegmentResult } from '../engine/types.js';

export type CallOutcome = 'finished' | 'failed' | 'cut' | 'abandoned';

export interface CallNote {
  job?: string;
  finish?: string;
  promptTokens?: number;
  cachedTokens?: number;
  completionTokens?: number;
  /** The call's error (an error status's message, or a stream's error event). */
  error?: string;
  code?: string | null;
  /** The server cancelled it: its job was closed, or a drain's deadline passed. */
  cut?: boolean;
}

/** The routes whose requests are calls (a line each); /health, /metrics and the rest are not. */
const CALL_ROUTES = ['/v1/chat/completions', '/v1/completions'];

/** The request's route if it is a call's, else null. */
export function callRoute(url: string): string | null {
  const path = url.split('?')[0];
  return CALL_ROUTES.includes(path) ? path : null;
}

const notes = new WeakMap<object, CallNote>();

/** Adds to what the call's log line will say. */
export function noteCall(request: FastifyRequest, note: CallNote): void {
  notes.set(request.raw, { ...notes.get(request.raw), ...note });
}

/** The job, finish reason and tokens of a call's segments (summed over its choices). */
export function resultNote(job: string, results: readonly SegmentResult[]): CallNote {
  const sum = (f: (r: SegmentResult) => number) => results.reduce((s, r) => s + f(r), 0);
  return {
    job,
    finish: results[0]?.finishReason,
    promptTokens: results[0]?.usage.promptTokens,
    cachedTokens: results[0]?.usage.cachedPromptTokens,
    completionTokens: sum((r) => r.usage.completionTokens),
  };
}

export function outcomeOf(note: CallNote, status: number, responseFinished: boolean): CallOutcome {
  if (!responseFinished) return 'abandoned';
  if (note.cut) return 'cut';
  return note.error !== undefined || status >= 400 ? 'failed' : 'finished';
}

/** Registers the hook that writes each call's line. Register it first, so it sees every call. */
export function logEveryCall(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const path = callRoute(request.url);
    if (path === null) return;
    const startedMs = performance.now();
    reply.raw.once('close', () => {
      const note = notes.get(request.raw) ?? {};
      const status = reply.raw.statusCode;
      const outcome = outcomeOf(note, status, reply.raw.writableFinished);
      const line = { call: path, outcome, status, ...note, durationMs: Math.round(performance.now() - startedMs) };
      // A server's fault is an error: a 5xx, or a stream that failed after its 200.
      const serverFault = outcome === 'failed' && (status >= 500 || status < 400);
      if (outcome === 'finished') request.log.info(line, 'call finished');
      else if (serverFault) request.log.error(line, 'call failed');
      else request.log.warn(line, `call ${outcome}`);
    });
  });
}
