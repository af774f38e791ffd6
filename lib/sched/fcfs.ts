/**
 * `fcfs`: vLLM v1 as people run it. Every segment is an independent request ordered by its own
 * arrival (a resumed job queues behind requests that arrived during its tool call); at a tool call
 * the job's blocks go back to the automatic prefix cache and are reused only if still cached when
 * the next segment comes; preemption recomputes. Departure from vLLM: none intended; the prefix
 * cache is the engine's (lib/kv), switched off with the engine option `prefixCaching: false` for
 * the older behaviour.
 */
import type { PausedJobView, Policy, SchedulingCandidate, ToolWaitKvAction } from './policy.js';

export class FcfsPolicy implements Policy {
  readonly name = 'fcfs';
  readonly preemption = 'recompute' as const;

  order(candidates: readonly SchedulingCandidate[]): SchedulingCandidate[] {
    return [...candidates].sort(
      (a, b) => a.segmentQueuedS - b.segmentQueuedS || (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0),
    );
  }

  onToolWait(_job: PausedJobView): ToolWaitKvAction {
    return 'release';
  }
}
