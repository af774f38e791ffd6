/**
 * Streams an HTTP call's engine segments — one per choice — as Server-Sent Events in OpenAI's
 * shape: chunks as content becomes safe to send, tool calls, each choice's finish chunk, the usage
 * chunk, `data: [DONE]`. A client that goes away cancels every segment (./call-segment.ts).
 */
import type { ServerResponse } from 'node:http';
import { createToolCallStream, type ToolCallStream } from '../agent/tool-calls.js';
import type { Segment } from '../engine/segment.js';
import type { SegmentResult, TokenEvent } from '../engine/types.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { SampledLogprobs } from '../step.js';
import { callTiming, cancelOnDisconnect, type RunResult } from './call-segment.js';
import type { HttpError } from './errors.js';
import { coveredRange, TokenSpans } from './content-tokens.js';
import { coveredLogprobs, type CoveredLogprobs } from './logprobs-shapes.js';
import { withSummedUsage } from './openai-shapes.js';
import { SpecialTextRanges } from './special-tokens.js';

/** What a streamed call sends, in its route's chunk format; `index` is the choice's. */
export interface StreamFormat {
  /** The opening chunk (the chat route's `role` delta), if any. */
  start(index: number): object | null;
  /** A content chunk, with the logprobs of the tokens whose text it carries (when asked for). */
  content(text: string, logprobs: CoveredLogprobs | null, index: number): object;
  /** Chunks for the tool calls of a finished segment. */
  toolCalls(result: SegmentResult, index: number): object[];
  finish(result: SegmentResult, index: number): object;
  /** The usage chunk: of the one segment, or the choices' summed (./openai-shapes.ts). */
  usage(result: SegmentResult): object;
}

export interface StreamOptions {
  format: StreamFormat;
  includeUsage: boolean;
  /** Stop strings: text that may be the start of one waits until it is known not to be. */
  stop: readonly string[];
  /** Parse tool calls out of the stream (chat) or send the text as it is (completions, a response_format reply). */
  toolCalls: boolean;
  /** The call asked for logprobs. */
  logprobs: boolean;
  /** The model's tokenizer (which ids are special), and whether their text leaves the reply (./special-tokens.ts). */
  tokenizer: Tokenizer | null;
  skipSpecialTokens: boolean;
  headers: Record<string, string>;
  /**
   * The error a stream ends with when the server, not its client, cancelled it (its job closed, a
   * drain's deadline): sent as an error event before `[DONE]`, so the client knows it was cut.
   */
  cutError: () => HttpError;
}

/**
 * How much of `raw` is safe to send as far as stop strings go: up to the first stop string in it
 * (generation ends there), else all but the longest end that begins one. `from`: a length this
 * returned before for a shorter `raw` — no stop string starts before it, so the search starts there.
 */
export function stopSafeLength(raw: string, stop: readonly string[], from = 0): number {
  let first = -1;
  for (const s of stop) {
    const i = raw.indexOf(s, from);
    if (i >= 0 && (first < 0 || i < first)) first = i;
  }
  if (first >= 0) return first;
  let keep = 0;
  for (const s of stop) {
    for (let n = Math.min(s.length - 1, raw.length); n > keep; n--) {
      if (raw.endsWith(s.slice(0, n))) {
        keep = n;
        break;
      }
    }
  }
  return raw.length - keep;
}

/**
 * One choice's stream: its tokens in, its chunks out. Content is sent as it becomes safe to send:
 * a tool call's markup never appears as content, and text that could be the start of a stop
 * string waits until it is known not to be. What was sent is always a prefix of the final
 * content, and the last content chunk completes it. Each content chunk carries the logprobs of
 * the tokens its text covers (./content-tokens.ts): a token whose text is held back — a byte that
 * only starts a character, a possible stop string or tool-call markup — comes with the chunk that
 * finally carries that text, and tokens whose text never becomes content (markup, a stop string,
 * end of sequence) never come; so the chunks' logprobs add up to the whole call's.
 *
 * Everything above is decided on the engine's text, special tokens included (what the stop
 * strings and the tool-call parser read); only the text a chunk carries loses the special tokens'
 * (./special-tokens.ts). A piece that was nothing but special tokens sends nothing: its tokens'
 * logprobs go with the next chunk.
 */
class ChoiceStream {
  private readonly filter: ToolCallStream | null;
  private readonly spans = new TokenSpans();
  private readonly specials: SpecialTextRanges;
  private readonly ids: number[] = [];
  private readonly logprobs: SampledLogprobs[] = [];
  readonly tokenTexts: string[] = [];
  private output = ''; // the raw text the tokens released
  private passed = 0; // output[0, passed) went through the stop check
  private sent = ''; // the engine's text of the content sent so far (special tokens included)
  // Where the content starts in the output: the tool-call parser drops leading whitespace.
  private contentStart: number | null;
  private coveredTo = 0; // tokens whose logprobs were sent

  constructor(
    private readonly index: number,
    private readonly options: StreamOptions,
    private readonly send: (chunk: object) => void,
  ) {
    this.filter = options.toolCalls ? createToolCallStream('auto') : null;
    this.contentStart = this.filter ? null : 0;
    this.specials = new SpecialTextRanges(options.tokenizer, options.skipSpecialTokens);
  }

