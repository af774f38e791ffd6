/**
 * Every policy on one job list: the real engine (wall-clock timers; a fresh engine per policy,
 * so no policy inherits another's cache or learned predictions) or the simulator (a virtual
 * clock and a cost profile). Either way the same replay drives the same Node API.
 */
import { Engine } from '../engine/engine.js';
import type { EngineOptions } from '../engine/types.js';
import type { PolicyName } from '../sched/registry.js';
import { simulate } from '../sim/simulate.js';
import type { SimulationProfile } from '../sim/cost-model.js';
import type { GeneratedWorkload } from '../workload/generators/types.js';
import { runWorkload, wallTimers, type JobOutcome } from '../workload/replay.js';
import { summarizeRun, type RunSummary } from './summary.js';

export type Target =
  /** The real engine; `engine` options apart from the policy, `model` the name to report. */
  | { kind: 'engine'; engine: Omit<EngineOptions, 'policy' | 'policyOptions' | 'workloadScale' | 'clock'>; modelName: string }
  | { kind: 'sim'; profile: SimulationProfile; kvBlocks?: number; hostBlocks?: number };

export interface CompareOptions {
  hints?: 'oracle' | 'none';
  /** Per policy, options over its defaults (ablations). */
  policyOptions?: Partial<Record<PolicyName, Record<string, unknown>>>;
  /** A policy is about to run. */
  onPolicyStart?: (policy: PolicyName) => void;
  onJobDone?: (policy: PolicyName, outcome: JobOutcome, done: number, total: number) => void;
  /** A policy finished, with its summary. */
  onPolicyDone?: (summary: RunSummary, wallS: number) => void;
}

export interface PolicyRun {
  summary: RunSummary;
  outcomes: JobOutcome[];
}

export async function comparePolicies(workload: GeneratedWorkload, policies: readonly PolicyName[], target: Target, options: CompareOptions = {}): Promise<PolicyRun[]> {
  const runs: PolicyRun[] = [];
  for (const policy of policies) {
    options.onPolicyStart?.(policy);
    const wallStart = wallTimers.now();
    const run = target.kind === 'engine' ? await runReal(workload, policy, target, options) : await runSimulated(workload, policy, target, options);
    runs.push(run);
    options.onPolicyDone?.(run.summary, wallTimers.now() - wallStart);
  }
  return runs;
}

async function runReal(workload: GeneratedWorkload, policy: PolicyName, target: Extract<Target, { kind: 'engine' }>, options: CompareOptions): Promise<PolicyRun> {
  const engine = await Engine.create({ ...target.engine, policy, policyOptions: options.policyOptions?.[policy], workloadScale: workload.params.scale });
  try {
    const start = wallTimers.now();
    const outcomes = await runWorkload(engine, workload.jobs, wallTimers, {
      hints: options.hints,
      onJobDone: (o, done, total) => options.onJobDone?.(policy, o, done, total),
    });
    const meta = {
      policy,
      engine: engine.backendKind,
      workload: workload.params,
      predictor: options.hints === 'oracle' ? ('oracle' as const) : ('learned' as const),
      model: target.modelName,
      kvBlocks: target.engine.kvBlocks ?? 1024,
      makespanS: wallTimers.now() - start,
      swapBytesPerS: engine.swapBytesPerS,
    };
    return { summary: summarizeRun(meta, outcomes, engine.stats()), outcomes };
  } finally {
    await engine.close();
  }
}

async function runSimulated(workload: GeneratedWorkload, policy: PolicyName, target: Extract<Target, { kind: 'sim' }>, options: CompareOptions): Promise<PolicyRun> {
  const result = await simulate(workload.jobs, {
    profile: target.profile,
    policy,
    policyOptions: options.policyOptions?.[policy],
    workloadScale: workload.params.scale,
    kvBlocks: target.kvBlocks,
    hostBlocks: target.hostBlocks,
    hints: options.hints,
    onJobDone: (o, done, total) => options.onJobDone?.(policy, o, done, total),
  });
  const meta = {
    policy,
    engine: 'sim' as const,
    workload: workload.params,
    predictor: options.hints === 'oracle' ? ('oracle' as const) : ('learned' as const),
    model: target.profile.costs.name,
    kvBlocks: target.kvBlocks ?? target.profile.deviceBlocks,
    makespanS: result.makespanS,
    swapBytesPerS: target.profile.costs.swapBytesPerS,
  };
  return { summary: summarizeRun(meta, result.outcomes, result.stats), outcomes: result.outcomes };
}
