/**
 * The only module that loads the compiled addon. It test-loads the binary, explains every
 * attempt when none loads, and hands the addon our EngineError class so native failures arrive
 * as EngineError with a string code.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../errors.js';
import type { NativeAddon, NativeBackendInfo } from './types.js';

export type * from './types.js';

const require = createRequire(import.meta.url);

/** The package root: lib/native/ in the sources, dist/lib/native/ once compiled. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new EngineError('ADDON_NOT_FOUND', 'cannot find the astraea package root');
    dir = parent;
  }
  return dir;
}

function candidates(): string[] {
  const root = packageRoot();
  const fromEnv = process.env.ASTRAEA_ADDON;
  return [
    ...(fromEnv ? [resolve(fromEnv)] : []),
    join(root, 'build', 'Release', 'astraea.node'),
    join(root, 'build', 'Debug', 'astraea.node'),
  ];
}

/** The CUDA build (`npm run build:cuda`, cmake-js), tried first unless ASTRAEA_BACKEND=cpu. */
function cudaCandidate(): string | null {
  if (process.env.ASTRAEA_BACKEND === 'cpu') return null;
  return process.env.ASTRAEA_CUDA_ADDON ? resolve(process.env.ASTRAEA_CUDA_ADDON) : join(packageRoot(), 'build-cuda', 'Release', 'astraea_cuda.node');
}

let loaded: NativeAddon | undefined;

/** Loads and proves one binary: a cheap call shows it works, not just that it loaded. */
function tryLoad(path: string): { addon: NativeAddon; info: NativeBackendInfo } {
  const addon = require(path) as NativeAddon;
  addon.setErrorClass(EngineError);
  return { addon, info: addon.backendInfo() };
}

export function native(): NativeAddon {
  if (loaded) return loaded;
  // The CUDA build runs on a GPU when the machine has one; otherwise the CPU addon serves, and
  // the reason is said once (this function runs its search once per process).
  const cuda = cudaCandidate();
  let cudaSkipped: string | null = null;
  if (cuda && existsSync(cuda)) {
    try {
      const { addon, info } = tryLoad(cuda);
      if (info.backend === 'cuda') return (loaded = addon);
      cudaSkipped = info.cuda ?? 'it found no GPU';
    } catch (error) {
      cudaSkipped = (error as Error).message.split('\n')[0];
    }
  }
  const attempts: string[] = [];
  for (const path of candidates()) {
    if (!existsSync(path)) {
      attempts.push(`${path}: not built`);
      continue;
    }
    try {
      loaded = tryLoad(path).addon;
      if (cudaSkipped !== null) process.stderr.write(`astraea: the CUDA build is not used (${cudaSkipped}); running on the CPU backend\n`);
      return loaded;
    } catch (error) {
      attempts.push(`${path}: ${(error as Error).message}`);
    }
  }
  throw new EngineError(
    'ADDON_NOT_FOUND',
    `the native addon could not be loaded; run \`npm install\` (or \`npx node-gyp rebuild\`) in the package.\n` +
      attempts.map((a) => `  - ${a}`).join('\n'),
  );
}
