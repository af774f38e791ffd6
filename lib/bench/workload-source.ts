/**
 * `--workload FILE|paper|tau|chat|synthetic[:dist]`: a generator by name, or a JSONL workload
 * file. A file gets the same knobs as a generator: load divides its arrival times, the scale
 * multiplies its lengths and durations, and both are recorded in the result.
 */
import { existsSync, readFileSync } from 'node:fs';
import { EngineError } from '../errors.js';
import { parseWorkload } from '../workload/format.js';
import { applyScale, generateWorkload, WORKLOAD_NAMES } from '../workload/generators/index.js';
import type { GeneratedWorkload, GenerateWorkloadOptions, WorkloadScale } from '../workload/generators/types.js';

export function isGeneratorName(name: string): boolean {
  return (WORKLOAD_NAMES as readonly string[]).includes(name) || name.startsWith('synthetic:');
}

export function resolveWorkload(spec: string, options: GenerateWorkloadOptions): GeneratedWorkload {
  if (isGeneratorName(spec)) return generateWorkload(spec, options);
  if (!existsSync(spec)) {
    throw new EngineError('INVALID_ARGUMENT', `--workload "${spec}" is neither a file nor a generator (${WORKLOAD_NAMES.join(', ')}, synthetic:<distribution>)`);
  }
  const load = options.load ?? 1;
  const scale: WorkloadScale = { tokens: options.scale?.tokens ?? 1, time: options.scale?.time ?? 1 };
  let jobs = parseWorkload(readFileSync(spec, 'utf8'), spec);
  if (options.jobs !== undefined) jobs = jobs.slice(0, options.jobs);
  jobs = applyScale(
    jobs.map((j) => ({ ...j, arrivalS: j.arrivalS / load })),
    scale,
  );
  const spanS = jobs.length > 0 ? jobs[jobs.length - 1].arrivalS : 0;
  return {
    jobs,
    params: { name: spec, seed: 0, load, jobs: jobs.length, scale, arrivalRatePerS: spanS > 0 ? jobs.length / spanS : 0 },
  };
}
