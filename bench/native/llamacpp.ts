// llama.cpp comparison for the forward-pass benchmark.
//
// Runs a GGUF file (see bench/native/gguf-writer.ts) through node-llama-cpp 3 on the
// CPU and times prefill and greedy decode on token ids, so the numbers line up
// with bench/native/forward.ts. node-llama-cpp is NOT a dependency of this package: it
// is loaded from a scratch install in $ASTRAEA_LLAMACPP_DIR (default
// <repo>/.scratch/llamacpp, git-ignored):
//
//   npm install --prefix .scratch/llamacpp node-llama-cpp@3
//
// Usage (after `npm run build:ts`):
//
//   node dist/bench/native/llamacpp.js --gguf model.gguf [--threads 2] [--prompt 128]
//       [--decode 64] [--batch 1,4,8] [--runs 1] [--json]

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// ---------------------------------------------------------------------------
// The small slice of node-llama-cpp 3's API used here (declared locally, since
// the package is not installed as a dependency). Names follow its .d.ts files.

type Token = number;

interface NlcControlledOutput {
  next: { token?: Token | null };
}

type NlcControlledInput = Token | [Token, { generateNext?: { token?: boolean; options?: { temperature?: number } } }];

interface NlcSequence {
  controlledEvaluate(input: NlcControlledInput[]): Promise<Array<NlcControlledOutput | undefined>>;
  clearHistory(): Promise<void>;
  dispose(): Promise<void>;
  readonly nextTokenIndex: number;
}

interface NlcContext {
  getSequence(): NlcSequence;
  dispose(): Promise<void>;
  readonly contextSize: number;
  readonly batchSize: number;
  readonly idealThreads: number;
  readonly flashAttention: boolean | 'auto';
}

interface NlcModel {
  createContext(options: {
    sequences?: number;
    contextSize?: number;
    batchSize?: number;
    threads?: number | { ideal?: number; min?: number };
    flashAttention?: boolean;
  }): Promise<NlcContext>;
  dispose(): Promise<void>;
  readonly fileInfo: { metadata: Record<string, unknown> };
  readonly architecture: string;
}

interface NlcLlama {
  loadModel(options: { modelPath: string; gpuLayers?: number; useMmap?: boolean }): Promise<NlcModel>;
  dispose(): Promise<void>;
  readonly gpu: string | false;
  readonly buildType: string;
  readonly cpuMathCores: number;
  readonly llamaCppRelease: { repo: string; release: string };
  readonly systemInfo: string;
}

interface NlcModule {
  getLlama(options: {
    gpu?: false;
    build?: 'never';
    usePrebuiltBinaries?: boolean;
    skipDownload?: boolean;
    progressLogs?: boolean;
    maxThreads?: number;
    logLevel?: string;
  }): Promise<NlcLlama>;
}

// ---------------------------------------------------------------------------
// Public API

export interface LlamaCppOptions {
  ggufPath: string;
  /** CPU threads for llama.cpp (set explicitly: node-llama-cpp's default is max(cores, 4)). */
  threads: number;
  /** Prompt length; evaluated as one batch. */
  promptTokens: number;
  /** Single-token greedy decode steps after the prompt. */
  decodeTokens: number;
  /**
   * Numbers of sequences to decode together (after each has prefilled its own
   * prompt). Each entry adds an aggregate-throughput measurement. Omit for
   * single-sequence only.
   */
  batchSizes?: number[];
  /** Measured repetitions after the warm-up; the median is reported. Default 1. */
  runs?: number;
  /** Flash attention on/off (default off, the plain attention path). */
  flashAttention?: boolean;
  /** Seed for the random prompt ids. Default 1. */
  seed?: number;
  /** Where node-llama-cpp is installed; default $ASTRAEA_LLAMACPP_DIR or <repo>/.scratch/llamacpp. */
  installDir?: string;
}

export interface LlamaCppBatchResult {
  sequences: number;
  /** All sequences' prompts, queued together (node-llama-cpp packs them into batches). */
  prefillTokensPerS: number;
  /** Aggregate: sequences * decodeTokens / decode time. */
  decodeTokensPerS: number;
  /** Per sequence: decodeTokens / decode time. */
  perSequenceDecodeTokensPerS: number;
  /** Aggregate decode throughput of the fastest measured run. */
  bestDecodeTokensPerS: number;
  prefillMs: number;
  decodeMs: number;
}

