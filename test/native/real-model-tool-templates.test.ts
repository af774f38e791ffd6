/**
 * End to end with the real tool-calling templates no tokenizer package ships
 * (../fixtures/real-templates.ts: Mistral 7B Instruct v0.3's and Llama 3.1 Instruct's): a model
 * directory of the family's real tokenizer, the real template as chat_template.jinja, a config of
 * the family's shape and seeded random weights, served by `astraea serve --dummy` in its own
 * process and called with the official openai client through a whole tool loop.
 *
 * Checked against independent work, never the server's own rendering: the prompt the server built
 * must be, id for id, the prompt worked out independently, which shows in the first reply token's
 * log-probabilities: they must be those the plain TypeScript reference model (../reference, on
 * make-model's weight file for the same seed) gives at the end of that prompt, encoded by
 * @lenml/tokenizers. The engine agrees with the reference to about 1e-6 here; a prompt off by one
 * space or newline moved them by 0.009 and 0.024 when tried, so they are compared to 5e-5.
 * 1. a tool conversation (system, user, tool calls, tool results) goes through the template: its
 *    prompt is transformers' rendering (reference-renderings.json);
 * 2. a forced call (`tool_choice` naming the function, enforced by constrained decoding) comes back
 *    as `tool_calls` in the model's format, its arguments valid for the tool as worked out by hand
 *    (and for Mistral with the 9-character id its template demands);
 * 3. that call and its result, sent back, render through the template: its prompt is the one
 *    written out by hand from the template for that call.
 *
 * Needs the compiled CLI (dist/, built by `npm test` before vitest runs), like ./cli.test.ts.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeModel } from '../../lib/model/make-model.js';
import type { HfConfig } from '../../lib/model/presets.js';
import { asClientSends, realChatTemplate, referenceRendering, templateCases, tokenizerOf, type TemplateName } from '../fixtures/real-templates.js';
import { realTokenizerFiles, writeRealTokenizer } from '../fixtures/real-tokenizers.js';
import { referenceConfigFromHf, referenceLogits, type ReferenceWeight } from '../reference/llama-reference.js';
import { readSafetensors } from '../reference/safetensors-read.js';
import { removeDir, SMALL_SHAPE_FOR_REAL_VOCABULARY, tempDir } from './fixtures.js';
import { startServe, type ServeProcess } from './serve-process.js';

const SEED = 5;
const TOP_LOGPROBS = 5;

/** A small model of each family's architecture; the vocabulary is the family's real one. */
const SHAPE = SMALL_SHAPE_FOR_REAL_VOCABULARY;

/**
 * The forced call's tool. The city is an enum so that a random model's constrained string ends
 * (an unbounded string can run past any max_tokens); either city makes it write a multi-byte
 * character, which the templates must carry back unescaped.
 */
const CITIES = ['Zürich', 'Genève'];
const CITY_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string', enum: CITIES } }, required: ['city'] },
  },
};
const QUESTION = 'What is the weather in Zürich?';
const RESULT = '{"temp": 21}';

interface Family {
  template: TemplateName;
  config: HfConfig;
  /** The name of the tool conversation in tool-conversations.json sent as step 1. */
  conversation: string;
  /** Step 3's prompt, written out by hand from the template for the call the model made. */
  roundTripPrompt(call: { id: string; city: string }): string;
  /** The call id the template needs (Mistral's checks for 9 characters). */
  callId: RegExp;
}

const FAMILIES: Family[] = [
  {
    template: 'mistral_v0_3',
    // Mistral 7B v0.3's shape of head: 32,768 rows, of which this 32,000-id tokenizer uses the first
    // 32,000 (v0.3's extra rows are its control tokens); the engine never samples the rest.
    config: { ...SHAPE, architectures: ['MistralForCausalLM'], model_type: 'mistral', vocab_size: 32768, rms_norm_eps: 1e-5, rope_theta: 1e6, sliding_window: null, bos_token_id: 1, eos_token_id: 2 },
    conversation: 'mistral tool loop: parallel calls, results',
    roundTripPrompt: ({ id, city }) =>
      '<s>[AVAILABLE_TOOLS] [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", ' +
      '"parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Zürich", "Genève"]}}, "required": ["city"]}}}]' +
      `[/AVAILABLE_TOOLS][INST] ${QUESTION}[/INST]` +
      `[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": ${JSON.stringify(city)}}, "id": "${id}"}]</s>` +
      `[TOOL_RESULTS] {"content": ${RESULT}, "call_id": "${id}"}[/TOOL_RESULTS]`,
    callId: /^[A-Za-z0-9]{9}$/,
  },
  {
    template: 'llama3_1',
    config: {
      ...SHAPE,
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: 128256,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      // Llama 3.1's own scaling.
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      bos_token_id: 128000,
      eos_token_id: 128009,
    },
    conversation: 'llama3.1 tool loop',
    roundTripPrompt: ({ city }) =>
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' +
      'Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\n' +
      'Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n' +
      'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.Do not use variables.\n\n' +
      // tojson(indent=4): Python's json.dumps layout, which JSON.stringify shares for this value.
      `${JSON.stringify(CITY_TOOL, null, 4)}\n\n${QUESTION}<|eot_id|>` +
      `<|start_header_id|>assistant<|end_header_id|>\n\n{"name": "get_weather", "parameters": {"city": ${JSON.stringify(city)}}}<|eot_id|>` +
      // The result string goes through tojson (a str is `iterable`).
      `<|start_header_id|>ipython<|end_header_id|>\n\n${JSON.stringify(RESULT)}<|eot_id|>` +
      '<|start_header_id|>assistant<|end_header_id|>\n\n',
    callId: /.+/,
  },
];

