/**
 * The new input of a segment: raw tokens, or chat messages rendered with the model's template.
 * A chat job re-renders its whole conversation each segment; the new tokens are what the
 * rendering adds after the job's context. If the rendering does not extend the context (a
 * template can render the model's own turn differently from what it generated), the context is
 * replaced and the prefix cache still spares the common part.
 */
import { EngineError } from '../errors.js';
import type { LoadedModel } from '../model/load.js';
import type { ChatMessage } from '../model/tokenizer.js';
import type { JobRecord } from './job-record.js';
import type { GenerateOptions, ResumeOptions } from './types.js';

export interface SegmentInput {
  tokens: number[];
  /** true: `tokens` is the whole new context; false: append `tokens` to the context. */
  replaceContext: boolean;
}

function checkTokens(tokens: unknown, vocabSize: number): number[] {
  if (!Array.isArray(tokens) || tokens.length === 0) throw new EngineError('INVALID_ARGUMENT', 'tokens must be a non-empty array');
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) {
      throw new EngineError('INVALID_ARGUMENT', `token ${String(t)} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
  return tokens as number[];
}

function render(model: LoadedModel, record: JobRecord): number[] {
  if (!model.tokenizer) throw new EngineError('NO_TOKENIZER', 'the model has no tokenizer.json; pass tokens instead of messages');
  const text = model.tokenizer.applyChatTemplate(record.messages, { tools: record.tools, addGenerationPrompt: true });
  return model.tokenizer.encode(text, { addSpecialTokens: false });
}

function extendOrReplace(context: readonly number[], rendered: number[]): SegmentInput {
  let same = 0;
  while (same < context.length && same < rendered.length && context[same] === rendered[same]) same++;
  if (same === context.length && rendered.length > context.length) return { tokens: rendered.slice(same), replaceContext: false };
  return { tokens: rendered, replaceContext: true };
}

export function segmentInput(model: LoadedModel, record: JobRecord, options: GenerateOptions | ResumeOptions): SegmentInput {
  const vocab = model.info.vocabSize;
  if (options.tokens !== undefined) return { tokens: checkTokens(options.tokens, vocab), replaceContext: false };

  const resume = options as ResumeOptions;
  if (resume.toolResult !== undefined) {
    if (typeof resume.toolResult !== 'string') throw new EngineError('INVALID_ARGUMENT', 'toolResult must be a string');
    const last = record.lastResult;
    const toolCalls = last?.toolCalls ?? [];
    const assistant: ChatMessage = { role: 'assistant', content: last?.content ?? null };
    if (toolCalls.length > 0) assistant.tool_calls = toolCalls;
    record.messages.push(assistant, {
      role: 'tool',
      content: resume.toolResult,
      tool_call_id: resume.toolCallId ?? toolCalls[0]?.id,
      name: resume.tool,
    });
    return extendOrReplace(record.tokens, render(model, record));
  }

  const messages = (options as GenerateOptions).messages;
  if (messages !== undefined) {
    if (!Array.isArray(messages) || messages.length === 0) throw new EngineError('INVALID_ARGUMENT', 'messages must be a non-empty array');
    record.messages = [...messages];
    record.tools = (options as GenerateOptions).tools;
    return extendOrReplace(record.tokens, render(model, record));
  }
  throw new EngineError('INVALID_ARGUMENT', 'give messages or tokens (or, to resume, toolResult or tokens)');
}
