/**
 * The control plane's decision per step, for every policy, at 100, 1,000 and 10,000 live jobs.
 *
 * What is timed: `Engine._planStep()`, the code the step loop runs before each step — the
 * policy's second look at the KV of jobs waiting on tools (`revisitToolWaits`), the runnable and
 * paused lists, then `planStep`: a scheduling candidate per runnable job (with the predictors'
 * expected output and job length), the policy's order, and the walk down that order under the
 * token budget and the free blocks (allocations, prefix-cache lookups, reclaims of preserved KV,
 * preemptions). Not timed: the forward pass, and the bookkeeping after it (tokens handed out,
 * blocks hashed).
 *
 * The state is real: the engine on the simulator (H100 / Llama-3-8B profile: 8,192-token and
 * 256-sequence batch limits) replays a synthetic agent workload (the default airline / coding /
 * chat mix) arriving faster than it is served, until N jobs are open. So the predictors have
 * learned from the segments and tool calls finished so far, the pool is full, and jobs are
 * spread over waiting, ready, running and tool waits with their KV kept, swapped or released —
 * as each policy left them. The virtual clock is then frozen (a step in flight) and the decision
 * is timed on that state.
 *
 * Every call must do the same work. A plan commits its allocations and evictions, so the first
 * calls on the frozen state may differ (a job swapped in by the step in flight is a run in the
 * next plan); the case calls it until two decisions in a row are identical — a fixed point:
 * the same batch, every allocation already held, the job at which planning stops for lack of
 * memory found blocked again after the same search for a victim — and times that. What the
 * fixed point leaves out is the commit of new allocations and evictions, O(blocks moved), which
 * ./block-manager.ts times on its own.
 */
import { Engine } from '../engine/engine.js';
import { POLICY_NAMES, type PolicyName } from '../sched/registry.js';
import { H100_LLAMA3_8B, stepSeconds } from '../sim/cost-model.js';
import { SimulatedBackend } from '../sim/sim-backend.js';
import { VirtualClock } from '../sim/virtual-clock.js';
import { syntheticAgentWorkload } from '../workload/agent-mix.js';
import { runWorkload } from '../workload/replay.js';
import { grouped, sink, type MicroCase } from './harness.js';

export const LIVE_JOBS = [100, 1000, 10000] as const;

/**
 * Device KV blocks (16 tokens) per live-job count. At 100 and 1,000 jobs, small enough that
 * memory, not the batch limits, bounds the batch (3,000 is the sweep's memory-pressure pool); at
 * 10,000, the H100 profile's 25,000, as full as the 256-sequence limit lets it be.
 */
const KV_BLOCKS: Record<number, number> = { 100: 3000, 1000: 12000, 10000: 25000 };

/** Engine options of a case: the H100 profile, with a pool under pressure. */
function engineOptions(liveJobs: number) {
  const profile = H100_LLAMA3_8B;
  return {
    kvBlocks: KV_BLOCKS[liveJobs] ?? profile.deviceBlocks,
    hostBlocks: profile.hostBlocks,
    blockSize: 16,
    maxBatchTokens: profile.maxBatchTokens,
    maxBatchSequences: profile.maxBatchSequences,
  };
}

type Decision = ReturnType<Engine['_planStep']>['decision'];

/** What identifies a decision: every run, copy, eviction and the job planning stopped at. */
function signature(d: Decision): string {
  return JSON.stringify([
    d.runs.map((r) => [r.record.id, r.start, r.count]),
    d.swapIn,
    d.prefetched.map((r) => r.id),
    d.preempted.map((p) => [p.record.id, p.kv]),
    d.reclaimed.map((p) => [p.record.id, p.kv]),
    d.blocked?.id ?? null,
  ]);
}

export interface LiveState {
  engine: Engine;
  /** The state and the decision, for the table's note. */
  describe: string;
}

/**
 * Replays the workload on the simulator until `liveJobs` jobs are open, then freezes it and
 * brings the planner to its fixed point. Arrivals: liveJobs / 10 per second (several times what
 * the H100 serves), so about 10–20 virtual seconds pass first.
 */
