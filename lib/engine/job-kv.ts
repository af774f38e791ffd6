/**
 * Every move of a job's KV that the step planner does not make: released to the prefix cache,
 * forked copy-on-write into a new job, and — while the job waits on a tool — kept, swapped or
 * discarded as the policy says, when it pauses and again before each step. Where a job's KV is
 * stays the block manager's one record; this module calls it, tells the job's state machine what
 * happened (for its accounting), and books each move. The copies it starts run with the next step.
 */
import type { Clock } from '../agent/clock.js';
import type { BlockManager } from '../kv/block-manager.js';
import type { PausedJobView, Policy, WaitingJobView } from '../sched/policy.js';
import { reclaimChoice } from '../sched/reclaim.js';
import type { BlockPair } from '../step.js';
import type { EngineAccounts } from './engine-accounts.js';
import { retainPriority } from './job-hints.js';
import type { JobRecord } from './job-record.js';

export class JobKv {
  /** Swap-outs of jobs pausing on tools, run beside the next step's compute. */
  readonly pendingSwapOut: BlockPair[] = [];
  /** Forks' copies of a partial block, run before the next step's compute. */
  readonly pendingCopies: BlockPair[] = [];
  /** Swap-ins of jobs still waiting on tools (the policy's prefetch), run beside the next step. */
  readonly pendingSwapIn: BlockPair[] = [];
  /** The jobs those swap-ins bring back: their KV is resident once the step completes. */
  readonly prefetched: JobRecord[] = [];

  constructor(
    private readonly blocks: BlockManager,
    private readonly policy: Policy,
    private readonly clock: Clock,
    private readonly accounts: EngineAccounts,
  ) {}

  /** Frees the job's blocks (full ones stay in the prefix cache until evicted). */
  release(record: JobRecord): void {
    if (record.placement !== 'none') this.blocks.free(record.id);
  }

  /**
   * A fork's first segment takes its parent's computed KV for their common prefix, copy-on-write
   * (BlockManager.fork), when the parent still has it on the device.
   */
  fork(record: JobRecord): void {
    const parent = record.forkOf!;
    record.forkOf = null;
    this.accounts.forks.jobs++;
    record.group.forks++;
    if (parent.closed || parent.placement !== 'device' || record.placement !== 'none') return;
    const context = record.tokens;
    // The last token of the context is always computed (its logits are sampled).
    const limit = Math.min(parent.computedTokens, context.length - 1);
    let common = 0;
    while (common < limit && context[common] === parent.tokens[common]) common++;
    const forked = this.blocks.fork(parent.id, record.id, common);
    if (forked === null) return;
    this.accounts.forks.sharedTokens += common;
    if (forked.copy !== null) {
      this.pendingCopies.push(forked.copy);
      this.accounts.forks.copiedBlocks++;
    }
  }

  /** The policy decides where the job's KV waits for the tool it called. */
  pauseForTool(record: JobRecord, tool: string, expectedToolS: number | undefined): void {
    record.toolHintS = expectedToolS;
    const now = this.clock.now();
    const view: PausedJobView = { jobId: record.id, groupId: record.group.id, kind: record.kind, contextTokens: record.tokens.length, tool, expectedToolS };
    const retained = retainPriority(record.hints, now);
    if (retained !== undefined) view.retainPriority = retained;
    const action = this.policy.onToolWait(view, now);
    if (action === 'preserve') {
      this.accounts.kvActions.preserve++;
      this.accounts.logKv(record, 'preserve', 'tool_wait', 0);
      return;
    }
    this.move(record, action);
  }

  /** Lets the policy move the KV of jobs that wait on tools with it still on the device. */
  revisitToolWaits(jobs: Iterable<JobRecord>): void {
    if (!this.policy.revisitToolWaits) return;
    const now = this.clock.now();
    const waiting: JobRecord[] = [];
    for (const r of jobs) if (r.state.state === 'tool_wait' && r.placement === 'device') waiting.push(r);
    if (waiting.length === 0) return;
    const decisions = this.policy.revisitToolWaits(
      waiting.map((r) => this.waitingView(r, now)),
      now,
    );
    for (const r of waiting) {
      const action = decisions.get(r.id);
      if (action) this.move(r, action);
    }
  }

