/** The public types of the engine's Node API. */
import type { ChatMessage } from '../model/tokenizer.js';
import type { SampledLogprobs, SamplingOptions } from '../step.js';
import type { ActivationsOption, KvDtypeOption, WeightDtypeOption } from '../native/types.js';
import type { ToolCall } from '../agent/tool-calls.js';
import type { TokenConstraint } from '../constrain/constraint.js';
import type { JobMetrics } from '../agent/job-state.js';
import type { Clock } from '../agent/clock.js';
import type { Policy } from '../sched/policy.js';
import type { BlockManagerStats } from '../kv/block-manager.js';
import type { CachePriority, RetainRange } from './job-hints.js';

export type { PolicyName } from '../sched/registry.js';
export type { CachePriority, RetainRange } from './job-hints.js';
import type { PolicyName } from '../sched/registry.js';
import type { WorkloadScale } from '../workload/generators/types.js';
import type { KvEventsSink } from '../kv-events/sink.js';

export interface EngineOptions {
  /** A Hugging Face model directory, or a preset ('tiny', 'small'). */
  model: string;
  dummy?: boolean;
  seed?: number;
  dtype?: WeightDtypeOption;
  /** What the CPU's matrices multiply: 'auto' (default), 'f32' or, under BF16 weights, 'bf16' (ActivationsOption). */
  activations?: ActivationsOption;
  threads?: number;
  /**
   * The KV cache's element type: 'auto' (default) is BF16 under 16- or 8-bit weights and on the
   * GPU, F32 under F32 weights; 'bf16' holds twice the tokens per byte of 'f32'.
   */
  kvDtype?: KvDtypeOption;
  /** Scheduling policy: a name (default 'fcfs') or an object implementing lib/sched/policy.ts. */
  policy?: PolicyName | Policy;
  /**
   * Options of a named policy, over the engine's defaults (for ablations). Every key and value is
   * checked against lib/sched/policy-options.ts: a wrong one is an EngineError naming the choices.
   */
  policyOptions?: Record<string, unknown>;
  /**
   * The scale of the workload this engine serves, against the full-scale system the policies'
   * constants were published for (a CPU bench runs agents at tokens ×0.006, time ×0.02): the
   * baselines' fixed seconds and token reserves are multiplied by it, so ThunderAgent checks
   * memory every 5 s of the modeled system, not every 5 s of a run that lasts 30. Default 1, 1.
   */
  workloadScale?: WorkloadScale;
  /** Device KV blocks (default 1024). */
  kvBlocks?: number;
  /** Host swap blocks (default: as many as kvBlocks). */
  hostBlocks?: number;
  /** Tokens per KV block (default 16). */
  blockSize?: number;
  /** Tokens one step may run, prefill chunks and decode tokens together (default 512). */
  maxBatchTokens?: number;
  /** Sequences one step may run (default 64). */
  maxBatchSequences?: number;
  /** Automatic prefix caching (default true). */
  prefixCaching?: boolean;
  /**
   * Swap a returning job's KV in one step ahead of running it, so the copy overlaps that step's
   * compute (default true). false: swap in and run in the same step, the copy first.
   */
  prefetchSwapIns?: boolean;
  /** Time source, for tests (default: the system clock). */
  clock?: Clock;
  /**
   * Publish the prefix cache's content as vLLM's KV events (lib/kv-events: `openKvEvents` for a
   * ZeroMQ PUB socket). The engine attaches it to its block manager and closes it when it closes.
   */
  kvEvents?: KvEventsSink;
}

export interface JobOptions {
  /** Unique among the engine's open jobs; generated when absent. */
  id?: string;
  /** The kind of agent job (e.g. 'airline'); policies may learn per kind. */
  kind?: string;
  /**
   * vLLM's `cache_salt`: the job's prefix-cache blocks are keyed under this salt, so they are hits
   * only for jobs with the same salt (one per tenant closes the prefix cache's timing side
   * channel between tenants). Absent: the shared, unsalted cache.
   */
  cacheSalt?: string;
  /**
   * The group the job belongs to: jobs of one group are scheduled as one job's fan-out (lib/engine/
   * job-group.ts). Default: the parent's group for a fork, else a group of its own (named by its id).
   */
  group?: string;
  /**
   * An open job to fork: the new job's first segment shares that job's computed KV for the common
   * prefix of their contexts, copy-on-write (full blocks shared, the partial last block copied),
   * and joins its group. Subagents and parallel calls that extend one conversation. If the parent
   * has no KV on the device by then, the new job starts as any other (the prefix cache may still
   * serve its full blocks).
   */
  forkOf?: string;
  /**
   * What the job did before it reached this engine: a call moved here from another replica by a
   * router, or a conversation resumed after its job was closed. The policies rank it as the job it
   * is — `segments` already run (so this job's first segment is its segment `segments`, and the
   * per-kind predictors of output and job length read it there) and begun `ageS` seconds ago (its
   * arrival for the ranking) — rather than as a new job. Metrics still count from its creation
   * here. Default: none (a new job).
   */
  history?: JobHistory;
}

