/**
 * `infercept`: InferCept (Abhyankar et al., "InferCept: Efficient Intercept Support for
 * Augmented Large Language Model Inference", ICML'24). See DESIGN.md (Policies).
 *
 * What it keeps:
 * - Original-arrival ordering: a job that resumes after a tool call keeps its original arrival
 *   time (jobArrivalS), so it does not queue behind requests that arrived during the call.
 *   Running candidates are ranked first (never displaced by a waiting one); ties go to job id.
 * - At every tool wait, the min-waste choice among preserve / discard / swap (the waste model of
 *   ./kv-waste.ts, reused, not duplicated). Unlike astraea-paper there is no watermark: InferCept
 *   minimises waste on every interception.
 * - The swap budget: InferCept swaps only as much KV per iteration as the iteration's compute can
 *   hide. The budget is `swapBudgetBytesPerStep`, by default the bytes one step's compute time
 *   hides: memory().swapBytesPerS × stepTimeS(). `onToolWait` is called per job, so the policy
 *   keeps a running total of the bytes it chose to swap since the last `order` call (the engine
 *   calls `order` once per step, which resets the total). A job whose swap would take the total
 *   over the budget gets the cheaper of preserve and discard instead (ties: preserve).
 *
 * Where it departs:
 * - Swap decisions are all-or-nothing per job: InferCept can swap part of a context and
 *   preserve/discard the rest; here a job's KV either fits the remaining budget whole or is not
 *   swapped. A job larger than the whole per-step budget is never swapped.
 * - The inputs InferCept profiles offline (KV bytes per token, prefill speed, copy bandwidth) come
 *   from the `memory` option; the tool duration from `toolTimeS` (InferCept uses per-tool
 *   averages; the engine can wire ToolTimePredictor.expectedDurationS).
 * - Preemption of a running sequence that cannot get memory: 'recompute' (vLLM's default, which
 *   InferCept builds on); option `preemption`.
 */
import { EngineError } from '../errors.js';
import { kvWaste, kvWasteInputs, type MemoryView } from './kv-waste.js';
import type { PausedJobView, Policy, SchedulingCandidate, ToolWaitKvAction } from './policy.js';
import { runningFirstByJobArrival } from './ordering.js';

export interface InferCeptOptions {
  /**
   * Device memory now. Default: usedFraction 0, waitingTokens 0, kvBytesPerToken 131072
   * (Llama-3-8B bf16), swapBytesPerS 25e9 (PCIe 4 x16), prefillSPerToken 0.002.
   */
  memory?: () => MemoryView;
  /** Predicted duration of a tool call, seconds. Default 1 s for every tool. */
  toolTimeS?: (tool: string, hintS?: number) => number;
  /** Compute time of one engine step, seconds, for the default swap budget. Default 0.02 s. */
  stepTimeS?: () => number;
  /**
   * Bytes of KV that may be chosen for swapping per step. Default: memory().swapBytesPerS ×
   * stepTimeS(), read at each tool wait.
   */
  swapBudgetBytesPerStep?: number;
  /** Preemption mode for a running sequence that cannot get memory. Default 'recompute'. */
  preemption?: 'recompute' | 'swap';
}

export class InferCeptPolicy implements Policy {
  readonly name = 'infercept';
  readonly preemption: 'recompute' | 'swap';
  private readonly memory: () => MemoryView;
  private readonly toolTimeS: (tool: string, hintS?: number) => number;
  private readonly stepTimeS: () => number;
  private readonly swapBudget: number | undefined;
  private swappedBytesThisStep = 0;

  constructor(options: InferCeptOptions = {}) {
    this.memory =
      options.memory ??
      (() => ({ usedFraction: 0, waitingTokens: 0, kvBytesPerToken: 131072, swapBytesPerS: 25e9, prefillSPerToken: 0.002 }));
    this.toolTimeS = options.toolTimeS ?? ((_tool, hintS) => hintS ?? 1);
    this.stepTimeS = options.stepTimeS ?? (() => 0.02);
    this.swapBudget = options.swapBudgetBytesPerStep;
    if (this.swapBudget !== undefined && !(this.swapBudget >= 0)) {
      throw new EngineError('INVALID_ARGUMENT', `swapBudgetBytesPerStep must be >= 0, got ${this.swapBudget}`);
    }
    this.preemption = options.preemption ?? 'recompute';
  }

  /** Bytes chosen for swapping since the last `order` call. */
  get swappedBytes(): number {
    return this.swappedBytesThisStep;
  }

  order(candidates: readonly SchedulingCandidate[], _nowS: number): SchedulingCandidate[] {
    this.swappedBytesThisStep = 0;
    return runningFirstByJobArrival(candidates);
  }

  onToolWait(job: PausedJobView, _nowS: number): ToolWaitKvAction {
    const memory = this.memory();
    const waste = kvWaste(kvWasteInputs(job.contextTokens, this.toolTimeS(job.tool, job.expectedToolS), memory));
    if (waste.choice !== 'swap') return waste.choice;
    const bytes = job.contextTokens * memory.kvBytesPerToken;
    const budget = this.swapBudget ?? memory.swapBytesPerS * this.stepTimeS();
    if (this.swappedBytesThisStep + bytes <= budget) {
      this.swappedBytesThisStep += bytes;
      return 'swap';
    }
    return waste.discard < waste.preserve ? 'discard' : 'preserve';
  }
}