export async function liveEngine(policy: PolicyName, liveJobs: number, seed = 1): Promise<LiveState> {
  const clock = new VirtualClock();
  const options = engineOptions(liveJobs);
  const profile = H100_LLAMA3_8B;
  const engine = Engine.withBackend(new SimulatedBackend(profile.model, profile.costs, options.blockSize, clock), { policy, clock, ...options });
  const jobs = syntheticAgentWorkload({ jobs: liveJobs * 3, arrivalRatePerS: liveJobs / 10, seed });
  let finished = 0;
  // Never awaited: the replay stops where the clock is frozen.
  runWorkload(engine, jobs, clock, { onJobDone: () => finished++ }).catch(() => {});
  let t = 0;
  while (engine.stats().jobs.open < liveJobs) {
    t += 0.05;
    await clock.run(t);
    if (t > 600) throw new Error(`${policy}: fewer than ${liveJobs} jobs open after ${t} virtual seconds`);
  }
  let previous = '';
  let decision: Decision | null = null;
  for (let i = 0; ; i++) {
    decision = engine._planStep().decision;
    const current = signature(decision);
    if (current === previous) break;
    previous = current;
    if (i === 20) throw new Error(`${policy} at ${liveJobs} jobs: the decision still changes after 20 plans`);
  }
  return { engine, describe: `after ${t.toFixed(2)} virtual s, ${grouped(finished)} jobs finished; ${describeState(engine, decision)}` };
}

/** Jobs by state, where the tool waits' KV is, the pool, and the decision. */
function describeState(engine: Engine, d: Decision): string {
  const stats = engine.stats({ jobs: true });
  const kvOfToolWaits = { device: 0, host: 0, none: 0 };
  for (const account of stats.jobAccounts ?? []) {
    if (account.state !== 'tool_wait') continue;
    const last = account.segments.at(-1)?.decisions.at(-1)?.action;
    if (last === 'preserve') kvOfToolWaits.device++;
    else if (last === 'swap') kvOfToolWaits.host++;
    else kvOfToolWaits.none++;
  }
  const { jobs, kv } = stats;
  const tokens = d.runs.reduce((sum, r) => sum + r.count, 0);
  const contextTokens = d.runs.reduce((sum, r) => sum + r.start + r.count, 0);
  // What the planned step costs on the H100 profile: the time the decision is made for.
  const profile = H100_LLAMA3_8B;
  const stepS = stepSeconds(profile.costs, profile.model.kvBytesPerToken * 16, { tokens, contextTokens, blockingSwapBlocks: 0, overlappedSwapBlocks: 0 }).elapsedS;
  return (
    `${grouped(jobs.open)} open: ${jobs.running} running, ${grouped(jobs.waiting)} waiting/ready, ${grouped(jobs.toolWait)} tool wait ` +
    `(KV kept ${kvOfToolWaits.device}, swapped ${kvOfToolWaits.host}, released ${kvOfToolWaits.none}); ` +
    `pool ${grouped(kv.ownedBlocks)} owned + ${grouped(kv.cachedBlocks)} cached + ${grouped(kv.freeBlocks)} free of ${grouped(kv.deviceBlocks)}; ` +
    `plan ${d.runs.length} seqs / ${grouped(tokens)} tokens${d.blocked ? ', stops for memory' : ''} (an H100 step of ${(stepS * 1e3).toFixed(1)} ms)`
  );
}

export function schedulerCases(sizes: readonly number[] = LIVE_JOBS, policies: readonly PolicyName[] = POLICY_NAMES): MicroCase[] {
  const cases: MicroCase[] = [];
  for (const liveJobs of sizes) {
    for (const policy of policies) {
      let describe = '';
      cases.push({
        name: `decision per step: ${policy}, ${grouped(liveJobs)} live jobs`,
        maxTimeS: liveJobs >= 10000 ? 4 : 2,
        prepare: async () => {
          const state = await liveEngine(policy, liveJobs);
          describe = state.describe;
          const engine = state.engine;
          return () => {
            sink.value = engine._planStep();
          };
        },
        note: () => describe,
      });
    }
  }
  return cases;
}
