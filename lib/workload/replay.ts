/**
 * Replays a workload against an engine: each job arrives at its time, generates its segments
 * with forced lengths, waits out each tool call, and resumes with the tool's result tokens. The
 * same driver serves the real engine (wall-clock timers) and the simulator (a VirtualClock), so
 * a simulated run exercises exactly the calls a real one makes.
 *
 * JCT is job end − job arrival, tool time included (DESIGN.md). A job whose segment fails is
 * recorded as failed with the error's code and does not stop the others.
 */
import { setTimeout as wallSleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import type { JobMetrics } from '../agent/job-state.js';
import type { Engine } from '../engine/engine.js';
import { EngineError } from '../errors.js';
import type { WorkloadJob } from './format.js';
import { jobSegmentTokens } from './tokens.js';

/** Where the runner's time comes from: the wall clock, or the simulator's virtual clock. */
export interface Timers {
  now(): number;
  sleep(seconds: number): Promise<void>;
}

export const wallTimers: Timers = {
  now: () => performance.now() / 1000,
  sleep: (seconds) => wallSleep(seconds * 1000),
};

export interface RunOptions {
  /**
   * What the client tells the engine about each segment: 'oracle' passes the workload's true
   * output length and tool duration as hints (the paper's setting), 'none' passes nothing and
   * the engine learns them online. Default 'none'.
   */
  hints?: 'oracle' | 'none';
  /** Called as each job ends (completed or failed). */
  onJobDone?: (outcome: JobOutcome, done: number, total: number) => void;
}

export interface JobOutcome {
  id: string;
  kind: string;
  arrivalS: number;
  /** Seconds from arrival to the end of the last segment (or the failure). */
  jctS: number;
  /** null when the job completed; else the error code. */
  error: string | null;
  metrics: JobMetrics;
  breakdown: JctBreakdown;
}

/**
 * Where a job's time went; the four add up to its JCT. Queueing: waiting for the GPU (first
 * arrival, after each tool call, after a preemption). Compute: in the batch doing new work. Tool:
 * waiting on tools (and, for chat workloads, on the person). KV recovery: getting KV back after
 * it left the device — recomputing discarded tokens and waiting on swap-ins.
 */
export interface JctBreakdown {
  queueingS: number;
  computeS: number;
  toolS: number;
  kvRecoveryS: number;
}

export function jctBreakdown(m: JobMetrics): JctBreakdown {
  return {
    queueingS: m.queueingS - m.kvRecoveryQueuedS,
    computeS: m.runningS - m.kvRecoveryRunningS,
    toolS: m.toolS,
    kvRecoveryS: m.kvRecoveryS,
  };
}

export async function runWorkload(engine: Engine, jobs: readonly WorkloadJob[], timers: Timers, options: RunOptions = {}): Promise<JobOutcome[]> {
  const start = timers.now();
  const vocab = engine.modelInfo.vocabSize;
  const oracle = options.hints === 'oracle';
  const outcomes: JobOutcome[] = [];

  const runJob = async (spec: WorkloadJob): Promise<void> => {
    await timers.sleep(Math.max(0, spec.arrivalS - (timers.now() - start)));
    const arrived = timers.now();
    const job = engine.createJob({ id: spec.id, kind: spec.kind });
    let error: string | null = null;
    try {
      const last = spec.segments.length - 1;
      for (let i = 0; i <= last; i++) {
        const segment = spec.segments[i];
        const request = {
          tokens: jobSegmentTokens(spec, i, vocab),
          maxTokens: segment.outputTokens,
          ignoreEos: true,
          endsWithToolCall: segment.tool !== null,
          ...(oracle ? { expectedOutputTokens: segment.outputTokens, expectedToolS: segment.tool?.durationS } : {}),
        };
        const result = await (i === 0 ? job.generate(request) : job.resume({ ...request, tool: spec.segments[i - 1].tool!.name })).done;
        if (result.finishReason === 'cancelled') throw new EngineError('CANCELLED', `job ${spec.id} segment ${i} was cancelled`);
        if (segment.tool !== null) await timers.sleep(segment.tool.durationS);
      }
    } catch (e) {
      error = e instanceof EngineError ? e.code : 'INTERNAL';
    }
    const metrics = job.metrics();
    const outcome: JobOutcome = { id: spec.id, kind: spec.kind, arrivalS: arrived - start, jctS: timers.now() - arrived, error, metrics, breakdown: jctBreakdown(metrics) };
    job.close();
    outcomes.push(outcome);
    options.onJobDone?.(outcome, outcomes.length, jobs.length);
  };

  await Promise.all(jobs.map(runJob));
  return outcomes;
}
