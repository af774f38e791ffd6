/**
 * `fcfs`: vLLM v1 as people run it. Every segment is an independent request ordered by its own
 * arrival (a resumed job queues behind requests that arrived during its tool call); at a tool call
 * the job's blocks go back to the automatic prefix cache and are reused only if still cached when
 * the next segment comes; preemption recomputes. Departure from vLLM: none intended; the prefix
 * cache is the engine's (lib/kv), switched off with the engine option `prefixCaching: false` for
 * the older behaviour.
 */
import { byJobId } from './ordering.js';
import type { PausedJobView, Policy, SchedulingCandidate, ToolWaitKvAction } from './policy.js';

export class FcfsPolicy implements Policy {
  readonly name = 'fcfs';
  readonly preemption = 'recompute' as const;

  order(candidates: readonly SchedulingCandidate[]): SchedulingCandidate[] {
    return [...candidates].sort((a, b) => a.segmentQueuedS - b.segmentQueuedS || byJobId(a, b));
  }

  onToolWait(_job: PausedJobView): ToolWaitKvAction {
    return 'release';
  }
}
