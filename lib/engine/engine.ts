/**
 * The engine: many concurrent agent jobs on one model. It wires the parts together and decides
 * nothing itself: the policy orders work and decides KV (lib/sched), the step planner applies the
 * order to memory (./step-planner.ts), the block manager keeps the one record of where every
 * job's KV is (lib/kv), ./job-kv.ts makes the KV moves between steps, ./engine-accounts.ts keeps
 * the books, lib/predict the predictions, and the backend runs each step (the native addon, or the
 * simulator's cost model).
 *
 * The step loop: plan a step, run it (an async worker: the event loop stays free), then hand each
 * sampled token to its segment. It runs while there is work and stops when there is none; new
 * work starts it again. (About 530 lines: the job API and the step loop share the job table and
 * the loop's state, and read best in one place; what is not that — options, hints, accounts, KV
 * moves, planning, a step's bookkeeping — already lives in its own file beside it.)
 */
import { systemClock, type Clock } from '../agent/clock.js';
import { JobStateMachine } from '../agent/job-state.js';
import { asEngineError, EngineError } from '../errors.js';
import { BlockManager } from '../kv/block-manager.js';
import type { KvEventsSink } from '../kv-events/sink.js';
import { saltRoot } from '../kv/prefix-hash.js';
import { loadModel } from '../model/load.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { TokenConstraint } from '../constrain/constraint.js';
import { Predictors } from '../predict/predictors.js';
import type { Policy } from '../sched/policy.js';
import { createPolicy } from '../sched/registry.js';
import { extended } from '../util/append.js';
import { ActiveSegment } from './active-segment.js';
import { NON_FINITE_LOGITS, type BackendModelInfo, type EngineBackend } from './backend.js';
import { EngineAccounts } from './engine-accounts.js';
import { checkForkParent, checkJobHistory, checkJobNaming, checkPolicy, checkSegmentStart, poolsAndLimits } from './engine-options.js';
import { checkSampling } from './sampling-check.js';
import { Job } from './job.js';
import { JobGroups } from './job-group.js';
import { checkSegmentHints, declareOnBlocks, noHints, segmentHints } from './job-hints.js';
import { JobKv } from './job-kv.js';
import { JobRecord } from './job-record.js';
import { memoryView } from './memory-view.js';
import { NativeBackend } from './native-backend.js';
import { Segment } from './segment.js';
import { segmentInput, type SegmentInput } from './segment-input.js';
import { beginStep, settleStep } from './step-apply.js';
import { planStep, type PlannerLimits, type StepDecision } from './step-planner.js';
import type { EngineOptions, EngineStats, FinishReason, GenerateOptions, JobOptions, ResumeOptions } from './types.js';

/** The tool a job kept open after a plain reply waits on (GenerateOptions.keepOpen). */
const USER_TURN = 'user';

export class Engine {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly groups = new JobGroups();
  private loopRunning: Promise<void> | null = null;
  private lastStepFailed = false;
  private closing = false;
  private nextJobId = 1;
  private readonly policy: Policy;
  private readonly predictors = new Predictors();
  private readonly accounts: EngineAccounts;
  private readonly kv: JobKv;
  /** Publishes the block manager's content as vLLM's KV events (EngineOptions.kvEvents), or null. */
  private kvEvents: KvEventsSink | null = null;

  private constructor(
    private readonly backend: EngineBackend,
    private readonly blocks: BlockManager,
    policy: Pick<EngineOptions, 'policy' | 'policyOptions' | 'workloadScale'>,
    private readonly clock: Clock,
    private readonly limits: PlannerLimits,
  ) {
    const memory = () => memoryView(this.jobs.values(), blocks, backend, this.predictors.costs);
    this.policy = createPolicy(policy.policy, this.predictors.policyEnvironment(memory, policy.workloadScale), policy.policyOptions);
    this.accounts = new EngineAccounts(backend.blockBytes, clock);
    this.kv = new JobKv(blocks, this.policy, clock, this.accounts);
  }

