/**
 * The JSON side of tool-call parsing, shared by every format: what a call object must look like,
 * and how calls become OpenAI `tool_calls` (canonical `JSON.stringify` arguments, deterministic
 * ids, `${idPrefix}_${index}` unless the format needs another shape). Nothing here throws on model output: a value that is not a call
 * gives null.
 */
import type { ToolCall } from './tool-calls.js';

export interface RawCall {
  name: string;
  /** Canonical JSON text of an object. */
  arguments: string;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseJson(text: string): { value: unknown } | null {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return null;
  }
}

/**
 * Arguments as Hermes and Mistral models write them: an object, or a JSON string holding one;
 * absent or null means `{}`. Anything else is not a call.
 */
export function lenientArguments(args: unknown): string | null {
  let value: unknown = args === undefined || args === null ? {} : args;
  if (typeof value === 'string') {
    const parsed = parseJson(value);
    if (!parsed) return null;
    value = parsed.value;
  }
  return isPlainObject(value) ? JSON.stringify(value) : null;
}

/** `{"name": ..., "arguments" | "parameters": ...}` with a non-empty name and lenient arguments. */
export function lenientCall(value: unknown): RawCall | null {
  if (!isPlainObject(value)) return null;
  const name = value.name;
  if (typeof name !== 'string' || name.length === 0) return null;
  const args = lenientArguments(value.arguments !== undefined ? value.arguments : value.parameters);
  return args === null ? null : { name, arguments: args };
}

/** `idFor` makes a call's id from the prefix and its index; default `${prefix}_${index}`. */
export function makeCalls(raw: readonly RawCall[], idPrefix: string | undefined, idFor: (prefix: string, index: number) => string = (p, i) => `${p}_${i}`): ToolCall[] {
  const prefix = idPrefix ?? 'call';
  return raw.map((c, i) => ({
    id: idFor(prefix, i),
    type: 'function',
    function: { name: c.name, arguments: c.arguments },
  }));
}
