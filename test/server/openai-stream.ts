/** What a streamed chat completion adds up to, read through the official openai client. */
import type OpenAI from 'openai';

export interface StreamedChat {
  /** Every non-empty content delta, in order. */
  deltas: string[];
  /** Each tool call's name and arguments, its deltas concatenated. */
  calls: { name: string; arguments: string }[];
  finish: string | null;
}

export async function collectChatStream(stream: AsyncIterable<OpenAI.Chat.ChatCompletionChunk>): Promise<StreamedChat> {
  const deltas: string[] = [];
  const calls: { name: string; arguments: string }[] = [];
  let finish: string | null = null;
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta;
    if (delta?.content) deltas.push(delta.content);
    for (const c of delta?.tool_calls ?? []) {
      calls[c.index] ??= { name: '', arguments: '' };
      calls[c.index].name += c.function?.name ?? '';
      calls[c.index].arguments += c.function?.arguments ?? '';
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  return { deltas, calls, finish };
}
