/**
 * Tool-call detection in generated text, for the two formats open models use:
 *
 * - Hermes / Qwen: `<tool_call>{"name": "f", "arguments": {...}}</tool_call>`, any number of blocks,
 *   possibly with text around them. `arguments` may be an object or a JSON string holding one
 *   (`parameters` is accepted as a synonym). A block whose JSON is malformed, or that is never
 *   closed, is not a tool call: its raw text stays in the content.
 * - Llama 3.x JSON: the whole output is (after optional whitespace and an optional
 *   `<|python_tag|>`) one or more objects `{"name": "f", "parameters": {...}}` (or `"arguments"`)
 *   separated by `;`. Anything else makes the whole output plain content.
 *
 * Content is the text outside tool-call blocks, trimmed of leading and trailing whitespace, or
 * null when that is empty. Arguments are re-serialised canonically with `JSON.stringify`. Ids are
 * deterministic: `${idPrefix}_${index}`, index counting from 0 over the whole output.
 *
 * Nothing here throws on model output.
 */
import { EngineError } from '../errors.js';

export type ToolCallFormat = 'hermes' | 'llama3' | 'auto';

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
const PYTHON_TAG = '<|python_tag|>';
const WS = /\s/;
const TRAILING_WS = /\s+$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface RawCall {
  name: string;
  arguments: string;
}

function makeCalls(raw: RawCall[], idPrefix: string | undefined): ToolCall[] {
  const prefix = idPrefix ?? 'call';
  return raw.map((c, i) => ({
    id: `${prefix}_${i}`,
    type: 'function',
    function: { name: c.name, arguments: c.arguments },
  }));
}

function finalContent(text: string): string | null {
  const t = text.trim();
  return t.length > 0 ? t : null;
}

/**
 * Validates the body of a Hermes block. Accepts `arguments` or `parameters` as an object or a
 * JSON string holding an object; absent or null means `{}`.
 */
function parseHermesBody(body: string): RawCall | null {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return null;
  }
  if (!isPlainObject(value)) return null;
  const name = value.name;
  if (typeof name !== 'string' || name.length === 0) return null;
  let args: unknown = value.arguments !== undefined ? value.arguments : value.parameters;
  if (args === undefined || args === null) args = {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      return null;
    }
  }
  if (!isPlainObject(args)) return null;
  return { name, arguments: JSON.stringify(args) };
}

/** Validates one Llama-3 object: non-empty string name, `parameters`/`arguments` an object. */
function parseLlamaObject(text: string): RawCall | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isPlainObject(value)) return null;
  const name = value.name;
  if (typeof name !== 'string' || name.length === 0) return null;
  const args = value.parameters !== undefined ? value.parameters : value.arguments;
  if (!isPlainObject(args)) return null;
  return { name, arguments: JSON.stringify(args) };
}

type LlamaState = 'lead' | 'tag' | 'between' | 'obj' | 'after' | 'no';

/**
 * Incremental recogniser for the Llama-3 JSON form. Fed text in order; `status` says whether what
 * was fed is a complete tool-call output ('complete'), could still become one ('partial'), or can
 * never be one ('no', which is final: no extension of the text can change it).
 */
class LlamaScanner {
  private state: LlamaState = 'lead';
  private text = '';
  private pos = 0;
  private tagIdx = 0;
  private objStart = 0;
  private depth = 0;
  private inStr = false;
  private esc = false;
  readonly calls: RawCall[] = [];

  feed(delta: string): void {
    if (this.state === 'no') return;
    this.text += delta;
    const s = this.text;
    for (; this.pos < s.length; this.pos++) {
      const ch = s[this.pos];
      switch (this.state) {
        case 'lead':
          if (WS.test(ch)) break;
          if (ch === '{') this.startObject();
          else if (ch === PYTHON_TAG[0]) {
            this.state = 'tag';
            this.tagIdx = 1;
          } else return this.reject();
          break;
        case 'tag':
          if (ch !== PYTHON_TAG[this.tagIdx]) return this.reject();
          this.tagIdx++;
          if (this.tagIdx === PYTHON_TAG.length) this.state = 'between';
          break;
        case 'between':
          if (WS.test(ch)) break;
          if (ch === '{') this.startObject();
          else return this.reject();
          break;
        case 'obj':
          if (this.inStr) {
            if (this.esc) this.esc = false;
            else if (ch === '\\') this.esc = true;
            else if (ch === '"') this.inStr = false;
          } else if (ch === '"') this.inStr = true;
          else if (ch === '{' || ch === '[') this.depth++;
          else if (ch === '}' || ch === ']') {
            this.depth--;
            if (this.depth === 0) {
              const call = parseLlamaObject(s.slice(this.objStart, this.pos + 1));
              if (!call) return this.reject();
              this.calls.push(call);
              this.state = 'after';
            }
          }
          break;
        case 'after':
          if (WS.test(ch)) break;
          if (ch === ';') this.state = 'between';
          else return this.reject();
          break;
      }
    }
  }

