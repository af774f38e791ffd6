/**
 * Chat messages as a chat template reads them: checked (a role it knows, string or null content,
 * named tool calls), content always a string, and tool-call `arguments` given as a JSON string
 * parsed to an object (templates expect a mapping, as in transformers; a string that is not a
 * JSON object passes through unchanged).
 *
 * Null or absent content becomes "": OpenAI clients send `content: null` on an assistant message
 * that only calls tools, and real templates apply string operations to it (Qwen3's tests
 * `'</think>' in message.content`, Llama 3's pipes it through `trim`), which fail on null. vLLM
 * renders such a message with "" as well.
 */
import { EngineError } from '../errors.js';
import type { ChatMessage } from './tokenizer.js';

export function normalizeMessage(m: ChatMessage, index: number): Record<string, unknown> {
  if (!m || typeof m !== 'object') {
    throw new EngineError('INVALID_ARGUMENT', `messages[${index}] must be an object`);
  }
  if (m.role !== 'system' && m.role !== 'user' && m.role !== 'assistant' && m.role !== 'tool') {
    throw new EngineError('INVALID_ARGUMENT', `messages[${index}].role must be system, user, assistant or tool`);
  }
  if (m.content !== null && m.content !== undefined && typeof m.content !== 'string') {
    throw new EngineError('INVALID_ARGUMENT', `messages[${index}].content must be a string or null`);
  }
  const out: Record<string, unknown> = { ...m, content: m.content ?? '' };
  if (m.tool_calls !== undefined) {
    if (!Array.isArray(m.tool_calls)) {
      throw new EngineError('INVALID_ARGUMENT', `messages[${index}].tool_calls must be an array`);
    }
    out.tool_calls = m.tool_calls.map((call, j) => {
      const fn = call?.function;
      if (!fn || typeof fn.name !== 'string') {
        throw new EngineError('INVALID_ARGUMENT', `messages[${index}].tool_calls[${j}].function.name must be a string`);
      }
      return { ...call, function: { ...fn, arguments: normalizeArguments(fn.arguments) } };
    });
  }
  return out;
}

export function normalizeArguments(args: unknown): unknown {
  if (typeof args !== 'string') return args ?? {};
  try {
    const parsed: unknown = JSON.parse(args);
    return isPlainObject(parsed) ? parsed : args;
  } catch {
    return args;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
