/**
 * What a router in front of several replicas decides, and what it may look at to decide it: the
 * request (its job, its session, its prompt tokens) and each replica's public metrics — requests
 * waiting (`vllm:num_requests_waiting`) and KV usage (`vllm:kv_cache_usage_perc`) — plus whatever
 * the router remembers of its own past choices (prefixes sent, session → replica). Never the
 * scheduler's internals.
 *
 * Scored routers follow the Gateway API Inference Extension's endpoint picker: each scorer gives
 * every replica a value in [0, 1], the profile sums them with weights, and the max-score picker
 * takes the best. The picker breaks ties at random; here ties go to the first tied replica at or
 * after a rotating cursor, which spreads ties as evenly and keeps runs reproducible.
 */

/** One replica as a router sees it. */
export interface ReplicaView {
  readonly index: number;
  /** Requests waiting to be scheduled (vllm:num_requests_waiting). */
  readonly waiting: number;
  /**
   * Device KV blocks held by requests over the pool, as the engine's vllm:kv_cache_usage_perc says
   * (Engine.kvUsage): cached-but-free blocks and blocks kept only for jobs waiting on tools are free.
   */
  readonly kvUsage: number;
}

/** One LLM call to be routed. */
export interface RouteRequest {
  /** The engine job the call belongs to (a subagent is a job of its own). */
  readonly jobId: string;
  /** The session: the top-level job's id, shared by its subagents (the x-session-token). */
  readonly sessionId: string;
  /** The whole prompt as the client sends it: everything before, then the new input. */
  readonly tokens: readonly number[];
}

export interface Router {
  readonly name: string;
  /** The replica for this call. */
  pick(request: RouteRequest, replicas: readonly ReplicaView[]): number;
  /** The call went to `replica` (the router records prefixes, sessions). */
  routed?(request: RouteRequest, replica: number): void;
  /** The session's job ended (a router may drop what it kept for it). */
  sessionEnded?(sessionId: string): void;
}

/**
 * The max-score picker with a rotating tie-break: the best total wins; among equal totals (within
 * 1e-9), the first at or after `cursor`, and the cursor moves past the choice.
 */
export class MaxScorePicker {
  private cursor = 0;

  pick(totals: readonly number[]): number {
    const best = Math.max(...totals);
    const n = totals.length;
    for (let k = 0; k < n; k++) {
      const i = (this.cursor + k) % n;
      if (totals[i] >= best - 1e-9) {
        this.cursor = (i + 1) % n;
        return i;
      }
    }
    throw new Error('unreachable: some total is the maximum');
  }
}

/** The queue scorer: (max − waiting) / (max − min) over the replicas; 1 for all when they are equal. */
export function queueScores(replicas: readonly ReplicaView[]): number[] {
  const waiting = replicas.map((r) => r.waiting);
  const max = Math.max(...waiting);
  const min = Math.min(...waiting);
  return waiting.map((w) => (max === min ? 1 : (max - w) / (max - min)));
}

/** The KV-cache-utilization scorer: 1 − usage. */
export function kvScores(replicas: readonly ReplicaView[]): number[] {
  return replicas.map((r) => 1 - r.kvUsage);
}