  get status(): 'complete' | 'partial' | 'no' {
    if (this.state === 'no') return 'no';
    return this.state === 'after' ? 'complete' : 'partial';
  }

  private startObject(): void {
    this.state = 'obj';
    this.objStart = this.pos;
    this.depth = 1;
    this.inStr = false;
    this.esc = false;
  }

  private reject(): void {
    this.state = 'no';
    this.text = '';
  }
}

function parseHermes(text: string, idPrefix: string | undefined): ParsedOutput {
  const raw: RawCall[] = [];
  let content = '';
  let pos = 0;
  for (;;) {
    const open = text.indexOf(OPEN_TAG, pos);
    if (open < 0) break;
    const close = text.indexOf(CLOSE_TAG, open + OPEN_TAG.length);
    if (close < 0) break;
    const end = close + CLOSE_TAG.length;
    const call = parseHermesBody(text.slice(open + OPEN_TAG.length, close));
    if (call) {
      content += text.slice(pos, open);
      raw.push(call);
    } else {
      content += text.slice(pos, end);
    }
    pos = end;
  }
  content += text.slice(pos);
  return { content: finalContent(content), toolCalls: makeCalls(raw, idPrefix) };
}

function parseLlama(text: string, idPrefix: string | undefined): ParsedOutput | null {
  const scanner = new LlamaScanner();
  scanner.feed(text);
  if (scanner.status !== 'complete') return null;
  return { content: null, toolCalls: makeCalls(scanner.calls, idPrefix) };
}

/** Parses a whole output (used when a segment ends). Never throws on model output. */
export function parseToolCalls(
  text: string,
  format: ToolCallFormat = 'auto',
  idPrefix?: string,
): ParsedOutput {
  if (format === 'hermes') return parseHermes(text, idPrefix);
  if (format === 'auto' && text.includes(OPEN_TAG)) return parseHermes(text, idPrefix);
  return parseLlama(text, idPrefix) ?? { content: finalContent(text), toolCalls: [] };
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
 * `<tool_call>` at the end, everything inside an open Hermes block, leading whitespace (dropped),
 * trailing whitespace (until more text follows), and, in the Llama-3 form, everything while the
 * output could still be a JSON tool call. `finish()` parses everything pushed; its `content` equals
 * `parseToolCalls(all, format, idPrefix).content`, and `flushed` is the part of it not yet streamed.
 */
export function createToolCallStream(format: ToolCallFormat = 'auto', idPrefix?: string): ToolCallStream {
  let buf = '';
  let finished = false;
  // 'llama': undecided, withholding everything; 'hermes': scanning for tags; 'plain': no tags.
  let mode: 'llama' | 'hermes' | 'plain' = format === 'hermes' ? 'hermes' : 'llama';
  const scanner = format === 'hermes' ? null : new LlamaScanner();
  // Hermes scanning state.
  let pos = 0; // buf[0..pos) has been streamed or consumed as a tool call
  let openAt = -1; // start of the open block, or -1 outside a block
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

  function scanHermes(): ToolCallPushResult {
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
        const call = parseHermesBody(buf.slice(openAt + OPEN_TAG.length, close));
        if (call) {
          complete = true;
        } else {
          out += emit(buf.slice(openAt, end));
        }
        pos = end;
        openAt = -1;
        continue;
      }
      const open = buf.indexOf(OPEN_TAG, pos);
      if (open >= 0) {
        out += emit(buf.slice(pos, open));
        pos = open;
        openAt = open;
        closeSearchFrom = open + OPEN_TAG.length;
        continue;
      }
      const keep = partialTagSuffix(buf, pos, OPEN_TAG);
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
        mode = format === 'auto' ? 'hermes' : 'plain';
      }
      if (mode === 'plain') {
        const out = emit(buf.slice(pos));
        pos = buf.length;
        return { content: out, toolCallComplete: false };
      }
      return scanHermes();
    },

    finish(): ToolCallStreamResult {
      finished = true;
      const parsed = parseToolCalls(buf, format, idPrefix);
      const flushed = (parsed.content ?? '').slice(emittedLength);
      return { ...parsed, flushed };
    },
  };
}
