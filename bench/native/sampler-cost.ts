/**
 * What the CPU sampler costs for one step's rows, apart from the forward pass: `rows` rows of
 * `vocab` logits (fixed pseudo-random values) sampled through the addon's `sampleLogits`, greedy
 * and at temperature 1 with no cuts, best of `repeats` means of 20 calls. docs/server.md
 * ("Structured output and forced tool calls") reads it against the decode step.
 *
 *   npm run build:ts && node dist/bench/native/sampler-cost.js [--vocab 32000] [--rows 32]
 */
import { parseArgs } from 'node:util';
import { native } from '../../lib/native/index.js';
import { buildStepPlan } from '../../lib/native/plan.js';

const { values } = parseArgs({ options: { vocab: { type: 'string', default: '32000' }, rows: { type: 'string', default: '32' }, repeats: { type: 'string', default: '3' } } });
const vocab = Number(values.vocab);
const rows = Number(values.rows);
const logits = new Float32Array(vocab * rows);
for (let i = 0; i < logits.length; i++) logits[i] = Math.sin(i * 12.9898) * 5;

console.log(`| sampling | ms for ${rows} rows of ${vocab} logits |`);
console.log('| --- | ---: |');
for (const temperature of [0, 1]) {
  const sequences = Array.from({ length: rows }, (_, i) => ({ tokens: [1], startPosition: 5, blocks: [0], sampling: { temperature, seed: i } }));
  const plan = buildStepPlan({ sequences });
  native().sampleLogits(logits, vocab, plan); // warm
  let best = Infinity;
  for (let r = 0; r < Number(values.repeats); r++) {
    const start = performance.now();
    for (let k = 0; k < 20; k++) native().sampleLogits(logits, vocab, plan);
    best = Math.min(best, (performance.now() - start) / 20);
  }
  console.log(`| ${temperature === 0 ? 'greedy' : 'temperature 1, no cuts'} | ${best.toFixed(2)} |`);
}
