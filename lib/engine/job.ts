/**
 * The caller's handle on an agent job: generate a segment, resume after a tool call, close.
 * All the work happens in the engine; this class only forwards.
 */
import type { JobMetrics } from '../agent/job-state.js';
import type { Engine } from './engine.js';
import type { JobRecord } from './job-record.js';
import type { Segment } from './segment.js';
import type { GenerateOptions, KvDecision, ResumeOptions } from './types.js';

export class Job {
  /** @internal */
  constructor(
    private readonly engine: Engine,
    private readonly record: JobRecord,
  ) {}

  get id(): string {
    return this.record.id;
  }

  get kind(): string {
    return this.record.kind;
  }

  /** waiting | running | tool_wait | ready | finished | cancelled */
  get state(): string {
    return this.record.state.state;
  }

  /** The job's first segment (or, for token jobs, more input appended to its context). */
  generate(options: GenerateOptions): Segment {
    return this.engine._generate(this.record, options);
  }

  /** Appends a tool's result and generates the next segment. */
  resume(options: ResumeOptions): Segment {
    return this.engine._resume(this.record, options);
  }

  /** Cancels any segment in progress and frees everything the job holds. */
  close(): void {
    this.engine._close(this.record);
  }

  /**
   * Every token of the job so far, input and generated, in order: what a client resends to
   * continue the job elsewhere. Read-only and live (it grows as the job runs); copy it to keep it.
   */
  get context(): readonly number[] {
    return this.record.tokens;
  }

  metrics(): JobMetrics {
    return this.record.state.metrics();
  }

  /** The KV decisions taken while the job waited on tools (preserve, swap with bytes, release, discard). */
  kvDecisions(): readonly KvDecision[] {
    return this.record.kvDecisions;
  }
}
