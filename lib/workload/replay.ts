/**
 * Replays a workload against an engine: each job arrives at its time, generates its segments
 * with forced lengths, waits out each tool call, and resumes with the tool's result tokens. The
 * same driver serves the real engine (wall-clock timers) and the simulator (a VirtualClock), so
 * a simulated run exercises exactly the calls a real one makes.
 *
 * JCT is job end − job arrival, tool time included (DESIGN.md). A job whose segment fails is
 * recorded as failed with the error's code and does not stop the others.
 *
 * Subagents (format.ts): a segment whose tool call has subagents starts each as an engine job
 * forked from the parent (JobOptions.forkOf: one group, the parent's KV shared copy-on-write),
 * whose first segment is the parent's whole context — every token sent and every token generated
 * so far — followed by the subagent's task prompt; each runs its segments as a job does. The
 * parent resumes the tool's `duration_s` after the last subagent ends. Subagents are part of their
 * parent's run: their time counts in its JCT (as tool time), they are no outcomes of their own,
 * and a subagent's failure fails the parent (after the other subagents end).
 */
import { setTimeout as wallSleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import type { JobMetrics } from '../agent/job-state.js';
import type { Engine } from '../engine/engine.js';
import type { Job } from '../engine/job.js';
import type { JobOptions } from '../engine/types.js';
import { EngineError } from '../errors.js';
import { appendInPlace } from '../util/append.js';
import type { Subagent, WorkloadJob, WorkloadSegment } from './format.js';
import { jobSegmentTokens, segmentTokens } from './tokens.js';

/** What the replay uses of a job. */
export type ReplayJob = Pick<Job, 'id' | 'kind' | 'generate' | 'resume' | 'close' | 'metrics'>;

/** What the replay drives: an Engine, or a set of them behind a router (lib/sim/replica-set.ts). */
export interface WorkloadTarget {
  readonly modelInfo: Pick<Engine['modelInfo'], 'vocabSize'>;
  createJob(options: JobOptions): ReplayJob;
}

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

export async function runWorkload(engine: WorkloadTarget, jobs: readonly WorkloadJob[], timers: Timers, options: RunOptions = {}): Promise<JobOutcome[]> {
  const start = timers.now();
  const vocab = engine.modelInfo.vocabSize;
  const oracle = options.hints === 'oracle';
  const outcomes: JobOutcome[] = [];

  /**
   * Runs a chain of segments on `job`: each generates its forced length, waits out its tool call
   * (its subagents first), and the next resumes with its tokens (`tokensOf`).
   */
  const runSegments = async (job: ReplayJob, segments: readonly WorkloadSegment[], tokensOf: (i: number) => number[]): Promise<void> => {
    // The job's context as the engine holds it, kept only when a subagent will need it.
    const context: number[] | null = segments.some((s) => s.tool?.subagents !== undefined) ? [] : null;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i];
      const tokens = tokensOf(i);
      const subagents = segment.tool?.subagents;
      const request = {
        tokens,
        maxTokens: segment.outputTokens,
        ignoreEos: true,
        endsWithToolCall: segment.tool !== null,
        // Named as the resume will name it, so its duration is learned under the name asked for.
        toolName: segment.tool?.name,
        // A call with subagents lasts as long as they run: no true duration to hint.
        ...(oracle ? { expectedOutputTokens: segment.outputTokens, expectedToolS: subagents === undefined ? segment.tool?.durationS : undefined } : {}),
      };
      const result = await (i === 0 ? job.generate(request) : job.resume({ ...request, tool: segments[i - 1].tool!.name })).done;
      if (result.finishReason === 'cancelled') throw new EngineError('CANCELLED', `job ${job.id} segment ${i} was cancelled`);
      if (context !== null) {
        appendInPlace(context, tokens);
        appendInPlace(context, result.tokens);
      }
      if (subagents !== undefined) await runSubagents(job, i, subagents, context!);
      if (segment.tool !== null) await timers.sleep(segment.tool.durationS);
    }
  };

  /** The subagents of `parent`'s segment `at`, in parallel; resolves when the last ends, rejects if any failed. */
  const runSubagents = async (parent: ReplayJob, at: number, subagents: readonly Subagent[], context: readonly number[]): Promise<void> => {
    // Every child is created and starts its first segment before the first await, so they
    // arrive in the engine together.
    const runs = subagents.map(async (sub, c) => {
      const id = `${parent.id}/${at}.${c}`;
      const child = engine.createJob({ id, kind: `${parent.kind}/subagent`, forkOf: parent.id });
      try {
        await runSegments(child, sub.segments, (j) => {
          const own = segmentTokens(id, j, sub.segments[j].inputTokens, vocab);
          return j === 0 ? context.concat(own) : own;
        });
      } finally {
        child.close();
      }
    });
    const failed = (await Promise.allSettled(runs)).find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  };

  const runJob = async (spec: WorkloadJob): Promise<void> => {
    await timers.sleep(Math.max(0, spec.arrivalS - (timers.now() - start)));
    const arrived = timers.now();
    const job = engine.createJob({ id: spec.id, kind: spec.kind });
    let error: string | null = null;
    try {
      await runSegments(job, spec.segments, (i) => jobSegmentTokens(spec, i, vocab));
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
