/**
 * What the CPU sampler costs for one step's rows, apart from the forward pass: `rows` rows of
 * `vocab` logits sampled through the addon's `sampleLogits`, greedy and at temperature 1 with no
 * cuts, best of `repeats` means of 20 calls. Two kinds of rows: flat (pseudo-random logits in
 * ±5, as a random-weight model gives: the mass is spread over thousands of ids) and peaked (a
 * Zipf-like row, logit = −2 ln(rank), ranks scattered over the ids, as a trained model gives:
 * most of the mass in the first few dozen). docs/server.md
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
const flat = new Float32Array(vocab * rows);
for (let i = 0; i < flat.length; i++) flat[i] = Math.sin(i * 12.9898) * 5;
const peaked = new Float32Array(vocab * rows);
for (let r = 0; r < rows; r++) {
  // Rank k + 1 at id (k × 7919 + r) mod vocab: a fixed scatter (7919 is prime to any vocab here).
  for (let k = 0; k < vocab; k++) peaked[r * vocab + ((k * 7919 + r) % vocab)] = -2 * Math.log(k + 1);
}

console.log(`| rows | sampling | ms for ${rows} rows of ${vocab} logits |`);
console.log('| --- | --- | ---: |');
for (const [kind, logits] of [['flat', flat], ['peaked', peaked]] as const) for (const temperature of [0, 1]) {
  const sequences = Array.from({ length: rows }, (_, i) => ({ tokens: [1], startPosition: 5, blocks: [0], sampling: { temperature, seed: i } }));
  const plan = buildStepPlan({ sequences });
  native().sampleLogits(logits, vocab, plan); // warm
  let best = Infinity;
  for (let r = 0; r < Number(values.repeats); r++) {
    const start = performance.now();
    for (let k = 0; k < 20; k++) native().sampleLogits(logits, vocab, plan);
    best = Math.min(best, (performance.now() - start) / 20);
  }
  console.log(`| ${kind} | ${temperature === 0 ? 'greedy' : 'temperature 1, no cuts'} | ${best.toFixed(2)} |`);
}
