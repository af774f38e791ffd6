/**
 * The engine: many concurrent agent jobs on one model. It owns the native model and KV cache,
 * the block manager and the policy, and runs the step loop: plan a step (policy order, token
 * budget, free blocks, preemption), run it natively (an async worker: the event loop stays free),
 * then hand each sampled token to its segment. The loop runs while there is work and stops when
 * there is none; new work starts it again.
 */
import { systemClock, type Clock } from '../agent/clock.js';
import { JobStateMachine } from '../agent/job-state.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { EngineError } from '../errors.js';
import { BlockManager, type SwapPair } from '../kv/block-manager.js';
import { saltRoot } from '../kv/prefix-hash.js';
import { loadModel } from '../model/load.js';
import type { MemoryView } from '../sched/kv-waste.js';
import { createPolicy, POLICY_NAMES } from '../sched/registry.js';
import { ToolTimePredictor } from '../predict/tool-time.js';
import { OutputLengthPredictor } from '../predict/output-length.js';
import { JobLengthPredictor } from '../predict/job-length.js';
import { StepCosts } from './step-costs.js';
import type { Policy, WaitingJobView } from '../sched/policy.js';
import { ActiveSegment } from './active-segment.js';
import type { BackendModelInfo, BackendStepResult, EngineBackend } from './backend.js';
import { NativeBackend } from './native-backend.js';
import { Job } from './job.js';
import { JobGroup } from './job-group.js';
import { JobRecord } from './job-record.js';
import { Segment } from './segment.js';
import { planStep, type PlannerLimits, type SegmentExpectations, type StepDecision } from './step-planner.js';
import { segmentInput, type SegmentInput } from './segment-input.js';
import type { EngineOptions, EngineStats, FinishReason, GenerateOptions, JobAccount, JobOptions, KvDecision, ResumeOptions, SegmentAccount } from './types.js';

const DEFAULT_MAX_TOKENS = 256;
/** The tool a job kept open after a plain reply waits on (GenerateOptions.keepOpen). */
const USER_TURN = 'user';

/** Closed jobs whose KV accounts stats({ jobs: true }) still reports. */
const CLOSED_ACCOUNTS_KEPT = 1024;

function positiveInteger(value: number | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw new EngineError('INVALID_ARGUMENT', `${name} must be an integer >= ${min}`);
  return value;
}

/** The pool sizes and batch limits of engine options, checked, with their defaults. */
function poolsAndLimits(options: Omit<EngineOptions, 'model'>) {
  const kvBlocks = positiveInteger(options.kvBlocks, 'kvBlocks', 1024);
  return {
    kvBlocks,
    hostBlocks: positiveInteger(options.hostBlocks, 'hostBlocks', kvBlocks, 0),
    blockSize: positiveInteger(options.blockSize, 'blockSize', 16),
    limits: {
      maxBatchTokens: positiveInteger(options.maxBatchTokens, 'maxBatchTokens', 512),
      maxBatchSequences: positiveInteger(options.maxBatchSequences, 'maxBatchSequences', 64),
      prefetchSwapIns: options.prefetchSwapIns ?? true,
    },
  };
}

function checkPolicyName(policy: EngineOptions['policy']): void {
  if (typeof policy === 'string' && !(POLICY_NAMES as readonly string[]).includes(policy)) {
    throw new EngineError('INVALID_ARGUMENT', `unknown policy "${policy}" (available: ${POLICY_NAMES.join(', ')})`);
  }
}

export class Engine {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly pendingSwapOut: SwapPair[] = [];
  /** Block copies of forks (a partial block each), run with the next step. */
  private readonly pendingCopies: SwapPair[] = [];
  private readonly groups = new Map<string, JobGroup>();
  private readonly forkCounters = { jobs: 0, sharedTokens: 0, copiedBlocks: 0 };
  private loopRunning: Promise<void> | null = null;
  private lastStepFailed = false;
  private readonly closedAccounts: JobAccount[] = [];
  private closing = false;
  private nextJobId = 1;
  private counters = { steps: 0, prefillTokens: 0, decodeTokens: 0, preemptions: 0, reclaims: 0, loopS: 0, nativeS: 0, blockingSwapS: 0, overlappedSwapBlocks: 0, swapOutBlocks: 0, swapInBlocks: 0, closedJobsRecomputed: 0 };

  private readonly policy: Policy;
  private readonly blockBytes: number;
  private readonly costs = new StepCosts();
  private readonly toolTimes = new ToolTimePredictor();
  private readonly outputLengths = new OutputLengthPredictor();
  private readonly jobLengths = new JobLengthPredictor();
  private kvActions = { release: 0, preserve: 0, swap: 0, discard: 0 };

