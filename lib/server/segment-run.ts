/**
 * Runs one engine segment for an HTTP call: waits for it, or streams it as Server-Sent Events;
 * a client that goes away cancels it (the engine then frees the job's KV). It times the call for
 * the metrics and hands back what the route needs to answer.
 */
import type { ServerResponse } from 'node:http';
import { createToolCallStream } from '../agent/tool-calls.js';
import type { Segment } from '../engine/segment.js';
import type { SegmentResult } from '../engine/types.js';

export interface SegmentTiming {
  /** Seconds from the call's arrival to its first token (null if none came). */
  ttftS: number | null;
  e2eS: number;
}

export interface RunResult {
  result: SegmentResult;
  timing: SegmentTiming;
  /** The client went away before the end; nothing more can be sent. */
  disconnected: boolean;
}

/** Cancels `segment` if the response closes before it ends; returns whether that happened. */
function cancelOnDisconnect(raw: ServerResponse, segment: Segment): () => boolean {
  let disconnected = false;
  const onClose = () => {
    if (!raw.writableFinished) {
      disconnected = true;
      segment.cancel();
    }
  };
  raw.on('close', onClose);
  const detach = () => raw.off('close', onClose);
  segment.done.then(detach, detach);
  return () => disconnected;
}

/** Waits for the whole segment (a non-streamed call). */
export async function awaitSegment(raw: ServerResponse, segment: Segment, startedMs: number): Promise<RunResult> {
  const disconnected = cancelOnDisconnect(raw, segment);
  let firstMs: number | null = null;
  for await (const _event of segment) {
    firstMs ??= performance.now();
  }
  const result = await segment.done;
  return { result, timing: timing(startedMs, firstMs), disconnected: disconnected() };
}

/** What a streamed call sends, in its route's chunk format. */
export interface StreamFormat {
  /** The opening chunk (the chat route's `role` delta), if any. */
  start(): object | null;
  content(text: string): object;
  /** Chunks for the tool calls of a finished segment. */
  toolCalls(result: SegmentResult): object[];
  finish(result: SegmentResult): object;
  usage(result: SegmentResult): object;
}

export interface StreamOptions {
  format: StreamFormat;
  includeUsage: boolean;
  /** Stop strings: this much of the end is held back, since it may turn out to be one. */
  stop: readonly string[];
  /** Parse tool calls out of the stream (chat) or send the text as it is (completions). */
  toolCalls: boolean;
  headers: Record<string, string>;
}

/**
 * Streams the segment as `data: {chunk}` events ending with `data: [DONE]`. Content is sent as it
 * becomes safe to send: a tool call's markup never appears as content, and text that could be the
 * start of a stop string waits until it is known not to be. What was sent is always a prefix of
 * the final content, and the last content chunk completes it.
 */
export async function streamSegment(raw: ServerResponse, segment: Segment, startedMs: number, options: StreamOptions): Promise<RunResult> {
  const disconnected = cancelOnDisconnect(raw, segment);
  raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...options.headers });
  const send = (chunk: object | string) => {
    if (!raw.writableEnded && !raw.destroyed) raw.write(`data: ${typeof chunk === 'string' ? chunk : JSON.stringify(chunk)}\n\n`);
  };
  const opening = options.format.start();
  if (opening) send(opening);

  const filter = options.toolCalls ? createToolCallStream('auto') : null;
  const holdBack = Math.max(0, ...options.stop.map((s) => s.length - 1));
  let pending = '';
  let sent = '';
  let firstMs: number | null = null;
  for await (const event of segment) {
    firstMs ??= performance.now();
    pending += filter ? filter.push(event.text).content : event.text;
    if (pending.length > holdBack) {
      const out = pending.slice(0, pending.length - holdBack);
      pending = pending.slice(out.length);
      sent += out;
      send(options.format.content(out));
    }
  }
  let result: SegmentResult;
  try {
    result = await segment.done;
  } catch (error) {
    // The status line is gone; the error travels as an event, as OpenAI streams it.
    const message = (error as Error)?.message ?? String(error);
    send({ error: { message, type: 'server_error', param: null, code: (error as { code?: string }).code?.toLowerCase() ?? null } });
    send('[DONE]');
    raw.end();
    throw error;
  }
  if (!disconnected()) {
    const final = (options.toolCalls ? result.content : result.text) ?? '';
    if (final.startsWith(sent) && final.length > sent.length) send(options.format.content(final.slice(sent.length)));
    for (const chunk of options.format.toolCalls(result)) send(chunk);
    send(options.format.finish(result));
    if (options.includeUsage) send(options.format.usage(result));
    send('[DONE]');
    raw.end();
  }
  return { result, timing: timing(startedMs, firstMs), disconnected: disconnected() };
}

function timing(startedMs: number, firstMs: number | null): SegmentTiming {
  return { ttftS: firstMs === null ? null : (firstMs - startedMs) / 1000, e2eS: (performance.now() - startedMs) / 1000 };
}
