/**
 * POST /v1/chat/completions: one call of an agent job. The call's messages are rendered with the
 * model's chat template; a job waiting on a tool resumes with them (only what they add is
 * prefilled), other calls start a job. Tool calls come back as OpenAI `tool_calls` with
 * finish_reason "tool_calls".
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GenerateOptions } from '../../engine/types.js';
import type { ChatMessage } from '../../model/tokenizer.js';
import { badRequest, HttpError } from '../errors.js';
import { ChatCompletionBody } from '../schemas.js';
import { awaitSegment } from '../call-segment.js';
import { noteCall, resultNote } from '../call-log.js';
import { readSessionCookie, sessionCookieHeader } from '../session-cookie.js';
import { callHints, skippedHintsHeader } from '../hints.js';
import { streamSegments, type StreamFormat } from '../sse-writer.js';
import { usage, withSummedUsage } from '../openai-shapes.js';
import { checkChatFields, choiceSeeds, samplingOptions, skipsSpecialTokens, wantedLogprobs } from '../request-fields.js';
import { startChoiceForks, type ChoiceForks } from '../choice-forks.js';
import { chatLogprobs, segmentLogprobs, TokenTexts, type CoveredLogprobs } from '../logprobs-shapes.js';
import type { ServerContext } from '../context.js';
import { constraintSpecOf, startConstrained } from '../structured-output.js';
import type { CallBinding } from '../job-table.js';
import { assistantMessage, replyFinishReason, replyToolCalls, type ReplyRules } from '../reply-text.js';

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
 * a group it hints at (OpenAI's `prompt_cache_key`, else the gateway's session header, else
 * llm-d's session cookie: ../session-cookie.ts).
 */
function binding(request: FastifyRequest<{ Body: Body }>, messages: ChatMessage[]): CallBinding {
  const header = (name: string) => {
    const v = request.headers[name];
    return typeof v === 'string' && v.length > 0 ? v : null;
  };
  return {
    explicitId: request.body.job_id ?? header('x-astraea-job-id'),
    hint: request.body.prompt_cache_key ?? header('x-session-token') ?? readSessionCookie(request.headers.cookie),
    messages,
    cacheSalt: request.body.cache_salt ?? null,
  };
}

