/**
 * Bad input gets an EngineError with a clear code and message, and loses nothing: after every
 * rejected load or plan the engine still serves a valid step with the same result.
 */
import { cpSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../../lib/model/load.js';
import { native } from '../../lib/native/index.js';
import { buildStepPlan, type PlannedStep } from '../../lib/native/plan.js';
import type { NativeKvCache, NativeStepPlan } from '../../lib/native/types.js';
import { expectCodeAsync } from '../unit/expect-code.js';
import { makeFixture, removeDir, tempDir } from './fixtures.js';
import { expectLoadError } from './load-error.js';

let pristine: string;

beforeAll(async () => {
  pristine = await makeFixture('qwen2');
});
afterAll(() => removeDir(pristine));

function copyOfModel(): string {
  const dir = tempDir('broken');
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

/** Rewrites model.safetensors with its header changed by `mutate` and the same data bytes. */
function rewriteHeader(dir: string, mutate: (header: Record<string, any>) => void): void {
  const path = join(dir, 'model.safetensors');
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
  mutate(header);
  const json = Buffer.from(JSON.stringify(header));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([head, json, bytes.subarray(8 + length)]));
}


describe('malformed model directories', () => {
  const cases: [string, (dir: string) => void, string, RegExp][] = [
    ['a truncated weight file', (d) => truncateSync(join(d, 'model.safetensors'), statSync(join(d, 'model.safetensors')).size - 100), 'INVALID_WEIGHTS', /truncated/],
    ['a header longer than the file', (d) => truncateSync(join(d, 'model.safetensors'), 20), 'INVALID_WEIGHTS', /header length/],
    ['a file too short for a header', (d) => writeFileSync(join(d, 'model.safetensors'), Buffer.from([1, 2, 3])), 'INVALID_WEIGHTS', /too short/],
    ['a header that is not JSON', (d) => {
      const p = join(d, 'model.safetensors');
      const b = readFileSync(p);
      b.write('{{{{', 8);
      writeFileSync(p, b);
    }, 'INVALID_WEIGHTS', /malformed JSON/],
    ['an unknown dtype', (d) => rewriteHeader(d, (h) => { h['model.norm.weight'].dtype = 'I8'; }), 'INVALID_WEIGHTS', /model\.norm\.weight.*dtype I8/],
    ['offsets that disagree with the shape', (d) => rewriteHeader(d, (h) => { h['model.norm.weight'].shape = [64]; }), 'INVALID_WEIGHTS', /model\.norm\.weight.*bytes/],
    ['overlapping tensors', (d) => rewriteHeader(d, (h) => {
      h['model.norm.weight'].data_offsets = h['lm_head.weight'].data_offsets.map((o: number) => o);
      h['model.norm.weight'].shape = [h['lm_head.weight'].shape[0] * h['lm_head.weight'].shape[1]];
    }), 'INVALID_WEIGHTS', /overlap/],
    ['a missing tensor', (d) => rewriteHeader(d, (h) => { delete h['model.layers.1.self_attn.k_proj.bias']; }), 'INVALID_WEIGHTS', /missing tensor "model\.layers\.1\.self_attn\.k_proj\.bias"/],
    ['a shape that disagrees with config.json', (d) => {
      const p = join(d, 'config.json');
      writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), intermediate_size: 255 }));
    }, 'INVALID_WEIGHTS', /shape \[256, 128\] but config\.json implies \[255, 128\]/],
    ['no weight files', (d) => rmSync(join(d, 'model.safetensors')), 'MODEL_NOT_FOUND', /no \*\.safetensors/],
    ['no config.json', (d) => rmSync(join(d, 'config.json')), 'MODEL_NOT_FOUND', /no config\.json/],
    ['a config.json that is not JSON', (d) => writeFileSync(join(d, 'config.json'), '{"hidden_size": 12,'), 'INVALID_CONFIG', /config\.json/],
    ['an unsupported architecture', (d) => {
      const p = join(d, 'config.json');
      writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }));
    }, 'UNSUPPORTED_MODEL', /gpt2/],
    ['a missing required config field', (d) => {
      const p = join(d, 'config.json');
      const config = JSON.parse(readFileSync(p, 'utf8'));
      delete config.num_hidden_layers;
      writeFileSync(p, JSON.stringify(config));
    }, 'INVALID_CONFIG', /num_hidden_layers/],
  ];

  it.each(cases)('%s', async (_label, breakIt, code, message) => {
    const dir = copyOfModel();
    try {
      breakIt(dir);
      await expectLoadError(dir, code, message);
    } finally {
      removeDir(dir);
    }
  });

  it('a directory that does not exist', async () => {
    await expectLoadError('/nonexistent/astraea-model', 'MODEL_NOT_FOUND', /does not exist/);
    await expect(native().loadModel({ dir: '/nonexistent/astraea-model' })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });

  it('bad load options', async () => {
    await expect(native().loadModel({ dir: pristine, dtype: 'q4' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(native().loadModel({ dir: pristine, threads: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(native().loadModel(42 as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('bad plans', () => {
  let model: LoadedModel;
  let cache: NativeKvCache;
  const good: PlannedStep = { sequences: [{ tokens: [1, 2, 3, 4, 5], startPosition: 0, blocks: [3, 2] }], logits: 'last' };
  let expected: number[];

  beforeAll(async () => {
    model = await loadModel({ model: pristine });
    cache = model.native.createKvCache({ blockSize: 4, deviceBlocks: 6, hostBlocks: 2 });
    expected = Array.from((await model.native.step(cache, buildStepPlan(good))).logits!);
  });
  afterAll(() => {
    cache.dispose();
    model.dispose();
  });

  const seq = good.sequences[0];
  const cases: [string, () => NativeStepPlan, string, RegExp][] = [
    ['a block id past the pool', () => buildStepPlan({ sequences: [{ ...seq, blocks: [3, 6] }] }), 'INVALID_PLAN', /block 6, outside the device pool \[0, 6\)/],
    ['a negative block id', () => buildStepPlan({ sequences: [{ ...seq, blocks: [-1, 2] }] }), 'INVALID_PLAN', /block -1/],
    ['a block table too short for the positions', () => buildStepPlan({ sequences: [{ ...seq, blocks: [3] }] }), 'INVALID_PLAN', /needs 2 blocks/],
    ['a negative position', () => buildStepPlan({ sequences: [{ ...seq, startPosition: -2 }] }), 'INVALID_PLAN', /negative position/],
    ['a position past the context', () => buildStepPlan({ sequences: [{ tokens: [1], startPosition: 2048, blocks: Array(513).fill(0) }] }), 'INVALID_PLAN', /context is 2048/],
    ['a token outside the vocabulary', () => buildStepPlan({ sequences: [{ ...seq, tokens: [1, 384] }] }), 'INVALID_PLAN', /id 384, outside the vocabulary/],
    ['two tokens writing one slot', () => buildStepPlan({ sequences: [seq, { ...seq, blocks: [3, 1] }] }), 'INVALID_PLAN', /writes KV slot/],
    ['a swap-out to a host block past the pool', () => buildStepPlan({ sequences: [], swapOut: [[0, 2]] }), 'INVALID_PLAN', /outside the host pool \[0, 2\)/],
    ['a swap-in from a negative host block', () => buildStepPlan({ sequences: [], swapIn: [[-1, 0]] }), 'INVALID_PLAN', /source block -1/],
    ['an exchange into a host block no swap-in reads', () => buildStepPlan({ sequences: [], swapIn: [[0, 4]], swapOutToVacated: [[5, 1]] }), 'INVALID_PLAN', /host block 1 is read by no swap-in/],
    ['an exchange from a device block past the pool', () => buildStepPlan({ sequences: [], swapIn: [[0, 4]], swapOutToVacated: [[6, 0]] }), 'INVALID_PLAN', /swapOutToVacated pair 0: source block 6/],
    ['a copy that writes one block twice', () => buildStepPlan({ sequences: [], copy: [[0, 1], [2, 1]] }), 'INVALID_PLAN', /written twice/],
    ['a bad temperature', () => buildStepPlan({ sequences: [{ ...seq, sampling: { temperature: -1 } }] }), 'INVALID_PLAN', /temperature/],
    ['a bad top-p', () => buildStepPlan({ sequences: [{ ...seq, sampling: { topP: 0 } }] }), 'INVALID_PLAN', /topP/],
    ['query lengths that disagree with the tokens', () => ({ ...buildStepPlan(good), tokens: Int32Array.of(1, 2, 3) }), 'INVALID_PLAN', /add up to/],
    ['a wrongly typed array', () => ({ ...buildStepPlan(good), tokens: Float32Array.of(1, 2, 3, 4, 5) as never }), 'INVALID_ARGUMENT', /plan\.tokens must be a Int32Array/],
    ['a per-sequence array of the wrong length', () => ({ ...buildStepPlan(good), seeds: new Uint32Array(2) }), 'INVALID_ARGUMENT', /plan\.seeds has 2 entries; expected 1/],
    ['a missing array', () => ({ ...buildStepPlan(good), blockIds: undefined }), 'INVALID_ARGUMENT', /plan\.blockIds is required/],
    ['odd block pairs', () => ({ ...buildStepPlan(good), copy: Int32Array.of(1, 2, 3) }), 'INVALID_ARGUMENT', /pairs/],
    ['an unknown logits mode', () => ({ ...buildStepPlan(good), logits: 'some' as never }), 'INVALID_ARGUMENT', /plan\.logits/],
  ];

  it.each(cases)('%s', async (_label, plan, code, message) => {
    await expectCodeAsync(() => model.native.step(cache, plan()), code, message);
    // Nothing was touched: the same step gives the same logits as before.
    const again = await model.native.step(cache, buildStepPlan(good));
    expect(Array.from(again.logits!)).toEqual(expected);
  });

  it('a cache of another shape, or no cache at all, is refused', async () => {
    const other = await loadModel({ model: 'tiny' }); // 2 KV heads where the Qwen2 fixture has 1
    const wrongCache = other.native.createKvCache({ deviceBlocks: 2 });
    try {
      await expect(model.native.step(wrongCache, buildStepPlan(good))).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/different model/),
      });
      await expect(model.native.step({} as never, buildStepPlan(good))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      wrongCache.dispose();
      other.dispose();
    }
  });

  it('bad cache options', () => {
    expect(() => model.native.createKvCache({ deviceBlocks: 0 })).toThrow(/deviceBlocks/);
    expect(() => model.native.createKvCache({ deviceBlocks: 4, blockSize: 0 })).toThrow(/blockSize/);
    expect(() => model.native.createKvCache({ deviceBlocks: 4, hostBlocks: -1 })).toThrow(/hostBlocks/);
  });
});
