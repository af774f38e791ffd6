/**
 * A job's client hints (GenerateOptions: priority, expectedFutureSegments, retain, cachePriority;
 * docs/server.md "Hints"): checked when a segment starts, kept on the job record, read by the step
 * planner (the candidate's priority and segments ahead), by ./job-kv.ts (the retain priority the
 * policy sees during a tool wait) and, when a segment ends well, declared on the job's cached
 * blocks as eviction priorities (lib/kv/block-retention.ts). Every hint is soft: it informs the
 * policy and the prefix cache's eviction order, it never pins memory or refuses other work.
 * Lapses are compared with the clock when read; nothing here needs a timer.
 */
import { EngineError } from '../errors.js';
import type { BlockManager } from '../kv/block-manager.js';

/** vLLM `kv.retain`'s highest priority (0 asks for nothing). */
export const MAX_RETAIN_PRIORITY = 100;

/** A token range of the job's context to keep (vLLM's `kv.retain` directive). */
export interface RetainRange {
  /** First token, 0-based, of the job's context (the call's prompt). */
  start: number;
  /** One past the last token; absent or null: to the end of the context, generated tokens included. */
  end?: number | null;
  /** 0–100: higher is kept longer; 0 asks for nothing. */
  priority: number;
  /** Seconds the request lasts from the call; absent or null: until the job closes (on the device) or its content is evicted (in the cache). */
  durationS?: number | null;
  /** vLLM's `covers_output`: the range is the tokens generated after the prompt (start and end ignored). */
  coversOutput?: boolean;
  /** How the client named this range, for error messages (e.g. `kv_hints.actions[0].payload.directives[1]`). */
  label?: string;
}

/** vLLM's `vllm.set_priority`: an eviction priority for the call's cached blocks, for `ttlS` seconds. */
export interface CachePriority {
  /** Higher is evicted later; 0 or below is the default (no effect). */
  value: number;
  ttlS: number;
}

/** A retain range as kept: absolute bounds and deadline. */
interface RetainClaim {
  start: number;
  end: number;
  priority: number;
  untilS: number;
}

/** The hints a job holds now. */
export interface JobHints {
  /** The running segment's priority (higher sooner; 0 neutral). */
  priority: number;
  /** The running segment's hinted segments ahead, else undefined (the predictor's). */
  futureSegments: number | undefined;
  /** Declared on the segment's blocks when it ends well. */
  cachePriority: CachePriority | undefined;
  /** Kept across calls until each lapses, or until a call sends ranges of its own. */
  retain: RetainClaim[];
}

export function noHints(): JobHints {
  return { priority: 0, futureSegments: undefined, cachePriority: undefined, retain: [] };
}

interface HintOptions {
  priority?: number;
  expectedFutureSegments?: number;
  retain?: RetainRange[];
  cachePriority?: CachePriority;
}

const invalid = (jobId: string, message: string) => new EngineError('INVALID_ARGUMENT', `${jobId}: ${message}`);

/** Throws INVALID_ARGUMENT, naming the field, for a malformed hint; `promptTokens` bounds retain ranges. */
export function checkSegmentHints(jobId: string, options: HintOptions, promptTokens: number): void {
  if (options.priority !== undefined && !Number.isFinite(options.priority)) throw invalid(jobId, `priority must be a finite number, got ${options.priority}`);
  const future = options.expectedFutureSegments;
  if (future !== undefined && !(Number.isInteger(future) && future >= 0)) {
    throw invalid(jobId, `expectedFutureSegments must be an integer >= 0, got ${future}`);
  }
  if (options.retain !== undefined && !Array.isArray(options.retain)) throw invalid(jobId, 'retain must be an array of token ranges');
  (options.retain ?? []).forEach((r, i) => {
    if (typeof r !== 'object' || r === null) throw invalid(jobId, `retain[${i}] must be an object`);
    const name = r.label ?? `retain[${i}]`;
    if (r.coversOutput) r = { ...r, start: 0, end: null }; // (its bounds are the output's, known at the end)
    if (!(Number.isInteger(r.start) && r.start >= 0)) throw invalid(jobId, `${name}.start must be an integer >= 0, got ${r.start}`);
    if (r.start >= promptTokens) throw invalid(jobId, `${name}.start ${r.start} is past the prompt's ${promptTokens} tokens`);
    if (r.end != null) {
      if (!(Number.isInteger(r.end) && r.end > r.start)) throw invalid(jobId, `${name}.end must be null or an integer > start, got ${r.end}`);
      if (r.end > promptTokens) throw invalid(jobId, `${name}.end ${r.end} is past the prompt's ${promptTokens} tokens`);
    }
    if (!(Number.isInteger(r.priority) && r.priority >= 0 && r.priority <= MAX_RETAIN_PRIORITY)) {
      throw invalid(jobId, `${name}.priority must be an integer in [0, ${MAX_RETAIN_PRIORITY}], got ${r.priority}`);
    }
    if (r.durationS != null && !(Number.isFinite(r.durationS) && r.durationS >= 0)) throw invalid(jobId, `${name}.duration must be null or a number >= 0, got ${r.durationS}`);
  });
  const cache = options.cachePriority;
  if (cache !== undefined) {
    if (typeof cache !== 'object' || cache === null) throw invalid(jobId, 'cachePriority must be an object { value, ttlS }');
    if (!Number.isInteger(cache.value)) throw invalid(jobId, `cachePriority.value must be an integer, got ${cache.value}`);
    if (!(Number.isFinite(cache.ttlS) && cache.ttlS > 0)) throw invalid(jobId, `cachePriority.ttlS must be a finite number > 0, got ${cache.ttlS}`);
  }
}

/** The job's hints once a (checked) segment starts at `nowS`: per-call ones replaced, retain ranges kept unless the call sends its own. */
export function segmentHints(previous: JobHints, options: HintOptions, nowS: number, promptTokens: number): JobHints {
  const retain =
    options.retain === undefined
      ? previous.retain
      : options.retain
          .filter((r) => r.priority > 0)
          .map((r) => ({ start: r.coversOutput ? promptTokens : r.start, end: r.coversOutput ? Infinity : (r.end ?? Infinity), priority: r.priority, untilS: r.durationS == null ? Infinity : nowS + r.durationS }));
  return { priority: options.priority ?? 0, futureSegments: options.expectedFutureSegments, cachePriority: options.cachePriority, retain };
}

/** The highest priority among the job's retain ranges still in force at `nowS`; undefined when none is. */
export function retainPriority(hints: JobHints, nowS: number): number | undefined {
  let best: number | undefined;
  for (const r of hints.retain) if (r.untilS > nowS && (best === undefined || r.priority > best)) best = r.priority;
  return best;
}

/**
 * A segment ended well: its retain ranges still in force, and its cache priority (from now, for
 * its ttl), become eviction priorities of the job's blocks that hold computed content — so
 * whatever the policy then does with the KV, those blocks outlast plain ones in the prefix cache.
 */
export function declareOnBlocks(jobId: string, hints: JobHints, blocks: BlockManager, nowS: number): void {
  for (const r of hints.retain) if (r.untilS > nowS) blocks.retainBlocks(jobId, r.start, r.end, r.priority, r.untilS);
  const cache = hints.cachePriority;
  if (cache !== undefined && cache.value > 0) blocks.retainBlocks(jobId, 0, Infinity, cache.value, nowS + cache.ttlS);
}
