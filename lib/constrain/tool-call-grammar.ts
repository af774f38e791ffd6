/**
 * The grammar of a forced tool call (OpenAI `tool_choice: "required"` or a named function), in
 * the model's own tool-call format, so the call the model writes is the one lib/agent/tool-calls.ts
 * parses:
 *
 * - hermes (Qwen, Hermes, ChatML templates): `<tool_call>\n{"name":…,"arguments":…}\n</tool_call>`
 * - llama3: the bare `{"name":…,"parameters":…}` object (the whole output)
 * - mistral: `[TOOL_CALLS][{"name":…,"arguments":…}]`
 *
 * The call object is a JSON schema: one `anyOf` case per allowed tool, its name a `const` and its
 * arguments the tool's parameters schema. xgrammar turns that into EBNF; the format's wrapper is
 * one more rule around it.
 *
 * Parallel calls (`"required"` unless `parallel_tool_calls` is false) take each format's own
 * multi-call spelling, the one its parser reads: Hermes blocks one after another, separated by a
 * newline (as Qwen's template writes them); more objects in Mistral's list, separated by `,`;
 * Llama 3 objects separated by `;`. Otherwise (and for a named function) exactly one call. Under
 * a constraint the engine ends the segment when the grammar admits end of sequence and the model
 * takes it, not at the first closed Hermes block (lib/engine/active-segment.ts).
 */
export type ForcedToolFormat = 'hermes' | 'llama3' | 'mistral';

/** What a forced call's grammar admits. */
export interface ForcedToolCall {
  format: ForcedToolFormat;
  tools: ForcedTool[];
  /** One or more calls (true) or exactly one. */
  parallel: boolean;
}

export interface ForcedTool {
  name: string;
  /** The tool's parameters schema (absent: an object with no properties). */
  parameters: object | undefined;
}

/**
 * The format a chat template asks tool calls in, read from the markers it writes. A template with
 * none of them (or no template) gets Hermes, the format of the ChatML family.
 */
export function toolCallFormatOf(chatTemplate: string | null): ForcedToolFormat {
  if (chatTemplate === null) return 'hermes';
  if (chatTemplate.includes('<tool_call>')) return 'hermes';
  if (chatTemplate.includes('[TOOL_CALLS]')) return 'mistral';
  if (chatTemplate.includes('<|python_tag|>') || chatTemplate.includes('ipython')) return 'llama3';
  return 'hermes';
}

/** The JSON schema of one call object, whichever tool it names. */
export function toolCallSchema(tools: readonly ForcedTool[], format: ForcedToolFormat): object {
  const argumentsKey = format === 'llama3' ? 'parameters' : 'arguments';
  return {
    anyOf: tools.map((tool) => ({
      type: 'object',
      properties: { name: { const: tool.name }, [argumentsKey]: tool.parameters ?? { type: 'object', properties: {} } },
      required: ['name', argumentsKey],
      additionalProperties: false,
    })),
  };
}

/** The root rule wrapping the call object's grammar (whose root rule is `root`). */
export const WRAPPED_ROOT = 'forced_tool_call';
/** One Hermes block (a rule name xgrammar's generated grammars do not use). */
const HERMES_BLOCK = 'forced_hermes_block';

/** EBNF: the call object's grammar plus the format's wrapper rules. */
export function wrapToolCallGrammar(callObjectEbnf: string, format: ForcedToolFormat, parallel: boolean): string {
  // What separates one call from the next, and the rule of one call.
  const more = (separator: string, call: string) => (parallel ? ` (${separator} ${call})*` : '');
  let rules: string;
  if (format === 'hermes') {
    rules = `${HERMES_BLOCK} ::= ${String.raw`"<tool_call>\n" root "\n</tool_call>"`}\n${WRAPPED_ROOT} ::= ${HERMES_BLOCK}${more(String.raw`"\n"`, HERMES_BLOCK)}`;
  } else if (format === 'mistral') {
    rules = `${WRAPPED_ROOT} ::= "[TOOL_CALLS][" root${more('","', 'root')} "]"`;
  } else {
    rules = `${WRAPPED_ROOT} ::= root${more('";"', 'root')}`;
  }
  return `${callObjectEbnf}\n${rules}\n`;
}
