/**
 * What a chat call's `response_format` and `tool_choice` ask the output to be, as a constraint
 * spec for constrained decoding (lib/constrain), or null when they ask nothing. Every problem is a
 * 400 naming the field. A forced tool call (`"required"`: one or more calls, exactly one with
 * `parallel_tool_calls: false`; a named function: exactly one) wins over
 * `response_format`: the output is then the call. `json_schema` is enforced whether or not
 * `strict` is true (OpenAI enforces it only when strict; a schema is worth keeping to either way).
 */
import type { ConstraintSpec } from '../constrain/compile.js';
import { constraintForModel, type ConstrainableModel } from '../constrain/engine-constraint.js';
import { schemaProblem } from '../constrain/schema-subset.js';
import { toolCallFormatOf, type ForcedTool } from '../constrain/tool-call-grammar.js';
import type { GenerateOptions } from '../engine/types.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { badRequest } from './errors.js';

export interface StructuredFields {
  response_format?: unknown;
  tool_choice?: 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };
  tools?: { type: 'function'; function: { name: string; parameters?: object } }[];
  parallel_tool_calls?: boolean | null;
  ignore_eos?: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function constraintSpecOf(body: StructuredFields, tokenizer: Tokenizer | null): ConstraintSpec | null {
  const spec = forcedToolCall(body, tokenizer) ?? responseFormat(body.response_format);
  if (spec && body.ignore_eos) throw badRequest('ignore_eos cannot be combined with a structured output (response_format or a forced tool call): the output ends where its structure does', 'ignore_eos');
  return spec;
}

function forcedToolCall(body: StructuredFields, tokenizer: Tokenizer | null): ConstraintSpec | null {
  const choice = body.tool_choice;
  if (choice === undefined || choice === 'none' || choice === 'auto') return null;
  const tools = body.tools ?? [];
  if (tools.length === 0) throw badRequest('tool_choice forces a tool call but no tools are given', 'tools');
  let chosen = tools.map((t, index) => ({ tool: t, index }));
  if (choice !== 'required') {
    chosen = chosen.filter(({ tool }) => tool.function.name === choice.function.name);
    if (chosen.length === 0) throw badRequest(`tool_choice names "${choice.function.name}", which is not among tools`, 'tool_choice.function.name');
  }
  const forced: ForcedTool[] = chosen.map(({ tool, index }) => {
    const path = `tools[${index}].function.parameters`;
    if (tool.function.parameters !== undefined) {
      const problem = schemaProblem(tool.function.parameters, path);
      if (problem) throw badRequest(problem.message, problem.path);
    }
    return { name: tool.function.name, parameters: tool.function.parameters };
  });
  // "required" admits several calls unless parallel_tool_calls is false; a named function is one call.
  const parallel = choice === 'required' && body.parallel_tool_calls !== false;
  return { kind: 'tool_call', format: toolCallFormatOf(templateText(tokenizer)), tools: forced, parallel };
}

/** The chat template's text (a named list's templates together: the markers are what matters). */
function templateText(tokenizer: Tokenizer | null): string | null {
  const template = tokenizer?.chatTemplate ?? null;
  if (template === null || typeof template === 'string') return template;
  return template.map((t) => t.template).join('\n');
}

function responseFormat(format: unknown): ConstraintSpec | null {
  if (format === undefined || format === null) return null;
  if (!isObject(format)) throw badRequest('response_format must be an object with a type', 'response_format');
  switch (format.type) {
    case 'text':
      return null;
    case 'json_object':
      return { kind: 'json_object' };
    case 'json_schema': {
      const wrapper = format.json_schema;
      if (!isObject(wrapper)) throw badRequest('response_format.json_schema must be an object with name and schema', 'response_format.json_schema');
      if (typeof wrapper.name !== 'string' || wrapper.name.length === 0) throw badRequest('response_format.json_schema.name must be a non-empty string', 'response_format.json_schema.name');
      if (wrapper.strict !== undefined && wrapper.strict !== null && typeof wrapper.strict !== 'boolean') {
        throw badRequest('response_format.json_schema.strict must be a boolean', 'response_format.json_schema.strict');
      }
      const path = 'response_format.json_schema.schema';
      if (!('schema' in wrapper)) throw badRequest(`${path} is required`, path);
      const problem = schemaProblem(wrapper.schema, path);
      if (problem) throw badRequest(problem.message, problem.path);
      return { kind: 'json_schema', schema: wrapper.schema as object };
    }
    default:
      throw badRequest('response_format.type must be "text", "json_object" or "json_schema"', 'response_format.type');
  }
}

/**
 * Starts a segment with the constraint `spec` asks for (none when null). The engine owns the
 * constraint once the segment starts; if starting throws, it is disposed here.
 */
export async function startConstrained<T>(model: ConstrainableModel, spec: ConstraintSpec | null, options: GenerateOptions, start: () => T): Promise<T> {
  if (spec === null) return start();
  const constraint = await constraintForModel(model, spec);
  options.constraint = constraint;
  try {
    return start();
  } catch (error) {
    constraint.dispose();
    throw error;
  }
}
