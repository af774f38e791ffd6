/**
 * The native forward pass on the `small` preset (dummy weights, ~100M parameters): prefill and
 * decode tokens/s at several batch sizes, for F32 and BF16 weights (and Q8_0 with --dtypes q8),
 * next to the memory-bandwidth bound of a decode step (every weight byte read once) and llama.cpp
 * on the same weights, shape and dtype in the same run. For q8, llama.cpp gets a Q8_0 GGUF of the
 * same quantized matrices, and its token embedding (which doubles as the tied LM head) quantized
 * the same way, as llama.cpp's own Q8_0 files have it; ours keeps the embedding in F32 for the
 * row gather and streams a Q8_0 copy as the LM head, so both stream the same bytes per step.
 *
 *   npm run build:ts && node dist/bench/native/forward.js [--dtypes f32,bf16,q8,bf16:bf16] [--batches 1,8,32]
 *       [--prompt 128] [--decode 32] [--repeats 3] [--threads N] [--kv-dtype auto|f32|bf16] [--no-llamacpp]
 *       [--llamacpp-flash] [--json FILE]
 *
 * --llamacpp-flash runs llama.cpp with its flash-attention path (off by default, as in the tables of
 * docs/performance.md): at long prompts it is the fairer comparison for our attention kernels.
 *
 * A dtype `w:a` loads weights `w` with activations `a` (`bf16:f32`: BF16 weights multiplied by F32
 * activations, see ActivationsOption); a plain `w` takes the default, 'auto', and the table says
 * what it chose. llama.cpp runs once per weight dtype.
 *
 * Each measurement is repeated (--repeats) and the best run is reported, for us and for
 * llama.cpp alike: on a shared machine the best run is the one least disturbed by neighbours.
 *
 * llama.cpp comes from a scratch install outside the package (see bench/native/llamacpp.ts):
 *   npm install --prefix .scratch/llamacpp node-llama-cpp@3
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BYTE_TO_UNICODE, SPECIAL_TOKENS } from '../../lib/model/byte-tokenizer-files.js';
import { loadModel, type LoadedModel } from '../../lib/model/load.js';
import { native } from '../../lib/native/index.js';
import { buildStepPlan, type PlannedSequence } from '../../lib/native/plan.js';
import type { ActivationsOption, KvDtypeOption, WeightDtypeOption } from '../../lib/native/types.js';
import { quantizeQ8Planar, writeGguf, type HfTensor } from './gguf-writer.js';
import { LlamaCppMissingError, measureLlamaCpp, type LlamaCppResult } from './llamacpp.js';

interface OurResult {
  batch: number;
  prefillTokensPerS: number;
  decodeTokensPerS: number;
}

interface DtypeReport {
  dtype: string;
  /** What the matrices multiplied: the load's choice ('auto' decided by the weights and the CPU). */
  activations: string;
  /** Read bandwidth, bytes/s: the best of the measurements taken beside this dtype's first batch. */
  bandwidth: number;
  decodeStreamBytes: number;
  boundTokensPerS: number;
  ours: OurResult[];
  llamaCpp: LlamaCppResult | null;
  llamaCppNote: string | null;
}

