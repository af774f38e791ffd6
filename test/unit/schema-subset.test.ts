/**
 * The JSON Schema subset constrained decoding takes (lib/constrain/schema-subset.ts) and the
 * tool-call format read off a chat template: each refusal names the keyword's path.
 */
import { describe, expect, it } from 'vitest';
import { schemaProblem } from '../../lib/constrain/schema-subset.js';
import { toolCallFormatOf, toolCallSchema } from '../../lib/constrain/tool-call-grammar.js';

describe('schemaProblem', () => {
  it('accepts the subset', () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 't',
      type: 'object',
      properties: {
        a: { type: 'string', minLength: 1, maxLength: 3, description: 'd' },
        b: { type: 'array', items: { anyOf: [{ type: 'integer', minimum: 0, maximum: 9 }, { type: 'null' }] }, minItems: 0, maxItems: 2 },
        c: { enum: ['x', 1, null] },
        d: { const: true },
        e: { type: 'object', additionalProperties: { type: 'number' } },
      },
      required: ['a', 'b'],
      additionalProperties: false,
    };
    expect(schemaProblem(schema, 's')).toBeNull();
    expect(schemaProblem({}, 's')).toBeNull(); // any value
  });

  it('names the first keyword outside it, with its path', () => {
    expect(schemaProblem({ type: 'object', properties: { a: { pattern: 'x' } } }, 's')?.path).toBe('s.properties.a.pattern');
    expect(schemaProblem({ anyOf: [{}, { $ref: '#' }] }, 's')?.path).toBe('s.anyOf[1].$ref');
    expect(schemaProblem({ items: { format: 'date' } }, 's')?.path).toBe('s.items.format');
    expect(schemaProblem({ type: ['string', 'null'] }, 's')?.path).toBe('s.type');
    expect(schemaProblem({ properties: {}, required: ['x'] }, 's')?.path).toBe('s.required');
    expect(schemaProblem({ minLength: 3, maxLength: 2 }, 's')?.path).toBe('s.minLength');
    expect(schemaProblem({ minItems: -1 }, 's')?.path).toBe('s.minItems');
    expect(schemaProblem({ type: 'integer', minimum: 2, maximum: 1 }, 's')?.path).toBe('s.minimum');
    expect(schemaProblem({ type: 'number', maximum: 1 }, 's')?.path).toBe('s.maximum'); // integers only
    expect(schemaProblem({ type: 'integer', minimum: 0.5 }, 's')?.path).toBe('s.minimum');
    expect(schemaProblem({ enum: [] }, 's')?.path).toBe('s.enum');
    expect(schemaProblem({ additionalProperties: { not: {} } }, 's')?.path).toBe('s.additionalProperties.not');
    expect(schemaProblem('object', 's')).toEqual({ path: 's', message: 's must be a JSON Schema object' });
    expect(schemaProblem({ oneOf: [] }, 's')?.message).toBe('s.oneOf: the JSON Schema keyword "oneOf" is not supported in constrained decoding');
  });
});

describe('forced tool calls', () => {
  it('read the format off the chat template', () => {
    expect(toolCallFormatOf('... <tool_call>{"name": ...}</tool_call> ...')).toBe('hermes');
    expect(toolCallFormatOf('{{ "[TOOL_CALLS]" + tool_calls|tojson }}')).toBe('mistral');
    expect(toolCallFormatOf('<|start_header_id|>ipython<|end_header_id|>')).toBe('llama3');
    expect(toolCallFormatOf('{{ messages }}')).toBe('hermes');
    expect(toolCallFormatOf(null)).toBe('hermes');
  });

  it('the call object names one tool and holds its parameters under the format\'s key', () => {
    const p = { type: 'object', properties: { x: { type: 'integer' } } };
    expect(toolCallSchema([{ name: 'f', parameters: p }, { name: 'g', parameters: undefined }], 'llama3')).toEqual({
      anyOf: [
        { type: 'object', properties: { name: { const: 'f' }, parameters: p }, required: ['name', 'parameters'], additionalProperties: false },
        { type: 'object', properties: { name: { const: 'g' }, parameters: { type: 'object', properties: {} } }, required: ['name', 'parameters'], additionalProperties: false },
      ],
    });
    expect(Object.keys((toolCallSchema([{ name: 'f', parameters: p }], 'hermes') as any).anyOf[0].properties)).toEqual(['name', 'arguments']);
  });
});
