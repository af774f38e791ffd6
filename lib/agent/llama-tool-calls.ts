/**
 * The Llama 3.x JSON tool-call form: the whole output is (after optional whitespace and an
 * optional `<|python_tag|>`) one or more objects `{"name": "f", "parameters": {...}}` (or
 * `"arguments"`, which must be an object) separated by `;`. Anything else is not a tool call.
 */
import { isPlainObject, parseJson, type RawCall } from './tool-call-json.js';

const PYTHON_TAG = '<|python_tag|>';
const WS = /\s/;

/** Validates one Llama-3 object: non-empty string name, `parameters`/`arguments` an object. */
function llamaCall(text: string): RawCall | null {
  const parsed = parseJson(text);
  if (!parsed || !isPlainObject(parsed.value)) return null;
  const { name, parameters, arguments: args } = parsed.value;
  if (typeof name !== 'string' || name.length === 0) return null;
  const value = parameters !== undefined ? parameters : args;
  if (!isPlainObject(value)) return null;
  return { name, arguments: JSON.stringify(value) };
}

type LlamaState = 'lead' | 'tag' | 'between' | 'obj' | 'after' | 'no';

/**
 * Incremental recogniser for the Llama-3 JSON form. Fed text in order; `status` says whether what
 * was fed is a complete tool-call output ('complete'), could still become one ('partial'), or can
 * never be one ('no', which is final: no extension of the text can change it).
 */
export class LlamaScanner {
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
              const call = llamaCall(s.slice(this.objStart, this.pos + 1));
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

/** The calls of a whole output in the Llama-3 form, or null when it is not one. */
export function parseLlamaCalls(text: string): RawCall[] | null {
  const scanner = new LlamaScanner();
  scanner.feed(text);
  return scanner.status === 'complete' ? scanner.calls : null;
}
