/**
 * Capacity: jobs per hour one engine serves at a JCT objective — job-level capacity, as
 * TensorRT-LLM's agent trace replay defines it — for each policy, on the simulator. The objective
 * is a p90 JCT no worse than `objective` times the unloaded p90 (the same workload at a light
 * load, under fcfs: unloaded, the policy hardly matters, and one reference serves every policy).
 * The highest load meeting it is found by bisection on the load knob: doubling (or halving) from
 * load 1 to bracket it, then geometric bisection until the bracket is within `precision`. A run
 * with a failed job fails the objective.
 *
 * Capacity is a steady-state figure, so each probe runs arrivals for a window, not a fixed number
 * of jobs: a few hundred jobs arriving at once are a burst any engine drains, whatever the load
 * says. The window is `windowS` (default: 4 × the unloaded p90, at least 10 minutes), so jobs =
 * arrival rate × window, at least `minJobs`; a load needing more than `maxJobs` is not probed and
 * the search reports capacity as at least the highest load it could probe. p90 against load is
 * monotone only up to the noise of a finite run, so the bracket (highest load found to pass,
 * lowest found to fail) is reported with the figure.
 */
import { EngineError } from '../errors.js';
import type { PolicyName } from '../sched/registry.js';
import type { SimulationProfile } from '../sim/cost-model.js';
import { jobBounds } from '../sim/lower-bound.js';
import { quantileReachable, relaxedUtilization } from '../sim/on-time-bound.js';
import { GAVE_UP, simulate, type SimulateOptions } from '../sim/simulate.js';
import type { GeneratedWorkload } from '../workload/generators/types.js';
import type { JobOutcome } from '../workload/replay.js';
import { countForcingQuantileAbove, jctSummary } from './summary.js';

export interface CapacityOptions {
  /** p90 JCT may be at most this times the unloaded p90 (default 2). */
  objective?: number;
  /** The load whose p90 is the unloaded reference (default 0.1). */
  lightLoad?: number;
  /** Stop when the bracket's upper end is within this ratio of its lower end (default 1.05). */
  precision?: number;
  /** Loads probed at most per policy (default 14). */
  maxProbes?: number;
  /** Seconds of arrivals per probe (default: 4 × the unloaded p90, at least 600). */
  windowS?: number;
  /** Jobs per probe at least (default 200), and at most (default 5,000). */
  minJobs?: number;
  maxJobs?: number;
  /** Per policy, options over its defaults. */
  policyOptions?: Partial<Record<PolicyName, Record<string, unknown>>>;
  hints?: 'oracle' | 'none';
  /**
   * Also search the best any schedule could do (lib/sim/on-time-bound.ts): a load passes when the
   * offline bound lets enough jobs finish within the objective and the device's relaxed work keeps
   * up with the arrivals (a steady state: the jobs a p90 lets wait must still be served). Reported
   * last, as `BEST_POSSIBLE`.
   */
  bound?: boolean;
  /** Probes on several engines sharing the load (lib/sim/replica-capacity.ts); default one engine. */
  scaleOut?: ScaleOut;
  onProbe?: (policy: CapacityRow, probe: CapacityProbe) => void;
}

/**
 * Replicas sharing the load: a probe at load L offers `replicas` × L × the base rate and runs
 * `replicas` × minJobs jobs at least, so each replica sees what one engine's probe would; `run`
 * simulates it. The unloaded reference stays one engine's (fcfs at the light load), so every
 * count of replicas is held to the same seconds, and capacity is the whole set's.
 */
export interface ScaleOut {
  replicas: number;
  /** The probe's run; it passes `giveUp` on to the simulation (SimulateOptions.giveUp). */
  run: (policy: PolicyName, workload: GeneratedWorkload, giveUp: GiveUp) => Promise<readonly JobOutcome[]>;
}

type GiveUp = NonNullable<SimulateOptions['giveUp']>;

/** What a probe's run found, for a log line: where it gave up, or its p90 (and failed jobs). */
export function probeOutcome(p: Pick<CapacityProbe, 'p90S' | 'failed' | 'gaveUp'>): string {
  return p.gaveUp ?? `p90 ${p.p90S === null ? '–' : p.p90S.toFixed(1)} s${p.failed ? `, ${p.failed} failed` : ''}`;
}

/** The row of the capacity no schedule exceeds on the simulator's cost model. */
export const BEST_POSSIBLE = 'best possible';
export type CapacityRow = PolicyName | typeof BEST_POSSIBLE;

export interface CapacityProbe {
  load: number;
  p90S: number | null;
  failed: number;
  pass: boolean;
  /**
   * Set when the probe stopped early: enough jobs were already past the objective that the p90
   * could not meet it (SimulateOptions.giveUp); what the run said. `p90S` is then null.
   */
  gaveUp?: string;
  /** The best possible row only: the relaxed work over the arrivals' span, and whether enough jobs could finish in time. */
  utilization?: number;
  enoughOnTime?: boolean;
}

