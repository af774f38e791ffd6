import { describe, expect, it } from 'vitest';
import { EngineError } from '../../lib/errors.js';
import {
  createToolCallStream,
  parseToolCalls,
  type ParsedOutput,
  type ToolCall,
  type ToolCallFormat,
} from '../../lib/agent/tool-calls.js';
import { mistralCallId } from '../../lib/agent/mistral-tool-calls.js';

function call(index: number, name: string, args: string, prefix = 'call'): ToolCall {
  return { id: `${prefix}_${index}`, type: 'function', function: { name, arguments: args } };
}

/** A call found in Mistral's form: its id is the 9-character one (tested on its own below). */
function mcall(index: number, name: string, args: string, prefix = 'call'): ToolCall {
  return { ...call(index, name, args, prefix), id: mistralCallId(prefix, index) };
}

/** Streams `text` in the given chunks; returns the streamed content, per-push flags and the finish. */
function streamChunks(chunks: string[], format?: ToolCallFormat, idPrefix?: string) {
  const s = createToolCallStream(format, idPrefix);
  let streamed = '';
  const flags: boolean[] = [];
  for (const c of chunks) {
    const r = s.push(c);
    streamed += r.content;
    flags.push(r.toolCallComplete);
  }
  const fin = s.finish();
  return { streamed, flags, fin };
}

describe('parseToolCalls: Hermes', () => {
  it('parses a single call with object arguments', () => {
    const out = parseToolCalls('<tool_call>{"name": "search", "arguments": {"q": "x"}}</tool_call>', 'hermes');
    expect(out).toEqual({ content: null, toolCalls: [call(0, 'search', '{"q":"x"}')] });
  });

  it('parses multiple calls with whitespace and newlines around the JSON', () => {
    const text =
      '<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n' +
      '<tool_call>  {"name": "b", "arguments": {"y": [1, 2]}}  </tool_call>';
    expect(parseToolCalls(text, 'hermes')).toEqual({
      content: null,
      toolCalls: [call(0, 'a', '{"x":1}'), call(1, 'b', '{"y":[1,2]}')],
    });
  });

  it('keeps the text before a call as content', () => {
    const text = 'Let me look that up.\n<tool_call>{"name": "search", "arguments": {"q": "cats"}}</tool_call>';
    expect(parseToolCalls(text)).toEqual({
      content: 'Let me look that up.',
      toolCalls: [call(0, 'search', '{"q":"cats"}')],
    });
  });

  it('accepts arguments given as a JSON string and serialises them canonically', () => {
    const text = '<tool_call>{"name": "f", "arguments": "{\\"a\\": 1, \\"b\\": \\"two\\"}"}</tool_call>';
    expect(parseToolCalls(text, 'hermes').toolCalls).toEqual([call(0, 'f', '{"a":1,"b":"two"}')]);
  });

  it('serialises object arguments canonically', () => {
    const text = '<tool_call>{"name":"f","arguments":{ "a" : 1 ,\n "n": {"k": null} }}</tool_call>';
    expect(parseToolCalls(text, 'hermes').toolCalls).toEqual([call(0, 'f', '{"a":1,"n":{"k":null}}')]);
  });

  it('treats missing arguments as {} and accepts "parameters"', () => {
    const text = '<tool_call>{"name": "now"}</tool_call><tool_call>{"name": "g", "parameters": {"z": true}}</tool_call>';
    expect(parseToolCalls(text, 'hermes').toolCalls).toEqual([call(0, 'now', '{}'), call(1, 'g', '{"z":true}')]);
  });

  it('uses the id prefix', () => {
    const text = '<tool_call>{"name": "a", "arguments": {}}</tool_call><tool_call>{"name": "b", "arguments": {}}</tool_call>';
    expect(parseToolCalls(text, 'hermes', 'req7').toolCalls.map((c) => c.id)).toEqual(['req7_0', 'req7_1']);
  });

  it('leaves malformed JSON inside tags as content', () => {
    const text = 'Hi <tool_call>{"name": "a", "arguments": {</tool_call> bye';
    expect(parseToolCalls(text, 'hermes')).toEqual({ content: text, toolCalls: [] });
  });

  it('leaves JSON that is not a call (no name, bad arguments) as content', () => {
    const noName = '<tool_call>{"arguments": {}}</tool_call>';
    const badArgs = '<tool_call>{"name": "a", "arguments": "not json"}</tool_call>';
    const arrayArgs = '<tool_call>{"name": "a", "arguments": [1]}</tool_call>';
    expect(parseToolCalls(noName, 'hermes')).toEqual({ content: noName, toolCalls: [] });
    expect(parseToolCalls(badArgs, 'hermes')).toEqual({ content: badArgs, toolCalls: [] });
    expect(parseToolCalls(arrayArgs, 'hermes')).toEqual({ content: arrayArgs, toolCalls: [] });
  });

  it('numbers valid calls around a malformed one consecutively', () => {
    const text =
      '<tool_call>{"name": "a", "arguments": {}}</tool_call>' +
      '<tool_call>{oops}</tool_call>' +
      '<tool_call>{"name": "b", "arguments": {}}</tool_call>';
    expect(parseToolCalls(text, 'hermes')).toEqual({
      content: '<tool_call>{oops}</tool_call>',
      toolCalls: [call(0, 'a', '{}'), call(1, 'b', '{}')],
    });
  });

  it('leaves an unclosed tag as content', () => {
    const text = 'Sure. <tool_call>{"name": "a", "arguments": {"q": 1}}';
    expect(parseToolCalls(text, 'hermes')).toEqual({ content: text, toolCalls: [] });
    const after = '<tool_call>{"name": "a", "arguments": {}}</tool_call> then <tool_call>{"name"';
    expect(parseToolCalls(after, 'hermes')).toEqual({
      content: 'then <tool_call>{"name"',
      toolCalls: [call(0, 'a', '{}')],
    });
  });

  it('returns null content and no calls for empty or whitespace output', () => {
    for (const f of ['hermes', 'llama3', 'mistral', 'auto'] as const) {
      expect(parseToolCalls('', f)).toEqual({ content: null, toolCalls: [] });
      expect(parseToolCalls(' \n ', f)).toEqual({ content: null, toolCalls: [] });
    }
  });

  it('hermes format ignores the Llama-3 JSON form', () => {
    const text = '{"name": "a", "parameters": {}}';
    expect(parseToolCalls(text, 'hermes')).toEqual({ content: text, toolCalls: [] });
  });
});

