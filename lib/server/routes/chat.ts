/**
 * POST /v1/chat/completions: one call of an agent job. The call's messages are rendered with the
 * model's chat template; a job waiting on a tool resumes with them (only what they add is
 * prefilled), other calls start a job. Tool calls come back as OpenAI `tool_calls` with
 * finish_reason "tool_calls".
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GenerateOptions, SegmentResult } from '../../engine/types.js';
import type { ChatMessage } from '../../model/tokenizer.js';
import { badRequest, HttpError } from '../errors.js';
import { ChatCompletionBody } from '../schemas.js';
import { awaitSegment } from '../call-segment.js';
import { callHints, skippedHintsHeader } from '../hints.js';
import { streamSegment, type StreamFormat } from '../sse-writer.js';
import { finishReason, usage } from '../openai-shapes.js';
import type { ServerContext } from '../context.js';
import type { CallBinding } from '../job-table.js';

type Body = ChatCompletionBody;
type InMessage = Body['messages'][number];

/** The call's messages as the chat template takes them. */
function toChatMessages(messages: readonly InMessage[]): ChatMessage[] {
  return messages.map((m, i) => {
    let content: string | null;
    if (Array.isArray(m.content)) content = m.content.map((p) => p.text).join('');
    else content = m.content ?? null;
    const out: ChatMessage = { role: m.role === 'developer' ? 'system' : m.role, content };
    if (m.tool_calls) out.tool_calls = m.tool_calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.function.name, arguments: c.function.arguments } }));
    if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
    if (m.name !== undefined) out.name = m.name;
    if (m.role === 'tool' && m.tool_call_id === undefined) throw badRequest(`messages[${i}]: a tool message needs tool_call_id`, `messages[${i}].tool_call_id`);
    return out;
  });
}

/**
 * What a call says it belongs to: a job it names (the body's `job_id`, else Astraea's header) and
 * a group it hints at (OpenAI's `prompt_cache_key`, else the gateway's session header).
 */
function binding(request: FastifyRequest<{ Body: Body }>, messages: ChatMessage[]): CallBinding {
  const header = (name: string) => {
    const v = request.headers[name];
    return typeof v === 'string' && v.length > 0 ? v : null;
  };
  return {
    explicitId: request.body.job_id ?? header('x-astraea-job-id'),
    hint: request.body.prompt_cache_key ?? header('x-session-token'),
    messages,
    cacheSalt: request.body.cache_salt ?? null,
  };
}

export function assistantMessage(result: SegmentResult): ChatMessage {
  const message: ChatMessage = { role: 'assistant', content: result.content };
  if (result.toolCalls.length > 0) message.tool_calls = result.toolCalls;
  return message;
}

export function registerChat(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: Body }>('/v1/chat/completions', { schema: { body: ChatCompletionBody } }, async (request, reply: FastifyReply) => {
    const startedMs = performance.now();
    const body = request.body;
    ctx.checkModel(body.model);
    ctx.checkCapacity();
    const choice = body.tool_choice;
    if (choice !== undefined && choice !== 'auto' && choice !== 'none') {
      throw badRequest('tool_choice "required" or a named function is not supported (no constrained decoding); use "auto" or "none"', 'tool_choice');
    }
    const messages = toChatMessages(body.messages);
    const hints = callHints(body);
    const tools = choice === 'none' || !body.tools || body.tools.length === 0 ? undefined : body.tools;
    const options: GenerateOptions = {
      messages,
      tools,
      maxTokens: body.max_completion_tokens ?? body.max_tokens ?? ctx.defaultMaxTokens,
      stop: body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop,
      sampling: { temperature: body.temperature ?? 1, topP: body.top_p ?? 1, ...(body.seed == null ? {} : { seed: body.seed }) },
      ignoreEos: body.ignore_eos ?? false,
      expectedToolS: body.expected_tool_s,
      // The job waits for its next call either way: a tool result or the person's next turn.
      keepOpen: true,
      ...hints.options,
    };

    const job = ctx.jobs.acquire(binding(request, messages));
    let conversation: ChatMessage[] | null = null;
    try {
      const { engineJob, resume } = ctx.jobs.engineJobFor(job, body.job_kind);
      const segment = resume ? engineJob.resume(options) : engineJob.generate(options);
      const id = `chatcmpl-${engineJob.id}-${engineJob.metrics().segments}`;
      const created = Math.floor(Date.now() / 1000);
      const headers = { 'x-astraea-job-id': job.id, ...skippedHintsHeader(hints, request.log) };
      const chunk = (delta: object, finish: string | null = null) => ({
        id, object: 'chat.completion.chunk', created, model: body.model, job_id: job.id,
        choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      });
      const format: StreamFormat = {
        start: () => chunk({ role: 'assistant', content: '' }),
        content: (text) => chunk({ content: text }),
        toolCalls: (r) => r.toolCalls.map((c, index) => chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: c.function }] })),
        finish: (r) => chunk({}, finishReason(r)),
        usage: (r) => ({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [], usage: usage(r) }),
      };

      if (body.stream) {
        reply.hijack();
        const streamed = await streamSegment(reply.raw, segment, startedMs, { format, includeUsage: body.stream_options?.include_usage ?? false, stop: options.stop!, toolCalls: true, headers }).catch(
          (error: unknown) => {
            request.log.error({ err: error }, 'a streamed call failed after its headers were sent');
            return null;
          },
        );
        if (streamed === null) return reply;
        const run = streamed;
        ctx.metrics.observeCall(run.result, run.timing);
        if (run.result.finishReason !== 'cancelled') conversation = [...messages, assistantMessage(run.result)];
        return reply;
      }
      const run = await awaitSegment(reply.raw, segment, startedMs);
      ctx.metrics.observeCall(run.result, run.timing);
      if (run.result.finishReason === 'cancelled') {
        if (run.disconnected) return reply;
        throw new HttpError(409, `job ${job.id} was closed while this call ran`, 'invalid_request_error', 'job_closed');
      }
      conversation = [...messages, assistantMessage(run.result)];
      reply.headers(headers);
      return {
        id, object: 'chat.completion', created, model: body.model, job_id: job.id,
        choices: [{ index: 0, message: assistantMessage(run.result), finish_reason: finishReason(run.result), logprobs: null }],
        usage: usage(run.result),
      };
    } finally {
      ctx.jobs.release(job, conversation);
    }
  });
}