export interface CapacityResult {
  policy: CapacityRow;
  /** Arrivals per hour at the highest load found to meet the objective; 0 if none did. */
  jobsPerHour: number;
  /**
   * Highest load found to pass and lowest found to fail (null: none found within the search —
   * for `fail`, capacity is then at least the `pass` load, the most `maxJobs` let it probe).
   */
  bracket: { pass: number | null; fail: number | null };
  /** Seconds of arrivals each probe ran. */
  windowS: number;
  /** The objective, seconds: `objective` × the unloaded p90. */
  objectiveP90S: number;
  unloadedP90S: number;
  /** p90 JCT at the load reported (the best possible row: null, it bounds p90 rather than running). */
  p90S: number | null;
  probes: CapacityProbe[];
}

/** Loads from 1/64 to 64 of the base rate: far past any workload's knee either way. */
const MIN_LOAD = 1 / 64;
const MAX_LOAD = 64;

function p90Of(outcomes: readonly JobOutcome[]): number | null {
  const p90 = jctSummary(outcomes).p90;
  return Number.isFinite(p90) ? p90 : null;
}

export async function findCapacity(
  /** The workload at a load, with this many jobs. */
  workloadAt: (load: number, jobs: number) => GeneratedWorkload,
  policies: readonly PolicyName[],
  target: { profile: SimulationProfile; kvBlocks?: number; hostBlocks?: number },
  options: CapacityOptions = {},
): Promise<CapacityResult[]> {
  const objective = options.objective ?? 2;
  const precision = options.precision ?? 1.05;
  const maxProbes = options.maxProbes ?? 14;
  const minJobs = options.minJobs ?? 200;
  const maxJobs = options.maxJobs ?? 5000;
  const scaleOut = options.scaleOut;
  if (scaleOut && options.bound) throw new EngineError('INVALID_ARGUMENT', 'capacity: the best-possible bound is one engine\'s; not with replicas');
  const replicas = scaleOut?.replicas ?? 1;
  /** A probe's workload: load per replica, the whole set's jobs. */
  const probeWorkload = (load: number, jobs: number) => workloadAt(load * replicas, jobs);
  const rateAt = (load: number) => probeWorkload(load, 1).params.arrivalRatePerS;
  const summarize = (outcomes: readonly JobOutcome[]) => ({ p90S: p90Of(outcomes), failed: outcomes.filter((o) => o.error !== null).length });
  const oneEngine = async (policy: PolicyName, workload: GeneratedWorkload, giveUp?: GiveUp) =>
    (
      await simulate(workload.jobs, {
        profile: target.profile,
        workloadScale: workload.params.scale,
        kvBlocks: target.kvBlocks,
        hostBlocks: target.hostBlocks,
        policy,
        policyOptions: options.policyOptions?.[policy],
        hints: options.hints,
        giveUp,
      })
    ).outcomes;
  const light = summarize(await oneEngine('fcfs', workloadAt(options.lightLoad ?? 0.1, minJobs)));
  if (light.p90S === null || light.failed > 0) throw new EngineError('INVALID_ARGUMENT', 'capacity: the workload does not complete even at the light load');
  const objectiveP90S = objective * light.p90S;
  /**
   * A probe stops once so many jobs are past the objective that its p90 must miss it: the
   * bracket is the same, and the overloaded probes — the longest, every queued job run out — end
   * early (their p90 is then not known, only that it misses).
   */
  const run = async (policy: PolicyName, load: number, jobs: number): Promise<{ p90S: number | null; failed: number; gaveUp?: string }> => {
    const workload = probeWorkload(load, jobs);
    const giveUp = { afterS: objectiveP90S, lateJobs: countForcingQuantileAbove(workload.jobs.length, 0.9) };
    try {
      return summarize(await (scaleOut?.run ?? oneEngine)(policy, workload, giveUp));
    } catch (error) {
      if (error instanceof EngineError && error.code === GAVE_UP) return { p90S: null, failed: 0, gaveUp: error.message };
      throw error;
    }
  };
  const windowS = options.windowS ?? Math.max(600, 4 * light.p90S);
  const jobsAt = (load: number) => Math.max(minJobs * replicas, Math.ceil(rateAt(load) * windowS));

  // The best possible: whether the offline bound lets enough jobs finish within the objective.
  const reachable = (load: number, jobs: number) => {
    const workload = workloadAt(load, jobs);
    const bounds = jobBounds(workload.jobs, target.profile, { kvBlocks: target.kvBlocks });
    const utilization = relaxedUtilization(bounds);
    const enoughOnTime = quantileReachable(bounds, 0.9, objectiveP90S);
    return { p90S: null, failed: 0, pass: utilization <= 1 && enoughOnTime, utilization, enoughOnTime };
  };
  const rows: { row: CapacityRow; probeAt: (load: number, jobs: number) => Promise<Omit<CapacityProbe, 'load'>> }[] = policies.map((policy) => ({
    row: policy,
    probeAt: async (load, jobs) => {
      const r = await run(policy, load, jobs);
      return { ...r, pass: r.gaveUp === undefined && r.failed === 0 && r.p90S !== null && r.p90S <= objectiveP90S };
    },
  }));
  if (options.bound) rows.push({ row: BEST_POSSIBLE, probeAt: async (load, jobs) => reachable(load, jobs) });

  const results: CapacityResult[] = [];
  for (const { row, probeAt } of rows) {
    const probes: CapacityProbe[] = [];
    /** null: the load needs more than maxJobs jobs, so it is not probed. */
    const probe = async (load: number): Promise<boolean | null> => {
      const jobs = jobsAt(load);
      if (jobs > maxJobs) return null;
      const p = { load, ...(await probeAt(load, jobs)) };
      probes.push(p);
      options.onProbe?.(row, p);
      return p.pass;
    };
    const { pass, fail } = await searchCapacity(probe, { start: Math.min(1, maxJobs / Math.max(1e-12, rateAt(1) * windowS)), precision, maxProbes });
    const atPass = pass === null ? null : probes.find((p) => p.load === pass)!;
    results.push({
      policy: row,
      jobsPerHour: pass === null ? 0 : rateAt(pass) * 3600,
      bracket: { pass, fail },
      windowS,
      objectiveP90S,
      unloadedP90S: light.p90S,
      p90S: atPass?.p90S ?? null,
      probes,
    });
  }
  return results;
}

