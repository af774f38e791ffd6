/**
 * A head padded past the tokenizer (Qwen: vocab_size 151,936, tokenizer 151,669 ids) must never
 * yield an id the tokenizer does not have, whatever the weights. The model here is rigged so the
 * padded rows always win: its output rows past the tokenizer are +50 and -50 in every weight, so
 * one of them scores 50 x |sum of the normed hidden state|, far above any real row. Unmasked,
 * every greedy token would be a padded id (the test checks that with the reference model);
 * masked, the tokens are the reference's argmax over the tokenizer's ids. The engine passes the
 * tokenizer's id count to the native sampler, which masks the ids past it before any cut.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { makeModel } from '../../lib/model/make-model.js';
import type { HfConfig } from '../../lib/model/presets.js';
import { writeSafetensors } from '../../lib/model/safetensors-writer.js';
import { buildServer } from '../../lib/server/app.js';
import { writeRealTokenizer } from '../fixtures/real-tokenizers.js';
import { referenceConfigFromHf, referenceLogits } from '../reference/llama-reference.js';
import { readSafetensors, type SafetensorsTensor } from '../reference/safetensors-read.js';
import { removeDir, tempDir } from './fixtures.js';

const TOKENIZER_IDS = 151669;
const CONFIG: HfConfig = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 128,
  vocab_size: 151936,
  max_position_embeddings: 4096,
  rms_norm_eps: 1e-6,
  rope_theta: 1e6,
  hidden_act: 'silu',
  // An untied head, so rigging its rows leaves the embeddings alone.
  tie_word_embeddings: false,
  bos_token_id: 151643,
  eos_token_id: 151645,
};
const PROMPT = '<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n';
const MAX_TOKENS = 5;

let dir: string;
let weights: Map<string, SafetensorsTensor>;
let engine: Engine;

/** make-model's random weights with the head's padded rows set to +50 / -50 alternately. */
async function writeRiggedModel(target: string): Promise<void> {
  await makeModel({ config: CONFIG, outDir: target, seed: 3 });
  rmSync(join(target, 'generation_config.json'));
  writeFileSync(join(target, 'config.json'), JSON.stringify({ ...CONFIG, torch_dtype: 'float32' }));
  writeRealTokenizer('qwen3', target);

  const file = join(target, 'model.safetensors');
  const tensors = readSafetensors([file]);
  const head = tensors.get('lm_head.weight')!;
  const hidden = CONFIG.hidden_size;
  for (let row = TOKENIZER_IDS; row < CONFIG.vocab_size; row++) head.values.fill(row % 2 === 0 ? 50 : -50, row * hidden, (row + 1) * hidden);
  const names = [...tensors.keys()];
  writeSafetensors(
    file,
    names.map((name) => ({ name, dtype: 'F32' as const, shape: tensors.get(name)!.shape })),
    (name) => new Uint8Array(Float32Array.from(tensors.get(name)!.values).buffer),
  );
}

function referenceLastLogits(ids: number[]): Float64Array {
  return referenceLogits(referenceConfigFromHf(CONFIG), weights, ids).at(-1)!;
}

function argmax(row: ArrayLike<number>, limit: number): number {
  let best = 0;
  for (let i = 1; i < limit; i++) if (row[i] > row[best]) best = i;
  return best;
}

beforeAll(async () => {
  dir = tempDir('padded-vocab');
  await writeRiggedModel(dir);
  weights = readSafetensors(readdirSync(dir).filter((f) => f.endsWith('.safetensors')).map((f) => join(dir, f)));
  engine = await Engine.create({ model: dir, kvBlocks: 64, threads: 2 });
});

afterAll(async () => {
  await engine?.close();
  if (dir) removeDir(dir);
});

describe('a Qwen tokenizer under a head padded to 151,936 rows', () => {
  it('the engine sees both sizes', () => {
    expect(engine.modelInfo.vocabSize).toBe(151936);
    expect(engine.tokenizer!.vocabSize).toBe(TOKENIZER_IDS);
  });

  it('greedy: every token is the argmax over the tokenizer ids, where the padded rows would win', async () => {
    const promptIds = engine.tokenizer!.encode(PROMPT, { addSpecialTokens: false });
    const ids = [...promptIds];
    const expected: number[] = [];
    for (let i = 0; i < MAX_TOKENS; i++) {
      const row = referenceLastLogits(ids);
      // The rig works: over the whole head, a padded row wins every step.
      expect(argmax(row, CONFIG.vocab_size)).toBeGreaterThanOrEqual(TOKENIZER_IDS);
      expected.push(argmax(row, TOKENIZER_IDS));
      ids.push(expected.at(-1)!);
    }
    const job = engine.createJob();
    const result = await job.generate({ messages: [{ role: 'user', content: 'Say hi.' }], maxTokens: MAX_TOKENS, ignoreEos: true }).done;
    job.close();
    expect(result.usage.promptTokens).toBe(promptIds.length);
    expect(result.tokens).toEqual(expected);
  });

  it.each([
    { temperature: 1, seed: 5 },
    { temperature: 0.7, topK: 50, seed: 6 },
    { temperature: 1.2, topP: 0.9, seed: 7 },
    { temperature: 0.8, topK: 5, minP: 0.1, seed: 8 },
  ])('sampled (%o): every token is a tokenizer id', async (sampling) => {
    const job = engine.createJob();
    const result = await job.generate({ tokens: engine.tokenizer!.encode(PROMPT, { addSpecialTokens: false }), maxTokens: 12, ignoreEos: true, sampling }).done;
    job.close();
    expect(result.tokens).toHaveLength(12);
    for (const id of result.tokens) expect(id).toBeLessThan(TOKENIZER_IDS);
    expect(() => engine.tokenizer!.decode(result.tokens)).not.toThrow();
  });

  it('over HTTP: a chat completion answers 200 with text (it was a 400 "token id ... is out of range")', async () => {
    const { app } = buildServer(engine, { modelName: 'qwen-padded' });
    try {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        payload: { model: 'qwen-padded', messages: [{ role: 'user', content: 'Say hi.' }], max_tokens: 8, temperature: 1, seed: 1 },
      });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json().usage.completion_tokens).toBe(8);
    } finally {
      await app.close();
    }
  });
});