export function registerChat(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: Body }>('/v1/chat/completions', { schema: { body: ChatCompletionBody } }, async (request, reply: FastifyReply) => {
    const startedMs = performance.now();
    const body = request.body;
    ctx.checkModel(body.model);
    ctx.checkCapacity();
    const choice = body.tool_choice;
    // response_format and a forced tool_choice: constrained decoding (../structured-output.ts).
    const constraintSpec = constraintSpecOf(body, ctx.engine.tokenizer);
    checkChatFields(body);
    const logprobs = wantedLogprobs(body.logprobs === true, body.top_logprobs ?? 0, ctx.engine.backendKind);
    const messages = toChatMessages(body.messages);
    const hints = callHints(body);
    const rules: ReplyRules = {
      tokenizer: ctx.engine.tokenizer,
      skipSpecialTokens: skipsSpecialTokens(body),
      parallelToolCalls: body.parallel_tool_calls !== false,
      // response_format's JSON is the content, never a call (a forced call is a tool_call spec).
      toolCalls: constraintSpec === null || constraintSpec.kind === 'tool_call',
    };
    const tools = choice === 'none' || !body.tools || body.tools.length === 0 ? undefined : body.tools;
    const options: GenerateOptions = {
      messages,
      tools,
      maxTokens: body.max_completion_tokens ?? body.max_tokens ?? ctx.defaultMaxTokens,
      stop: body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop,
      sampling: samplingOptions(body, logprobs),
      ignoreEos: body.ignore_eos ?? false,
      expectedToolS: body.expected_tool_s,
      // The job waits for its next call either way: a tool result or the person's next turn.
      keepOpen: true,
      ...hints.options,
    };

    // n > 1: choice 0 runs on the job (its reply is the conversation's), the others on forks of it.
    const seeds = choiceSeeds(body.seed, body.n ?? 1);
    options.sampling = { ...options.sampling, seed: seeds[0] };
    const job = ctx.jobs.acquire(binding(request, messages));
    noteCall(request, { job: job.id });
    let conversation: ChatMessage[] | null = null;
    let forks: ChoiceForks | null = null;
    try {
      const { engineJob, resume } = ctx.jobs.engineJobFor(job, body.job_kind, messages);
      const segment = await startConstrained(ctx.engine, constraintSpec, options, () => (resume ? engineJob.resume(options) : engineJob.generate(options)));
      forks = await startChoiceForks(ctx.engine, { id: engineJob.id, cacheSalt: body.cache_salt, kind: body.job_kind }, seeds.slice(1), options, (fork, o) =>
        startConstrained(ctx.engine, constraintSpec, o, () => fork.generate(o)),
      ).catch((error: unknown) => {
        segment.cancel();
        throw error;
      });
      const segments = [segment, ...forks.segments];
      const id = `chatcmpl-${engineJob.id}-${engineJob.metrics().segments}`;
      const created = Math.floor(Date.now() / 1000);
      const headers: Record<string, string> = { 'x-astraea-job-id': job.id, ...skippedHintsHeader(hints, request.log) };
      // A cookie-based router sticks the session to this replica by it (../session-cookie.ts).
      if (readSessionCookie(request.headers.cookie) === null) headers['set-cookie'] = sessionCookieHeader(job.id);
      const texts = new TokenTexts(ctx.engine.tokenizer);
      const shaped = (covered: CoveredLogprobs | null) => (covered === null ? null : chatLogprobs(covered.tokens, texts));
      const chunk = (delta: object, finish: string | null = null, covered: CoveredLogprobs | null = null, choiceIndex = 0) => ({
        id, object: 'chat.completion.chunk', created, model: body.model, job_id: job.id,
        choices: [{ index: choiceIndex, delta, finish_reason: finish, logprobs: shaped(covered) }],
      });
      const format: StreamFormat = {
        start: (choiceIndex) => chunk({ role: 'assistant', content: '' }, null, null, choiceIndex),
        content: (text, covered, choiceIndex) => chunk({ content: text }, null, covered, choiceIndex),
        toolCalls: (r, choiceIndex) => replyToolCalls(r, rules).map((c, index) => chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: c.function }] }, null, null, choiceIndex)),
        finish: (r, choiceIndex) => chunk({}, replyFinishReason(r, rules), null, choiceIndex),
        usage: (r) => ({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [], usage: usage(r) }),
      };

      if (body.stream) {
        reply.hijack();
        const streamed = await streamSegments(reply.raw, segments, startedMs, {
          format,
          includeUsage: body.stream_options?.include_usage ?? false,
          // A structured output ends where its grammar does: stop strings are not applied to it.
          stop: constraintSpec ? [] : options.stop!,
          toolCalls: rules.toolCalls,
          logprobs: logprobs !== null,
          tokenizer: rules.tokenizer,
          skipSpecialTokens: rules.skipSpecialTokens,
          headers,
          cutError: () => ctx.cutError(jobClosed(job.id)),
        }).catch((error: unknown) => {
          // The stream has ended with the error's event; the call's log line says why.
          noteCall(request, { job: job.id, error: (error as Error)?.message ?? String(error), code: (error as { code?: string }).code?.toLowerCase() ?? null });
          return null;
        });
        if (streamed === null) return reply;
        noteCall(request, { ...resultNote(job.id, streamed.map((run) => run.result)), cut: streamed.some((run) => run.result.finishReason === 'cancelled' && !run.disconnected) });
        for (const run of streamed) ctx.metrics.observeCall(run.result, run.timing);
        if (streamed[0].result.finishReason !== 'cancelled') conversation = [...messages, assistantMessage(streamed[0].result, streamed[0].tokenTexts, rules)];
        return reply;
      }
      const runs = await Promise.all(segments.map((s) => awaitSegment(reply.raw, s, startedMs)));
      for (const run of runs) ctx.metrics.observeCall(run.result, run.timing);
      const results = runs.map((run) => run.result);
      if (results.some((result) => result.finishReason === 'cancelled')) {
        if (runs.some((run) => run.disconnected)) return reply;
        noteCall(request, { ...resultNote(job.id, results), cut: true });
        throw ctx.cutError(jobClosed(job.id));
      }
      noteCall(request, resultNote(job.id, results));
      // The job keeps choice 0's message as the client gets it, so sending it back extends the job.
      const replies = runs.map(({ result, tokenTexts }) => assistantMessage(result, tokenTexts, rules));
      conversation = [...messages, replies[0]];
      reply.headers(headers);
      return {
        id, object: 'chat.completion', created, model: body.model, job_id: job.id,
        choices: runs.map(({ result, tokenTexts }, index) => ({
          index, message: replies[index], finish_reason: replyFinishReason(result, rules), logprobs: shaped(segmentLogprobs(result, tokenTexts, (rules.toolCalls ? result.content : result.text) ?? '')),
        })),
        usage: usage(withSummedUsage(runs.map((run) => run.result))),
      };
    } finally {
      forks?.close();
      ctx.jobs.release(job, conversation);
    }
  });
}

/** What a call gets when its job is closed under it (POST /v1/jobs/{id}/close). */
function jobClosed(jobId: string): HttpError {
  return new HttpError(409, `job ${jobId} was closed while this call ran`, 'invalid_request_error', 'job_closed');
}
