/**
 * Loads @mlc-ai/web-xgrammar (MLC's xgrammar compiled to WASM, Apache-2.0) once, on first use.
 *
 * Why not a plain `import`: the package declares `"type": "module"` but ships a UMD bundle that,
 * under Node, calls `require` and reads `__filename` to find itself — neither exists in an ES
 * module, so importing it throws. Evaluated as CommonJS (a function given `exports`, `module`,
 * `require` and `__filename`) it takes its CommonJS branch: its WASM binary is inlined, nothing is
 * fetched, no global is touched. One edit: its one dynamic `import('module')` (for `createRequire`)
 * becomes a resolved promise of node:module, because a dynamic import from code built with
 * `new Function` fails where modules are evaluated in a VM context (vitest).
 */
import { readFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { EngineError } from '../errors.js';
import type * as XGrammar from '@mlc-ai/web-xgrammar';

export type XGrammarModule = typeof XGrammar;

let loaded: XGrammarModule | null = null;

export function xgrammar(): XGrammarModule {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  let file: string;
  try {
    file = require.resolve('@mlc-ai/web-xgrammar');
  } catch {
    throw new EngineError('UNSUPPORTED', 'constrained decoding needs the @mlc-ai/web-xgrammar package (npm install @mlc-ai/web-xgrammar)');
  }
  const source = readFileSync(file, 'utf8');
  const dynamicImport = "import('module')";
  if (source.split(dynamicImport).length !== 2) {
    throw new EngineError('UNSUPPORTED', `@mlc-ai/web-xgrammar at ${file} is not the build this loader knows (expected one ${dynamicImport})`);
  }
  const module = { exports: {} as Record<string, unknown> };
  // See the header: the bundle is CommonJS in all but name.
  const body = new Function('exports', 'module', 'require', '__filename', '__dirname', '__nodeModule', source.replace(dynamicImport, 'Promise.resolve(__nodeModule)'));
  body(module.exports, module, createRequire(file), file, dirname(file), nodeModule);
  loaded = module.exports as unknown as XGrammarModule;
  return loaded;
}
