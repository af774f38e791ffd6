/**
 * POST /v1/completions: a raw prompt (text, or token ids) continued as a job of one call; n > 1
 * choices are forks of that job.
 */
import type { FastifyInstance } from 'fastify';
import type { GenerateOptions } from '../../engine/types.js';
import { badRequest, HttpError } from '../errors.js';
import { CompletionBody } from '../schemas.js';
import { awaitSegment } from '../call-segment.js';
import { noteCall, resultNote } from '../call-log.js';
import { callHints, skippedHintsHeader } from '../hints.js';
import { streamSegments, type StreamFormat } from '../sse-writer.js';
import { finishReason, usage, withSummedUsage } from '../openai-shapes.js';
import { checkCompletionFields, choiceSeeds, samplingOptions, skipsSpecialTokens, wantedLogprobs } from '../request-fields.js';
import { legacyLogprobs, segmentLogprobs, TokenTexts, type CoveredLogprobs } from '../logprobs-shapes.js';
import type { ServerContext } from '../context.js';
import { completionText, specialRanges, type ReplyRules } from '../reply-text.js';

export function registerCompletions(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: CompletionBody }>('/v1/completions', { schema: { body: CompletionBody } }, async (request, reply) => {
    const startedMs = performance.now();
    const body = request.body;
    ctx.checkModel(body.model);
    ctx.checkCapacity();
    checkCompletionFields(body);
    // The legacy integer: k alternatives (0: only the sampled token's log-probability).
    const logprobs = wantedLogprobs(body.logprobs != null, body.logprobs ?? 0, ctx.engine.backendKind);
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
    const rules: ReplyRules = { tokenizer: ctx.engine.tokenizer, skipSpecialTokens: skipsSpecialTokens(body), parallelToolCalls: true, toolCalls: false };
    const options: GenerateOptions = {
      tokens,
      maxTokens: body.max_tokens ?? ctx.defaultMaxTokens,
      stop,
      sampling: samplingOptions(body, logprobs),
      ignoreEos: body.ignore_eos ?? false,
      ...hints.options,
    };
    // n choices: a job for the first, forks of it for the others, which share the prompt's KV
    // copy-on-write instead of computing it again; each draws with its own seed.
    const seeds = choiceSeeds(body.seed, body.n ?? 1);
    const jobs = [ctx.engine.createJob({ cacheSalt: body.cache_salt })];
    noteCall(request, { job: jobs[0].id });
    try {
      const segments = seeds.map((seed, i) => {
        if (i > 0) jobs.push(ctx.engine.createJob({ cacheSalt: body.cache_salt, forkOf: jobs[0].id }));
        const sampling = { ...options.sampling, ...(seed === undefined ? {} : { seed }) };
        return jobs[i].generate({ ...options, sampling });
      });
      const id = `cmpl-${jobs[0].id}`;
      const created = Math.floor(Date.now() / 1000);
      const texts = new TokenTexts(ctx.engine.tokenizer);
      const choice = (index: number, text: string, finish: string | null, covered: CoveredLogprobs | null) => ({
        index, text, finish_reason: finish, logprobs: covered === null ? null : legacyLogprobs(covered.tokens, texts, covered.textOffsets),
      });
      const chunk = (index: number, text: string, finish: string | null = null, covered: CoveredLogprobs | null = null) => ({
        id, object: 'text_completion', created, model: body.model, choices: [choice(index, text, finish, covered)],
      });
      if (body.stream) {
        const format: StreamFormat = {
          start: () => null,
          content: (text, covered, index) => chunk(index, text, null, covered),
          toolCalls: () => [],
          finish: (r, index) => chunk(index, '', finishReason(r)),
          usage: (r) => ({ id, object: 'text_completion', created, model: body.model, choices: [], usage: usage(r) }),
        };
        reply.hijack();
        const runs = await streamSegments(reply.raw, segments, startedMs, {
          format,
          includeUsage: body.stream_options?.include_usage ?? false,
          stop,
          toolCalls: false,
          logprobs: logprobs !== null,
          tokenizer: rules.tokenizer,
          skipSpecialTokens: rules.skipSpecialTokens,
          headers,
          cutError: () => ctx.cutError(cancelled()),
        }).catch((error: unknown) => {
          // The stream has ended with the error's event; the call's log line says why.
          noteCall(request, { job: jobs[0].id, error: (error as Error)?.message ?? String(error), code: (error as { code?: string }).code?.toLowerCase() ?? null });
          return null;
        });
        if (runs) noteCall(request, { ...resultNote(jobs[0].id, runs.map((run) => run.result)), cut: runs.some((run) => run.result.finishReason === 'cancelled' && !run.disconnected) });
        for (const run of runs ?? []) ctx.metrics.observeCall(run.result, run.timing);
        return reply;
      }
      const runs = await Promise.all(segments.map((segment) => awaitSegment(reply.raw, segment, startedMs)));
      for (const run of runs) ctx.metrics.observeCall(run.result, run.timing);
      const results = runs.map((run) => run.result);
      if (results.some((result) => result.finishReason === 'cancelled')) {
        if (runs.some((run) => run.disconnected)) return reply;
        noteCall(request, { ...resultNote(jobs[0].id, results), cut: true });
        throw ctx.cutError(cancelled());
      }
      noteCall(request, resultNote(jobs[0].id, results));
      reply.headers(headers);
      return {
        id, object: 'text_completion', created, model: body.model,
        choices: runs.map((run, index) => choice(index, completionText(run.result, run.tokenTexts, rules), finishReason(run.result), segmentLogprobs(run.result, run.tokenTexts, run.result.text, specialRanges(run.result, run.tokenTexts, rules)))),
        usage: usage(withSummedUsage(runs.map((run) => run.result))),
      };
    } finally {
      for (const job of jobs) job.close();
    }
  });
}

/** What a completion cancelled by the server (not its client) gets outside a drain. */
function cancelled(): HttpError {
  return new HttpError(409, 'the call was cancelled', 'invalid_request_error', 'cancelled');
}
