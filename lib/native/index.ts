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
import type { NativeAddon } from './types.js';

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

let loaded: NativeAddon | undefined;

export function native(): NativeAddon {
  if (loaded) return loaded;
  const attempts: string[] = [];
  for (const path of candidates()) {
    if (!existsSync(path)) {
      attempts.push(`${path}: not built`);
      continue;
    }
    try {
      const addon = require(path) as NativeAddon;
      addon.setErrorClass(EngineError);
      addon.backendInfo(); // a cheap call proves the binary works, not just that it loaded
      loaded = addon;
      return addon;
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
