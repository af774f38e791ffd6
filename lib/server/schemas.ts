/**
 * Request bodies of the OpenAI-compatible routes, as TypeBox schemas (JSON Schema that fastify
 * validates before a handler runs; a bad field is a 400 naming it). Fields OpenAI clients send
 * that change nothing here (user, logprobs: false, ...) are accepted and ignored.
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

/** Sampling and length fields both routes share. */
const Common = {
  model: Type.String({ minLength: 1 }),
  max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  temperature: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()])),
  top_p: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 1 }), Type.Null()])),
  seed: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  stop: Type.Optional(Stop),
  stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  stream_options: Type.Optional(Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }), Type.Null()])),
  n: Type.Optional(Type.Union([Type.Literal(1), Type.Null()])),
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
});
export type ChatCompletionBody = Static<typeof ChatCompletionBody>;

export const CompletionBody = Type.Object({
  ...Common,
  prompt: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1, maxItems: 1 }), Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1 })]),
});
export type CompletionBody = Static<typeof CompletionBody>;

export const JobParams = Type.Object({ id: Type.String({ minLength: 1 }) });
export type JobParams = Static<typeof JobParams>;