/** JobOptions.history: the part of a job run elsewhere. */
export interface JobHistory {
  /** Segments (LLM calls) the job ran before this engine's first. Integer >= 0. */
  segments: number;
  /** Seconds since the job began. Finite, >= 0; default 0. */
  ageS?: number;
}

export interface GenerateOptions {
  /** Chat messages, rendered with the model's chat template; or raw token ids. */
  messages?: ChatMessage[];
  tokens?: number[];
  /** Tools offered to the model (OpenAI function shape), rendered by the chat template. */
  tools?: object[];
  /** Most tokens to generate in this segment (default 256). */
  maxTokens?: number;
  /** Stop strings: generation ends when one appears (it is not included in the text). */
  stop?: string[];
  sampling?: SamplingOptions;
  /**
   * Constrained decoding (lib/constrain): each step draws only the ids the constraint allows
   * (end of sequence only once its output is complete), and it follows every token generated.
   * The engine owns it from a successful call on: it is disposed when the segment ends. Not
   * with ignoreEos. A segment that reaches maxTokens first ends with finish reason 'length'.
   */
  constraint?: TokenConstraint;
  /** Do not stop at end-of-sequence tokens (benchmarks force segment lengths). */
  ignoreEos?: boolean;
  /**
   * For benchmarks: the segment ends in a tool call when maxTokens is reached (the workload says
   * a tool call ends it, whatever the random model emits).
   */
  endsWithToolCall?: boolean;
  /**
   * With endsWithToolCall: the tool that forced call names (default 'tool'). The engine files the
   * pause under it, and a resume's `tool` is timed under the name it gives: a workload that names
   * its tools here and on resume lets the tool-time predictor learn what the policies ask it.
   */
  toolName?: string;
  /** Aborts the segment (finish reason 'cancelled'). */
  signal?: AbortSignal;
  /**
   * A segment that ends without a tool call leaves the job open, waiting for the next turn as
   * on a tool named 'user' (a chat: the person answers): the policy decides its KV as for any
   * tool wait, and `resume` continues it. Default false: such a segment ends the job.
   */
  keepOpen?: boolean;
  /**
   * The client's estimate of this segment's output length (a workload replay passes the true
   * one: the paper's oracle). Absent: the engine predicts it from the lengths it has seen for this
   * job kind and segment index.
   */
  expectedOutputTokens?: number;
  /**
   * The client's estimate, in seconds, of the tool call that will end this segment. Absent: the
   * engine predicts it from that tool's observed durations.
   */
  expectedToolS?: number;
  /**
   * Hint: this segment's priority, higher sooner (Dynamo's `nvext.agent_hints.priority`; vLLM's
   * request `priority` is its negation); 0 (default) is neutral. Soft: the policy sees it on the
   * candidate (SchedulingCandidate.priority) and may weigh it or ignore it.
   */
  priority?: number;
  /**
   * Hint: the segments the job will run after this one (SchedulingCandidate.expectedFutureSegments).
   * Absent: learned per job kind.
   */
  expectedFutureSegments?: number;
  /**
   * Hint (vLLM `kv.retain`): token ranges of the context to keep, each with a priority and a
   * duration. While one is in force the policy sees the job as retained during its tool waits
   * (PausedJobView.retainPriority), and when a segment ends its blocks in the ranges are evicted
   * from the prefix cache after lower-priority ones. Replaces the job's earlier ranges; absent,
   * those stay until they lapse.
   */
  retain?: RetainRange[];
  /**
   * Hint (vLLM `vllm.set_priority`): when this segment ends (not when cancelled), its cached blocks
   * are evicted after lower-priority ones for `ttlS` seconds.
   */
  cachePriority?: CachePriority;
}

export interface ResumeOptions extends Omit<GenerateOptions, 'messages' | 'tokens'> {
  /** The tool's result, appended as a `tool` message (chat jobs). */
  toolResult?: string;
  /**
   * Instead of `toolResult`: the whole conversation so far, as a client that resends its history
   * (the OpenAI API) has it. Rendered with `tools`; what it adds after the job's context is the
   * new input (if it does not extend the context, the context is replaced and the prefix cache
   * spares the common part).
   */
  messages?: ChatMessage[];
  /** Which tool ran (for its timing statistics). */
  tool?: string;
  toolCallId?: string;
  /** Raw tokens to append instead of a tool message (token jobs). */
  tokens?: number[];
}

