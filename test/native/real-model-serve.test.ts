/**
 * End to end with real tokenizers: a model directory assembled from a real tokenizer and chat
 * template (../fixtures/real-tokenizers.ts), a config of that family's shape and vocabulary, and
 * seeded random weights, served by `astraea serve --dummy` in its own process and called with the
 * official openai client.
 *
 * What comes back is checked against independent work: the prompt's token count against the
 * hand-rendered prompt encoded by @lenml/tokenizers, and the greedy reply against the plain
 * TypeScript reference model (../reference) run on the weight file make-model wrote for the same
 * seed, decoded by @lenml/tokenizers.
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
import { realTokenizerFiles, writeRealTokenizer, type FamilyName } from '../fixtures/real-tokenizers.js';
import { LLAMA3_WEATHER_PROMPT, QWEN3_WEATHER_PROMPT, WEATHER_TOOLS, weatherConversation } from '../fixtures/weather-conversation.js';
import { referenceConfigFromHf, referenceLogits, type ReferenceWeight } from '../reference/llama-reference.js';
import { readSafetensors } from '../reference/safetensors-read.js';
import { removeDir, SMALL_SHAPE_FOR_REAL_VOCABULARY, tempDir } from './fixtures.js';
import { startServe, type ServeProcess } from './serve-process.js';

const SEED = 11;
const MAX_TOKENS = 6;

/** A small model of each family's architecture; the vocabulary is the family's real one. */
const SHAPE = SMALL_SHAPE_FOR_REAL_VOCABULARY;

interface Family {
  name: FamilyName;
  config: HfConfig;
  /** The hand-rendered prompt of one user message "Say hi." with a generation prompt. */
  sayHiPrompt: string;
  weatherPrompt: string;
}

const FAMILIES: Family[] = [
  {
    name: 'qwen3',
    // Qwen checkpoints declare 151,936 ids, more than the tokenizer's 151,669 (padded for the GPU).
    config: { ...SHAPE, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', vocab_size: 151936, rms_norm_eps: 1e-6, rope_theta: 1e6, bos_token_id: 151643, eos_token_id: 151645 },
    sayHiPrompt: '<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n',
    weatherPrompt: QWEN3_WEATHER_PROMPT,
  },
  {
    name: 'llama3',
    config: { ...SHAPE, architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 128256, rms_norm_eps: 1e-5, rope_theta: 500000, bos_token_id: 128000, eos_token_id: 128009 },
    sayHiPrompt: '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nSay hi.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    weatherPrompt: LLAMA3_WEATHER_PROMPT,
  },
];

/**
 * Writes weights with make-model (the same values `--dummy --seed` loads), then swaps its byte
 * tokenizer for the family's real one and points the config's special ids at the real tokens.
 */
async function assembleModelDir(family: Family, dir: string): Promise<void> {
  await makeModel({ config: family.config, outDir: dir, seed: SEED });
  rmSync(join(dir, 'generation_config.json'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...family.config, torch_dtype: 'float32' }));
  writeRealTokenizer(family.name, dir);
}

/** Greedy decoding with the reference model, over the ids the tokenizer has (see the padded vocab). */
function referenceGreedy(dir: string, config: HfConfig, promptIds: number[], tokenizerSize: number, eosId: number): number[] {
  const weights: Map<string, ReferenceWeight> = readSafetensors(readdirSync(dir).filter((f) => f.endsWith('.safetensors')).map((f) => join(dir, f)));
  const cfg = referenceConfigFromHf(config);
  const ids = [...promptIds];
  const out: number[] = [];
  while (out.length < MAX_TOKENS) {
    const last = referenceLogits(cfg, weights, ids).at(-1)!;
    let best = 0;
    for (let id = 1; id < tokenizerSize; id++) if (last[id] > last[best]) best = id;
    out.push(best);
    if (best === eosId) break;
    ids.push(best);
  }
  return out;
}

describe.each(FAMILIES)('astraea serve on a $name directory (real tokenizer and template, random weights)', (family) => {
  const ref = (() => {
    const files = realTokenizerFiles(family.name);
    return TokenizerLoader.fromPreTrained({ tokenizerJSON: files.tokenizerJson as never, tokenizerConfig: files.tokenizerConfigJson as never });
  })();
  let dir: string;
  let serve: ServeProcess;
  let client: OpenAI;

  beforeAll(async () => {
    dir = tempDir(`real-${family.name}`);
    await assembleModelDir(family, dir);
    serve = await startServe(['--model', dir, '--dummy', '--seed', String(SEED), '--threads', '2', '--kv-blocks', '256', '--served-model-name', family.name]);
    client = new OpenAI({ baseURL: serve.baseURL, apiKey: 'unused', maxRetries: 0 });
  });

  afterAll(async () => {
    if (serve) expect(await serve.stop()).toBe(0);
    if (dir) removeDir(dir);
  });

  it('answers a chat completion with what the reference model says, decoded by the reference tokenizer', async () => {
    const promptIds = ref.encode(family.sayHiPrompt, { add_special_tokens: false });
    const eosId = family.config.eos_token_id as number;
    const greedy = referenceGreedy(dir, family.config, promptIds, ref.model.vocab.length, eosId);
    const stopped = greedy.at(-1) === eosId;
    const text = ref.decode(stopped ? greedy.slice(0, -1) : greedy, { skip_special_tokens: false, clean_up_tokenization_spaces: false });

    const r = await client.chat.completions.create({ model: family.name, messages: [{ role: 'user', content: 'Say hi.' }], max_tokens: MAX_TOKENS, temperature: 0 });
    expect(r.usage!.prompt_tokens).toBe(promptIds.length);
    expect(r.usage!.completion_tokens).toBe(greedy.length);
    expect(r.choices[0].finish_reason).toBe(stopped ? 'stop' : 'length');
    // The reply is whitespace-trimmed content (no tool call can hide in six random tokens).
    expect(r.choices[0].message.content).toBe(text.trim() || null);

    // Streamed, the same call sends the same text in pieces.
    const stream = await client.chat.completions.create({ model: family.name, messages: [{ role: 'user', content: 'Say hi.' }], max_tokens: MAX_TOKENS, temperature: 0, stream: true });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? '';
    expect(streamed).toBe(text.trim());
  });

  it('renders an agent turn (tool calls with null content, tool results) with the real template', async () => {
    const messages = weatherConversation().map((m) =>
      m.tool_calls
        ? { ...m, tool_calls: m.tool_calls.map((c) => ({ ...c, function: { name: c.function.name, arguments: typeof c.function.arguments === 'string' ? c.function.arguments : JSON.stringify(c.function.arguments) } })) }
        : m,
    ) as OpenAI.Chat.ChatCompletionMessageParam[];
    const r = await client.chat.completions.create({ model: family.name, messages, tools: WEATHER_TOOLS, max_tokens: 2, temperature: 0 });
    expect(r.usage!.prompt_tokens).toBe(ref.encode(family.weatherPrompt, { add_special_tokens: false }).length);
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
  });
});
