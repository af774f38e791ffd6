/**
 * Streams an HTTP call's engine segment as Server-Sent Events in OpenAI's shape: chunks as content
 * becomes safe to send, tool calls, the finish and usage chunks, `data: [DONE]`. A client that goes
 * away cancels the segment (./call-segment.ts).
 */
import type { ServerResponse } from 'node:http';
import { createToolCallStream } from '../agent/tool-calls.js';
import type { Segment } from '../engine/segment.js';
import type { SegmentResult } from '../engine/types.js';
import { callTiming, cancelOnDisconnect, type RunResult } from './call-segment.js';

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
  return { result, timing: callTiming(startedMs, firstMs), disconnected: disconnected() };
}
