/**
 * What a choice replies, from its segment's result and the text each token released: the chat
 * message (content without special tokens, the tool calls, at most one when the call said
 * `parallel_tool_calls: false`), its finish reason, and a completion's text. The conversation a
 * job keeps is built from the same message, so a client that sends the reply back extends it
 * exactly.
 */
import type { ToolCall } from '../agent/tool-calls.js';
import type { SegmentResult } from '../engine/types.js';
import type { ChatMessage, Tokenizer } from '../model/tokenizer.js';
import { finishReason } from './openai-shapes.js';
import { SpecialTextRanges } from './special-tokens.js';

export interface ReplyRules {
  tokenizer: Tokenizer | null;
  /** The request's skip_special_tokens (./special-tokens.ts). */
  skipSpecialTokens: boolean;
  /** False: the reply carries the first tool call only (a forced call is already one by its grammar). */
  parallelToolCalls: boolean;
  /**
   * Whether the output may hold tool calls. Not when `response_format` makes it one JSON value:
   * the whole text is the content, even an object shaped like a Llama-3 call
   * (`{"name": …, "parameters": …}`), which the engine's parser would take for one.
   */
  toolCalls: boolean;
}

/** The segment's output as the tokens released it (the final flush may add an unfinished character). */
function outputOf(result: SegmentResult, tokenTexts: readonly string[]): string {
  const released = tokenTexts.join('');
  return result.text.length > released.length ? result.text : released;
}

/** Where the special tokens' text lies in the segment's output (none when the call keeps it). */
export function specialRanges(result: SegmentResult, tokenTexts: readonly string[], rules: ReplyRules): SpecialTextRanges {
  return SpecialTextRanges.of(rules.tokenizer, rules.skipSpecialTokens, result.tokens, tokenTexts);
}

function strip(result: SegmentResult, tokenTexts: readonly string[], rules: ReplyRules, text: string): string {
  return specialRanges(result, tokenTexts, rules).stripContent(outputOf(result, tokenTexts), text);
}

/** A chat reply's content: null when there is none, or when only special tokens were. */
export function replyContent(result: SegmentResult, tokenTexts: readonly string[], rules: ReplyRules): string | null {
  const raw = rules.toolCalls ? result.content : result.text;
  if (raw === null) return null;
  const content = strip(result, tokenTexts, rules, raw);
  return content.length === 0 && raw.length > 0 ? null : content;
}

export function replyToolCalls(result: SegmentResult, rules: Pick<ReplyRules, 'parallelToolCalls' | 'toolCalls'>): ToolCall[] {
  if (!rules.toolCalls) return [];
  return rules.parallelToolCalls ? result.toolCalls : result.toolCalls.slice(0, 1);
}

/** OpenAI's finish reason of a chat reply: not "tool_calls" when the output holds none by rule. */
export function replyFinishReason(result: SegmentResult, rules: Pick<ReplyRules, 'toolCalls'>): ReturnType<typeof finishReason> {
  // The engine calls an output that parses as a call 'tool_call' even when it ended by end of sequence.
  return !rules.toolCalls && result.finishReason === 'tool_call' ? 'stop' : finishReason(result);
}

export function assistantMessage(result: SegmentResult, tokenTexts: readonly string[], rules: ReplyRules): ChatMessage {
  const message: ChatMessage = { role: 'assistant', content: replyContent(result, tokenTexts, rules) };
  const toolCalls = replyToolCalls(result, rules);
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return message;
}

/** A completion's text. */
export function completionText(result: SegmentResult, tokenTexts: readonly string[], rules: ReplyRules): string {
  return strip(result, tokenTexts, rules, result.text);
}
