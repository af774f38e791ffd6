/**
 * Where a simulated run's device time goes: how busy the device was, how many sequences a step
 * carried, what a decode step cost, how many prompt tokens were computed (and recomputed), and
 * how much decode time rode in steps that also ran another job's prefill chunk, and how long the
 * slowest tenth of the jobs (the p90's) queued. docs/policies.md
 * ("Where the rest goes") reads these against the same jobs run alone (`--alone`: load 0.01,
 * where each job has the engine to itself).
 *
 *   npm run build:ts && node dist/bench/policies/step-mix.js [--workload coding] [--seed 1] [--load 2.5]
 *     [--kv-blocks 25000] [--policy astraea] [--set astraea.option=value ...] [--alone] [--list-slowest N]
 *
 * `--list-slowest N`: after the figures, one line for each of the N slowest jobs (with 200 jobs the
 * p90 is the 21st slowest's JCT and a tenth of the next's) — its arrival, JCT, segments, largest
 * context, where its time went, and what it would take alone (lib/sim/lower-bound.ts: `aloneS`,
 * of which `aloneToolS` the tool calls'): a job whose `aloneS` is over a JCT objective misses it
 * under any schedule.
 */
import { parseArgs } from 'node:util';
import { policyOptionsFrom } from '../../lib/cli/workload-flags.js';
import type { BackendStep, BackendStepResult } from '../../lib/engine/backend.js';
import type { PolicyName } from '../../lib/sched/registry.js';
import { simulationProfile } from '../../lib/sim/cost-model.js';
import { jobBounds } from '../../lib/sim/lower-bound.js';
import { simulate } from '../../lib/sim/simulate.js';
import { generateWorkload } from '../../lib/workload/generators/index.js';
import { endQuietlyOnClosedPipe } from '../../lib/util/closed-pipe.js';

endQuietlyOnClosedPipe();

const { values } = parseArgs({
  options: {
    workload: { type: 'string', default: 'coding' },
    seed: { type: 'string', default: '1' },
    load: { type: 'string', default: '2.5' },
    'kv-blocks': { type: 'string', default: '25000' },
    policy: { type: 'string', default: 'astraea' },
    set: { type: 'string', multiple: true, default: [] },
    alone: { type: 'boolean', default: false },
    'list-slowest': { type: 'string', default: '0' },
  },
});

/** Running totals over the steps of one run. */
class StepMix {
  steps = 0;
  busyS = 0;
  sequences = 0;
  decodeSteps = 0;
  decodeStepS = 0;
  promptTokens = 0;
  /** Decode tokens run in a step that also ran a prefill chunk, and those steps' seconds per token. */
  ridingDecodes = 0;
  ridingDecodeS = 0;

  observe(step: BackendStep, result: BackendStepResult): void {
    let prompt = 0;
    let decodes = 0;
    for (const s of step.sequences) {
      if (s.tokens.length > 1) prompt += s.tokens.length;
      else decodes++;
    }
    this.steps++;
    this.busyS += result.elapsedS;
    this.sequences += step.sequences.length;
    this.promptTokens += prompt;
    if (prompt === 0) {
      this.decodeSteps++;
      this.decodeStepS += result.elapsedS;
    } else {
      this.ridingDecodes += decodes;
      this.ridingDecodeS += decodes * result.elapsedS;
    }
  }
}

const policy = values.policy as PolicyName;
const load = values.alone ? 0.01 : Number(values.load);
const { jobs } = generateWorkload(values.workload, { seed: Number(values.seed), load });
const mix = new StepMix();
const kvBlocks = Number(values['kv-blocks']);
/** simulate()'s default profile, which the run below uses. */
const DEFAULT_PROFILE = 'h100-llama3-8b';
const result = await simulate(jobs, {
  profile: DEFAULT_PROFILE,
  policy,
  policyOptions: policyOptionsFrom({ set: values.set })[policy],
  kvBlocks,
  onStep: (step, stepResult) => mix.observe(step, stepResult),
});
type Outcome = (typeof result.outcomes)[number];
const meanOf = (list: Outcome[], f: (o: Outcome) => number) => list.reduce((sum, o) => sum + f(o), 0) / list.length;
const mean = (f: (o: Outcome) => number) => meanOf(result.outcomes, f);
// The slowest tenth sets the p90 that capacity reads: how long those jobs queued, how many segments they had.
const slowestFirst = [...result.outcomes].sort((a, b) => b.jctS - a.jctS);
const slowest = slowestFirst.slice(0, Math.max(1, Math.round(result.outcomes.length / 10)));
const segmentsOf = new Map(jobs.map((j) => [j.id, j.segments.length]));
const figures = {
  workload: values.workload,
  seed: Number(values.seed),
  load,
  policy,
  set: values.set,
  meanJctS: mean((o) => o.jctS),
  meanQueueingS: mean((o) => o.breakdown.queueingS),
  meanComputeS: mean((o) => o.breakdown.computeS),
  meanToolS: mean((o) => o.breakdown.toolS),
  meanSegments: mean((o) => segmentsOf.get(o.id) ?? 0),
  slowestTenthQueueingS: meanOf(slowest, (o) => o.breakdown.queueingS),
  slowestTenthSegments: meanOf(slowest, (o) => segmentsOf.get(o.id) ?? 0),
  makespanS: result.makespanS,
  busyS: mix.busyS,
  steps: mix.steps,
  sequencesPerStep: mix.sequences / mix.steps,
  decodeStepS: mix.decodeStepS / mix.decodeSteps,
  promptTokens: mix.promptTokens,
  recomputedPromptTokens: result.stats.kvTraffic.recomputedPrefillTokens,
  ridingDecodes: mix.ridingDecodes,
  ridingDecodeSPerJob: mix.ridingDecodeS / result.outcomes.length,
};
console.log(JSON.stringify(figures));
const listed = Number(values['list-slowest']);
if (listed > 0) {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const bounds = new Map(jobBounds(jobs, simulationProfile(DEFAULT_PROFILE), { kvBlocks }).map((b) => [b.id, b]));
  for (const o of slowestFirst.slice(0, listed)) {
    const job = byId.get(o.id)!;
    // The context a segment's last token sees: the prefix, every prompt and output so far.
    let context = job.prefixTokens ?? 0;
    let largestContextTokens = 0;
    for (const segment of job.segments) {
      context += segment.inputTokens + segment.outputTokens;
      largestContextTokens = Math.max(largestContextTokens, context);
    }
    const { queueingS, computeS, toolS, kvRecoveryS } = o.breakdown;
    const alone = bounds.get(o.id)!;
    console.log(
      JSON.stringify({ id: o.id, arrivalS: o.arrivalS, jctS: o.jctS, segments: job.segments.length, largestContextTokens, queueingS, computeS, toolS, kvRecoveryS, aloneS: alone.aloneS, aloneToolS: alone.toolS }),
    );
  }
}
