/**
 * N engines behind one router, seen by the workload replay as one engine: each job the replay
 * creates is a RoutedJob, and each of its calls (first segment or resume after a tool) is routed
 * afresh. A call that stays on the replica that ran the job's last call resumes the engine job
 * there, exactly as a single engine would; a call routed elsewhere closes the job on the replica
 * it leaves (as if that server expired the idle job at once, the kindest case for the router:
 * its preserved KV goes back to that replica's prefix cache) and starts a new engine job on the
 * new replica whose prompt is the whole conversation so far, as an OpenAI-style client resends
 * it. That replica recomputes whatever its prefix cache lacks — a normal miss. What the new
 * engine job is told of the job (JobOptions.history) is `movedCalls`: 'segments' (the default) the
 * segments it has run — what Astraea's server reads off the conversation by itself, one per
 * assistant turn —; 'history' those and when the job began (which a server would need from the
 * client or gateway); 'fresh' nothing, a new job. Subagents start on their parent's replica as forks when
 * routed there, else as plain jobs with the parent's context as their prompt.
 *
 * Only what the replay uses of Engine and Job is provided (modelInfo, createJob; generate, resume,
 * close, metrics): the replay's WorkloadTarget (lib/workload/replay.ts).
 */
import type { JobMetrics } from '../agent/job-state.js';
import type { Engine } from '../engine/engine.js';
import type { Job } from '../engine/job.js';
import type { Segment } from '../engine/segment.js';
import type { GenerateOptions, JobOptions, ResumeOptions } from '../engine/types.js';
import { EngineError } from '../errors.js';
import type { ReplicaView, RouteRequest, Router } from './router.js';

/** What routing did over a run. */
export interface RoutingStats {
  /** Calls routed, and those sent to another replica than the job's previous call. */
  calls: number;
  moves: number;
  /** Prompt tokens of the moved calls, and of those the tokens their new replica computed (prefix-cache misses). */
  movedPromptTokens: number;
  movedComputedTokens: number;
  /** Calls per replica. */
  callsPerReplica: number[];
}

/** What a moved call tells its new replica: the segments the job has run, those and its age, or nothing (a fresh job). */
export type MovedCalls = 'segments' | 'history' | 'fresh';
export const MOVED_CALLS: readonly MovedCalls[] = ['segments', 'history', 'fresh'];

export interface ReplicaSetOptions {
  /** Default 'segments'. */
  movedCalls?: MovedCalls;
  /** The replicas' clock (seconds): when each job began, for its history. Default: none (ageS 0). */
  now?: () => number;
}

export class ReplicaSet {
  readonly routing: RoutingStats;
  readonly movedCalls: MovedCalls;
  readonly now: () => number;
  private readonly open = new Map<string, RoutedJob>();

  constructor(
    readonly engines: readonly Engine[],
    readonly router: Router,
    options: ReplicaSetOptions = {},
  ) {
    this.movedCalls = options.movedCalls ?? 'segments';
    if (!MOVED_CALLS.includes(this.movedCalls)) throw new EngineError('INVALID_ARGUMENT', `movedCalls must be one of ${MOVED_CALLS.join(', ')}; got ${String(this.movedCalls)}`);
    this.now = options.now ?? (() => 0);
    if (engines.length === 0) throw new EngineError('INVALID_ARGUMENT', 'a replica set needs at least one engine');
    this.routing = { calls: 0, moves: 0, movedPromptTokens: 0, movedComputedTokens: 0, callsPerReplica: engines.map(() => 0) };
  }

  get modelInfo(): Engine['modelInfo'] {
    return this.engines[0].modelInfo;
  }

  createJob(options: JobOptions = {}): RoutedJob {
    const id = options.id ?? `job-${this.open.size}`;
    if (this.open.has(id)) throw new EngineError('DUPLICATE_JOB', `a job with id "${id}" is already open`);
    const parent = options.forkOf === undefined ? undefined : this.open.get(options.forkOf);
    if (options.forkOf !== undefined && parent === undefined) throw new EngineError('INVALID_ARGUMENT', `forkOf "${options.forkOf}" is not an open job`);
    const job = new RoutedJob(this, id, options.kind ?? 'default', parent);
    this.open.set(id, job);
    return job;
  }

  /** The replicas' public metrics, read when a router asks (KV usage costs a stats() call). */
  views(): ReplicaView[] {
    return this.engines.map((engine, index) => ({
      index,
      waiting: engine.waitingCount,
      get kvUsage() {
        return engine.kvUsage;
      },
    }));
  }

  /** @internal */
  route(request: RouteRequest): number {
    const replica = this.router.pick(request, this.views());
    if (!(Number.isInteger(replica) && replica >= 0 && replica < this.engines.length)) throw new EngineError('INTERNAL', `router ${this.router.name} picked replica ${replica}`);
    this.router.routed?.(request, replica);
    this.routing.calls++;
    this.routing.callsPerReplica[replica]++;
    return replica;
  }

