/**
 * The new input of a segment: raw tokens, or chat messages rendered with the model's template.
 * A chat job re-renders its whole conversation each segment; the new tokens are what the
 * rendering adds after the job's context. If the rendering does not extend the context (a
 * template can render the model's own turn differently from what it generated), the context is
 * replaced and the prefix cache still spares the common part.
 */
import { EngineError } from '../errors.js';
import type { EngineBackend } from './backend.js';
import type { ChatMessage } from '../model/tokenizer.js';
import type { JobRecord } from './job-record.js';
import type { GenerateOptions, ResumeOptions } from './types.js';

export interface SegmentInput {
  tokens: number[];
  /** true: `tokens` is the whole new context; false: append `tokens` to the context. */
  replaceContext: boolean;
  /** The chat history with this segment's messages, committed only if the segment starts. */
  messages?: ChatMessage[];
  tools?: object[];
}

/**
 * Token input. Empty is allowed only to continue a job that has a context (a tool that returned
 * nothing): the segment then starts from the last generated token, which has no KV yet.
 */
function checkTokens(tokens: unknown, vocabSize: number, allowEmpty: boolean): number[] {
  if (!Array.isArray(tokens)) throw new EngineError('INVALID_ARGUMENT', 'tokens must be an array of token ids');
  if (tokens.length === 0 && !allowEmpty) throw new EngineError('INVALID_ARGUMENT', 'tokens must be a non-empty array');
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) {
      throw new EngineError('INVALID_ARGUMENT', `token ${String(t)} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
  return tokens as number[];
}

/** Renders the conversation and works out what it adds to the job's context. */
function chatInput(model: Pick<EngineBackend, 'info' | 'tokenizer'>, context: readonly number[], messages: ChatMessage[], tools: object[] | undefined): SegmentInput {
  if (!model.tokenizer) throw new EngineError('NO_TOKENIZER', 'the model has no tokenizer.json; pass tokens instead of messages');
  const text = model.tokenizer.applyChatTemplate(messages, { tools, addGenerationPrompt: true });
  const rendered = model.tokenizer.encode(text, { addSpecialTokens: false });
  let same = 0;
  while (same < context.length && same < rendered.length && context[same] === rendered[same]) same++;
  if (same === context.length && rendered.length > context.length) {
    return { tokens: rendered.slice(same), replaceContext: false, messages, tools };
  }
  return { tokens: rendered, replaceContext: true, messages, tools };
}

export function segmentInput(model: Pick<EngineBackend, 'info' | 'tokenizer'>, record: JobRecord, options: GenerateOptions | ResumeOptions): SegmentInput {
  const vocab = model.info.vocabSize;
  if (options.tokens !== undefined) return { tokens: checkTokens(options.tokens, vocab, record.tokens.length > 0), replaceContext: false };

  const resume = options as ResumeOptions;
  if (resume.toolResult !== undefined) {
    if (typeof resume.toolResult !== 'string') throw new EngineError('INVALID_ARGUMENT', 'toolResult must be a string');
    const last = record.lastResult;
    const toolCalls = last?.toolCalls ?? [];
    const assistant: ChatMessage = { role: 'assistant', content: last?.content ?? null };
    if (toolCalls.length > 0) assistant.tool_calls = toolCalls;
    const messages: ChatMessage[] = [
      ...record.messages,
      assistant,
      { role: 'tool', content: resume.toolResult, tool_call_id: resume.toolCallId ?? toolCalls[0]?.id, name: resume.tool },
    ];
    return chatInput(model, record.tokens, messages, record.tools);
  }

  const messages = (options as GenerateOptions).messages;
  if (messages !== undefined) {
    if (!Array.isArray(messages) || messages.length === 0) throw new EngineError('INVALID_ARGUMENT', 'messages must be a non-empty array');
    return chatInput(model, record.tokens, [...messages], (options as GenerateOptions).tools);
  }
  throw new EngineError('INVALID_ARGUMENT', 'give messages or tokens (or, to resume, toolResult or tokens)');
}