describe('parseToolCalls: Llama 3', () => {
  it('parses a single JSON call with parameters', () => {
    const out = parseToolCalls(' {"name": "search", "parameters": {"q": "x"}}\n', 'llama3');
    expect(out).toEqual({ content: null, toolCalls: [call(0, 'search', '{"q":"x"}')] });
  });

  it('accepts "arguments" instead of "parameters"', () => {
    expect(parseToolCalls('{"name": "f", "arguments": {"a": 1}}', 'llama3').toolCalls).toEqual([
      call(0, 'f', '{"a":1}'),
    ]);
  });

  it('parses several calls separated by ";"', () => {
    const text = '{"name": "a", "parameters": {"s": "x;y}"}}; {"name": "b", "parameters": {}}';
    expect(parseToolCalls(text, 'llama3')).toEqual({
      content: null,
      toolCalls: [call(0, 'a', '{"s":"x;y}"}'), call(1, 'b', '{}')],
    });
  });

  it('parses the <|python_tag|> form', () => {
    const text = '<|python_tag|>{"name": "calc", "parameters": {"expr": "1+1"}}';
    expect(parseToolCalls(text, 'llama3')).toEqual({ content: null, toolCalls: [call(0, 'calc', '{"expr":"1+1"}')] });
    expect(parseToolCalls('\n' + text, 'auto', 'x').toolCalls).toEqual([call(0, 'calc', '{"expr":"1+1"}', 'x')]);
  });

  it('leaves plain JSON that is not a call as content', () => {
    expect(parseToolCalls('{"answer": 3}', 'llama3')).toEqual({ content: '{"answer": 3}', toolCalls: [] });
    expect(parseToolCalls('{"answer": 3}', 'auto')).toEqual({ content: '{"answer": 3}', toolCalls: [] });
    const emptyName = '{"name": "", "parameters": {}}';
    expect(parseToolCalls(emptyName, 'auto')).toEqual({ content: emptyName, toolCalls: [] });
    const strParams = '{"name": "a", "parameters": "{}"}';
    expect(parseToolCalls(strParams, 'llama3')).toEqual({ content: strParams, toolCalls: [] });
  });

  it('is content when the call is followed or preceded by text, or is one of a bad pair', () => {
    for (const text of [
      '{"name": "a", "parameters": {}} and more',
      'Here: {"name": "a", "parameters": {}}',
      '{"name": "a", "parameters": {}}; {"answer": 3}',
      '{"name": "a", "parameters": {}};',
      '{"name": "a", "parameters": {}',
    ]) {
      expect(parseToolCalls(text, 'llama3')).toEqual({ content: text, toolCalls: [] });
    }
  });

  it('auto prefers Hermes tags when present', () => {
    const text = '<tool_call>{"name": "a", "arguments": {"k": 1}}</tool_call>';
    expect(parseToolCalls(text, 'auto')).toEqual({ content: null, toolCalls: [call(0, 'a', '{"k":1}')] });
    expect(parseToolCalls('Plain answer.', 'auto')).toEqual({ content: 'Plain answer.', toolCalls: [] });
  });
});