  /** @internal */
  closed(job: RoutedJob): void {
    this.open.delete(job.id);
    if (job.parent === undefined) this.router.sessionEnded?.(job.sessionId);
  }
}

const METRIC_SUMS = ['queueingS', 'toolS', 'runningS', 'segments', 'outputTokens', 'recomputedPrefillTokens', 'kvRecoveryS', 'kvRecoveryQueuedS', 'kvRecoveryRunningS'] as const;

/** One replay job across replicas: an engine job on whichever replica ran its last call. */
export class RoutedJob {
  readonly sessionId: string;
  private home: number | null = null;
  private current: Job | null = null;
  /** Calls made so far (segments begun), and when the first was made. */
  private calls = 0;
  private startedS = 0;
  /** Metrics of the engine jobs it left behind. */
  private readonly earlier: JobMetrics[] = [];

  constructor(
    private readonly set: ReplicaSet,
    readonly id: string,
    readonly kind: string,
    readonly parent: RoutedJob | undefined,
  ) {
    this.sessionId = parent?.sessionId ?? id;
  }

  /** The engine job's replica (null before the first call). */
  get replica(): number | null {
    return this.home;
  }

  generate(options: GenerateOptions): Segment {
    if (this.current !== null || options.tokens === undefined) throw new EngineError('INVALID_STATE', `job ${this.id}: generate is the first call, with tokens`);
    const replica = this.set.route({ jobId: this.id, sessionId: this.sessionId, tokens: options.tokens });
    const engine = this.set.engines[replica];
    const fork = this.parent !== undefined && this.parent.home === replica && this.parent.current !== null;
    this.current = engine.createJob({ id: this.id, kind: this.kind, ...(fork ? { forkOf: this.parent!.id } : {}) });
    this.home = replica;
    this.startedS = this.set.now();
    return this.track(this.current.generate(options), null);
  }

  resume(options: ResumeOptions): Segment {
    if (this.current === null || options.tokens === undefined) throw new EngineError('INVALID_STATE', `job ${this.id}: resume follows a first call, with tokens`);
    // The whole conversation as the client resends it: the engine job's context, then the new
    // input. Built only for a router that reads it or a call that moves: a long context is
    // never copied per call (lib/util/append.ts says why).
    const context = this.current.context;
    let prompt: number[] | null = null;
    const wholePrompt = (): number[] => (prompt ??= context.concat(options.tokens!));
    const replica = this.set.route({
      jobId: this.id,
      sessionId: this.sessionId,
      get tokens() {
        return wholePrompt();
      },
    });
    if (replica === this.home) return this.track(this.current.resume(options), null);
    return this.move(replica, options, wholePrompt());
  }

  /** Leaves the job's replica and starts over on `replica` with the whole conversation so far. */
  private move(replica: number, options: ResumeOptions, prompt: number[]): Segment {
    const left = this.current!;
    this.earlier.push(left.metrics());
    left.close();
    this.set.routing.moves++;
    this.set.routing.movedPromptTokens += prompt.length;
    const told = this.set.movedCalls;
    const history = told === 'fresh' ? {} : { history: { segments: this.calls, ...(told === 'history' ? { ageS: this.set.now() - this.startedS } : {}) } };
    this.current = this.set.engines[replica].createJob({ id: this.id, kind: this.kind, ...history });
    this.home = replica;
    const { tool: _tool, toolCallId: _callId, toolResult: _result, messages: _messages, ...rest } = options;
    return this.track(this.current.generate({ ...rest, tokens: prompt }), this.set.routing);
  }

  close(): void {
    this.current?.close();
    this.set.closed(this);
  }

  /** The engine jobs' metrics summed (times, tokens); the first one's TTFT. */
  metrics(): JobMetrics {
    const now = this.current?.metrics();
    const all = now === undefined ? this.earlier : [...this.earlier, now];
    if (all.length === 1) return all[0];
    // The engine jobs follow one another without a gap (the old one is closed as the new one
    // starts), so the job's time is the sum of theirs.
    const ended = all.every((m) => m.jctS !== null);
    const sum = { ...all[all.length - 1], ttftS: all[0].ttftS, jctS: ended ? all.reduce((a, m) => a + m.jctS!, 0) : null };
    for (const key of METRIC_SUMS) sum[key] = all.reduce((a, m) => a + m[key], 0);
    return sum;
  }

  /**
   * Counts the call, and what a moved one recomputed once it ends. The reaction is attached
   * before the replay's own await on `done`, and every job's segment gets one (moved or not), so
   * the replay's continuations keep one order whatever the routing (a one-replica set replays
   * exactly as one engine: test/unit/replica-set.test.ts).
   */
  private track(segment: Segment, moved: RoutingStats | null): Segment {
    this.calls++;
    segment.done.then(
      (result) => {
        if (moved !== null) moved.movedComputedTokens += result.usage.promptTokens - result.usage.cachedPromptTokens;
      },
      () => undefined,
    );
    return segment;
  }
}