/**
 * The reference model's best next-token log-probabilities at the end of the prompt, highest first:
 * the log softmax over the ids the tokenizer has (a padded head's extra rows are never drawn, and
 * the server's logprobs are over the ids a sequence may draw).
 */
function referenceTopLogprobs(dir: string, config: HfConfig, promptIds: number[], tokenizerSize: number): number[] {
  const weights: Map<string, ReferenceWeight> = readSafetensors(readdirSync(dir).filter((f) => f.endsWith('.safetensors')).map((f) => join(dir, f)));
  const logits = referenceLogits(referenceConfigFromHf(config), weights, promptIds).at(-1)!.slice(0, tokenizerSize);
  const max = logits.reduce((a, b) => Math.max(a, b), -Infinity);
  const logSum = Math.log(logits.reduce((sum, x) => sum + Math.exp(x - max), 0)) + max;
  return Array.from(logits, (x) => x - logSum)
    .sort((a, b) => b - a)
    .slice(0, TOP_LOGPROBS);
}

describe.each(FAMILIES)('astraea serve with the real $template template (real tokenizer, random weights)', (family) => {
  const files = realTokenizerFiles(tokenizerOf(family.template));
  const ref = TokenizerLoader.fromPreTrained({ tokenizerJSON: files.tokenizerJson as never, tokenizerConfig: files.tokenizerConfigJson as never });
  const model = family.template;
  let dir: string;
  let serve: ServeProcess;
  let client: OpenAI;
  let forced: { id: string; city: string } | undefined;

  beforeAll(async () => {
    dir = tempDir(`real-${family.template}`);
    await makeModel({ config: family.config, outDir: dir, seed: SEED });
    rmSync(join(dir, 'generation_config.json'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...family.config, torch_dtype: 'float32' }));
    writeRealTokenizer(tokenizerOf(family.template), dir);
    // As a model directory carries a template of its own; it wins over tokenizer_config's.
    writeFileSync(join(dir, 'chat_template.jinja'), realChatTemplate(family.template));
    serve = await startServe(['--model', dir, '--dummy', '--seed', String(SEED), '--threads', '2', '--kv-blocks', '256', '--served-model-name', model]);
    client = new OpenAI({ baseURL: serve.baseURL, apiKey: 'unused', maxRetries: 0 });
  });

  afterAll(async () => {
    if (serve) expect(await serve.stop()).toBe(0);
    if (dir) removeDir(dir);
  });

  /** Sends the call for one reply token and checks the server's prompt was `expectedPrompt`. */
  async function expectPromptIs(expectedPrompt: string, request: Omit<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, 'model'>): Promise<void> {
    const promptIds = ref.encode(expectedPrompt, { add_special_tokens: false });
    const expected = referenceTopLogprobs(dir, family.config, promptIds, ref.model.vocab.length);
    const r = await client.chat.completions.create({ ...request, model, max_tokens: 1, temperature: 0, logprobs: true, top_logprobs: TOP_LOGPROBS });
    expect(r.usage!.prompt_tokens).toBe(promptIds.length);
    const first = r.choices[0].logprobs!.content![0];
    // Greedy: the token drawn is the most likely one.
    expect(first.logprob).toBeCloseTo(expected[0], 4);
    expect(first.top_logprobs.map((t) => t.logprob)).toHaveLength(TOP_LOGPROBS);
    first.top_logprobs.forEach((t, i) => expect(t.logprob, `top ${i}`).toBeCloseTo(expected[i], 4));
  }

  it('renders a tool conversation as transformers does', async () => {
    const c = templateCases(family.template).find((x) => x.name === family.conversation)!;
    const reference = referenceRendering(c.name);
    if (!('rendered' in reference)) throw new Error(`${c.name} has no rendering`);
    await expectPromptIs(reference.rendered, {
      messages: asClientSends(c.messages) as OpenAI.Chat.ChatCompletionMessageParam[],
      tools: c.tools as OpenAI.Chat.ChatCompletionTool[],
    });
  });

  it('a forced tool call comes back as tool_calls, valid for the tool', async () => {
    const r = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: QUESTION }],
      tools: [CITY_TOOL],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 200,
      temperature: 0,
    });
    const choice = r.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageToolCall & { type: 'function' };
    expect(call.type).toBe('function');
    expect(call.function.name).toBe('get_weather');
    expect(call.id).toMatch(family.callId);
    const args = JSON.parse(call.function.arguments) as { city: string };
    expect(Object.keys(args)).toEqual(['city']);
    expect(CITIES).toContain(args.city);
    forced = { id: call.id, city: args.city };
  });

  it('the call and its result sent back render through the template', async () => {
    expect(forced, 'needs the forced call of the test before').toBeDefined();
    const { id, city } = forced!;
    await expectPromptIs(family.roundTripPrompt({ id, city }), {
      messages: [
        { role: 'user', content: QUESTION },
        { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: JSON.stringify({ city }) } }] },
        { role: 'tool', tool_call_id: id, content: RESULT },
      ],
      tools: [CITY_TOOL],
    });
  });
});
