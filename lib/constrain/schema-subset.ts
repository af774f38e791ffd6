/**
 * The JSON Schema subset constrained decoding takes. xgrammar (the grammar engine) aborts its
 * whole WASM instance on a schema it cannot convert — which would end constrained decoding for
 * every later request — so a schema is checked here first and anything outside the subset is the
 * client's error, naming the keyword's path. The subset (what OpenAI's strict mode needs):
 *
 * - `type`: one of object, array, string, number, integer, boolean, null;
 * - objects: `properties`, `required` (names among `properties`), `additionalProperties`
 *   (true, false or a schema; absent means false, as in OpenAI's strict mode);
 * - arrays: `items` (one schema), `minItems`, `maxItems`;
 * - strings: `minLength`, `maxLength`; integers: `minimum`, `maximum` (on `"type": "integer"`
 *   only: xgrammar 0.1.27 bounds decimals inexactly — maximum 1 lets 1.5 through);
 * - `enum` (a non-empty list), `const`, `anyOf` (a non-empty list of schemas);
 * - annotations, which constrain nothing: `title`, `description`, `default`, `examples`, `$schema`.
 */

export interface SchemaProblem {
  /** Dotted path to the offending keyword, below the caller's prefix. */
  path: string;
  message: string;
}

const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
const ANNOTATIONS = new Set(['title', 'description', 'default', 'examples', '$schema']);
const KEYWORDS = new Set(['type', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems', 'minLength', 'maxLength', 'minimum', 'maximum', 'enum', 'const', 'anyOf', ...ANNOTATIONS]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;

/** The first problem found in `schema` (its path starting at `path`), or null when it is in the subset. */
export function schemaProblem(schema: unknown, path: string): SchemaProblem | null {
  if (!isObject(schema)) return { path, message: `${path} must be a JSON Schema object` };
  for (const key of Object.keys(schema)) {
    if (!KEYWORDS.has(key)) return { path: `${path}.${key}`, message: `${path}.${key}: the JSON Schema keyword "${key}" is not supported in constrained decoding` };
  }
  const at = (key: string, message: string): SchemaProblem => ({ path: `${path}.${key}`, message: `${path}.${key} ${message}` });
  if ('type' in schema && !(typeof schema.type === 'string' && TYPES.has(schema.type))) return at('type', `must be one of ${[...TYPES].join(', ')}`);
  if ('properties' in schema) {
    if (!isObject(schema.properties)) return at('properties', 'must be an object of schemas');
    for (const [name, sub] of Object.entries(schema.properties)) {
      const problem = schemaProblem(sub, `${path}.properties.${name}`);
      if (problem) return problem;
    }
  }
  if ('required' in schema) {
    const names = schema.required;
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) return at('required', 'must be a list of property names');
    const known = isObject(schema.properties) ? schema.properties : {};
    const missing = names.find((n) => !(n in known));
    if (missing !== undefined) return at('required', `names "${missing}", which is not in properties`);
  }
  if ('additionalProperties' in schema && typeof schema.additionalProperties !== 'boolean') {
    const problem = schemaProblem(schema.additionalProperties, `${path}.additionalProperties`);
    if (problem) return problem;
  }
  if ('items' in schema) {
    const problem = schemaProblem(schema.items, `${path}.items`);
    if (problem) return problem;
  }
  for (const [min, max] of [['minItems', 'maxItems'], ['minLength', 'maxLength']] as const) {
    for (const key of [min, max]) if (key in schema && !isCount(schema[key])) return at(key, 'must be a non-negative integer');
    if (min in schema && max in schema && (schema[min] as number) > (schema[max] as number)) return at(min, `is greater than ${max}`);
  }
  for (const key of ['minimum', 'maximum']) {
    if (!(key in schema)) continue;
    if (schema.type !== 'integer') return at(key, 'is supported only with "type": "integer" (decimal bounds are not enforced exactly)');
    if (!Number.isInteger(schema[key])) return at(key, 'must be an integer');
  }
  if ('minimum' in schema && 'maximum' in schema && (schema.minimum as number) > (schema.maximum as number)) return at('minimum', 'is greater than maximum');
  if ('enum' in schema && !(Array.isArray(schema.enum) && schema.enum.length > 0)) return at('enum', 'must be a non-empty list');
  if ('anyOf' in schema) {
    if (!(Array.isArray(schema.anyOf) && schema.anyOf.length > 0)) return at('anyOf', 'must be a non-empty list of schemas');
    for (let i = 0; i < schema.anyOf.length; i++) {
      const problem = schemaProblem(schema.anyOf[i], `${path}.anyOf[${i}]`);
      if (problem) return problem;
    }
  }
  return null;
}