describe('parseToolCalls: Mistral', () => {
  it('gives 9-character alphanumeric ids, as Mistral templates require, deterministic per prefix and index', () => {
    // Worked out with a separate Python implementation of the same recipe (FNV-1a, base 62).
    expect([mistralCallId('call', 0), mistralCallId('call', 1), mistralCallId('m', 0)]).toEqual(['yfB3sZy1I', 'lt2w1Oz3c', '1uK40LzeP']);
    const ids = new Set<string>();
    for (let job = 0; job < 200; job++) {
      for (let i = 0; i < 5; i++) {
        const id = mistralCallId(`job-${job}_0`, i);
        expect(id).toMatch(/^[A-Za-z0-9]{9}$/);
        ids.add(id);
      }
    }
    expect(ids.size).toBe(1000);
  });

  it('v3: one JSON array after [TOOL_CALLS], one call per entry', () => {
    const text = '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time", "arguments": {}}]';
    expect(parseToolCalls(text, 'mistral')).toEqual({ content: null, toolCalls: [mcall(0, 'get_weather', '{"city":"Paris"}'), mcall(1, 'get_time', '{}')] });
    expect(parseToolCalls(text, 'auto', 'm')).toEqual({ content: null, toolCalls: [mcall(0, 'get_weather', '{"city":"Paris"}', 'm'), mcall(1, 'get_time', '{}', 'm')] });
  });

  it('v11: one [TOOL_CALLS]name[ARGS]{...} per call', () => {
    const text = '[TOOL_CALLS]get_weather[ARGS]{"city": "Zürich"}[TOOL_CALLS]get_time[ARGS]{}';
    expect(parseToolCalls(text, 'mistral')).toEqual({ content: null, toolCalls: [mcall(0, 'get_weather', '{"city":"Zürich"}'), mcall(1, 'get_time', '{}')] });
  });

  it('keeps text before the marker as content; arguments may be a JSON string', () => {
    const text = 'Let me check.\n[TOOL_CALLS][{"name": "f", "arguments": "{\\"a\\": 1}"}]';
    expect(parseToolCalls(text, 'auto')).toEqual({ content: 'Let me check.', toolCalls: [mcall(0, 'f', '{"a":1}')] });
  });

  it('leaves everything as content when what follows the marker is not calls', () => {
    for (const text of [
      '[TOOL_CALLS] not json',
      '[TOOL_CALLS][]',
      '[TOOL_CALLS] [{"name": "f"}] trailing',
      '[TOOL_CALLS][{"arguments": {}}]',
      '[TOOL_CALLS]f[ARGS]{bad',
      '[TOOL_CALLS]bad name[ARGS]{}',
      '[TOOL_CALLS]f[ARGS][1]',
      'A [TOOL_CALLS]f[ARGS]{}[TOOL_CALLS]g',
    ]) {
      expect(parseToolCalls(text, 'mistral'), text).toEqual({ content: text.trim(), toolCalls: [] });
      expect(parseToolCalls(text, 'auto'), text).toEqual({ content: text.trim(), toolCalls: [] });
    }
  });

  it('each explicit format ignores the others\' markers', () => {
    const mistral = '[TOOL_CALLS]f[ARGS]{}';
    expect(parseToolCalls(mistral, 'hermes')).toEqual({ content: mistral, toolCalls: [] });
    expect(parseToolCalls(mistral, 'llama3')).toEqual({ content: mistral, toolCalls: [] });
    const hermes = '<tool_call>{"name": "a"}</tool_call>';
    expect(parseToolCalls(hermes, 'mistral')).toEqual({ content: hermes, toolCalls: [] });
  });

  it('auto: Hermes blocks first, then a marker outside them; a marker inside a block is just text', () => {
    const text = '<tool_call>{"name": "a"}</tool_call> x [TOOL_CALLS]b[ARGS]{"k": 1}';
    // One output, one id style: with Mistral calls in it, every id is Mistral's.
    expect(parseToolCalls(text, 'auto')).toEqual({ content: 'x', toolCalls: [mcall(0, 'a', '{}'), mcall(1, 'b', '{"k":1}')] });
    const inside = '<tool_call>{"name": "a", "arguments": {"s": "[TOOL_CALLS]"}}</tool_call>';
    expect(parseToolCalls(inside, 'auto')).toEqual({ content: null, toolCalls: [call(0, 'a', '{"s":"[TOOL_CALLS]"}')] });
  });
});

