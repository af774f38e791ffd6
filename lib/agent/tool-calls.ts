/**
 * Tool-call detection in generated text, for the formats open models use:
 *
 * - Hermes / Qwen: `<tool_call>{"name": "f", "arguments": {...}}</tool_call>`, any number of blocks,
 *   possibly with text around them. `arguments` may be an object or a JSON string holding one
 *   (`parameters` is accepted as a synonym). A block whose JSON is malformed, or that is never
 *   closed, is not a tool call: its raw text stays in the content.
 * - Llama 3.x JSON (./llama-tool-calls.ts): the whole output is one or more `{"name": "f",
 *   "parameters": {...}}` objects separated by `;`, optionally after `<|python_tag|>`.
 * - Mistral (./mistral-tool-calls.ts): `[TOOL_CALLS]` then the calls, to the end of the output;
 *   text before the marker is content.
 *
 * 'auto' (what the server uses) takes the Llama-3 form when the whole output is one; otherwise
 * it scans left to right for Hermes blocks and, outside them, the first `[TOOL_CALLS]`.
 *
 * Content is the text outside tool calls, trimmed of leading and trailing whitespace, or null
 * when that is empty. Arguments are re-serialised canonically with `JSON.stringify`. Ids are
 * deterministic: `${idPrefix}_${index}`, index counting from 0 over the whole output; when the
 * output has Mistral calls, 9 alphanumeric characters made from that (Mistral's templates insist).
 *
 * Nothing here throws on model output.
 */
import { EngineError } from '../errors.js';
import { LlamaScanner, parseLlamaCalls } from './llama-tool-calls.js';
import { MISTRAL_MARKER, mistralCallId, parseMistralCalls } from './mistral-tool-calls.js';
import { lenientCall, makeCalls, parseJson, type RawCall } from './tool-call-json.js';

export type ToolCallFormat = 'hermes' | 'llama3' | 'mistral' | 'auto';

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string /* JSON text, as OpenAI returns it */ };
}

export interface ParsedOutput {
  content: string | null;
  toolCalls: ToolCall[];
}

/** What `finish()` of a tool-call stream returns: the full parse, plus what is left to stream. */
export interface ToolCallStreamResult extends ParsedOutput {
  /**
   * Content not yet returned by `push`: the streamed content followed by `flushed` equals
   * `content` (or the empty string when `content` is null).
   */
  flushed: string;
}

export interface ToolCallPushResult {
  /** Text safe to send to the client as content now (may be empty). */
  content: string;
  /** True when a Hermes block closed with a valid tool call during this push. */
  toolCallComplete: boolean;
}

export interface ToolCallStream {
  push(delta: string): ToolCallPushResult;
  finish(): ToolCallStreamResult;
}

const OPEN_TAG = '<tool_call>';
const CLOSE_TAG = '</tool_call>';
const TRAILING_WS = /\s+$/;

/** Which markers a left-to-right scan of the text looks for. */
interface ScanMarkers {
  hermes: boolean;
  mistral: boolean;
}

const MARKERS: Record<Exclude<ToolCallFormat, 'llama3'>, ScanMarkers> = {
  hermes: { hermes: true, mistral: false },
  mistral: { hermes: false, mistral: true },
  auto: { hermes: true, mistral: true },
};

function finalContent(text: string): string | null {
  const t = text.trim();
  return t.length > 0 ? t : null;
}

function hermesCall(body: string): RawCall | null {
  const parsed = parseJson(body);
  return parsed ? lenientCall(parsed.value) : null;
}

/** Where the next marker starts at or after `from`, and which it is. */
function nextMarker(text: string, from: number, markers: ScanMarkers): { at: number; kind: 'hermes' | 'mistral' } | null {
  const open = markers.hermes ? text.indexOf(OPEN_TAG, from) : -1;
  const mistral = markers.mistral ? text.indexOf(MISTRAL_MARKER, from) : -1;
  if (mistral >= 0 && (open < 0 || mistral < open)) return { at: mistral, kind: 'mistral' };
  return open >= 0 ? { at: open, kind: 'hermes' } : null;
}

/**
 * Scans a whole output left to right, as the stream does: Hermes blocks become calls (or stay
 * content when malformed or unclosed); at the first `[TOOL_CALLS]` outside a block, the rest is
 * Mistral calls, or content if it is not calls.
 */
function scanOutput(text: string, markers: ScanMarkers, idPrefix: string | undefined): ParsedOutput {
  const raw: RawCall[] = [];
  let content = '';
  let pos = 0;
  for (;;) {
    const next = nextMarker(text, pos, markers);
    if (next === null) break;
    if (next.kind === 'mistral') {
      content += text.slice(pos, next.at);
      const calls = parseMistralCalls(text.slice(next.at + MISTRAL_MARKER.length));
      if (!calls) return { content: finalContent(content + text.slice(next.at)), toolCalls: makeCalls(raw, idPrefix) };
      // Ids a Mistral template accepts when the agent sends the calls back.
      return { content: finalContent(content), toolCalls: makeCalls([...raw, ...calls], idPrefix, mistralCallId) };
    }
    const close = text.indexOf(CLOSE_TAG, next.at + OPEN_TAG.length);
    if (close < 0) break;
    const end = close + CLOSE_TAG.length;
    const call = hermesCall(text.slice(next.at + OPEN_TAG.length, close));
    if (call) {
      content += text.slice(pos, next.at);
      raw.push(call);
    } else {
      content += text.slice(pos, end);
    }
    pos = end;
  }
  content += text.slice(pos);
  return { content: finalContent(content), toolCalls: makeCalls(raw, idPrefix) };
}