  private constructor(
    private readonly backend: EngineBackend,
    private readonly blocks: BlockManager,
    policy: EngineOptions['policy'],
    policyOptions: EngineOptions['policyOptions'],
    private readonly clock: Clock,
    private readonly limits: PlannerLimits,
  ) {
    this.blockBytes = backend.blockBytes;
    this.policy = createPolicy(policy, {
      memory: () => this.memoryView(),
      toolTimeS: (tool, hintS) => this.toolTimes.expectedDurationS(tool, hintS),
      toolRemainingS: (tool, elapsedS, hintS) => this.toolTimes.remainingS(tool, elapsedS, hintS),
      toolTimeQuantileS: (tool, q) => this.toolTimes.quantileS(tool, q),
      costs: this.costs,
    }, policyOptions);
  }

  /** Device memory as the KV policies see it: blocks owned by jobs, and work waiting for memory. */
  private memoryView(): MemoryView {
    const kv = this.blocks.stats();
    let waitingTokens = 0;
    for (const r of this.jobs.values()) if (r.wantsToRun && r.state.state !== 'running') waitingTokens += r.tokens.length - r.computedTokens;
    return {
      usedFraction: kv.ownedBlocks / kv.deviceBlocks,
      waitingTokens,
      kvBytesPerToken: this.backend.info.kvBytesPerToken,
      swapBytesPerS: this.backend.swapBytesPerS,
      prefillSPerToken: this.costs.prefillSPerToken,
      freeTokens: (kv.freeBlocks + kv.cachedBlocks) * this.blocks.blockSize,
      stepS: this.costs.decodeStepS,
    };
  }

  /** An engine on the native addon: loads the model and allocates its KV pools. */
  static async create(options: EngineOptions): Promise<Engine> {
    checkPolicyName(options.policy);
    const { kvBlocks, hostBlocks, blockSize } = poolsAndLimits(options);
    const model = await loadModel({ model: options.model, dummy: options.dummy, seed: options.seed, dtype: options.dtype, threads: options.threads });
    let backend: NativeBackend;
    try {
      backend = await NativeBackend.open(model, { blockSize, deviceBlocks: kvBlocks, hostBlocks });
    } catch (error) {
      model.dispose();
      throw error;
    }
    return Engine.withBackend(backend, options);
  }

  /**
   * An engine on any backend (the simulator uses this). The backend's KV pools must have the
   * options' sizes; the engine disposes the backend when it closes.
   */
  static withBackend(backend: EngineBackend, options: Omit<EngineOptions, 'model'>): Engine {
    try {
      checkPolicyName(options.policy);
      const { kvBlocks, hostBlocks, blockSize, limits } = poolsAndLimits(options);
      // The backend's cache must have been built with the same block size, or every block table
      // the engine hands it would address the wrong slots.
      if (backend.blockBytes !== blockSize * backend.info.kvBytesPerToken) {
        throw new EngineError(
          'INVALID_ARGUMENT',
          `the backend's KV blocks hold ${backend.blockBytes / backend.info.kvBytesPerToken} tokens but blockSize is ${blockSize}`,
        );
      }
      const blocks = new BlockManager({ deviceBlocks: kvBlocks, hostBlocks, blockSize, prefixCaching: options.prefixCaching ?? true });
      return new Engine(backend, blocks, options.policy, options.policyOptions, options.clock ?? systemClock, limits);
    } catch (error) {
      backend.dispose();
      throw error;
    }
  }

  /** The model's shape as the engine sees it (vocabulary, context length, KV bytes per token). */
  get modelInfo(): BackendModelInfo {
    return this.backend.info;
  }

  /** The model's tokenizer, or null (token jobs only). */
  get tokenizer(): Tokenizer | null {
    return this.backend.tokenizer;
  }

  /** 'cpu' or 'cuda' (the native addon, where its steps run) or 'sim' (the simulator). */
  get backendKind(): EngineBackend['kind'] {
    return this.backend.kind;
  }

  /** The device↔host copy rate the KV policies price swaps with (measured by the native backend). */
  get swapBytesPerS(): number {
    return this.backend.swapBytesPerS;
  }

  /** Whether a job with this id is open. */
  hasJob(id: string): boolean {
    return this.jobs.has(id);
  }