/**
 * The search itself, on any pass/fail probe (null: the load cannot be probed — too heavy): from
 * `start`, doubling while it passes (up to MAX_LOAD) or halving while it fails (down to
 * MIN_LOAD), then geometric bisection of the bracket until fail / pass ≤ `precision` or
 * `maxProbes` probes were made.
 */
export async function searchCapacity(
  probe: (load: number) => Promise<boolean | null>,
  options: { start: number; precision: number; maxProbes: number },
): Promise<{ pass: number | null; fail: number | null; probes: number }> {
  let probes = 0;
  const tryLoad = async (load: number) => {
    probes++;
    return probe(load);
  };
  let pass: number | null = null;
  let fail: number | null = null;
  const first = await tryLoad(options.start);
  if (first) {
    pass = options.start;
    for (let load = options.start * 2; load <= MAX_LOAD && probes < options.maxProbes; load *= 2) {
      const ok = await tryLoad(load);
      if (ok === null) break; // too heavy to probe: capacity is at least `pass`
      if (ok) pass = load;
      else {
        fail = load;
        break;
      }
    }
  } else if (first === false) {
    fail = options.start;
    for (let load = options.start / 2; load >= MIN_LOAD && probes < options.maxProbes; load /= 2) {
      if (await tryLoad(load)) {
        pass = load;
        break;
      }
      fail = load;
    }
  }
  while (pass !== null && fail !== null && fail / pass > options.precision && probes < options.maxProbes) {
    const mid = Math.sqrt(pass * fail);
    if (await tryLoad(mid)) pass = mid;
    else fail = mid;
  }
  return { pass, fail, probes };
}

/** The capacity table: one row per policy, and its ratio to the first policy's (the baseline). */
export function capacityTable(results: readonly CapacityResult[]): string {
  const base = results[0]?.jobsPerHour ?? 0;
  const fmt = (x: number | null, digits: number) => (x === null ? '–' : x.toFixed(digits));
  const lines = [
    `capacity: the highest load whose p90 JCT stays within ${fmt(results[0]?.objectiveP90S ?? null, 1)} s (${fmt(results[0] ? results[0].objectiveP90S / results[0].unloadedP90S : null, 1)} × the unloaded p90 of ${fmt(results[0]?.unloadedP90S ?? null, 1)} s), arrivals over ${fmt(results[0]?.windowS ?? null, 0)} s per probe`,
    '',
    '| policy | jobs/hour | vs first | load (pass … fail) | p90 s at capacity |',
    '| --- | ---: | ---: | --- | ---: |',
  ];
  for (const r of results) {
    const ratio = base > 0 ? (r.jobsPerHour / base).toFixed(2) : '–';
    const bracket = r.bracket.fail === null ? `≥ ${fmt(r.bracket.pass, 3)} (probe limit)` : `${fmt(r.bracket.pass, 3)} … ${r.bracket.fail.toFixed(3)}`;
    lines.push(`| ${r.policy} | ${r.jobsPerHour.toFixed(0)} | ${ratio} | ${bracket} | ${fmt(r.p90S, 1)} |`);
  }
  return `${lines.join('\n')}\n`;
}