  /**
   * After the plan: swaps back in the KV of the jobs waiting on tools that the policy wants back
   * before their tools return, while the device has room without taking any job's blocks. The
   * host blocks stay held until the copy has run, so no swap-out of the same step can land on them.
   */
  prefetchToolWaits(jobs: Iterable<JobRecord>): void {
    if (!this.policy.prefetchToolWaits) return;
    const now = this.clock.now();
    const onHost: JobRecord[] = [];
    // (Not a job whose KV this very plan took back: its swap-out is not begun yet, kv still 'resident'.)
    for (const r of jobs) if (r.state.state === 'tool_wait' && r.placement === 'host' && r.state.kv === 'swapped') onHost.push(r);
    if (onHost.length === 0) return;
    const wanted = this.policy.prefetchToolWaits(
      onHost.map((r) => this.waitingView(r, now)),
      now,
    );
    const byId = new Map(onHost.map((r) => [r.id, r]));
    for (const id of wanted) {
      const r = byId.get(id);
      if (r === undefined || r.placement !== 'host' || !this.blocks.canSwapIn(r.id)) continue;
      const pairs = this.blocks.swapIn(r.id, { deferRelease: true });
      this.pendingSwapIn.push(...pairs);
      this.prefetched.push(r);
      this.accounts.logKv(r, 'swap_in', 'prefetch', pairs.length);
      r.state.setKv('swapping_in');
    }
  }

  /** The step carrying the prefetches completed: those jobs' KV is on the device. */
  prefetchesLanded(): void {
    for (const r of this.prefetched.splice(0)) if (r.state.kv === 'swapping_in') r.state.setKv('resident');
  }

  /**
   * The preserved job whose KV the planner takes back first, and whether it is swapped: the
   * policy's choice, or the default rule (lib/sched/reclaim.ts).
   */
  reclaimChoice(holders: readonly JobRecord[]): { record: JobRecord; swap: boolean } {
    const now = this.clock.now();
    const choice = reclaimChoice(this.policy, holders.map((r) => this.waitingView(r, now)), now);
    return { record: holders.find((r) => r.id === choice.jobId)!, swap: choice.swap };
  }

  private waitingView(r: JobRecord, now: number): WaitingJobView {
    const tool = r.state.segments[r.state.segments.length - 1]?.tool;
    const kv = r.placement;
    const retained = retainPriority(r.hints, now);
    return {
      ...(retained === undefined ? {} : { retainPriority: retained }),
      jobId: r.id,
      groupId: r.group.id,
      kind: r.kind,
      contextTokens: r.tokens.length,
      tool: tool?.name ?? 'tool',
      expectedToolS: r.toolHintS,
      waitedS: now - (tool?.startedAt ?? now),
      kv,
      deviceBlocks: kv === 'device' ? this.blocks.table(r.id).length : 0,
    };
  }

  /** Swaps a waiting job's device KV to the host pool, or releases it to the prefix cache. */
  private move(record: JobRecord, action: 'release' | 'swap' | 'discard'): void {
    if (action === 'swap' && this.blocks.canSwapOut(record.id)) {
      this.accounts.kvActions.swap++;
      // The device blocks stay held until the step carrying the copy completes, so the copy
      // never stalls that step; it runs before any of them is reused.
      const pairs = this.blocks.swapOut(record.id, { deferRelease: true });
      this.accounts.logKv(record, 'swap', 'tool_wait', pairs.length);
      this.pendingSwapOut.push(...pairs);
      record.state.swappedOut();
      return;
    }
    // 'release' keeps the full blocks in the prefix cache; so does 'discard' (and a swap that found
    // no room in the host pool): either way the job recomputes what was evicted meanwhile.
    const kind = action === 'release' ? 'release' : 'discard';
    this.accounts.kvActions[kind]++;
    this.accounts.logKv(record, kind, 'tool_wait', 0);
    this.release(record);
    record.state.setKv('discarded');
  }
}
