/**
 * Writes the compact trace data the workload generators embed (data/traces/) from the shared
 * traces beside the checkout. Run after any change to the derivation (lib/workload/generators/
 * trace-data.ts); a unit test checks the committed files equal what this derives.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/traces/derive-traces.js [--traces ../shared/traces]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  AZURE_GAPS_FILE,
  AZURE_TRACE_FILE,
  TAU_SHAPES_FILE,
  TAU_TRACE_FILE,
  deriveAzureGapsMs,
  deriveTauShapes,
  formatAzureGaps,
  formatTauShapes,
  packageRoot,
} from '../../lib/workload/generators/trace-data.js';

const root = packageRoot();
const { values } = parseArgs({ options: { traces: { type: 'string', default: path.join(root, '..', 'shared', 'traces') } } });
const traces = values.traces as string;

const outputs: [string, string][] = [
  [TAU_SHAPES_FILE, formatTauShapes(deriveTauShapes(readFileSync(path.join(traces, TAU_TRACE_FILE), 'utf8')))],
  [AZURE_GAPS_FILE, formatAzureGaps(deriveAzureGapsMs(readFileSync(path.join(traces, AZURE_TRACE_FILE), 'utf8')))],
];
for (const [relative, text] of outputs) {
  const file = path.join(root, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  console.log(`wrote ${relative} (${text.length} bytes)`);
}
