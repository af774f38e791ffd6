/**
 * POST /v1/completions: a raw prompt (text, or token ids) continued as a job of one call.
 */
import type { FastifyInstance } from 'fastify';
import type { GenerateOptions } from '../../engine/types.js';
import { badRequest, HttpError } from '../errors.js';
import { CompletionBody } from '../schemas.js';
import { awaitSegment } from '../call-segment.js';
import { callHints, skippedHintsHeader } from '../hints.js';
import { streamSegment, type StreamFormat } from '../sse-writer.js';
import { finishReason, usage } from '../openai-shapes.js';
import type { ServerContext } from '../context.js';

export function registerCompletions(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: CompletionBody }>('/v1/completions', { schema: { body: CompletionBody } }, async (request, reply) => {
    const startedMs = performance.now();
    const body = request.body;
    ctx.checkModel(body.model);
    ctx.checkCapacity();
    const prompt = body.prompt;
    let tokens: number[];
    if (typeof prompt === 'string' || typeof prompt[0] === 'string') {
      const tokenizer = ctx.engine.tokenizer;
      if (!tokenizer) throw badRequest('this model has no tokenizer; send the prompt as token ids', 'prompt');
      tokens = tokenizer.encode(typeof prompt === 'string' ? prompt : (prompt[0] as string));
      if (tokens.length === 0) throw badRequest('prompt is empty', 'prompt');
    } else {
      tokens = prompt as number[];
    }
    const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
    const hints = callHints(body);
    const headers = skippedHintsHeader(hints, request.log);
    const options: GenerateOptions = {
      tokens,
      maxTokens: body.max_tokens ?? ctx.defaultMaxTokens,
      stop,
      sampling: { temperature: body.temperature ?? 1, topP: body.top_p ?? 1, ...(body.seed == null ? {} : { seed: body.seed }) },
      ignoreEos: body.ignore_eos ?? false,
      ...hints.options,
    };
    const job = ctx.engine.createJob({ cacheSalt: body.cache_salt });
    try {
      const segment = job.generate(options);
      const id = `cmpl-${job.id}`;
      const created = Math.floor(Date.now() / 1000);
      const chunk = (text: string, finish: string | null = null) => ({
        id, object: 'text_completion', created, model: body.model,
        choices: [{ index: 0, text, finish_reason: finish, logprobs: null }],
      });
      if (body.stream) {
        const format: StreamFormat = {
          start: () => null,
          content: (text) => chunk(text),
          toolCalls: () => [],
          finish: (r) => chunk('', finishReason(r)),
          usage: (r) => ({ id, object: 'text_completion', created, model: body.model, choices: [], usage: usage(r) }),
        };
        reply.hijack();
        const run = await streamSegment(reply.raw, segment, startedMs, { format, includeUsage: body.stream_options?.include_usage ?? false, stop, toolCalls: false, headers }).catch(
          (error: unknown) => {
            request.log.error({ err: error }, 'a streamed call failed after its headers were sent');
            return null;
          },
        );
        if (run) ctx.metrics.observeCall(run.result, run.timing);
        return reply;
      }
      const run = await awaitSegment(reply.raw, segment, startedMs);
      ctx.metrics.observeCall(run.result, run.timing);
      if (run.result.finishReason === 'cancelled') {
        if (run.disconnected) return reply;
        throw new HttpError(409, 'the call was cancelled', 'invalid_request_error', 'cancelled');
      }
      reply.headers(headers);
      return { ...chunk(run.result.text, finishReason(run.result)), usage: usage(run.result) };
    } finally {
      job.close();
    }
  });
}
