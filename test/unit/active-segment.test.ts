/**
 * How a segment ends, token by token: a Hermes tool call closes it with finish reason
 * 'tool_call' and parsed calls; end of sequence, length, stop strings and forced tool-call ends.
 */
import { describe, expect, it } from 'vitest';
import type { TokenConstraint } from '../../lib/constrain/constraint.js';
import { ActiveSegment, type SegmentSpec } from '../../lib/engine/active-segment.js';
import { Segment } from '../../lib/engine/segment.js';
import { buildByteLevelTokenizer } from '../../lib/model/byte-tokenizer-files.js';
import { Tokenizer } from '../../lib/model/tokenizer.js';

const files = buildByteLevelTokenizer({ vocabSize: 384 });
const tokenizer = Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);
const EOS = files.specialTokens['<|im_end|>'];

function segment(spec: Partial<SegmentSpec> = {}): ActiveSegment {
  const full: SegmentSpec = { maxTokens: 1000, stop: [], sampling: {}, ignoreEos: false, endsWithToolCall: false, toolName: undefined, keepOpen: false, promptTokens: 7, hintedOutputTokens: undefined, expectedToolS: undefined, ...spec };
  return new ActiveSegment(0, full, new Segment(() => undefined), tokenizer, new Set([EOS]), 'j1');
}

/** A constraint as far as ActiveSegment sees one: it only asks whether the segment has one. */
const GRAMMAR: TokenConstraint = { allowedTokens: () => new Uint32Array(0), accept: () => true, isComplete: () => true, dispose: () => undefined };

/** Feeds tokens until the segment ends; returns the reason and how many tokens it took. */
function feed(s: ActiveSegment, ids: number[]): { reason: string | null; used: number } {
  for (let i = 0; i < ids.length; i++) {
    const reason = s.accept(ids[i]);
    if (reason) return { reason, used: i + 1 };
  }
  return { reason: null, used: ids.length };
}

describe('ActiveSegment', () => {
  it('a Hermes tool call ends the segment as soon as its closing tag arrives', () => {
    const s = segment();
    const text = 'Let me look.<tool_call>{"name": "search", "arguments": {"q": "flights"}}</tool_call>MORE';
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    const { reason, used } = feed(s, ids);
    expect(reason).toBe('tool_call');
    expect(used).toBe(ids.length - 4); // "MORE" (4 byte tokens) is never generated
    const result = s.result('tool_call');
    expect(result.finishReason).toBe('tool_call');
    expect(result.content).toBe('Let me look.');
    expect(result.toolCalls).toEqual([{ id: 'j1_0', type: 'function', function: { name: 'search', arguments: '{"q":"flights"}' } }]);
    expect(result.usage).toEqual({ promptTokens: 7, cachedPromptTokens: 0, completionTokens: used });
  });

  it('a Llama-3 JSON call is recognised when the model stops', () => {
    const s = segment();
    const ids = [...tokenizer.encode('{"name": "calc", "parameters": {"x": 2}}', { addSpecialTokens: false }), EOS];
    const { reason } = feed(s, ids);
    expect(reason).toBe('stop');
    const result = s.result('stop');
    expect(result.finishReason).toBe('tool_call');
    expect(result.toolCalls[0].function).toEqual({ name: 'calc', arguments: '{"x":2}' });
  });

  it('end of sequence, unless ignored', () => {
    expect(feed(segment(), [104, 105, EOS, 106])).toEqual({ reason: 'stop', used: 3 });
    expect(feed(segment({ ignoreEos: true, maxTokens: 4 }), [104, 105, EOS, 106])).toEqual({ reason: 'length', used: 4 });
  });

  it('a stop string ends the segment and is cut from the text', () => {
    const s = segment({ stop: ['END'] });
    const { reason } = feed(s, tokenizer.encode('hello END world', { addSpecialTokens: false }));
    expect(reason).toBe('stop');
    expect(s.result('stop').text).toBe('hello ');
  });

  it('a forced length ends in a tool call when the caller says so', () => {
    expect(feed(segment({ maxTokens: 3, endsWithToolCall: true }), [1, 2, 3, 4])).toEqual({ reason: 'tool_call', used: 3 });
  });

  it('under a constraint a stop string inside the output neither ends the segment nor cuts the text', () => {
    const json = '{"note":"a, b","n":1}';
    const ids = [...tokenizer.encode(json, { addSpecialTokens: false }), EOS];
    // Unconstrained, the stop string ends it at the first "," (token 11) and the text is cut before it.
    const free = segment({ stop: [','] });
    expect(feed(free, ids)).toEqual({ reason: 'stop', used: 11 });
    expect(free.result('stop').text).toBe('{"note":"a');
    // Constrained: only end of sequence ends it, and the text is the whole JSON.
    const constrained = segment({ stop: [','], constraint: GRAMMAR });
    expect(feed(constrained, ids)).toEqual({ reason: 'stop', used: json.length + 1 });
    const result = constrained.result('stop');
    expect(result.text).toBe(json);
    expect(result.content).toBe(json);
    expect(JSON.parse(result.content!)).toEqual({ note: 'a, b', n: 1 });
  });

  it('under a constraint a closed Hermes block does not end the segment: the grammar may admit more calls', () => {
    const block = (city: string) => `<tool_call>\n{"name":"get_weather","arguments":{"city":"${city}"}}\n</tool_call>`;
    const text = `${block('Paris')}\n${block('Rome')}`;
    const ids = [...tokenizer.encode(text, { addSpecialTokens: false }), EOS];
    const s = segment({ constraint: GRAMMAR });
    expect(feed(s, ids)).toEqual({ reason: 'stop', used: ids.length });
    const result = s.result('stop');
    expect(result.finishReason).toBe('tool_call');
    expect(result.content).toBeNull();
    expect(result.toolCalls.map((c) => c.function)).toEqual([
      { name: 'get_weather', arguments: '{"city":"Paris"}' },
      { name: 'get_weather', arguments: '{"city":"Rome"}' },
    ]);
  });
});
