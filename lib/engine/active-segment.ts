/**
 * The engine's state for one segment while it queues and runs: what it generates, how it
 * decodes text, and when it stops (end of sequence, length, a stop string, a tool call).
 *
 * A constrained segment (spec.constraint: structured output, a forced tool call) ends where its
 * grammar does, by end of sequence or length: stop strings are not applied to it (a stop string
 * inside the JSON would cut it into invalid JSON), and a complete Hermes block does not end it
 * (the grammar may admit further calls, and allows end of sequence only once the output is whole).
 */
import { createToolCallStream, type ToolCallStream } from '../agent/tool-calls.js';
import type { TokenConstraint } from '../constrain/constraint.js';
import type { StreamDecoder, Tokenizer } from '../model/tokenizer.js';
import type { SampledLogprobs, SamplingOptions } from '../step.js';
import type { Segment } from './segment.js';
import type { FinishReason, SegmentResult } from './types.js';

export interface SegmentSpec {
  maxTokens: number;
  stop: string[];
  sampling: SamplingOptions;
  /** See GenerateOptions.constraint. */
  constraint?: TokenConstraint;
  ignoreEos: boolean;
  endsWithToolCall: boolean;
  /** See GenerateOptions.toolName. */
  toolName: string | undefined;
  /** See GenerateOptions.keepOpen. */
  keepOpen: boolean;
  /** Context tokens before this segment's new input, and with it (the prompt). */
  promptTokens: number;
  /** The client's estimate of the output length, if it gave one (else the engine predicts it). */
  hintedOutputTokens: number | undefined;
  /** The client's estimate of the tool call that ends the segment, if it gave one. */
  expectedToolS: number | undefined;
}

export class ActiveSegment {
  readonly generated: number[] = [];
  /** Per generated token, when the spec's sampling asked for logprobs. */
  private readonly logprobs: SampledLogprobs[] = [];
  private text = '';
  private readonly decoder: StreamDecoder | null;
  private readonly toolCalls: ToolCallStream;
  cachedPromptTokens = 0;
  /** The stop strings this segment applies: none under a constraint, whose grammar decides the end. */
  private readonly stop: readonly string[];

  constructor(
    readonly index: number,
    readonly spec: SegmentSpec,
    readonly handle: Segment,
    tokenizer: Tokenizer | null,
    private readonly eosIds: ReadonlySet<number>,
    idPrefix: string,
  ) {
    this.decoder = tokenizer ? tokenizer.createStreamDecoder() : null;
    this.toolCalls = createToolCallStream('auto', idPrefix);
    this.stop = spec.constraint ? [] : spec.stop;
  }

  /** Records a sampled token; returns the finish reason if the segment ends with it. */
  accept(token: number, logprobs: SampledLogprobs | null = null): FinishReason | null {
    this.generated.push(token);
    if (logprobs) this.logprobs.push(logprobs);
    const withLogprobs = logprobs ? { logprobs } : {};
    const isEos = this.eosIds.has(token);
    if (isEos && !this.spec.ignoreEos) {
      this.handle.push({ type: 'token', token, text: '', ...withLogprobs });
      return 'stop';
    }
    const delta = this.decoder ? this.decoder.push(token) : '';
    this.text += delta;
    this.handle.push({ type: 'token', token, text: delta, ...withLogprobs });
    const { toolCallComplete } = this.toolCalls.push(delta);
    if (toolCallComplete && !this.spec.constraint) return 'tool_call';
    if (this.stop.length > 0 && this.stopStringIndex() >= 0) return 'stop';
    if (this.generated.length >= this.spec.maxTokens) return this.spec.endsWithToolCall ? 'tool_call' : 'length';
    return null;
  }

  private stopStringIndex(): number {
    let first = -1;
    for (const s of this.stop) {
      const i = this.text.indexOf(s);
      if (i >= 0 && (first < 0 || i < first)) first = i;
    }
    return first;
  }

  result(reason: FinishReason): SegmentResult {
    let text = this.text + (this.decoder ? this.decoder.flush() : '');
    const stopAt = this.stop.length > 0 ? this.stopStringIndex() : -1;
    if (stopAt >= 0) text = text.slice(0, stopAt);
    const parsed = this.toolCalls.finish();
    // A model that ends with a Llama-3 style JSON call (found only at the end) also made a tool call.
    const finishReason: FinishReason = reason === 'stop' && parsed.toolCalls.length > 0 ? 'tool_call' : reason;
    return {
      finishReason,
      tokens: [...this.generated],
      text,
      content: stopAt >= 0 ? text : parsed.content,
      toolCalls: parsed.toolCalls,
      ...(this.spec.sampling.logprobs ? { logprobs: [...this.logprobs] } : {}),
      usage: {
        promptTokens: this.spec.promptTokens,
        cachedPromptTokens: this.cachedPromptTokens,
        completionTokens: this.generated.length,
      },
    };
  }
}
