/**
 * The engine's record of one agent job: its whole token context (which lives across segments),
 * its chat history and the segment in progress. Where its KV is, and how much of the context it
 * covers, it reads from the block manager — the one record of that — rather than keeping a copy.
 */
import type { JobStateMachine } from '../agent/job-state.js';
import type { BlockHash } from '../kv/prefix-hash.js';
import type { ChatMessage } from '../model/tokenizer.js';
import type { ActiveSegment } from './active-segment.js';
import { placementOf, type KvPlacement, type OwnerView } from '../kv/block-manager.js';
import type { JobGroup } from './job-group.js';
import { noHints, type JobHints } from './job-hints.js';
import type { KvDecision, SegmentResult } from './types.js';

export type { KvPlacement } from '../kv/block-manager.js';


export class JobRecord {
  /** The job's whole context: every prompt, tool result and generated token, in order. */
  tokens: number[] = [];
  messages: ChatMessage[] = [];
  tools: object[] | undefined;
  active: ActiveSegment | null = null;
  /**
   * The most context tokens that ever had KV: running a position below it again is a recompute
   * (of KV discarded or released to the prefix cache and evicted), not new work.
   */
  computedHighWater = 0;
  segmentsStarted = 0;
  /** The context's length when the job's last segment here ended (null before the first ends): what the next one adds is measured from it. */
  contextAtSegmentEnd: number | null = null;
  /** Segments the job ran before it came to this engine (JobOptions.history). */
  priorSegments = 0;
  closed = false;
  /** Every KV decision taken for the job while it waited on tools, in order. */
  kvDecisions: KvDecision[] = [];
  /** The client's estimate of the tool call the job waits on, if it gave one. */
  toolHintS: number | undefined;
  /** The client's hints (./job-hints.ts): the segment's priority, retain ranges, cache priority. */
  hints: JobHints = noHints();
  /** The last segment's result: its tool calls become the assistant turn of the chat history. */
  lastResult: SegmentResult | null = null;

  constructor(
    readonly id: string,
    readonly kind: string,
    readonly state: JobStateMachine,
    /** The block manager's live view of this job's owner record (BlockManager.watch). */
    private readonly kv: OwnerView,
    /** The jobs scheduled as one with this one (its fan-out); a job alone is a group of one. */
    readonly group: JobGroup,
    /** Parent key of the job's first KV block: null, or its cache salt's root (lib/kv/prefix-hash.ts). */
    readonly prefixRoot: BlockHash | null = null,
    /** The job whose KV the first segment shares (JobOptions.forkOf); null once used or if none. */
    public forkOf: JobRecord | null = null,
  ) {}

  /** The index in the whole job of its latest segment here (-1 before the first). */
  get segmentIndex(): number {
    return this.priorSegments + this.segmentsStarted - 1;
  }

  /** Where the job's KV is: nowhere, on the device, or swapped to the host. */
  get placement(): KvPlacement {
    return placementOf(this.kv.state);
  }

  /** Leading context tokens whose KV exists (on the device, or on the host while swapped). */
  get computedTokens(): number {
    return this.kv.state?.computed ?? 0;
  }

  /** Runnable: a segment is in progress and the job is not waiting on a tool. */
  get wantsToRun(): boolean {
    return this.active !== null && (this.state.state === 'waiting' || this.state.state === 'ready' || this.state.state === 'running');
  }
}