const { values } = parseArgs({
  options: {
    dtypes: { type: 'string', default: 'f32,bf16' },
    'kv-dtype': { type: 'string', default: 'auto' },
    batches: { type: 'string', default: '1,8,32' },
    prompt: { type: 'string', default: '128' },
    decode: { type: 'string', default: '32' },
    threads: { type: 'string', default: '0' },
    repeats: { type: 'string', default: '3' },
    'no-llamacpp': { type: 'boolean', default: false },
    'llamacpp-flash': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const batches = values.batches.split(',').map(Number);
const promptTokens = Number(values.prompt);
const decodeTokens = Number(values.decode);
const threads = Number(values.threads);
const repeats = Math.max(1, Number(values.repeats));

function ids(count: number, salt: number, vocab: number): number[] {
  return Array.from({ length: count }, (_, i) => (i * 7919 + salt * 104729 + 13) % vocab);
}

/** Prefill `batch` prompts in one step, then decode `decodeTokens` steps of the whole batch. */
async function measureOurs(model: LoadedModel, batch: number): Promise<OurResult> {
  const blockSize = 16;
  const blocksPerSeq = Math.ceil((promptTokens + decodeTokens + 1) / blockSize);
  const cache = model.native.createKvCache({ blockSize, deviceBlocks: blocksPerSeq * batch, dtype: values['kv-dtype'] as KvDtypeOption });
  const vocab = model.info.vocabSize;
  try {
    const tables = Array.from({ length: batch }, (_, s) => Array.from({ length: blocksPerSeq }, (_, b) => s * blocksPerSeq + b));
    // Warm-up: fault in the weights and the pool's pages once.
    await model.native.step(cache, buildStepPlan({ sequences: [{ tokens: ids(8, 99, vocab), startPosition: 0, blocks: tables[0] }] }));

    const prompts: PlannedSequence[] = tables.map((blocks, s) => ({ tokens: ids(promptTokens, s, vocab), startPosition: 0, blocks }));
    let started = performance.now();
    let result = await model.native.step(cache, buildStepPlan({ sequences: prompts }));
    const prefillS = (performance.now() - started) / 1000;

    let next = Array.from(result.tokens);
    started = performance.now();
    for (let i = 0; i < decodeTokens; i++) {
      const sequences = tables.map((blocks, s) => ({ tokens: [next[s]], startPosition: promptTokens + i, blocks }));
      result = await model.native.step(cache, buildStepPlan({ sequences }));
      next = Array.from(result.tokens);
    }
    const decodeS = (performance.now() - started) / 1000;
    return { batch, prefillTokensPerS: (batch * promptTokens) / prefillS, decodeTokensPerS: (batch * decodeTokens) / decodeS };
  } finally {
    cache.dispose();
  }
}

/** The same weights as GGUF, for llama.cpp. */
async function exportGguf(model: LoadedModel, path: string): Promise<void> {
  const vocab = model.info.vocabSize;
  const tokens = Array.from({ length: vocab }, (_, i) =>
    i < 256 ? BYTE_TO_UNICODE[i] : i < 256 + SPECIAL_TOKENS.length ? SPECIAL_TOKENS[i - 256] : `<|reserved_${i}|>`,
  );
  const q8 = model.info.weightDtype === 'Q8_0';
  const tensors: HfTensor[] = model.native.tensors().map((t) => {
    const data = model.native.tensorData(t.name);
    if (q8 && t.name === 'model.embed_tokens.weight' && t.dtype === 'F32') {
      const values = new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4);
      return { ...t, dtype: 'Q8_0' as const, data: quantizeQ8Planar(values, t.shape[0], t.shape[1]) };
    }
    return { ...t, data };
  });
  await writeGguf(path, { config: model.config, tensors, vocab: { tokens, bosTokenId: 256, eosTokenId: 259 } });
}

async function measureLlama(model: LoadedModel, dtype: string): Promise<{ result: LlamaCppResult | null; note: string | null }> {
  if (values['no-llamacpp']) return { result: null, note: 'skipped (--no-llamacpp)' };
  const dir = resolve('.scratch', 'gguf');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `small-${dtype}.gguf`);
  try {
    await exportGguf(model, path);
    const result = await measureLlamaCpp({
      ggufPath: path,
      threads: model.info.threads,
      promptTokens,
      decodeTokens,
      batchSizes: batches.filter((b) => b > 1),
      runs: repeats,
      flashAttention: values['llamacpp-flash'],
    });
    return { result, note: null };
  } catch (error) {
    if (error instanceof LlamaCppMissingError) return { result: null, note: error.message };
    throw error;
  }
}

function row(cells: (string | number)[]): string {
  return '| ' + cells.join(' | ') + ' |';
}

async function main(): Promise<void> {
  const backend = native().backendInfo();
  // The VM's read bandwidth moves by tens of percent from one minute to the next (neighbours), so
  // each dtype's bound uses the bandwidth measured beside its own decode runs: one measurement
  // before every repeat, the best of them, as the decode figure is the best of its repeats.
  const reports: DtypeReport[] = [];
  const llamaByWeights = new Map<string, { result: LlamaCppResult | null; note: string | null }>();
  for (const dtype of values.dtypes.split(',')) {
    const [weights, activations = 'auto'] = dtype.split(':') as [WeightDtypeOption, ActivationsOption?];
    const model = await loadModel({ model: 'small', dtype: weights, activations, threads });
    try {
      const ours: OurResult[] = [];
      let bandwidth = 0;
      for (const batch of batches) {
        const runs: OurResult[] = [];
        for (let r = 0; r < repeats; r++) {
          if (batch === batches[0]) bandwidth = Math.max(bandwidth, await native().measureReadBandwidth({ threads, megabytes: 1024 }));
          runs.push(await measureOurs(model, batch));
        }
        ours.push({
          batch,
          prefillTokensPerS: Math.max(...runs.map((x) => x.prefillTokensPerS)),
          decodeTokensPerS: Math.max(...runs.map((x) => x.decodeTokensPerS)),
        });
      }
      const llama = llamaByWeights.get(weights) ?? (await measureLlama(model, weights));
      llamaByWeights.set(weights, llama);
      reports.push({
        dtype,
        activations: model.info.activations,
        decodeStreamBytes: model.info.decodeStreamBytes,
        bandwidth,
        boundTokensPerS: bandwidth / model.info.decodeStreamBytes,
        ours,
        llamaCpp: llama.result,
        llamaCppNote: llama.note,
      });
    } finally {
      model.dispose();
    }
  }

  const lines: string[] = [];
  lines.push(`machine: ${backend.hardwareThreads} hardware threads, SIMD ${backend.simd}, read bandwidth ${reports.map((r) => `${(r.bandwidth / 1e9).toFixed(1)} GB/s beside ${r.dtype}`).join(', ')} (measured, best of ${repeats})`);
  lines.push(`model: small preset (dummy weights), prompt ${promptTokens} tokens, ${decodeTokens} decode steps, best of ${repeats} runs; our KV cache: ${values['kv-dtype']} (auto: F32 under F32 weights, else BF16); llama.cpp's: F16`);
  lines.push('');
  lines.push(row(['weights', 'batch', 'prefill tok/s', 'decode tok/s', 'decode / bandwidth bound', 'llama.cpp prefill tok/s', 'llama.cpp decode tok/s', 'decode ours / llama.cpp']));
  lines.push(row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']));
  for (const r of reports) {
    for (const o of r.ours) {
      const llama = r.llamaCpp
        ? o.batch === 1
          ? { prefill: r.llamaCpp.bestPrefillTokensPerS, decode: r.llamaCpp.bestDecodeTokensPerS }
          : (() => {
              const b = r.llamaCpp!.batches.find((x) => x.sequences === o.batch);
              return b ? { prefill: b.prefillTokensPerS, decode: b.bestDecodeTokensPerS } : null;
            })()
        : null;
      lines.push(
        row([
          `${r.dtype} (${r.activations} activations)`,
          o.batch,
          o.prefillTokensPerS.toFixed(0),
          o.decodeTokensPerS.toFixed(1),
          o.batch === 1 ? `${((o.decodeTokensPerS / r.boundTokensPerS) * 100).toFixed(0)}% of ${r.boundTokensPerS.toFixed(1)}` : '',
          llama ? llama.prefill.toFixed(0) : '—',
          llama ? llama.decode.toFixed(1) : '—',
          llama ? (o.decodeTokensPerS / llama.decode).toFixed(2) : '—',
        ]),
      );
    }
    const one = r.ours.find((o) => o.batch === 1);
    const top = r.ours[r.ours.length - 1];
    if (one && top !== one) lines.push(`${r.dtype}: decode at batch ${top.batch} is ${(top.decodeTokensPerS / one.decodeTokensPerS).toFixed(1)}x batch 1`);
    if (r.llamaCppNote) lines.push(`${r.dtype}: llama.cpp ${r.llamaCppNote}`);
    if (r.llamaCpp)
      lines.push(
        `${r.dtype}: llama.cpp ${r.llamaCpp.llamaCpp} via node-llama-cpp ${r.llamaCpp.nodeLlamaCppVersion}, ${r.llamaCpp.threads} threads, flash attention ${r.llamaCpp.flashAttention ? 'on' : 'off'}`,
      );
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (values.json) writeFileSync(values.json, JSON.stringify({ backend, promptTokens, decodeTokens, reports }, null, 2));
}

await main();