  /** An engine on the native addon: loads the model and allocates its KV pools. */
  static async create(options: EngineOptions): Promise<Engine> {
    checkPolicy(options);
    const { kvBlocks, hostBlocks, blockSize } = poolsAndLimits(options);
    const model = await loadModel({ model: options.model, dummy: options.dummy, seed: options.seed, dtype: options.dtype, activations: options.activations, threads: options.threads });
    let backend: NativeBackend;
    try {
      backend = await NativeBackend.open(model, { blockSize, deviceBlocks: kvBlocks, hostBlocks, dtype: options.kvDtype ?? 'auto' });
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
      checkPolicy(options);
      const { kvBlocks, hostBlocks, blockSize, limits } = poolsAndLimits(options);
      // The backend's cache must have been built with the same block size, or every block table
      // the engine hands it would address the wrong slots.
      if (backend.blockBytes !== blockSize * backend.info.kvBytesPerToken) {
        throw new EngineError(
          'INVALID_ARGUMENT',
          `the backend's KV blocks hold ${backend.blockBytes / backend.info.kvBytesPerToken} tokens but blockSize is ${blockSize}`,
        );
      }
      const clock = options.clock ?? systemClock;
      const blocks = new BlockManager({ deviceBlocks: kvBlocks, hostBlocks, blockSize, prefixCaching: options.prefixCaching ?? true, nowS: () => clock.now() });
      const engine = new Engine(backend, blocks, options, clock, limits);
      if (options.kvEvents !== undefined) {
        options.kvEvents.attach(blocks);
        engine.kvEvents = options.kvEvents;
      }
      return engine;
    } catch (error) {
      backend.dispose();
      throw error;
    }
  }

  /** The model's shape as the engine sees it (vocabulary, context length, KV bytes per token). */
  get modelInfo(): BackendModelInfo {
    return this.backend.info;
  }

  /** Tokens per KV block (vLLM's `block_size`). */
  get blockSize(): number {
    return this.blocks.blockSize;
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
    checkJobNaming(options);
    const root = options.cacheSalt === undefined ? null : saltRoot(options.cacheSalt);
    if (root !== null) this.kvEvents?.noteSalt(root, options.cacheSalt as string);
    const parent = options.forkOf === undefined ? null : checkForkParent(this.jobs.get(options.forkOf), options, root);
    const history = checkJobHistory(options.history);
    const state = new JobStateMachine(id, this.clock);
    // A job with a history is ranked from when it began (its group's arrival; a fork joins its parent's).
    const group = this.groups.join(parent?.group.id ?? options.group ?? id, state.arrivalTime - history.ageS);
    const record = new JobRecord(id, options.kind ?? 'default', state, this.blocks.watch(id), group, root, parent);
    record.priorSegments = history.segments;
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
    this.kv.release(record);
    this.blocks.forget(record.id);
    record.closed = true;
    this.accounts.jobClosed(record);
    this.jobs.delete(record.id);
    record.forkOf = null;
    record.hints = noHints();
    this.policy.onJobClosed?.(record.id);
    if (this.groups.leave(record)) this.policy.onGroupClosed?.(record.group.id);
  }

  /**
   * Cancels every segment in progress, queued or running (a server draining past its deadline):
   * each ends with finish reason 'cancelled' and its job is closed, freeing its KV. Returns how
   * many were cancelled. The engine stays open.
   */
  cancelAll(): number {
    let cancelled = 0;
    for (const record of [...this.jobs.values()]) {
      if (!record.active) continue;
      this.cancelSegment(record);
      cancelled++;
    }
    return cancelled;
  }

  /**
   * The fraction of device KV blocks in use, as `vllm:kv_cache_usage_perc` tells a router: blocks
   * held by jobs, less those held only by jobs waiting on tools. That KV is kept by choice and
   * given back when running jobs need room; a vLLM server would hold none of it (its request has
   * ended), so counting it made a KV-keeping replica look full and the gateway's KV-usage scorer
   * send a job's next call away from its own context (docs/scale-out.md).
   */
  get kvUsage(): number {
    const kv = this.blocks.stats();
    if (kv.deviceBlocks === 0) return 0;
    let reclaimable = 0;
    for (const r of this.jobs.values()) if (r.state.state === 'tool_wait' && r.placement === 'device') reclaimable += this.blocks.exclusiveDeviceBlocks(r.id);
    return (kv.ownedBlocks - reclaimable) / kv.deviceBlocks;
  }

  /** Segments waiting to be scheduled (as stats().jobs.waiting, without the rest of stats()). */
  get waitingCount(): number {
    let n = 0;
    for (const r of this.jobs.values()) if (r.state.state === 'waiting' || r.state.state === 'ready') n++;
    return n;
  }

