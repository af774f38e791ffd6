/**
 * Builds the TokenConstraint a request asks for: any JSON object, a JSON schema, or a forced tool
 * call. JSON is compact (`,` and `:` with no spaces, no free whitespace): with free whitespace a
 * model could fill max_tokens with blanks, and the model loses nothing by the choice.
 */
import type { Tokenizer } from '../model/tokenizer.js';
import type { TokenConstraint } from './constraint.js';
import { GrammarConstraint } from './grammar-constraint.js';
import { toolCallSchema, wrapToolCallGrammar, WRAPPED_ROOT, type ForcedToolCall } from './tool-call-grammar.js';
import { constraintVocabulary, type ConstraintVocabulary } from './vocabulary.js';
import { xgrammar } from './xgrammar-load.js';

export type ConstraintSpec =
  | { kind: 'json_object' }
  /** The schema must be in the supported subset (./schema-subset.ts): xgrammar aborts on others. */
  | { kind: 'json_schema'; schema: object }
  | ({ kind: 'tool_call' } & ForcedToolCall);

const ANY_OBJECT = { type: 'object', additionalProperties: true };
const COMPACT: [string, string] = [',', ':'];
/** xgrammar's "no indentation": everything on one line. */
const ONE_LINE = -1;

export interface ModelVocabulary {
  tokenizer: Tokenizer;
  /** Logit rows (the masks' length in ids). */
  vocabSize: number;
  /** Ids that end a sequence. */
  eosIds: readonly number[];
}

export async function createConstraint(spec: ConstraintSpec, model: ModelVocabulary): Promise<TokenConstraint> {
  return constraintOver(spec, await constraintVocabulary(model.tokenizer, model.vocabSize, model.eosIds));
}

/** The same over a vocabulary already built (tests hand-make small ones). */
export async function constraintOver(spec: ConstraintSpec, vocabulary: ConstraintVocabulary): Promise<TokenConstraint> {
  const grammar = await compile(spec, vocabulary);
  try {
    return await GrammarConstraint.start(grammar, vocabulary);
  } finally {
    grammar.dispose(); // the matcher keeps its own reference to the compiled grammar
  }
}

async function compile(spec: ConstraintSpec, { compiler }: ConstraintVocabulary) {
  const schema = spec.kind === 'json_object' ? ANY_OBJECT : spec.kind === 'json_schema' ? spec.schema : toolCallSchema(spec.tools, spec.format);
  const ebnf = withJsonStrings(await schemaGrammar(schema));
  if (spec.kind !== 'tool_call') return compiler.compileGrammar(ebnf, 'root');
  const call = spec.format === 'hermes' ? withoutRawAngle(ebnf) : ebnf;
  return compiler.compileGrammar(wrapToolCallGrammar(call, spec.format, spec.parallel), WRAPPED_ROOT);
}

const JSON_STRING_CHAR = String.raw`[^\0-\x1f\"\\\r\n]`;

/**
 * Inside a Hermes call no string holds a raw '<' (the model can still write it as \u003c): the
 * parser ends the block at the first `</tool_call>`, wherever it is, so a string holding one would
 * cut the call short.
 */
function withoutRawAngle(ebnf: string): string {
  return ebnf.replaceAll(JSON_STRING_CHAR, String.raw`[^\0-\x1f\"\\\r\n<]`);
}

/** A schema's grammar as EBNF text (root rule `root`). */
async function schemaGrammar(schema: object): Promise<string> {
  // strictMode: an object's properties outside `properties` are refused unless
  // additionalProperties says otherwise (OpenAI's strict mode).
  const grammar = await xgrammar().Grammar.fromJSONSchema(JSON.stringify(schema), false, ONE_LINE, COMPACT, true);
  try {
    return grammar.toString();
  } finally {
    grammar.dispose();
  }
}

/**
 * xgrammar 0.1.27 writes a string with minLength or maxLength as characters from `[^"\\\r\n]`,
 * which lets control characters in — not JSON (JSON.parse refuses them). Its unbounded strings
 * use `[^\0-\x1f"\\\r\n]`; the bounded ones get the same class here.
 */
export function withJsonStrings(ebnf: string): string {
  return ebnf.replaceAll(String.raw`[^\"\\\r\n]`, JSON_STRING_CHAR);
}
