/**
 * Mistral's tool-call form: the control token `[TOOL_CALLS]` (it reaches the parser as text: the
 * engine decodes with special tokens kept, and the server drops special tokens from the reply only
 * after parsing, lib/server/special-tokens.ts), then the calls, to the end of the output. Text
 * before the first marker is content. Two spellings, by tokenizer version:
 *
 * - v3 (Mistral 7B Instruct v0.3, Mixtral 8x22B Instruct, Mistral Nemo): one JSON array,
 *   `[TOOL_CALLS] [{"name": "f", "arguments": {...}}, ...]`.
 * - v11 and later (Mistral Small 3.2, Devstral, Magistral): one marker per call,
 *   `[TOOL_CALLS]f[ARGS]{...}[TOOL_CALLS]g[ARGS]{...}`.
 *
 * Arguments may be an object or a JSON string holding one. If anything after the marker is not a
 * call in one of these spellings, none of it is: the whole text stays content.
 *
 * Mistral's chat templates reject a conversation whose tool-call ids are not 9 alphanumeric
 * characters, so calls found in this form get such ids (mistralCallId), still deterministic.
 */
import { lenientArguments, lenientCall, parseJson, type RawCall } from './tool-call-json.js';

export const MISTRAL_MARKER = '[TOOL_CALLS]';
const ARGS_MARKER = '[ARGS]';
/** Function names as OpenAI allows them (letters, digits, _ and -), plus dots. */
const FUNCTION_NAME = /^[A-Za-z0-9_.-]+$/;

/** The calls in the text that follows the first `[TOOL_CALLS]`, or null when it is not calls. */
export function parseMistralCalls(afterMarker: string): RawCall[] | null {
  const rest = afterMarker.trim();
  if (rest.startsWith('[')) {
    const parsed = parseJson(rest);
    if (!parsed || !Array.isArray(parsed.value) || parsed.value.length === 0) return null;
    const calls = parsed.value.map(lenientCall);
    return calls.every((c) => c !== null) ? (calls as RawCall[]) : null;
  }
  const calls: RawCall[] = [];
  for (const block of afterMarker.split(MISTRAL_MARKER)) {
    const at = block.indexOf(ARGS_MARKER);
    if (at < 0) return null;
    const name = block.slice(0, at).trim();
    const args = parseJson(block.slice(at + ARGS_MARKER.length));
    const canonical = args === null ? null : lenientArguments(args.value);
    if (!FUNCTION_NAME.test(name) || canonical === null) return null;
    calls.push({ name, arguments: canonical });
  }
  return calls;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A 9-character alphanumeric id from `${prefix}_${index}` (two FNV-1a hashes, in base 62). */
export function mistralCallId(prefix: string, index: number): string {
  const key = `${prefix}_${index}`;
  let value = (BigInt(fnv1a(key, 0x811c9dc5)) << 32n) | BigInt(fnv1a(key, 0x050c5d1f));
  let id = '';
  for (let i = 0; i < 9; i++) {
    id += ALPHANUMERIC[Number(value % 62n)];
    value /= 62n;
  }
  return id;
}

function fnv1a(text: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
