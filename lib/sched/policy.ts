/**
 * The scheduling policy interface. A policy never touches tensors or the addon: it reads the
 * state of the sequences that want to run and of the jobs that paused on a tool call, and decides
 * the order of admission, the preemption victims and the KV action for each paused job. The step
 * loop (lib/engine) turns those decisions into block-manager calls and a native plan.
 */

/**
 * The group a job is scheduled with: the branches of one fan-out (lib/engine/job-group.ts). The
 * engine always says; absent, a job is a group of one named by its id.
 */
export function groupOf(view: { jobId: string; groupId?: string }): string {
  return view.groupId ?? view.jobId;
}

/**
 * What the policy sees of one active segment (running, or waiting to run). For a job in a group
 * of several, the job-level figures — arrival, attained service — are the group's, so a policy
 * that ranks programs ranks the fan-out as one.
 */
export interface SchedulingCandidate {
  jobId: string;
  /** The job's group (see groupOf); keep per-program state under it. */
  groupId?: string;
  /** Kind of agent job (e.g. 'airline'), for policies that learn per kind. */
  kind: string;
  jobArrivalS: number;
  /** When this segment entered the queue (its "request arrival" for per-call policies). */
  segmentQueuedS: number;
  /** Index of this segment within its job (0 for the first prompt). */
  segmentIndex: number;
  /** Tokens of context still to prefill, and tokens generated so far in this segment. */
  pendingPrefillTokens: number;
  generatedTokens: number;
  contextTokens: number;
  running: boolean;
  /**
   * Where the job's computed KV is: on the device (running, or kept since its last segment), on
   * the host (swapped out: a swap-in brings it back), or nowhere (new, or discarded: a prefill,
   * less what the prefix cache still holds).
   */
  kv: 'device' | 'host' | 'none';
  /** Seconds the job has spent ready but not running, over all its segments. */
  accumulatedWaitS: number;
  /** Service the job has received so far, all segments: prompt tokens computed + tokens generated. */
  attainedTokens: number;
  /** Predicted output length of this segment (a client hint, or learned per kind and index). */
  expectedOutputTokens: number;
  /** Segments the job is expected to run after this one (learned per kind; 0 when unknown). */
  expectedFutureSegments: number;
  /**
   * Tokens the job's next segment is expected to add to its context (its tool result and
   * output, learned per kind), times the segments expected after this one up to 1: what the job
   * will hold when it comes back from its next tool call. Absent: 0.
   */
  nextSegmentTokens?: number;
  /** The chance this segment is the job's last (learned per kind; 1 when unknown, as above). */
  lastSegmentChance: number;
  /**
   * The client's priority for this segment, higher sooner (GenerateOptions.priority); absent: 0,
   * neutral. A soft input a policy may weigh or ignore (docs/server.md, "Hints").
   */
  priority?: number;
}

/** What happens to a job's KV while it waits on a tool. */
export type ToolWaitKvAction =
  /** Give the blocks back to the prefix cache: reused only if not evicted before the job returns. */
  | 'release'
  /** Keep the blocks resident and owned. */
  | 'preserve'
  /** Copy the blocks to the host swap pool and free the device blocks. */
  | 'swap'
  /** Free the blocks outright; the context is recomputed on return. */
  | 'discard';

export interface PausedJobView {
  jobId: string;
  groupId?: string;
  kind: string;
  contextTokens: number;
  tool: string;
  /** The client's estimate of the tool call's duration, if it gave one. */
  expectedToolS?: number;
  /**
   * The highest priority (1–100) of the job's `kv.retain` ranges still in force (GenerateOptions.
   * retain); absent when none is: the client asks that its KV be kept through this wait. Soft.
   */
  retainPriority?: number;
}

/** A job waiting on a tool, as `revisitToolWaits` sees it. */
export interface WaitingJobView extends PausedJobView {
  /** Seconds since the tool call began. */
  waitedS: number;
  /** Where its KV is now. */
  kv: 'device' | 'host' | 'none';
  /** Device blocks it holds (0 unless its KV is on the device). */
  deviceBlocks: number;
}

/** A finished segment, for policies that move jobs between queues by the work they received. */
export interface SegmentEndView {
  jobId: string;
  groupId?: string;
  kind: string;
  segmentIndex: number;
  reason: 'stop' | 'length' | 'tool_call';
  /** Tokens generated, and prompt tokens computed (prefix-cache hits excluded), in this segment. */
  generatedTokens: number;
  computedPromptTokens: number;
  tool: string | null;
}

export interface Policy {
  readonly name: string;
  /** How a running sequence that cannot get memory is preempted. */
  readonly preemption: 'recompute' | 'swap';
  /** Most urgent first. Running sequences keep their place unless the policy says otherwise. */
  order(candidates: readonly SchedulingCandidate[], nowS: number): SchedulingCandidate[];
  /** The KV action for a job that just paused on a tool call. */
  onToolWait(job: PausedJobView, nowS: number): ToolWaitKvAction;
  /** Called when a segment ends (before onToolWait for a tool call): queue moves, learning. */
  onSegmentEnd?(segment: SegmentEndView, nowS: number): void;
  /** Called when a job is closed, so per-job state can be dropped. */
  onJobClosed?(jobId: string): void;
  /** Called when the last job of a group is closed (a job alone: right after onJobClosed). */
  onGroupClosed?(groupId: string): void;
  /**
   * Called before each step with the jobs waiting on tools: a policy may change its mind about a
   * job whose KV is on the device (a time-to-live that ran out, memory that grew tight). Jobs not
   * in the returned map keep their KV where it is.
   */
  revisitToolWaits?(jobs: readonly WaitingJobView[], nowS: number): Map<string, 'release' | 'swap' | 'discard'>;
  /**
   * Called after each step's plan with the jobs waiting on tools whose KV is on the host: the ones
   * returned (job ids, in order) are swapped back in now, ahead of their tool's return, while the
   * device has room for them in blocks the plan left free or only cached — Tokencake's upload
   * before the predicted return. The copy runs beside the next step's compute.
   */
  prefetchToolWaits?(jobs: readonly WaitingJobView[], nowS: number): string[];
  /**
   * When the step planner must take back KV preserved through tool waits (a job that can run
   * needs the memory), whose goes first: job ids, first taken first. Default (./reclaim.ts): the
   * one holding the most device blocks.
   */
  reclaimOrder?(jobs: readonly WaitingJobView[], nowS: number): string[];
  /**
   * Whether KV the planner takes back is copied to the host pool ('swap', the default, when the
   * host has room) or left to the prefix cache ('discard': only what the new work overwrites is
   * lost). The copy must finish before the memory is reused, so it stalls the step.
   */
  reclaimAction?(job: WaitingJobView, nowS: number): 'swap' | 'discard';
  /** A multi-level policy's queue for a group (0 = most urgent), for the metrics. */
  queueLevel?(groupId: string): number;
}
