/**
 * Request bodies of the OpenAI-compatible routes, as TypeBox schemas (JSON Schema that fastify
 * validates before a handler runs; a bad field is a 400 naming it). A body may carry only the
 * fields listed here (`additionalProperties: false`): an unknown field is a 400 naming it, never
 * silently dropped. Fields listed with a loose type are checked by ./request-fields.ts, which
 * refuses the values this server cannot honour; fields that change nothing here (user, metadata,
 * store: false, ...) are accepted. docs/server.md, "OpenAI compatibility", has every field.
 */
import { Type, type Static } from 'typebox';

const ToolCall = Type.Object({
  id: Type.Optional(Type.String()),
  type: Type.Optional(Type.Literal('function')),
  function: Type.Object({ name: Type.String(), arguments: Type.Union([Type.String(), Type.Object({})]) }),
});

const TextPart = Type.Object({ type: Type.Literal('text'), text: Type.String() });

export const ChatMessageSchema = Type.Object({
  role: Type.Union([Type.Literal('system'), Type.Literal('developer'), Type.Literal('user'), Type.Literal('assistant'), Type.Literal('tool')]),
  content: Type.Optional(Type.Union([Type.String(), Type.Null(), Type.Array(TextPart)])),
  name: Type.Optional(Type.String()),
  tool_calls: Type.Optional(Type.Array(ToolCall)),
  tool_call_id: Type.Optional(Type.String()),
});

const Tool = Type.Object({
  type: Type.Literal('function'),
  function: Type.Object({
    name: Type.String({ minLength: 1 }),
    description: Type.Optional(Type.String()),
    parameters: Type.Optional(Type.Object({})),
  }),
});

/** vLLM's KV hints envelope (RFC vllm#53421): each action's payload is checked by ./hints.ts. */
const KvHints = Type.Object({
  protocol_version: Type.String({ minLength: 1, maxLength: 32 }),
  message_id: Type.String({ maxLength: 256 }),
  actions: Type.Array(
    Type.Object({
      action_id: Type.Optional(Type.String({ maxLength: 256 })),
      action_type: Type.String({ minLength: 1, maxLength: 128 }),
      action_version: Type.String({ minLength: 1, maxLength: 32 }),
      payload: Type.Object({}),
    }),
    { maxItems: 64 },
  ),
});

const Int32 = { minimum: -(2 ** 31), maximum: 2 ** 31 - 1 };

const Stop = Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 4 }), Type.Null()]);

const Nullable = <T extends Parameters<typeof Type.Optional>[0]>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));
/** A field read only by ./request-fields.ts, which refuses every value but null. */
const Refused = Type.Optional(Type.Unknown());
const Penalty = Type.Number({ minimum: -2, maximum: 2 });

