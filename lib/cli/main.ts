/**
 * The `astraea` command line. Each command lives in its own module; this file only dispatches
 * and turns an EngineError into a one-line message and a non-zero exit code.
 */
import { EngineError } from '../errors.js';
import { runBench } from './bench.js';
import { runInfo } from './info.js';
import { runLogits } from './logits.js';
import { runMakeModel } from './make-model.js';
import { runServe, SERVE_USAGE } from './serve.js';

const USAGE = `astraea: a serving engine for LLM agents

Usage:
  astraea bench                                   the main job (lands with the benchmark issue)
  ${SERVE_USAGE}
  astraea make-model --preset tiny|small --out DIR [--seed N] [--dtype f32|f16|bf16]
  astraea logits --model DIR|PRESET [--dummy] [--seed N] [--dtype D] --ids 5,17,3 [--split K] [--json]
  astraea info --model DIR|PRESET [--dummy] [--dtype D]

A model is a Hugging Face directory (Llama, Mistral, Qwen2; safetensors F32/F16/BF16) or a
preset (tiny, small) with seeded random weights. --dummy loads a directory's config with
random weights instead of its weight files.`;

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  bench: runBench,
  serve: runServe,
  'make-model': runMakeModel,
  logits: runLogits,
  info: runInfo,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`astraea: unknown command "${command}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    await run(rest);
    return 0;
  } catch (error) {
    if (error instanceof EngineError) {
      process.stderr.write(`astraea ${command}: ${error.message} [${error.code}]\n`);
      return 1;
    }
    if (error instanceof TypeError && (error as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`astraea ${command}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
