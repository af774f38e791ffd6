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
 * one more rule around it. One call per output: the engine ends a segment at the first complete
 * Hermes call, and one call is what "required" asks for at least.
 */
export type ForcedToolFormat = 'hermes' | 'llama3' | 'mistral';

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

/** EBNF: the call object's grammar plus the format's wrapper rule. */
export function wrapToolCallGrammar(callObjectEbnf: string, format: ForcedToolFormat): string {
  const wrapper =
    format === 'hermes' ? String.raw`"<tool_call>\n" root "\n</tool_call>"` : format === 'mistral' ? String.raw`"[TOOL_CALLS][" root "]"` : 'root';
  return `${callObjectEbnf}\n${WRAPPED_ROOT} ::= ${wrapper}\n`;
}