describe('createToolCallStream', () => {
  const samples: Array<{ name: string; text: string; format: ToolCallFormat }> = [
    {
      name: 'hermes text then two calls',
      text:
        'Let me check. <tool_call>\n{"name": "search", "arguments": {"q": "a<b"}}\n</tool_call>\n' +
        '<tool_call>{"name": "open", "arguments": "{\\"id\\": 2}"}</tool_call> done',
      format: 'hermes',
    },
    {
      name: 'hermes malformed block and unclosed tag',
      text: 'A <tool_call>{bad}</tool_call> B <tool_c C <tool_call>{"name": "x"',
      format: 'auto',
    },
    { name: 'auto hermes with partial tag text', text: ' x < y <tool <tool_call>{"name":"f"}</tool_call>', format: 'auto' },
    { name: 'llama3 multiple', text: ' {"name": "a", "parameters": {"s": "};"}} ;\n{"name": "b", "arguments": {}} ', format: 'llama3' },
    { name: 'llama3 python tag via auto', text: '<|python_tag|>{"name": "calc", "parameters": {"e": "2*3"}}', format: 'auto' },
    { name: 'llama3 not a call', text: '{"answer": 3} is the JSON.\nOK', format: 'llama3' },
    { name: 'auto JSON then hermes', text: '{"answer": 3}\n<tool_call>{"name": "f", "arguments": {}}</tool_call>', format: 'auto' },
    { name: 'auto plain', text: '  Hello,\n\nworld!  ', format: 'auto' },
    {
      name: 'mistral v3 after text',
      text: 'Let me check. [TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time", "arguments": {}}]',
      format: 'mistral',
    },
    { name: 'mistral v11 via auto', text: '[TOOL_CALLS]get_weather[ARGS]{"city": "Zürich"}[TOOL_CALLS]get_time[ARGS]{}', format: 'auto' },
    { name: 'mistral malformed via auto', text: 'Hmm [TOOL_CALLS]oops [TOOL_ and more', format: 'auto' },
    { name: 'auto hermes then mistral', text: 'A <tool_call>{"name": "a"}</tool_call> x [TOOL_CALLS]b[ARGS]{"k": 1}', format: 'auto' },
    { name: 'mistral partial markers', text: 'a [TOOL b [TOOL_CALL c [TOOL_CALLS', format: 'mistral' },
  ];

  for (const { name, text, format } of samples) {
    it(`matches the whole-output parse at every split point: ${name}`, () => {
      const whole = parseToolCalls(text, format, 'id');
      // The raw text of every valid tool call: none of it may ever be streamed as content.
      const callBodies = whole.toolCalls.map((c) => c.function.name);
      for (let i = 0; i <= text.length; i++) {
        for (let j = i; j <= text.length; j += 7) {
          const { streamed, fin } = streamChunks([text.slice(0, i), text.slice(i, j), text.slice(j)], format, 'id');
          const expected: ParsedOutput = whole;
          expect({ content: fin.content, toolCalls: fin.toolCalls }).toEqual(expected);
          expect(streamed + fin.flushed).toBe(whole.content ?? '');
          for (const n of callBodies) expect(streamed).not.toContain(`"${n}"`);
          expect(streamed).not.toContain('<tool_call>{"name": "search"');
          // A Mistral call's marker never reaches the client when calls were found.
          if (whole.toolCalls.length > 0) expect(streamed).not.toContain('[TOOL_CALLS]');
        }
      }
    });

    it(`char-by-char streaming never leaks a tool call: ${name}`, () => {
      const s = createToolCallStream(format, 'id');
      let streamed = '';
      for (const ch of text) {
        streamed += s.push(ch).content;
        // Whatever has been streamed is always a prefix of the final content.
        const whole = parseToolCalls(text, format, 'id');
        expect((whole.content ?? '').startsWith(streamed)).toBe(true);
      }
      const fin = s.finish();
      expect(streamed + fin.flushed).toBe(fin.content ?? '');
    });
  }

  it('streams content before a call and withholds the call itself', () => {
    const text = 'Checking now.<tool_call>{"name": "search", "arguments": {"q": "x"}}</tool_call>';
    const s = createToolCallStream('hermes');
    const pushes = [...text].map((ch) => s.push(ch));
    const streamed = pushes.map((p) => p.content).join('');
    expect(streamed).toBe('Checking now.');
    // "<tool" at the end is withheld while it might start a tag.
    const s2 = createToolCallStream('hermes');
    expect(s2.push('Hi <tool')).toEqual({ content: 'Hi', toolCallComplete: false });
    expect(s2.push('bar> ok')).toEqual({ content: ' <toolbar> ok', toolCallComplete: false });
    expect(s2.finish()).toEqual({ content: 'Hi <toolbar> ok', toolCalls: [], flushed: '' });
  });

  it('reports toolCallComplete exactly when the closing tag arrives', () => {
    const text = 'x <tool_call>{"name": "a", "arguments": {}}</tool_call>';
    const s = createToolCallStream('auto');
    const flags = [...text].map((ch) => s.push(ch).toolCallComplete);
    const expected = [...text].map((_, i) => i === text.length - 1);
    expect(flags).toEqual(expected);
    expect(s.finish()).toEqual({ content: 'x', toolCalls: [call(0, 'a', '{}')], flushed: '' });
  });

  it('reports toolCallComplete on the push that completes the closing tag, once per call', () => {
    const { flags, fin } = streamChunks(
      [
        '<tool_call>{"name": "a", "arguments": {}}</tool_',
        'call>\n<tool_call>{"name": "b"}',
        '</tool_call>',
        ' end',
      ],
      'hermes',
    );
    expect(flags).toEqual([false, true, true, false]);
    expect(fin.toolCalls).toEqual([call(0, 'a', '{}'), call(1, 'b', '{}')]);
    expect(fin.content).toBe('end');
  });

  it('does not report toolCallComplete for a malformed block', () => {
    const { streamed, flags, fin } = streamChunks(['<tool_call>{nope}', '</tool_call>'], 'hermes');
    expect(flags).toEqual([false, false]);
    expect(streamed).toBe('<tool_call>{nope}</tool_call>');
    expect(fin).toEqual({ content: '<tool_call>{nope}</tool_call>', toolCalls: [], flushed: '' });
  });

  it('withholds an unclosed block until finish, then releases it as content', () => {
    const { streamed, fin } = streamChunks(['Ok ', '<tool_call>{"name": "a"', ', "arguments": {}}'], 'hermes');
    expect(streamed).toBe('Ok');
    expect(fin).toEqual({
      content: 'Ok <tool_call>{"name": "a", "arguments": {}}',
      toolCalls: [],
      flushed: ' <tool_call>{"name": "a", "arguments": {}}',
    });
  });

  it('Llama-3: withholds a possible JSON call and releases non-calls at finish', () => {
    const a = createToolCallStream('llama3');
    expect(a.push('  {"answer"').content).toBe('');
    expect(a.push(': 3').content).toBe('');
    expect(a.finish()).toEqual({ content: '{"answer": 3', toolCalls: [], flushed: '{"answer": 3' });
    // Closing the object shows it is not a call: it is released on that push.
    const a2 = createToolCallStream('llama3');
    expect(a2.push('{"answer": 3').content).toBe('');
    expect(a2.push('}').content).toBe('{"answer": 3}');
    expect(a2.finish()).toEqual({ content: '{"answer": 3}', toolCalls: [], flushed: '' });
    // A valid call that ends the output is withheld until finish.
    const a3 = createToolCallStream('auto');
    expect(a3.push('{"name": "f", "parameters": {}}').content).toBe('');
    expect(a3.finish()).toEqual({ content: null, toolCalls: [call(0, 'f', '{}')], flushed: '' });

    const b = streamChunks(['<|python_', 'tag|>{"name": "f", "parameters": {"a": 1}}'], 'llama3');
    expect(b.streamed).toBe('');
    expect(b.flags).toEqual([false, false]);
    expect(b.fin).toEqual({ content: null, toolCalls: [call(0, 'f', '{"a":1}')], flushed: '' });
  });

  it('Llama-3: streams right away once the output cannot be a call', () => {
    const s = createToolCallStream('llama3');
    expect(s.push('The answer')).toEqual({ content: 'The answer', toolCallComplete: false });
    expect(s.push(' is {"name": "a", "parameters": {}}')).toEqual({
      content: ' is {"name": "a", "parameters": {}}',
      toolCallComplete: false,
    });
    // A JSON object that closes and is not a call is released as soon as that is known.
    const t = createToolCallStream('auto');
    expect(t.push('{"answer": 3')).toEqual({ content: '', toolCallComplete: false });
    expect(t.push('} so')).toEqual({ content: '{"answer": 3} so', toolCallComplete: false });
    expect(t.finish()).toEqual({ content: '{"answer": 3} so', toolCalls: [], flushed: '' });
  });

  it('Mistral: streams the text before [TOOL_CALLS], withholds the calls, never flags completion early', () => {
    const s = createToolCallStream('mistral');
    expect(s.push('Checking')).toEqual({ content: 'Checking', toolCallComplete: false });
    expect(s.push(' [TOOL')).toEqual({ content: '', toolCallComplete: false });
    expect(s.push('_CALLS]f[ARGS]{"a": 1}')).toEqual({ content: '', toolCallComplete: false });
    expect(s.finish()).toEqual({ content: 'Checking', toolCalls: [mcall(0, 'f', '{"a":1}')], flushed: '' });

    const bad = createToolCallStream('auto');
    expect(bad.push('Hi [TOOL_CALLS]oops').content).toBe('Hi');
    expect(bad.finish()).toEqual({ content: 'Hi [TOOL_CALLS]oops', toolCalls: [], flushed: ' [TOOL_CALLS]oops' });

    // A partial marker is withheld only until it cannot be one.
    const partial = createToolCallStream('mistral');
    expect(partial.push('x [TOOL_CALLS').content).toBe('x');
    expect(partial.push(' nope').content).toBe(' [TOOL_CALLS nope');
  });

  it('handles empty output', () => {
    expect(createToolCallStream().finish()).toEqual({ content: null, toolCalls: [], flushed: '' });
    const { streamed, fin } = streamChunks(['', ' ', '\n'], 'auto');
    expect(streamed).toBe('');
    expect(fin).toEqual({ content: null, toolCalls: [], flushed: '' });
  });

  it('rejects push after finish', () => {
    const s = createToolCallStream('hermes');
    s.finish();
    expect(() => s.push('x')).toThrow(EngineError);
  });
});