  stats(options: { jobs?: boolean } = {}): EngineStats {
    return this.accounts.stats([...this.jobs.values()], this.blocks.stats(), this.groups.size, this.policy, options);
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
    await this.kvEvents?.close();
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
    const contextLength = input.replaceContext ? input.tokens.length : record.tokens.length + input.tokens.length;
    const info = this.backend.info;
    const { maxTokens, hintedOutput } = checkSegmentStart(record.id, options, contextLength, info.maxPositionEmbeddings, this.blocks);
    checkSampling(options.sampling);
    if (options.constraint && options.ignoreEos) throw new EngineError('INVALID_ARGUMENT', 'a constraint ends its output with end of sequence: it cannot be combined with ignoreEos');
    // The simulator draws its tokens without logits, so it cannot keep to a token mask.
    if (options.constraint && this.backend.kind === 'sim') throw new EngineError('UNSUPPORTED', 'constrained decoding needs a backend that samples from logits; the simulator does not');
    checkSegmentHints(record.id, options, contextLength);
    // Everything is checked: commit. (A rendered conversation that diverged from the cached
    // context replaces it; the prefix cache keeps the common part.) The context grows in place:
    // a long one is never copied per call (lib/util/append.ts says why).
    if (input.replaceContext) {
      this.kv.release(record);
      record.tokens = input.tokens;
    } else {
      record.tokens = extended(record.tokens, input.tokens);
    }
    record.hints = segmentHints(record.hints, options, this.clock.now(), contextLength);
    if (record.forkOf !== null) this.kv.fork(record);
    if (input.messages) {
      record.messages = input.messages;
      record.tools = input.tools;
    }
    const segment = new Segment(() => this.cancelSegment(record));
    const eos = new Set<number>([...(this.backend.tokenizer?.eosIds ?? []), ...info.eosTokenIds]);
    const spec = {
      maxTokens,
      stop: options.stop ?? [],
      sampling: options.sampling ?? {},
      constraint: options.constraint,
      ignoreEos: options.ignoreEos ?? false,
      endsWithToolCall: options.endsWithToolCall ?? false,
      toolName: options.toolName,
      keepOpen: options.keepOpen ?? false,
      promptTokens: contextLength,
      hintedOutputTokens: hintedOutput || undefined,
      expectedToolS: options.expectedToolS,
    };
    const index = record.segmentIndex + 1;
    record.active = new ActiveSegment(index, spec, segment, this.backend.tokenizer, eos, `${record.id}_${index}`);
    if (record.segmentsStarted === 0) {
      record.state.startSegment(input.tokens.length);
    } else {
      const tool = record.state.segments[record.state.segments.length - 1]?.tool;
      record.state.toolReturned(input.tokens.length);
      if (tool) this.predictors.toolTimes.observe((options as ResumeOptions).tool ?? tool.name, this.clock.now() - tool.startedAt);
    }
    record.segmentsStarted++;
    const constraint = options.constraint;
    if (constraint) segment.done.then(() => constraint.dispose(), () => constraint.dispose());
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

  private hasRunnable(): boolean {
    for (const r of this.jobs.values()) if (r.wantsToRun) return true;
    return false;
  }

  /**
   * @internal The control plane's decision for the next step, as the step loop makes it before
   * each step: the policy's second look at the KV of jobs waiting on tools, then the step plan
   * (policy order, token budget, allocations, preemptions). It commits what it decides to the
   * block manager. Public only for lib/micro/scheduler.ts, which times it on a frozen engine.
   */
  _planStep(): { runnable: JobRecord[]; decision: StepDecision } {
    this.kv.revisitToolWaits(this.jobs.values());
    const runnable: JobRecord[] = [];
    const paused: JobRecord[] = [];
    for (const r of this.jobs.values()) {
      if (r.wantsToRun) runnable.push(r);
      else if (r.state.state === 'tool_wait') paused.push(r);
    }
    const reclaim = (holders: readonly JobRecord[]) => this.kv.reclaimChoice(holders);
    const decision = planStep(runnable, paused, this.blocks, this.policy, this.limits, this.clock.now(), reclaim, this.predictors.expectations());
    // After the plan, so what it brings back uses only room the plan left, and no reclaim of this
    // plan can take blocks a swap-in of the same step is still writing.
    this.kv.prefetchToolWaits(paused);
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
        (!this.lastStepFailed &&
          this.kv.pendingSwapOut.length + this.kv.pendingCopies.length + this.kv.pendingSwapIn.length + decision.swapIn.length + this.blocks.inFlightBlocks > 0) ||
        [...decision.preempted, ...decision.reclaimed].some((p) => p.swapOut.length + p.toVacated.length > 0);
      if (progress || copies) await this.runStep(decision);
      if (!progress && !copies) {
        // The most urgent job does not fit even with everything below it preempted.
        const blocked = decision.blocked ?? runnable[0];
        this.failSegment(blocked, new EngineError('OUT_OF_BLOCKS', `job ${blocked.id} cannot get KV blocks even with every other job's taken back`));
        continue;
      }
      this.accounts.counters.loopS += (performance.now() - started) / 1000;
    }
  }

  private failSegment(record: JobRecord, error: Error): void {
    const active = record.active;
    record.active = null;
    if (!['finished', 'cancelled'].includes(record.state.state)) record.state.cancel();
    this.kv.release(record);
    active?.handle.error(error);
  }