/** Parses a whole output (used when a segment ends). Never throws on model output. */
export function parseToolCalls(text: string, format: ToolCallFormat = 'auto', idPrefix?: string): ParsedOutput {
  if (format !== 'llama3' && format !== 'auto') return scanOutput(text, MARKERS[format], idPrefix);
  const llama = parseLlamaCalls(text);
  if (llama) return { content: null, toolCalls: makeCalls(llama, idPrefix) };
  if (format === 'auto') return scanOutput(text, MARKERS.auto, idPrefix);
  return { content: finalContent(text), toolCalls: [] };
}

/** Length of the longest suffix of `s` (from `from`) that is a proper prefix of `tag`. */
function partialTagSuffix(s: string, from: number, tag: string): number {
  const max = Math.min(tag.length - 1, s.length - from);
  for (let n = max; n > 0; n--) {
    if (tag.startsWith(s.slice(s.length - n))) return n;
  }
  return 0;
}

/**
 * Streaming detection. `push` returns content that is safe to stream now: it withholds a partial
 * `<tool_call>` or `[TOOL_CALLS]` at the end, everything inside an open Hermes block, everything
 * after a `[TOOL_CALLS]`, leading whitespace (dropped), trailing whitespace (until more text
 * follows), and, in the Llama-3 form, everything while the output could still be a JSON tool call.
 * `finish()` parses everything pushed; its `content` equals `parseToolCalls(all, format,
 * idPrefix).content`, and `flushed` is the part of it not yet streamed.
 */
export function createToolCallStream(format: ToolCallFormat = 'auto', idPrefix?: string): ToolCallStream {
  let buf = '';
  let finished = false;
  // 'llama': undecided, withholding everything; 'scan': looking for markers; 'plain': no markers;
  // 'calls': after a [TOOL_CALLS], withholding the rest.
  let mode: 'llama' | 'scan' | 'plain' | 'calls' = format === 'llama3' || format === 'auto' ? 'llama' : 'scan';
  const markers = format === 'llama3' ? null : MARKERS[format];
  const scanner = mode === 'llama' ? new LlamaScanner() : null;
  // Scanning state.
  let pos = 0; // buf[0..pos) has been streamed or consumed as a tool call
  let openAt = -1; // start of the open Hermes block, or -1 outside a block
  let closeSearchFrom = 0;
  // Content emission state.
  let started = false;
  let held = '';
  let emittedLength = 0;

  function emit(text: string): string {
    let t = text;
    if (!started) {
      t = t.trimStart();
      if (t.length === 0) return '';
      started = true;
    }
    const combined = held + t;
    const m = TRAILING_WS.exec(combined);
    held = m ? m[0] : '';
    const out = m ? combined.slice(0, m.index) : combined;
    emittedLength += out.length;
    return out;
  }

  function scan(m: ScanMarkers): ToolCallPushResult {
    let out = '';
    let complete = false;
    for (;;) {
      if (openAt >= 0) {
        const close = buf.indexOf(CLOSE_TAG, Math.max(closeSearchFrom, openAt + OPEN_TAG.length));
        if (close < 0) {
          closeSearchFrom = Math.max(openAt + OPEN_TAG.length, buf.length - CLOSE_TAG.length + 1);
          break;
        }
        const end = close + CLOSE_TAG.length;
        if (hermesCall(buf.slice(openAt + OPEN_TAG.length, close))) complete = true;
        else out += emit(buf.slice(openAt, end));
        pos = end;
        openAt = -1;
        continue;
      }
      const next = nextMarker(buf, pos, m);
      if (next !== null) {
        out += emit(buf.slice(pos, next.at));
        pos = next.at;
        if (next.kind === 'mistral') {
          mode = 'calls';
          break;
        }
        openAt = next.at;
        closeSearchFrom = next.at + OPEN_TAG.length;
        continue;
      }
      const keep = Math.max(m.hermes ? partialTagSuffix(buf, pos, OPEN_TAG) : 0, m.mistral ? partialTagSuffix(buf, pos, MISTRAL_MARKER) : 0);
      const upTo = buf.length - keep;
      out += emit(buf.slice(pos, upTo));
      pos = upTo;
      break;
    }
    return { content: out, toolCallComplete: complete };
  }

  return {
    push(delta: string): ToolCallPushResult {
      if (finished) throw new EngineError('INVALID_STATE', 'push() called on a tool-call stream after finish()');
      buf += delta;
      if (mode === 'llama') {
        scanner!.feed(delta);
        if (scanner!.status !== 'no') return { content: '', toolCallComplete: false };
        // Cannot be a Llama-3 tool call: stream from the start in the fallback mode.
        mode = markers ? 'scan' : 'plain';
      }
      if (mode === 'calls') return { content: '', toolCallComplete: false };
      if (mode === 'plain') {
        const out = emit(buf.slice(pos));
        pos = buf.length;
        return { content: out, toolCallComplete: false };
      }
      return scan(markers!);
    },

    finish(): ToolCallStreamResult {
      finished = true;
      const parsed = parseToolCalls(buf, format, idPrefix);
      const flushed = (parsed.content ?? '').slice(emittedLength);
      return { ...parsed, flushed };
    },
  };
}
