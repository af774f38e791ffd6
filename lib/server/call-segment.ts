/**
 * An HTTP call's engine segment: waited for whole (a non-streamed call; ./sse-writer.ts streams
 * one), cancelled when the client goes away (the engine then frees the job's KV), and timed for
 * the metrics.
 */
import type { ServerResponse } from 'node:http';
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
  /** The text each generated token released, in order (which tokens the content covers: ./content-tokens.ts). */
  tokenTexts: string[];
}

/** Cancels `segment` if the response closes before it ends; returns whether that happened. */
export function cancelOnDisconnect(raw: ServerResponse, segment: Segment): () => boolean {
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
  const tokenTexts: string[] = [];
  for await (const event of segment) {
    firstMs ??= performance.now();
    tokenTexts.push(event.text);
  }
  const result = await segment.done;
  return { result, timing: callTiming(startedMs, firstMs), disconnected: disconnected(), tokenTexts };
}

export function callTiming(startedMs: number, firstMs: number | null): SegmentTiming {
  return { ttftS: firstMs === null ? null : (firstMs - startedMs) / 1000, e2eS: (performance.now() - startedMs) / 1000 };
}
