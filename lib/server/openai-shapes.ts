/** The parts of OpenAI's response shapes both generation routes build from a segment's result. */
import type { SegmentResult } from '../engine/types.js';

/** OpenAI's finish reason: a tool call is 'tool_calls'; a cancelled call never gets this far. */
export function finishReason(result: SegmentResult): 'stop' | 'length' | 'tool_calls' {
  return result.finishReason === 'tool_call' ? 'tool_calls' : result.finishReason === 'length' ? 'length' : 'stop';
}

export function usage(result: SegmentResult) {
  const { promptTokens, completionTokens, cachedPromptTokens } = result.usage;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedPromptTokens },
  };
}

/**
 * The result whose usage an n-choice call reports, as OpenAI counts it: the prompt once (the
 * first choice's, with its cached tokens: the others fork it), the generated tokens of every
 * choice. One result is itself.
 */
export function withSummedUsage(results: readonly SegmentResult[]): SegmentResult {
  if (results.length === 1) return results[0];
  const completionTokens = results.reduce((sum, r) => sum + r.usage.completionTokens, 0);
  return { ...results[0], usage: { ...results[0].usage, completionTokens } };
}
