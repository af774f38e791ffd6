/**
 * Runs one hostile model directory the way a user's first call would: load it, encode a prompt
 * and render a chat with its tokenizer, run one step. Every stage must either work or fail with an
 * EngineError that has a code; anything else (a TypeError, a RangeError, a token outside the
 * vocabulary) is a defect. A crash or an abort takes the process down, which the caller sees.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../../lib/errors.js';
import { Engine } from '../../lib/engine/engine.js';
import type { ModelFiles } from './hostile-model-cases.js';

export type Stage = 'load' | 'encode' | 'template' | 'step';

export type HostileOutcome =
  /** Every stage worked (the file was harmless, or harmful only where nothing reads). */
  | { kind: 'served'; token: number }
  /** A stage refused with an EngineError: what a user sees. */
  | { kind: 'refused'; stage: Stage; code: string; message: string }
  /** Anything else: a bug. */
  | { kind: 'defect'; stage: Stage; message: string };

/** Makes `dir` hold exactly `files`. */
export function writeModelDir(dir: string, files: ModelFiles): void {
  for (const name of readdirSync(dir)) if (!(name in files)) rmSync(join(dir, name));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
}

function asOutcome(stage: Stage, error: unknown): HostileOutcome {
  if (error instanceof EngineError && error.code && error.message) return { kind: 'refused', stage, code: error.code, message: error.message };
  return { kind: 'defect', stage, message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
}

const PROMPT = 'Hello, world! def f(x): return x**2  # ünïcödé 12345';

export async function runHostileDir(dir: string): Promise<HostileOutcome> {
  let engine: Engine;
  try {
    engine = await Engine.create({ model: dir, kvBlocks: 8, hostBlocks: 0 });
  } catch (error) {
    return asOutcome('load', error);
  }
  try {
    const tokenizer = engine.tokenizer;
    let ids: number[];
    try {
      ids = tokenizer ? tokenizer.encode(PROMPT).slice(0, 64) : [1, 2, 3];
    } catch (error) {
      return asOutcome('encode', error);
    }
    if (tokenizer?.chatTemplate) {
      try {
        tokenizer.applyChatTemplate([{ role: 'user', content: PROMPT }], { addGenerationPrompt: true });
      } catch (error) {
        return asOutcome('template', error);
      }
    }
    const job = engine.createJob({});
    try {
      const { tokens } = await job.generate({ tokens: ids.length > 0 ? ids : [0], maxTokens: 1, sampling: { temperature: 1, seed: 1 } }).done;
      const vocab = engine.modelInfo.vocabSize;
      if (!tokens.every((t) => Number.isInteger(t) && t >= 0 && t < vocab)) return { kind: 'defect', stage: 'step', message: `sampled ${tokens.join(' ')}, outside the vocabulary of ${vocab}` };
      return { kind: 'served', token: tokens[0] };
    } catch (error) {
      return asOutcome('step', error);
    } finally {
      job.close();
    }
  } finally {
    await engine.close();
  }
}

/** The process's peak resident set so far (VmHWM), in MiB; null where /proc is not there. */
export function peakRssMiB(): number | null {
  if (!existsSync('/proc/self/status')) return null;
  const line = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return line ? Number(line[1]) / 1024 : null;
}