export type FinishReason = 'stop' | 'length' | 'tool_call' | 'cancelled';

export interface TokenEvent {
  type: 'token';
  token: number;
  /** Text this token completes (may be empty while a multi-byte character is incomplete). */
  text: string;
  /** With SamplingOptions.logprobs: the token's log-probability and the top alternatives'. */
  logprobs?: SampledLogprobs;
}

export interface SegmentResult {
  finishReason: FinishReason;
  tokens: number[];
  /** Decoded text of the generated tokens (empty without a tokenizer). */
  text: string;
  /** The text without tool calls (null when only tool calls were generated). */
  content: string | null;
  toolCalls: ToolCall[];
  /** With SamplingOptions.logprobs: one entry per generated token, in order (none on the simulator, which has no logits). */
  logprobs?: SampledLogprobs[];
  usage: { promptTokens: number; cachedPromptTokens: number; completionTokens: number };
}

export interface EngineStats {
  steps: number;
  /** Jobs by state; `groups`: open groups (a job alone is a group of one). */
  jobs: { open: number; running: number; waiting: number; toolWait: number; groups: number };
  /** Jobs forked from another (JobOptions.forkOf), and the KV they shared instead of computing. */
  forks: { jobs: number; sharedTokens: number; copiedBlocks: number };
  /** The block manager's pools and prefix cache (in-flight swap-out blocks count as owned). */
  kv: BlockManagerStats;
  tokens: { prefill: number; decode: number };
  preemptions: number;
  /** Times the preserved KV of a job waiting on a tool was taken back for jobs that could run. */
  reclaimedToolWaits: number;
  /** What the policy chose for each job that paused on a tool call (and later revisions). */
  kvActions: { release: number; preserve: number; swap: number; discard: number };
  /** Bytes moved between the pools, and prompt tokens computed again after their KV was lost. */
  kvTraffic: {
    swapOutBytes: number;
    swapInBytes: number;
    recomputedPrefillTokens: number;
    /** Of the bytes swapped, those copied beside a step's compute rather than before it. */
    overlappedSwapBytes: number;
    /**
     * Of the bytes swapped out, those written into host blocks that a swap-in of the same step
     * read first (an exchange: the room the job swapped in gave up on the host).
     */
    exchangedBytes: number;
    /** Seconds steps waited on copies their own sequences needed. */
    blockingSwapS: number;
  };
  /**
   * Wall time of the step loop (planning, the native step, handing out tokens) and of the native
   * steps alone: their difference is what the control plane costs.
   */
  time: { loopS: number; nativeS: number };
  /** Open jobs per queue level (index 0 = most urgent), for multi-level policies; else absent. */
  queueLevels?: number[];
  /**
   * Per job and per segment: every KV decision with the bytes it moved, and the prompt tokens
   * recomputed. Only with `stats({ jobs: true })`: open jobs, then up to the last 1024 closed.
   */
  jobAccounts?: JobAccount[];
}

/** One decision about a job's KV, and the bytes it moved. */
export interface KvDecision {
  segmentIndex: number;
  /** 'swap_in' brings swapped KV back; the others say where KV went (or that it stayed). */
  action: 'release' | 'preserve' | 'swap' | 'discard' | 'swap_in';
  /**
   * Why: the job paused on a tool (the policy's choice, or its later revision), its running
   * segment was preempted, its preserved KV was taken back for a job that could run, or it is
   * about to run again ('resume', for swap_in).
   */
  cause: 'tool_wait' | 'preempted' | 'reclaimed' | 'resume' | 'prefetch';
  atS: number;
  /** Bytes copied between the pools, else 0. */
  bytes: number;
}

/** What happened to one segment's KV, and what it cost. */
export interface SegmentAccount {
  index: number;
  decisions: KvDecision[];
  swapOutBytes: number;
  swapInBytes: number;
  /** Prompt tokens computed again because their KV had been discarded or evicted. */
  recomputedPrefillTokens: number;
}

/** One job's KV accounting, per segment and in total (EngineStats.jobAccounts). */
export interface JobAccount {
  id: string;
  kind: string;
  state: string;
  segments: SegmentAccount[];
  swapOutBytes: number;
  swapInBytes: number;
  recomputedPrefillTokens: number;
}

export type { JobMetrics };
