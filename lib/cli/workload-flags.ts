/** The workload and comparison flags `bench` and `simulate` share. */
import type { Command } from 'commander';
import { isGeneratorName, resolveWorkload } from '../bench/workload-source.js';
import { checkPolicyOptions } from '../sched/policy-options.js';
import { POLICY_NAMES, type PolicyName } from '../sched/registry.js';
import type { ArrivalShape, GeneratedWorkload, WorkloadScale } from '../workload/generators/types.js';
import { EngineError } from '../errors.js';
import { integerOption, listOption, positiveOption } from './args.js';

export interface WorkloadFlags {
  workload: string;
  jobs?: string;
  load?: string;
  seed: string;
  scaleTokens?: string;
  scaleTime?: string;
  arrivals?: string;
  policies?: string;
  hints: string;
  json?: boolean;
  chart: string | false;
  set: string[];
}

export function addWorkloadOptions(
  command: Command,
  defaults: { workload: string; jobs?: number; load: number; seed: number; scale: { tokens: number; time: number }; chart: string; perWorkloadDefaults?: boolean },
): Command {
  // bench shrinks each generator to its own CPU scale (lib/bench/defaults.ts); simulate runs them as modelled.
  const per = (what: string) => (defaults.perWorkloadDefaults ? ` (default: per workload, lib/bench/defaults.ts; ${what} for ${defaults.workload})` : '');
  return command
    .option('--workload <file|name>', 'a JSONL workload file, or a generator: coding, paper, tau, chat, synthetic, synthetic:<normal|uniform|gamma-short|gamma-long|bimodal>', defaults.workload)
    .option('--jobs <n>', `jobs to generate (a file: the first n)${defaults.perWorkloadDefaults ? per(String(defaults.jobs)) : defaults.jobs !== undefined ? ` (default: ${defaults.jobs})` : ''}`)
    .option('--load <x>', `arrival-rate multiplier on the workload’s base rate${per(String(defaults.load))}`, defaults.perWorkloadDefaults ? undefined : String(defaults.load))
    .option('--seed <n>', 'workload seed', String(defaults.seed))
    .option('--scale-tokens <x>', `multiply every token count, to shrink a workload for a small machine${defaults.perWorkloadDefaults ? per(String(defaults.scale.tokens)) : ` (default: ${defaults.scale.tokens} for a generator, 1 for a file)`}`)
    .option('--scale-time <x>', `multiply tool durations and arrival gaps${defaults.perWorkloadDefaults ? per(String(defaults.scale.time)) : ` (default: ${defaults.scale.time} for a generator, 1 for a file)`}`)
    .option('--arrivals <poisson|azure|burst>', "a generator's arrival shape (default: its own; only coding offers all three; burst: every job at t = 0)")
    .option('--policies <list>', `comma-separated (default: all: ${POLICY_NAMES.join(',')})`)
    .option('--hints <none|oracle>', 'none: the engine learns lengths online; oracle: the client passes the true ones', 'none')
    .option('--json', 'print one result summary JSON line per run instead of the table')
    .option('--chart <file.svg>', 'write the chart here', defaults.chart)
    .option('--no-chart', 'do not write a chart')
    .option('--set <policy.key=value>', 'a policy option over its default, e.g. astraea.kvRule=watermark (repeatable; for ablations)', (item: string, all: string[]) => [...all, item], []);
}

/** `--set policy.key=value` items → options per policy. Values: numbers, true/false, a:b:c lists of numbers, else strings. */
export function policyOptionsFrom(values: Pick<WorkloadFlags, 'set'>): Partial<Record<PolicyName, Record<string, unknown>>> {
  const out: Partial<Record<PolicyName, Record<string, unknown>>> = {};
  for (const item of values.set) {
    const match = /^([a-z-]+)\.([A-Za-z]+)=(.+)$/.exec(item);
    if (!match) throw new EngineError('INVALID_ARGUMENT', `--set "${item}": expected policy.key=value, e.g. astraea.kvRule=watermark`);
    const [, policy, key, text] = match;
    if (!(POLICY_NAMES as readonly string[]).includes(policy)) {
      throw new EngineError('INVALID_ARGUMENT', `--set "${item}": unknown policy "${policy}" (one of ${POLICY_NAMES.join(', ')})`);
    }
    const option = { [key]: optionValue(text) };
    try {
      checkPolicyOptions(policy as PolicyName, option);
    } catch (error) {
      throw new EngineError('INVALID_ARGUMENT', `--set "${item}": ${(error as Error).message}`);
    }
    Object.assign((out[policy as PolicyName] ??= {}), option);
  }
  return out;
}

/** A `--set` value as text → the option's value: numbers, true/false, a:b:c lists of numbers, else the string. */
function optionValue(text: string): unknown {
  const isNumber = (t: string) => t.trim() !== '' && !Number.isNaN(Number(t));
  if (text === 'true' || text === 'false') return text === 'true';
  if (isNumber(text)) return Number(text);
  return text.includes(':') && text.split(':').every(isNumber) ? text.split(':').map(Number) : text;
}

/**
 * The workload the flags name. A generator's lengths are GPU-scale, so it takes the command's
 * default scale; a file is taken as written (scale 1) unless the flags say otherwise.
 */
export function workloadFrom(values: WorkloadFlags, defaults: { jobs?: number; scale: WorkloadScale }, load?: number): GeneratedWorkload {
  const jobs = values.jobs !== undefined ? integerOption(values.jobs, 'jobs', 0, 1) : undefined;
  const generated = isGeneratorName(values.workload);
  const scale = generated ? defaults.scale : { tokens: 1, time: 1 };
  if (values.arrivals !== undefined && !generated) throw new EngineError('INVALID_ARGUMENT', '--arrivals applies to a generator, not to a workload file');
  return resolveWorkload(values.workload, {
    arrivals: values.arrivals as ArrivalShape | undefined, // checked by the generator
    jobs: jobs ?? (generated ? defaults.jobs : undefined),
    load: load ?? positiveOption(values.load, 'load', 1),
    seed: integerOption(values.seed, 'seed', 1),
    scale: { tokens: positiveOption(values.scaleTokens, 'scale-tokens', scale.tokens), time: positiveOption(values.scaleTime, 'scale-time', scale.time) },
  });
}

export function policiesFrom(values: WorkloadFlags): PolicyName[] {
  return listOption(values.policies, 'policies', POLICY_NAMES);
}

export function hintsFrom(values: WorkloadFlags): 'none' | 'oracle' {
  if (values.hints !== 'none' && values.hints !== 'oracle') throw new EngineError('INVALID_ARGUMENT', `--hints must be none or oracle, got "${values.hints}"`);
  return values.hints;
}