  event(event: TokenEvent): void {
    this.spans.push(event.text);
    this.specials.push(event.token, event.text);
    this.ids.push(event.token);
    this.tokenTexts.push(event.text);
    if (event.logprobs) this.logprobs.push(event.logprobs);
    this.output += event.text;
    const safe = stopSafeLength(this.output, this.options.stop, this.passed);
    if (safe <= this.passed) return;
    const piece = this.output.slice(this.passed, safe);
    this.passed = safe;
    const out = this.filter ? this.filter.push(piece).content : piece;
    if (out.length === 0) return;
    if (this.contentStart === null) {
      this.contentStart = this.output.length - this.output.trimStart().length;
      this.coveredTo = this.spans.firstCovered(this.contentStart);
    }
    const visible = this.specials.strip(out, this.contentStart + this.sent.length);
    this.sent += out;
    if (visible.length === 0) return;
    this.send(this.options.format.content(visible, this.take(this.spans.coveredEnd(this.contentStart + this.sent.length)), this.index));
  }

  /** The rest of the content, the tool calls and the finish chunk. */
  end(result: SegmentResult): void {
    const { format } = this.options;
    const final = (this.options.toolCalls ? result.content : result.text) ?? '';
    const rest = final.startsWith(this.sent) ? final.slice(this.sent.length) : '';
    // The same tokens a non-streamed call covers (./content-tokens.ts), less those already sent.
    const range = coveredRange(this.spans, result.text.length > this.output.length ? result.text : this.output, final);
    if (this.sent.length === 0) {
      this.contentStart = range.contentStart;
      this.coveredTo = range.from;
    }
    const lastLogprobs = this.take(range.to);
    const visibleRest = this.specials.strip(rest, (this.contentStart ?? range.contentStart) + this.sent.length);
    if (visibleRest.length > 0 || (lastLogprobs !== null && lastLogprobs.tokens.length > 0)) this.send(format.content(visibleRest, lastLogprobs, this.index));
    for (const chunk of format.toolCalls(result, this.index)) this.send(chunk);
    this.send(format.finish(result, this.index));
  }

  private take(to: number): CoveredLogprobs | null {
    if (!this.options.logprobs) return null;
    const covered = coveredLogprobs(this.ids, this.logprobs, this.spans, this.coveredTo, Math.max(this.coveredTo, to), this.contentStart ?? 0, this.specials);
    this.coveredTo = Math.max(this.coveredTo, to);
    return covered;
  }
}

/**
 * Streams the segments, choice i from `segments[i]`, as `data: {chunk}` events ending with
 * `data: [DONE]` once every choice has finished (the usage chunk before it sums them). If one
 * fails, the error travels as an event, the others are cancelled, and the error is thrown.
 */
export async function streamSegments(raw: ServerResponse, segments: readonly Segment[], startedMs: number, options: StreamOptions): Promise<RunResult[]> {
  const gone = segments.map((segment) => cancelOnDisconnect(raw, segment));
  const disconnected = () => gone.some((isGone) => isGone());
  raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...options.headers });
  const send = (chunk: object | string) => {
    if (!raw.writableEnded && !raw.destroyed) raw.write(`data: ${typeof chunk === 'string' ? chunk : JSON.stringify(chunk)}\n\n`);
  };
  segments.forEach((_segment, index) => {
    const opening = options.format.start(index);
    if (opening) send(opening);
  });
  const runOne = async (segment: Segment, index: number): Promise<RunResult> => {
    const choice = new ChoiceStream(index, options, send);
    let firstMs: number | null = null;
    for await (const event of segment) {
      firstMs ??= performance.now();
      choice.event(event);
    }
    const result = await segment.done;
    // A cut choice has no finish chunk: the stream ends with the cut's error event instead.
    if (!disconnected() && result.finishReason !== 'cancelled') choice.end(result);
    return { result, timing: callTiming(startedMs, firstMs), disconnected: disconnected(), tokenTexts: choice.tokenTexts };
  };
  let runs: RunResult[];
  try {
    runs = await Promise.all(segments.map(runOne));
  } catch (error) {
    for (const segment of segments) segment.cancel();
    await Promise.allSettled(segments.map((segment) => segment.done));
    // The status line is gone; the error travels as an event, as OpenAI streams it.
    const message = (error as Error)?.message ?? String(error);
    send({ error: { message, type: 'server_error', param: null, code: (error as { code?: string }).code?.toLowerCase() ?? null } });
    send('[DONE]');
    raw.end();
    throw error;
  }
  if (!disconnected()) {
    if (runs.some((run) => run.result.finishReason === 'cancelled')) {
      // Cut by the server (a job close, a drain): an error event, as a failure mid-stream sends.
      send(options.cutError().body());
    } else if (options.includeUsage) {
      send(options.format.usage(withSummedUsage(runs.map((r) => r.result))));
    }
    send('[DONE]');
    raw.end();
  } else {
    // Its client went away: nothing more can reach it, and a half-open connection (some clients
    // abort a fetch without closing the socket) would hold a server's close() open.
    raw.destroy();
  }
  return runs.map((run) => ({ ...run, disconnected: disconnected() }));
}

/** One choice's stream (./streamSegments). */
export async function streamSegment(raw: ServerResponse, segment: Segment, startedMs: number, options: StreamOptions): Promise<RunResult> {
  const [run] = await streamSegments(raw, [segment], startedMs, options);
  return run;
}