  private async runStep(decision: StepDecision): Promise<void> {
    const begun = beginStep(decision, this.kv, this.blocks, this.accounts);
    let result;
    try {
      result = await this.backend.step(begun.step);
    } catch (error) {
      // A failed step ran nothing (the plan is checked first): its copies go with the next step,
      // whose plan runs them before anything can overwrite their source; the sequences fail.
      // (An exchange's swap-outs go as plain ones: the plan's swap-ins, which read their host
      // blocks first, are not run again.)
      this.kv.pendingSwapOut.unshift(...begun.swapOut, ...begun.swapOutToVacated);
      this.kv.pendingCopies.unshift(...begun.copy);
      this.kv.pendingSwapIn.unshift(...begun.prefetch);
      this.lastStepFailed = true; // a copy-only step is not retried on its own
      const failure = asEngineError(error, 'step failed'); // a bug in a backend is INTERNAL
      for (const run of decision.runs) this.failSegment(run.record, failure);
      return;
    }
    this.lastStepFailed = false;
    settleStep(decision, begun, result, this.kv, this.blocks, this.accounts, this.predictors.costs);
    const counters = this.accounts.counters;
    const following: Promise<void>[] = [];
    decision.runs.forEach(({ record, start, count }, i) => {
      if (!record.active || record.closed) return; // cancelled while the step ran
      const computed = start + count;
      if (computed >= record.tokens.length && result.tokens[i] === NON_FINITE_LOGITS) {
        // The model's logits for this sequence were NaN or infinite: nothing was drawn, and what
        // the step wrote to its cache is not worth keeping. The batch's other sequences go on.
        this.failSegment(record, new EngineError('NON_FINITE_LOGITS', `job ${record.id}: the model's logits for the next token are not finite (NaN or infinite): broken weights, or an overflow`));
        return;
      }
      record.computedHighWater = Math.max(record.computedHighWater, computed);
      this.blocks.markComputed(record.id, record.tokens, computed);
      if (computed < record.tokens.length) {
        record.state.prefillComputed(count);
        counters.prefillTokens += count;
        return; // a prefill chunk: the sampled token is not the next one yet
      }
      if (count > 1) {
        record.state.prefillComputed(count - 1);
        counters.prefillTokens += count - 1;
      }
      counters.decodeTokens++;
      const token = result.tokens[i];
      record.tokens.push(token);
      record.state.tokenGenerated();
      const constraint = record.active.spec.constraint;
      let reason: FinishReason | null;
      try {
        reason = record.active.accept(token, result.logprobs?.[i] ?? null);
      } catch (error) {
        // Following one sequence's token failed (decoding, a client's stream): it alone fails.
        this.failSegment(record, asEngineError(error, `job ${record.id}`));
        return;
      }
      if (reason) this.endSegment(record, reason);
      else if (constraint) following.push(this.followConstraint(record, constraint, token));
    });
    // The next plan reads each constraint's mask for its next token.
    if (following.length > 0) await Promise.all(following);
  }

  private async followConstraint(record: JobRecord, constraint: TokenConstraint, token: number): Promise<void> {
    let allowed: boolean;
    try {
      allowed = await constraint.accept(token);
    } catch (error) {
      if (record.active?.spec.constraint === constraint) this.failSegment(record, new EngineError('INTERNAL', `constraint: ${String(error)}`));
      return;
    }
    // Ended meanwhile (cancelled, closed): its constraint is disposed and refuses everything.
    if (!allowed && record.active?.spec.constraint === constraint) {
      this.failSegment(record, new EngineError('INTERNAL', `job ${record.id}: the backend drew id ${token}, which the segment's constraint does not allow`));
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
    const tool = result.finishReason === 'tool_call' ? (result.toolCalls[0]?.function.name ?? active.spec.toolName ?? 'tool') : active.spec.keepOpen ? USER_TURN : null;
    this.predictors.outputLengths.observe(record.kind, active.index, result.tokens.length);
    // What this segment added, since the last one here ended (a context the client replaced is no growth to learn from).
    const grown = record.contextAtSegmentEnd === null ? -1 : record.tokens.length - record.contextAtSegmentEnd;
    if (grown >= 0) this.predictors.segmentGrowth.observe(record.kind, grown);
    record.contextAtSegmentEnd = record.tokens.length;
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
    // Before its KV is kept, moved or released: its blocks carry the hints' eviction priorities.
    declareOnBlocks(record.id, record.hints, this.blocks, this.clock.now());
    if (tool !== null) {
      record.state.endSegment('tool_call', { name: tool }); // (the caller still sees its own finish reason)
      this.kv.pauseForTool(record, tool, active.spec.expectedToolS);
    } else {
      record.state.endSegment(result.finishReason === 'length' ? 'length' : 'stop');
      this.predictors.jobLengths.observe(record.kind, active.index + 1);
      this.kv.release(record);
    }
    active.handle.finish(result);
  }
}
