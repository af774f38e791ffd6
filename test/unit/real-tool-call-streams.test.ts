/**
 * Each family's tool-call output as its real tokenizer splits it (../fixtures/real-tokenizers.ts):
 * encoded, then decoded token by token with the incremental decoder and fed to the tool-call
 * stream, as the engine does while generating. Every token boundary is a split point; the calls
 * and content expected are written out by hand.
 */
import { describe, expect, it } from 'vitest';
import { mistralCallId } from '../../lib/agent/mistral-tool-calls.js';
import { createToolCallStream, parseToolCalls } from '../../lib/agent/tool-calls.js';
import { Tokenizer } from '../../lib/model/tokenizer.js';
import { realTokenizerFiles, type FamilyName } from '../fixtures/real-tokenizers.js';

interface Sample {
  family: FamilyName;
  output: string;
  content: string | null;
  calls: { name: string; arguments: string }[];
}

const SAMPLES: Sample[] = [
  {
    family: 'qwen3',
    output: 'Je vérifie à Zürich.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>',
    content: 'Je vérifie à Zürich.',
    calls: [
      { name: 'get_weather', arguments: '{"city":"Zürich"}' },
      { name: 'get_time', arguments: '{}' },
    ],
  },
  {
    family: 'llama3',
    output: '{"name": "get_weather", "parameters": {"city": "東京"}}',
    content: null,
    calls: [{ name: 'get_weather', arguments: '{"city":"東京"}' }],
  },
  {
    family: 'mistral',
    output: 'Un instant. [TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Zürich"}}]',
    content: 'Un instant.',
    calls: [{ name: 'get_weather', arguments: '{"city":"Zürich"}' }],
  },
  {
    family: 'mistral',
    output: '[TOOL_CALLS]get_weather[ARGS]{"city": "Zürich"}[TOOL_CALLS]get_time[ARGS]{}',
    content: null,
    calls: [
      { name: 'get_weather', arguments: '{"city":"Zürich"}' },
      { name: 'get_time', arguments: '{}' },
    ],
  },
];

describe.each(SAMPLES)('a $family tool-call output, token by token', ({ family, output, content, calls }) => {
  const files = realTokenizerFiles(family);
  const tok = Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);

  it('streams only the content and parses the calls', () => {
    const ids = tok.encode(output, { addSpecialTokens: false });
    const decoder = tok.createStreamDecoder();
    const stream = createToolCallStream('auto', 'c');
    let text = '';
    let streamed = '';
    for (const id of ids) {
      const delta = decoder.push(id);
      text += delta;
      streamed += stream.push(delta).content;
      // What was streamed is always a prefix of the final content.
      expect((content ?? '').startsWith(streamed)).toBe(true);
    }
    const tail = decoder.flush();
    text += tail;
    streamed += stream.push(tail).content;
    expect(text).toBe(output);
    const fin = stream.finish();
    // Calls in Mistral's form get Mistral's 9-character ids.
    const id = (i: number) => (output.includes('[TOOL_CALLS]') ? mistralCallId('c', i) : `c_${i}`);
    const expectedCalls = calls.map((c, i) => ({ id: id(i), type: 'function', function: c }));
    expect(fin).toMatchObject({ content, toolCalls: expectedCalls });
    expect(streamed + fin.flushed).toBe(content ?? '');
    expect(parseToolCalls(output, 'auto', 'c')).toEqual({ content, toolCalls: expectedCalls });
  });
});

it('qwen3 spells <tool_call> and </tool_call> as one token each', () => {
  const files = realTokenizerFiles('qwen3');
  const tok = Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);
  const ids = tok.encode(SAMPLES[0].output, { addSpecialTokens: false });
  expect(ids.filter((id) => id === 151657)).toHaveLength(2);
  expect(ids.filter((id) => id === 151658)).toHaveLength(2);
});