  createJob(options: JobOptions = {}): Job {
    if (this.closing) throw new EngineError('ENGINE_CLOSED', 'the engine is closing');
    const id = options.id ?? `job-${this.nextJobId++}`;
    if (this.jobs.has(id)) throw new EngineError('DUPLICATE_JOB', `a job with id "${id}" is already open`);
    if (options.cacheSalt !== undefined && (typeof options.cacheSalt !== 'string' || options.cacheSalt.length === 0)) {
      throw new EngineError('INVALID_ARGUMENT', 'cacheSalt must be a non-empty string');
    }
    const root = options.cacheSalt === undefined ? null : saltRoot(options.cacheSalt);
    let parent: JobRecord | null = null;
    if (options.forkOf !== undefined) {
      parent = this.jobs.get(options.forkOf) ?? null;
      if (parent === null) throw new EngineError('UNKNOWN_JOB', `cannot fork job ${options.forkOf}: it is not open`);
      if (parent.prefixRoot !== root) throw new EngineError('INVALID_ARGUMENT', `cannot fork job ${parent.id}: it has another cache salt`);
      if (options.group !== undefined && options.group !== parent.group.id) {
        throw new EngineError('INVALID_ARGUMENT', `a fork joins its parent's group (${parent.group.id}), not ${options.group}`);
      }
    }
    if (options.group !== undefined && (typeof options.group !== 'string' || options.group.length === 0)) {
      throw new EngineError('INVALID_ARGUMENT', 'group must be a non-empty string');
    }
    const state = new JobStateMachine(id, this.clock);
    const groupId = parent?.group.id ?? options.group ?? id;
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = new JobGroup(groupId, state.arrivalTime);
      this.groups.set(groupId, group);
    }
    const record = new JobRecord(id, options.kind ?? 'default', state, group, root, parent);
    group.add(record);
    this.jobs.set(id, record);
    return new Job(this, record);
  }

  /** @internal */
  _generate(record: JobRecord, options: GenerateOptions): Segment {
    this.checkOpen(record);
    if (record.segmentsStarted > 0) {
      throw new EngineError('JOB_BUSY', `job ${record.id} has already started; use resume() after a tool call`);
    }
    return this.startSegment(record, options, segmentInput(this.backend, record, options));
  }

  /** @internal */
  _resume(record: JobRecord, options: ResumeOptions): Segment {
    this.checkOpen(record);
    if (record.state.state !== 'tool_wait') {
      throw new EngineError('INVALID_STATE', `job ${record.id} is ${record.state.state}; only a job waiting on a tool can resume`);
    }
    return this.startSegment(record, options, segmentInput(this.backend, record, options));
  }

  /** @internal */
  _close(record: JobRecord): void {
    if (record.closed) return;
    this.finishSegment(record, 'cancelled');
    if (!['finished', 'cancelled'].includes(record.state.state)) record.state.cancel();
    this.releaseKv(record);
    record.closed = true;
    this.counters.closedJobsRecomputed += record.state.metrics().recomputedPrefillTokens;
    this.closedAccounts.push(this.account(record));
    if (this.closedAccounts.length > CLOSED_ACCOUNTS_KEPT) this.closedAccounts.shift();
    this.jobs.delete(record.id);
    record.forkOf = null;
    this.policy.onJobClosed?.(record.id);
    if (record.group.remove(record)) {
      this.groups.delete(record.group.id);
      this.policy.onGroupClosed?.(record.group.id);
    }
  }

  /** Segments waiting to be scheduled (as stats().jobs.waiting, without the rest of stats()). */
  get waitingCount(): number {
    let n = 0;
    for (const r of this.jobs.values()) if (r.state.state === 'waiting' || r.state.state === 'ready') n++;
    return n;
  }

  stats(options: { jobs?: boolean } = {}): EngineStats {
    const kv = this.blocks.stats();
    const states = [...this.jobs.values()].map((r) => r.state.state);
    const count = (s: string) => states.filter((x) => x === s).length;
    return {
      steps: this.counters.steps,
      jobs: { open: this.jobs.size, running: count('running'), waiting: this.waitingCount, toolWait: count('tool_wait'), groups: this.groups.size },
      forks: { ...this.forkCounters },
      kv,
      tokens: { prefill: this.counters.prefillTokens, decode: this.counters.decodeTokens },
      preemptions: this.counters.preemptions,
      reclaimedToolWaits: this.counters.reclaims,
      kvActions: { ...this.kvActions },
      kvTraffic: {
        swapOutBytes: this.counters.swapOutBlocks * this.blockBytes,
        swapInBytes: this.counters.swapInBlocks * this.blockBytes,
        recomputedPrefillTokens:
          this.counters.closedJobsRecomputed + [...this.jobs.values()].reduce((sum, r) => sum + r.state.metrics().recomputedPrefillTokens, 0),
        overlappedSwapBytes: this.counters.overlappedSwapBlocks * this.blockBytes,
        blockingSwapS: this.counters.blockingSwapS,
      },
      time: { loopS: this.counters.loopS, nativeS: this.counters.nativeS },
      ...(this.policy.queueLevel ? { queueLevels: this.queueLevels(this.policy.queueLevel.bind(this.policy)) } : {}),
      ...(options.jobs ? { jobAccounts: [...[...this.jobs.values()].map((r) => this.account(r)), ...this.closedAccounts] } : {}),
    };
  }

  /** Open jobs per queue level; a policy keeps one level per group. */
  private queueLevels(level: (groupId: string) => number): number[] {
    const counts: number[] = [];
    for (const r of this.jobs.values()) {
      const l = level(r.group.id);
      while (counts.length <= l) counts.push(0);
      counts[l]++;
    }
    return counts;
  }

  /** For tests: throws if the block manager lost or double-counted a block. */
  checkInvariants(): void {
    this.blocks.checkInvariants();
  }

  /** Waits for every segment in progress to end, then frees the model and the KV pools. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    while (this.loopRunning) await this.loopRunning;
    for (const record of [...this.jobs.values()]) this._close(record);
    this.backend.dispose();
  }

  private checkOpen(record: JobRecord): void {
    if (this.closing) throw new EngineError('ENGINE_CLOSED', 'the engine is closing');
    if (record.closed || !this.jobs.has(record.id)) throw new EngineError('UNKNOWN_JOB', `job ${record.id} is closed`);
    if (record.state.state === 'finished' || record.state.state === 'cancelled') {
      throw new EngineError('JOB_FINISHED', `job ${record.id} is ${record.state.state}`);
    }
    if (record.active) throw new EngineError('JOB_BUSY', `job ${record.id} is already generating`);
  }

  private startSegment(record: JobRecord, options: GenerateOptions, input: SegmentInput): Segment {
    const maxTokens = positiveInteger(options.maxTokens, 'maxTokens', DEFAULT_MAX_TOKENS);
    const hintedOutput = positiveInteger(options.expectedOutputTokens, 'expectedOutputTokens', 0, 1);
    if (options.expectedToolS !== undefined && !(Number.isFinite(options.expectedToolS) && options.expectedToolS >= 0)) {
      throw new EngineError('INVALID_ARGUMENT', 'expectedToolS must be a finite number of seconds >= 0');
    }
    const context = input.replaceContext ? input.tokens : record.tokens.concat(input.tokens);
    const info = this.backend.info;
    if (context.length + maxTokens > info.maxPositionEmbeddings) {
      throw new EngineError('CONTEXT_TOO_LONG', `job ${record.id}: ${context.length} context tokens + ${maxTokens} to generate exceed the model's ${info.maxPositionEmbeddings} positions`);
    }
    if (Math.ceil((context.length + maxTokens) / this.blocks.blockSize) > this.blocks.deviceBlocks) {
      throw new EngineError('OUT_OF_BLOCKS', `job ${record.id}: ${context.length + maxTokens} tokens need more KV blocks than the pool has (${this.blocks.deviceBlocks})`);
    }
    // Everything is checked: commit. (A rendered conversation that diverged from the cached
    // context replaces it; the prefix cache keeps the common part.)
    if (input.replaceContext) this.releaseKv(record);
    record.tokens = context;
    if (record.forkOf !== null) this.forkKv(record);
    if (input.messages) {
      record.messages = input.messages;
      record.tools = input.tools;
    }
    const segment = new Segment(() => this.cancelSegment(record));
    const eos = new Set<number>([...(this.backend.tokenizer?.eosIds ?? []), ...info.eosTokenIds]);
    record.active = new ActiveSegment(
      record.segmentsStarted,
      {
        maxTokens,
        stop: options.stop ?? [],
        sampling: options.sampling ?? {},
        ignoreEos: options.ignoreEos ?? false,
        endsWithToolCall: options.endsWithToolCall ?? false,
        keepOpen: options.keepOpen ?? false,
        promptTokens: context.length,
        hintedOutputTokens: hintedOutput || undefined,
        expectedToolS: options.expectedToolS,
      },
      segment,
      this.backend.tokenizer,
      eos,
      `${record.id}_${record.segmentsStarted}`,
    );
    if (record.segmentsStarted === 0) {
      record.state.startSegment(input.tokens.length);
    } else {
      const tool = record.state.segments[record.state.segments.length - 1]?.tool;
      record.state.toolReturned(input.tokens.length);
      if (tool) this.toolTimes.observe((options as ResumeOptions).tool ?? tool.name, this.clock.now() - tool.startedAt);
    }
    record.segmentsStarted++;
    const signal = options.signal;
    if (signal) {
      // The listener goes when the segment ends, so a long-lived signal holds nothing of the job.
      const onAbort = () => this.cancelSegment(record);
      signal.addEventListener('abort', onAbort, { once: true });
      const detach = () => signal.removeEventListener('abort', onAbort);
      segment.done.then(detach, detach);
      if (signal.aborted) this.cancelSegment(record);
    }
    this.kick();
    return segment;
  }

  /**
   * A fork's first segment takes its parent's computed KV for their common prefix, copy-on-write
   * (BlockManager.fork), when the parent still has it on the device; the copy of a partial block
   * runs with the next step.
   */
  private forkKv(record: JobRecord): void {
    const parent = record.forkOf!;
    record.forkOf = null;
    this.forkCounters.jobs++;
    record.group.forks++;
    if (parent.closed || parent.placement !== 'device' || record.placement !== 'none') return;
    const context = record.tokens;
    // The last token of the context is always computed (its logits are sampled).
    const limit = Math.min(parent.computedTokens, context.length - 1);
    let common = 0;
    while (common < limit && context[common] === parent.tokens[common]) common++;
    const forked = this.blocks.fork(parent.id, record.id, common);
    if (forked === null) return;
    record.placement = 'device';
    record.computedTokens = common;
    this.forkCounters.sharedTokens += common;
    if (forked.copy !== null) {
      this.pendingCopies.push(forked.copy);
      this.forkCounters.copiedBlocks++;
    }
  }

  private cancelSegment(record: JobRecord): void {
    if (record.active) this._close(record);
  }

  /** Ends the active segment and gives its result to the caller. */
  private finishSegment(record: JobRecord, reason: FinishReason): void {
    const active = record.active;
    if (!active) return;
    record.active = null;
    active.handle.finish(active.result(reason));
  }

  private releaseKv(record: JobRecord): void {
    if (record.placement !== 'none') this.blocks.free(record.id);
    record.placement = 'none';
    record.computedTokens = 0;
  }

  private kick(): void {
    if (this.loopRunning) return;
    this.loopRunning = this.runLoop()
      .catch((error: unknown) => {
        // A bug in the loop must not take the process down: every segment in progress fails
        // with it (their KV is released) and the engine stays usable.
        const failure = error instanceof EngineError ? error : new EngineError('INTERNAL', `engine loop: ${String((error as Error)?.stack ?? error)}`);
        for (const record of this.jobs.values()) if (record.active) this.failSegment(record, failure);
      })
      .finally(() => {
        this.loopRunning = null;
        if (this.hasRunnable()) this.kick();
      });
  }

  /**
   * What the policy is told to expect of each job's current segment: the client's output hint,
   * else the predictors' figures as they stand now — read at every step, not frozen when the
   * segment was queued. (Frozen, a segment queued before any segment of its kind had finished
   * kept the 128-token default while later ones got the learned mean; under overload HRRN then
   * left the earliest arrivals for last.) One lookup per (kind, segment index) per step, kept per
   * kind by index: a string key built per job and step cost more than the rest of the candidate.
   */
  private expectations(): (r: JobRecord) => SegmentExpectations {
    const byKind = new Map<string, (SegmentExpectations | undefined)[]>();
    return (r) => {
      const active = r.active;
      if (!active) return { outputTokens: 0, futureSegments: 0 };
      let byIndex = byKind.get(r.kind);
      if (!byIndex) {
        byIndex = [];
        byKind.set(r.kind, byIndex);
      }
      let learned = byIndex[active.index];
      if (!learned) {
        learned = {
          outputTokens: this.outputLengths.predict({ kind: r.kind, segmentIndex: active.index }),
          futureSegments: this.jobLengths.futureSegments(r.kind, active.index),
        };
        byIndex[active.index] = learned;
      }
      return { outputTokens: Math.min(active.spec.maxTokens, active.spec.hintedOutputTokens ?? learned.outputTokens), futureSegments: learned.futureSegments };
    };
  }

  private hasRunnable(): boolean {
    for (const r of this.jobs.values()) if (r.wantsToRun) return true;
    return false;
  }

  /**
   * @internal The control plane's decision for the next step, as the step loop makes it before
   * each step: the policy's second look at the KV of jobs waiting on tools, then the step plan
   * (policy order, token budget, allocations, preemptions). It commits what it decides to the
   * block manager. Public only for bench/micro/scheduler.ts, which times it on a frozen engine.
   */
  _planStep(): { runnable: JobRecord[]; decision: StepDecision } {
    this.revisitToolWaits();
    const runnable: JobRecord[] = [];
    const paused: JobRecord[] = [];
    for (const r of this.jobs.values()) {
      if (r.wantsToRun) runnable.push(r);
      else if (r.state.state === 'tool_wait') paused.push(r);
    }
    const decision = planStep(runnable, paused, this.blocks, this.policy, this.limits, this.clock.now(), (holders) => this.pickReclaim(holders), this.expectations());
    return { runnable, decision };
  }

  private async runLoop(): Promise<void> {
    while (this.hasRunnable()) {
      const started = performance.now();
      const { runnable, decision } = this._planStep();
      const progress = decision.runs.length + decision.prefetched.length > 0;
      // Copies still owed (swap-outs in flight hold device blocks; a failed plan may have
      // preempted to swap) run even in a step that computes nothing: they may free the room.
      const copies =
        !this.lastStepFailed &&
        this.pendingSwapOut.length + this.pendingCopies.length + decision.swapIn.length + this.blocks.inFlightBlocks > 0 ||
        [...decision.preempted, ...decision.reclaimed].some((p) => p.swapOut.length > 0);
      if (progress || copies) await this.runStep(decision);
      if (!progress && !copies) {
        // The most urgent job does not fit even with everything below it preempted.
        const blocked = decision.blocked ?? runnable[0];
        this.failSegment(blocked, new EngineError('OUT_OF_BLOCKS', `job ${blocked.id} cannot get KV blocks even with every other job's taken back`));
        continue;
      }
      this.counters.loopS += (performance.now() - started) / 1000;
    }
  }

  private failSegment(record: JobRecord, error: Error): void {
    const active = record.active;
    record.active = null;
    if (!['finished', 'cancelled'].includes(record.state.state)) record.state.cancel();
    this.releaseKv(record);
    active?.handle.error(error);
  }

  private async runStep(decision: StepDecision): Promise<void> {
    for (const p of decision.preempted) {
      // A job can hold device blocks without running (swapped in by a step that then ran out of
      // room for it); taking them back is a preemption only for a running one.
      if (p.record.state.state === 'running') p.record.state.preempted(p.kv);
      this.counters.preemptions++;
      this.logKv(p.record, p.kv === 'swapped' ? 'swap' : 'discard', 'preempted', p.swapOut.length);
    }
    for (const s of decision.swappedIn) this.logKv(s.record, 'swap_in', 'resume', s.blocks);
    for (const r of decision.reclaimed) {
      this.counters.reclaims++;
      this.logKv(r.record, r.kv === 'swapped' ? 'swap' : 'discard', 'reclaimed', r.swapOut.length);
      r.record.state.setKv(r.kv === 'swapped' ? 'swapping_out' : 'discarded');
      if (r.kv === 'swapped') r.record.state.setKv('swapped');
    }
    const swapOut = [
      ...this.pendingSwapOut.splice(0),
      ...decision.preempted.flatMap((p) => p.swapOut),
      ...decision.reclaimed.flatMap((r) => r.swapOut),
    ];
    for (const run of decision.runs) if (run.record.state.state !== 'running') run.record.state.scheduled();
    for (const r of decision.prefetched) if (r.state.kv === 'swapped') r.state.setKv('swapping_in');
    this.counters.swapOutBlocks += swapOut.length;
    this.counters.swapInBlocks += decision.swapIn.length;
    const copy = this.pendingCopies.splice(0);
    const step = {
      copy,
      sequences: decision.runs.map(({ record, start, count }) => ({
        tokens: record.tokens.slice(start, start + count),
        startPosition: start,
        blocks: [...this.blocks.table(record.id)], // a copy: the live table changes as the next step is planned
        sampling: record.active!.spec.sampling,
      })),
      swapOut,
      swapIn: decision.swapIn,
    };
    let result;
    try {
      result = await this.backend.step(step);
    } catch (error) {
      // A failed step ran nothing (the plan is checked first): its copies go with the next step,
      // whose plan runs them before anything can overwrite their source; the sequences fail.
      this.pendingSwapOut.unshift(...swapOut);
      this.pendingCopies.unshift(...copy);
      this.lastStepFailed = true; // a copy-only step is not retried on its own
      for (const run of decision.runs) this.failSegment(run.record, error as Error);
      return;
    }
    this.lastStepFailed = false;
    // This step's copies are done: blocks of deferred swap-outs can be reused, forks' copied
    // blocks are their own, and jobs swapped in ahead of running have their KV on the device.
    this.blocks.settleSwaps();
    for (const pair of copy) this.blocks.copyDone(pair);
    for (const r of decision.prefetched) if (r.state.kv === 'swapping_in') r.state.setKv('resident');
    this.counters.overlappedSwapBlocks += result.overlappedSwapBlocks;
    this.counters.blockingSwapS += result.blockingSwapS;
    this.counters.steps++;
    this.counters.nativeS += result.elapsedS;
    const stepTokens = decision.runs.reduce((sum, r) => sum + r.count, 0);
    const decodeRuns = decision.runs.filter((r) => r.count === 1).length;
    this.costs.observe(stepTokens - decodeRuns, decodeRuns, result.elapsedS - result.blockingSwapS); // compute only: a copy stalls, it is not work
    this.attributeKvRecovery(decision, result);
    decision.runs.forEach(({ record, start, count }, i) => {
      if (!record.active || record.closed) return; // cancelled while the step ran
      record.computedTokens = start + count;
      record.computedHighWater = Math.max(record.computedHighWater, record.computedTokens);
      this.blocks.markComputed(record.id, record.tokens, record.computedTokens);
      if (record.computedTokens < record.tokens.length) {
        record.state.prefillComputed(count);
        this.counters.prefillTokens += count;
        return; // a prefill chunk: the sampled token is not the next one yet
      }
      if (count > 1) {
        record.state.prefillComputed(count - 1);
        this.counters.prefillTokens += count - 1;
      }
      this.counters.decodeTokens++;
      const token = result.tokens[i];
      record.tokens.push(token);
      record.state.tokenGenerated();
      const reason = record.active.accept(token);
      if (reason) this.endSegment(record, reason);
    });
  }

  /**
   * Charges each job's KV recovery in this step (JobMetrics.kvRecoveryS): the share of the
   * step's compute its recomputed tokens took (by token count), and the blocking copy time when
   * its own swap-in held up the step.
   */
  private attributeKvRecovery(decision: StepDecision, result: BackendStepResult): void {
    const computeS = result.elapsedS - result.blockingSwapS;
    const stepTokens = decision.runs.reduce((sum, r) => sum + r.count, 0);
    // Jobs swapped in by this step and run in it (a prefetched one waited a step before, queued).
    const prefetched = new Set(decision.prefetched);
    const blockedBySwapIn = new Set(decision.swappedIn.map((s) => s.record).filter((r) => !prefetched.has(r)));
    for (const { record, start, count } of decision.runs) {
      if (!record.active || record.closed || record.state.state !== 'running') continue;
      const recomputed = Math.max(0, Math.min(start + count, record.computedHighWater) - start);
      let seconds = stepTokens > 0 ? (computeS * recomputed) / stepTokens : 0;
      if (blockedBySwapIn.has(record)) seconds += result.blockingSwapS;
      if (seconds > 0) record.state.kvRecovered(seconds);
    }
  }

  private endSegment(record: JobRecord, reason: FinishReason): void {
    const active = record.active!;
    const timing = record.state.segments[record.state.segments.length - 1];
    // The prompt's last token runs in the step that samples the first output token; every other
    // prompt token was either computed as prefill in this segment or came from the cache.
    active.cachedPromptTokens = Math.max(0, active.spec.promptTokens - timing.prefillTokensComputed - 1);
    const result = active.result(reason);
    record.active = null;
    record.lastResult = result;
    // A job kept open after a plain reply waits for the person's next turn like a tool call.
    const tool = result.finishReason === 'tool_call' ? (result.toolCalls[0]?.function.name ?? 'tool') : active.spec.keepOpen ? USER_TURN : null;
    this.outputLengths.observe(record.kind, active.index, result.tokens.length);
    this.policy.onSegmentEnd?.(
      {
        jobId: record.id,
        groupId: record.group.id,
        kind: record.kind,
        segmentIndex: active.index,
        reason: result.finishReason === 'tool_call' ? 'tool_call' : result.finishReason === 'length' ? 'length' : 'stop',
        generatedTokens: result.tokens.length,
        computedPromptTokens: timing.prefillTokensComputed,
        tool,
      },
      this.clock.now(),
    );
    if (tool !== null) {
      record.state.endSegment('tool_call', { name: tool }); // (the caller still sees its own finish reason)
      this.pauseForTool(record, tool, active.spec.expectedToolS);
    } else {
      record.state.endSegment(result.finishReason === 'length' ? 'length' : 'stop');
      this.jobLengths.observe(record.kind, active.index + 1);
      this.releaseKv(record);
    }
    active.handle.finish(result);
  }

  private logKv(record: JobRecord, action: KvDecision['action'], cause: KvDecision['cause'], blocks: number): void {
    record.kvDecisions.push({ segmentIndex: record.segmentsStarted - 1, action, cause, atS: this.clock.now(), bytes: blocks * this.blockBytes });
  }

  /** Per job and per segment KV accounting (see EngineStats.jobAccounts). */
  private account(record: JobRecord): JobAccount {
    const segments: SegmentAccount[] = record.state.segments.map((timing, index) => ({
      index,
      decisions: [],
      swapOutBytes: 0,
      swapInBytes: 0,
      recomputedPrefillTokens: Math.max(0, timing.prefillTokensComputed - timing.inputTokens),
    }));
    for (const d of record.kvDecisions) {
      const s = segments[d.segmentIndex];
      if (!s) continue;
      s.decisions.push(d);
      if (d.action === 'swap') s.swapOutBytes += d.bytes;
      if (d.action === 'swap_in') s.swapInBytes += d.bytes;
    }
    const sum = (k: 'swapOutBytes' | 'swapInBytes' | 'recomputedPrefillTokens') => segments.reduce((a, s) => a + s[k], 0);
    return {
      id: record.id,
      kind: record.kind,
      state: record.state.state,
      segments,
      swapOutBytes: sum('swapOutBytes'),
      swapInBytes: sum('swapInBytes'),
      recomputedPrefillTokens: sum('recomputedPrefillTokens'),
    };
  }

  /**
   * The preserved job whose KV the planner takes back first (the policy's choice, else the
   * largest), and whether it is swapped (the policy's choice, else yes).
   */
  private pickReclaim(holders: readonly JobRecord[]): { record: JobRecord; swap: boolean } {
    const now = this.clock.now();
    let record: JobRecord | undefined;
    if (this.policy.reclaimOrder) {
      const first = this.policy.reclaimOrder(holders.map((r) => this.waitingView(r, now)), now)[0];
      record = holders.find((r) => r.id === first);
    }
    record ??= holders.reduce((a, b) => (this.blocks.table(b.id).length > this.blocks.table(a.id).length ? b : a));
    const action = this.policy.reclaimAction?.(this.waitingView(record, now), now) ?? 'swap';
    return { record, swap: action === 'swap' };
  }

  /** Lets the policy move the KV of jobs that wait on tools with it still on the device. */
  private revisitToolWaits(): void {
    if (!this.policy.revisitToolWaits) return;
    const now = this.clock.now();
    const waiting: JobRecord[] = [];
    for (const r of this.jobs.values()) if (r.placement === 'device' && r.state.state === 'tool_wait') waiting.push(r);
    if (waiting.length === 0) return;
    const views = waiting.map((r) => this.waitingView(r, now));
    const decisions = this.policy.revisitToolWaits(views, now);
    for (const r of waiting) {
      const action = decisions.get(r.id);
      if (action) this.moveToolWaitKv(r, action);
    }
  }

  private waitingView(r: JobRecord, now: number): WaitingJobView {
    const tool = r.state.segments[r.state.segments.length - 1]?.tool;
    return {
      jobId: r.id,
      groupId: r.group.id,
      kind: r.kind,
      contextTokens: r.tokens.length,
      tool: tool?.name ?? 'tool',
      expectedToolS: r.toolHintS,
      waitedS: now - (tool?.startedAt ?? now),
      kv: r.placement,
    };
  }

  /** The policy decides where the job's KV waits for the tool. */
  private pauseForTool(record: JobRecord, tool: string, expectedToolS: number | undefined): void {
    record.toolHintS = expectedToolS;
    const view = { jobId: record.id, groupId: record.group.id, kind: record.kind, contextTokens: record.tokens.length, tool, expectedToolS };
    const action = this.policy.onToolWait(view, this.clock.now());
    if (action === 'preserve') {
      this.kvActions.preserve++;
      this.logKv(record, 'preserve', 'tool_wait', 0);
      return;
    }
    this.moveToolWaitKv(record, action);
  }

  /** Swaps a waiting job's device KV to the host pool, or releases it to the prefix cache. */
  private moveToolWaitKv(record: JobRecord, action: 'release' | 'swap' | 'discard'): void {
    if (action === 'swap' && this.blocks.canSwapOut(record.id)) {
      this.kvActions.swap++;
      // The device blocks stay held until the step carrying the copy completes, so the copy
      // never stalls that step.
      const pairs = this.blocks.swapOut(record.id, { deferRelease: true });
      this.logKv(record, 'swap', 'tool_wait', pairs.length);
      this.pendingSwapOut.push(...pairs);
      record.placement = 'host';
      record.state.setKv('swapping_out');
      record.state.setKv('swapped'); // executed with the next step, before any block is reused
      return;
    }
    // 'release' keeps the full blocks in the prefix cache; so does 'discard' (and a swap that found
    // no room in the host pool): either way the job recomputes what was evicted meanwhile.
    const kind = action === 'release' ? 'release' : 'discard';
    this.kvActions[kind]++;
    this.logKv(record, kind, 'tool_wait', 0);
    this.releaseKv(record);
    record.state.setKv('discarded');
  }
}