export interface LlamaCppResult {
  prefillTokensPerS: number;
  decodeTokensPerS: number;
  prefillMs: number;
  decodeMs: number;
  /** Best (fastest) of the measured runs; less sensitive to a busy machine than the median. */
  bestPrefillTokensPerS: number;
  bestDecodeTokensPerS: number;
  /** Time per decode step, ms (median over the measured runs). */
  msPerDecodeToken: number;
  /** The greedy tokens of the last measured single-sequence run (first one comes from the prefill). */
  generated: Token[];
  batches: LlamaCppBatchResult[];
  threads: number;
  promptTokens: number;
  decodeTokens: number;
  flashAttention: boolean;
  nodeLlamaCppVersion: string;
  llamaCpp: string;
  systemInfo: string;
}

export const LLAMACPP_PACKAGE = 'node-llama-cpp';

/** Folder holding the scratch install of node-llama-cpp. */
export function llamaCppInstallDir(): string {
  const fromEnv = process.env.ASTRAEA_LLAMACPP_DIR;
  if (fromEnv) return resolve(fromEnv);
  // dist/bench/native/llamacpp.js -> the repo root is three levels up (bench/native/llamacpp.ts: two).
  const here = dirname(fileURLToPath(import.meta.url));
  const root = resolve(here, here.split(/[\\/]/).includes('dist') ? '../../..' : '../..');
  return join(root, '.scratch', 'llamacpp');
}

export class LlamaCppMissingError extends Error {
  constructor(readonly installDir: string, cause?: unknown) {
    super(
      `node-llama-cpp is not installed in ${installDir}.\n` +
        `It is kept out of package.json; install it there with:\n\n` +
        `  npm install --prefix ${installDir} ${LLAMACPP_PACKAGE}@3\n\n` +
        `(or point ASTRAEA_LLAMACPP_DIR at a folder that has it).`,
      cause === undefined ? undefined : { cause },
    );
    this.name = 'LlamaCppMissingError';
  }
}

/** Import node-llama-cpp from the scratch folder. */
export async function loadNodeLlamaCpp(installDir = llamaCppInstallDir()): Promise<{ module: NlcModule; version: string }> {
  const req = createRequire(join(installDir, 'package.json'));
  let entry: string;
  let version = 'unknown';
  try {
    // The package is ESM-only; its "node" export condition is what require.resolve matches.
    entry = req.resolve(LLAMACPP_PACKAGE);
  } catch (err) {
    throw new LlamaCppMissingError(installDir, err);
  }
  const pkgJson = join(entry.slice(0, entry.lastIndexOf(`${LLAMACPP_PACKAGE}`) + LLAMACPP_PACKAGE.length), 'package.json');
  if (existsSync(pkgJson)) {
    version = (req(pkgJson) as { version?: string }).version ?? version;
  }
  if (!version.startsWith('3.')) {
    throw new Error(`${LLAMACPP_PACKAGE} ${version} found in ${installDir}; this benchmark needs version 3 (npm install --prefix ${installDir} ${LLAMACPP_PACKAGE}@3)`);
  }
  const module = (await import(pathToFileURL(entry).href)) as NlcModule;
  return { module, version };
}

/** The prompt ids measureLlamaCpp feeds sequence i (seed + i): xorshift32 in [lo, hi). */
export function randomTokens(n: number, lo: number, hi: number, seed: number): Token[] {
  let s = seed >>> 0 || 1;
  const out: Token[] = [];
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out.push(lo + (s % (hi - lo)));
  }
  return out;
}

const GREEDY = { generateNext: { token: true, options: { temperature: 0 } } } as const;

function nextToken(out: Array<NlcControlledOutput | undefined>, index: number): Token {
  const t = out[index]?.next.token;
  if (t == null) throw new Error('node-llama-cpp returned no token');
  return t;
}

/** Prefill `prompt` as one evaluation; returns the greedy next token. */
async function prefill(seq: NlcSequence, prompt: Token[]): Promise<Token> {
  const input: NlcControlledInput[] = prompt.slice(0, -1);
  input.push([prompt[prompt.length - 1], GREEDY]);
  const out = await seq.controlledEvaluate(input);
  return nextToken(out, prompt.length - 1);
}