/** Sampling and length fields both routes share. */
const Common = {
  model: Type.String({ minLength: 1 }),
  max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  temperature: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()])),
  top_p: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 1 }), Type.Null()])),
  seed: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  stop: Type.Optional(Stop),
  stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  stream_options: Type.Optional(Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()), include_obfuscation: Type.Optional(Type.Boolean()) }, { additionalProperties: false }), Type.Null()])),
  /** Choices: 1..n−1 are forks of choice 0's job (./choice-forks.ts); at most OpenAI's 128. */
  n: Nullable(Type.Integer({ minimum: 1, maximum: 128 })),
  presence_penalty: Nullable(Penalty),
  frequency_penalty: Nullable(Penalty),
  /** vLLM's extensions: -1 and 0 are no cut. */
  top_k: Nullable(Type.Integer({ minimum: -1, maximum: 2 ** 31 - 1 })),
  min_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  /** Only empty ({}): no per-token bias here. */
  logit_bias: Nullable(Type.Record(Type.String(), Type.Number())),
  /** Accepted and ignored: they change nothing here. */
  user: Nullable(Type.String()),
  metadata: Nullable(Type.Record(Type.String(), Type.String())),
  service_tier: Nullable(Type.String()),
  safety_identifier: Nullable(Type.String()),
  /** Only false: nothing is stored. */
  store: Nullable(Type.Boolean()),
  /** vLLM's extension: false keeps special tokens' text in the reply (default true: ./special-tokens.ts). */
  skip_special_tokens: Nullable(Type.Boolean()),
  /** vLLM's extension: keep generating past end-of-sequence (benchmarks force lengths). */
  ignore_eos: Type.Optional(Type.Boolean()),
  /**
   * vLLM's extension: a per-tenant salt folded into the prefix-cache keys; the call's cached
   * blocks are hits only for calls with the same salt (docs/security.md).
   */
  cache_salt: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  /** Hints (docs/server.md, "Hints"; read by ./hints.ts). vLLM's request priority: lower is served earlier. */
  priority: Type.Optional(Type.Integer(Int32)),
  /** vLLM's KV hints envelope. */
  kv_hints: Type.Optional(KvHints),
  /** Dynamo's extensions: `agent_hints.priority` (higher is served earlier) and `osl` are read, the rest accepted. */
  nvext: Type.Optional(
    Type.Object({
      agent_hints: Type.Optional(Type.Object({ priority: Type.Optional(Type.Integer(Int32)), osl: Type.Optional(Type.Integer({ minimum: 1 })) })),
    }),
  ),
};

export const ChatCompletionBody = Type.Object({
  ...Common,
  logprobs: Nullable(Type.Boolean()),
  /** 0–20, only with logprobs: true (OpenAI's rule). */
  top_logprobs: Nullable(Type.Integer({ minimum: 0, maximum: 20 })),
  /** Only ["text"]. */
  modalities: Nullable(Type.Array(Type.String())),
  /** False: at most one tool call (a forced one by its grammar, else the first the model wrote). */
  parallel_tool_calls: Nullable(Type.Boolean()),
  /** Accepted and ignored: no retention policy to choose here. */
  prompt_cache_retention: Nullable(Type.String()),
  /** text, json_object or json_schema: checked, with 400s naming the field, by ../structured-output.ts. */
  response_format: Type.Optional(Type.Unknown()),
  audio: Refused,
  prediction: Refused,
  web_search_options: Refused,
  functions: Refused,
  function_call: Refused,
  reasoning_effort: Refused,
  verbosity: Refused,
  messages: Type.Array(ChatMessageSchema, { minItems: 1 }),
  tools: Type.Optional(Type.Array(Tool)),
  tool_choice: Type.Optional(
    Type.Union([Type.Literal('none'), Type.Literal('auto'), Type.Literal('required'), Type.Object({ type: Type.Literal('function'), function: Type.Object({ name: Type.String() }) })]),
  ),
  max_completion_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  /** The agent job this call belongs to (also: header x-astraea-job-id, prompt_cache_key, x-session-token). */
  job_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  prompt_cache_key: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  /** The client's estimate of the tool call this call will end in, seconds. */
  expected_tool_s: Type.Optional(Type.Number({ minimum: 0 })),
  /** The job's kind, for per-kind predictors (e.g. 'airline'). */
  job_kind: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
}, { additionalProperties: false });
export type ChatCompletionBody = Static<typeof ChatCompletionBody>;

export const CompletionBody = Type.Object({
  ...Common,
  prompt: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1, maxItems: 1 }), Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1 })]),
  /** The legacy integer: the sampled token's log-probability and this many alternatives' (OpenAI allows 0–5; up to 20 here). */
  logprobs: Nullable(Type.Integer({ minimum: 0, maximum: 20 })),
  /** Only 1, false and "" (./request-fields.ts names them otherwise). */
  best_of: Nullable(Type.Integer({ minimum: 1 })),
  echo: Nullable(Type.Boolean()),
  suffix: Nullable(Type.String()),
}, { additionalProperties: false });
export type CompletionBody = Static<typeof CompletionBody>;

export const JobParams = Type.Object({ id: Type.String({ minLength: 1 }) });
export type JobParams = Static<typeof JobParams>;