describe('the parallel calls a forced tool_choice writes (lib/constrain/tool-call-grammar.ts), as the parsers read them', () => {
  // The grammars' exact spellings: compact JSON, Hermes blocks separated by "\n", Mistral's list
  // entries by ",", Llama 3 objects by ";".
  const CASES: [string, string, ToolCall[]][] = [
    [
      'hermes',
      '<tool_call>\n{"name":"f","arguments":{"a":1}}\n</tool_call>\n<tool_call>\n{"name":"g","arguments":{}}\n</tool_call>',
      [call(0, 'f', '{"a":1}', 'p'), call(1, 'g', '{}', 'p')],
    ],
    ['mistral', '[TOOL_CALLS][{"name":"f","arguments":{"a":1}},{"name":"g","arguments":{}}]', [mcall(0, 'f', '{"a":1}', 'p'), mcall(1, 'g', '{}', 'p')]],
    ['llama3', '{"name":"f","parameters":{"a":1}};{"name":"g","parameters":{}}', [call(0, 'f', '{"a":1}', 'p'), call(1, 'g', '{}', 'p')]],
  ];

  it.each(CASES)('%s: every call, no content, whole or streamed one character at a time', (_format, text, calls) => {
    expect(parseToolCalls(text, 'auto', 'p')).toEqual({ content: null, toolCalls: calls });
    const { streamed, fin } = streamChunks([...text], 'auto', 'p');
    expect(streamed).toBe('');
    expect(fin).toEqual({ content: null, toolCalls: calls, flushed: '' });
  });
});