/** One greedy decode step: evaluate `token`, return the next one. */
async function step(seq: NlcSequence, token: Token): Promise<Token> {
  return nextToken(await seq.controlledEvaluate([[token, GREEDY]]), 0);
}

interface SingleRun { prefillMs: number; decodeMs: number; generated: Token[] }

async function runSingle(seq: NlcSequence, prompt: Token[], decodeTokens: number): Promise<SingleRun> {
  await seq.clearHistory();
  const t0 = performance.now();
  let tok = await prefill(seq, prompt);
  const t1 = performance.now();
  const generated = [tok];
  for (let i = 0; i < decodeTokens; i++) {
    tok = await step(seq, tok);
    generated.push(tok);
  }
  const t2 = performance.now();
  return { prefillMs: t1 - t0, decodeMs: t2 - t1, generated };
}

async function runBatch(seqs: NlcSequence[], prompts: Token[][], decodeTokens: number): Promise<{ prefillMs: number; decodeMs: number }> {
  await Promise.all(seqs.map((s) => s.clearHistory()));
  const t0 = performance.now();
  // All prompts are queued in the same tick; node-llama-cpp's batcher packs
  // them into shared llama_decode calls (up to the context batch size).
  let toks = await Promise.all(seqs.map((s, i) => prefill(s, prompts[i])));
  const t1 = performance.now();
  for (let i = 0; i < decodeTokens; i++) {
    // One token per sequence per step, queued together -> one batched decode.
    toks = await Promise.all(seqs.map((s, j) => step(s, toks[j])));
  }
  const t2 = performance.now();
  return { prefillMs: t1 - t0, decodeMs: t2 - t1 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Load `ggufPath` with node-llama-cpp (CPU only) and measure prefill and
 * greedy decode throughput on random token ids. A full warm-up run precedes
 * the measured ones.
 */
export async function measureLlamaCpp(opts: LlamaCppOptions): Promise<LlamaCppResult> {
  const { ggufPath, threads, promptTokens, decodeTokens } = opts;
  if (!(threads >= 1) || !(promptTokens >= 1) || !(decodeTokens >= 1)) {
    throw new Error('measureLlamaCpp: threads, promptTokens and decodeTokens must be >= 1');
  }
  if (!existsSync(ggufPath)) throw new Error(`measureLlamaCpp: no such file ${ggufPath}`);
  const runs = Math.max(1, opts.runs ?? 1);
  const batchSizes = [...new Set(opts.batchSizes ?? [])].filter((n) => n >= 1).sort((a, b) => a - b);
  const maxSeqs = Math.max(1, ...batchSizes);
  const flashAttention = opts.flashAttention ?? false;

  const { module: nlc, version } = await loadNodeLlamaCpp(opts.installDir);
  const llama = await nlc.getLlama({
    gpu: false,
    build: 'never', // use the prebuilt CPU binary shipped on npm; never download or compile
    usePrebuiltBinaries: true,
    skipDownload: true,
    progressLogs: false,
    maxThreads: threads,
    logLevel: 'warn',
  });
  try {
    const model = await llama.loadModel({ modelPath: ggufPath, gpuLayers: 0 });
    try {
      const meta = model.fileInfo.metadata[model.architecture] as { vocab_size?: number } | undefined;
      const vocab = meta?.vocab_size ?? 256;
      const context = await model.createContext({
        sequences: maxSeqs,
        contextSize: promptTokens + decodeTokens + 16,
        batchSize: Math.max(promptTokens, maxSeqs),
        threads: { ideal: threads, min: threads },
        flashAttention,
      });
      try {
        const seqs: NlcSequence[] = [];
        for (let i = 0; i < maxSeqs; i++) seqs.push(context.getSequence());
        // Ids 0..2 are usually special (unk/bos/eos); keep the prompt to ordinary ids.
        const prompts = seqs.map((_, i) => randomTokens(promptTokens, Math.min(3, vocab - 1), vocab, (opts.seed ?? 1) + i));

        await runSingle(seqs[0], prompts[0], decodeTokens); // warm-up
        const single: SingleRun[] = [];
        for (let r = 0; r < runs; r++) single.push(await runSingle(seqs[0], prompts[0], decodeTokens));
        const prefillMs = median(single.map((r) => r.prefillMs));
        const decodeMs = median(single.map((r) => r.decodeMs));

        const batches: LlamaCppBatchResult[] = [];
        for (const n of batchSizes) {
          const active = seqs.slice(0, n);
          await runBatch(active, prompts.slice(0, n), Math.min(decodeTokens, 4)); // warm-up at this width
          const res: Array<{ prefillMs: number; decodeMs: number }> = [];
          for (let r = 0; r < runs; r++) res.push(await runBatch(active, prompts.slice(0, n), decodeTokens));
          const p = median(res.map((r) => r.prefillMs));
          const d = median(res.map((r) => r.decodeMs));
          batches.push({
            sequences: n,
            prefillTokensPerS: (n * promptTokens) / (p / 1000),
            decodeTokensPerS: (n * decodeTokens) / (d / 1000),
            perSequenceDecodeTokensPerS: decodeTokens / (d / 1000),
            bestDecodeTokensPerS: (n * decodeTokens) / (Math.min(...res.map((r) => r.decodeMs)) / 1000),
            prefillMs: p,
            decodeMs: d,
          });
        }

        return {
          prefillTokensPerS: promptTokens / (prefillMs / 1000),
          decodeTokensPerS: decodeTokens / (decodeMs / 1000),
          prefillMs,
          decodeMs,
          bestPrefillTokensPerS: promptTokens / (Math.min(...single.map((r) => r.prefillMs)) / 1000),
          bestDecodeTokensPerS: decodeTokens / (Math.min(...single.map((r) => r.decodeMs)) / 1000),
          msPerDecodeToken: decodeMs / decodeTokens,
          generated: single[single.length - 1].generated,
          batches,
          threads,
          promptTokens,
          decodeTokens,
          flashAttention,
          nodeLlamaCppVersion: version,
          llamaCpp: `${llama.llamaCppRelease.repo}@${llama.llamaCppRelease.release} (${llama.buildType})`,
          systemInfo: llama.systemInfo,
        };
      } finally {
        await context.dispose();
      }
    } finally {
      await model.dispose();
    }
  } finally {
    await llama.dispose();
  }
}

// ---------------------------------------------------------------------------
// CLI

function parseArgs(argv: string[]): LlamaCppOptions & { json: boolean } {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, dflt: number): number => {
    const v = get(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} wants a positive integer, got "${v}"`);
    return n;
  };
  const ggufPath = get('gguf');
  if (!ggufPath) {
    throw new Error('usage: node dist/bench/native/llamacpp.js --gguf FILE [--threads 2] [--prompt 128] [--decode 64] [--batch 1,4,8] [--runs 1] [--flash-attn] [--json]');
  }
  const batch = get('batch');
  return {
    ggufPath,
    threads: num('threads', 2),
    promptTokens: num('prompt', 128),
    decodeTokens: num('decode', 64),
    runs: num('runs', 1),
    batchSizes: batch ? batch.split(',').map((s) => Number(s)) : undefined,
    flashAttention: argv.includes('--flash-attn'),
    json: argv.includes('--json'),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const r = await measureLlamaCpp(args);
  if (args.json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  console.log(`node-llama-cpp ${r.nodeLlamaCppVersion}, ${r.llamaCpp}, threads=${r.threads}, flash-attn=${r.flashAttention}`);
  console.log(`prefill ${r.promptTokens} tokens: ${r.prefillMs.toFixed(1)} ms, ${r.prefillTokensPerS.toFixed(1)} tok/s (best ${r.bestPrefillTokensPerS.toFixed(1)})`);
  console.log(`decode  ${r.decodeTokens} tokens: ${r.decodeMs.toFixed(1)} ms, ${r.decodeTokensPerS.toFixed(2)} tok/s (${r.msPerDecodeToken.toFixed(2)} ms/token; best ${r.bestDecodeTokensPerS.toFixed(2)} tok/s)`);
  for (const b of r.batches) {
    console.log(
      `batch ${b.sequences}: prefill ${b.prefillTokensPerS.toFixed(1)} tok/s, decode ${b.decodeTokensPerS.toFixed(2)} tok/s aggregate ` +
        `(${b.perSequenceDecodeTokensPerS.toFixed(2)} per sequence)`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
