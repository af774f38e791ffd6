/**
 * The routers `astraea simulate --router` offers, modelled on the Gateway API Inference
 * Extension's endpoint picker and llm-d's scorers (docs/scale-out.md cites each source):
 *
 * - `round-robin`: every call to the next replica (a Kubernetes Service).
 * - `least-queue`: the queue scorer alone.
 * - `kv-usage`: the KV-cache-utilization scorer alone.
 * - `prefix`: the approximate prefix-cache scorer alone (./prefix-index.ts, the scorer's defaults).
 * - `session`: a job's calls go where its session went before (llm-d's session-affinity scorer,
 *   whose weight 100 in its sample config overrides the rest), unless that replica is overloaded
 *   — at least `spillWaiting` more requests waiting than the least-waiting replica — and then to
 *   the least-waiting one, which becomes the session's home. A session's first call: least-queue.
 * - `mix`: the inference pool chart's default profile, queue × 2 + KV usage × 2 + prefix × 3.
 * - `prefix-full`, `mix-full`: the same with the prefix scorer matching whole prompts
 *   (maxPrefixBlocksToMatch raised to FULL_PREFIX_BLOCKS, the scorer's advice "use a large value
 *   if most requests are long"): the default's 256 blocks (4,096 tokens) end inside `coding`'s
 *   17,000-token shared prompt, so it cannot tell one job's replica from another's.
 */
import { EngineError } from '../errors.js';
import { PrefixIndex, type PrefixIndexOptions } from './prefix-index.js';
import { kvScores, MaxScorePicker, queueScores, type ReplicaView, type RouteRequest, type Router } from './router.js';

export const ROUTER_NAMES = ['round-robin', 'least-queue', 'kv-usage', 'prefix', 'session', 'mix', 'prefix-full', 'mix-full'] as const;
export type RouterName = (typeof ROUTER_NAMES)[number];

/** The inference pool chart's default-plugins.yaml weights (config/charts/inferencepool/templates/epp-config.yaml). */
export const MIX_WEIGHTS = { queue: 2, kvUsage: 2, prefix: 3 } as const;

/** Blocks of 16 tokens in Llama-3.1's 131,072-token window: a whole prompt is matched. */
export const FULL_PREFIX_BLOCKS = 131_072 / 16;

/** Session affinity gives way when its replica has this many more requests waiting than the least-waiting one. */
export const SESSION_SPILL_WAITING = 4;

export interface RouterOptions {
  prefix?: PrefixIndexOptions;
  /** `session`: the overload threshold (default SESSION_SPILL_WAITING). */
  spillWaiting?: number;
}

/** A router that sums weighted scores per replica and takes the best (ties rotate). */
class ScoredRouter implements Router {
  private readonly picker = new MaxScorePicker();

  constructor(
    readonly name: string,
    private readonly scorers: { weight: number; score: (request: RouteRequest, replicas: readonly ReplicaView[]) => number[] }[],
    private readonly onRouted?: (request: RouteRequest, replica: number) => void,
  ) {}

  pick(request: RouteRequest, replicas: readonly ReplicaView[]): number {
    const totals = replicas.map(() => 0);
    for (const { weight, score } of this.scorers) {
      const scores = score(request, replicas);
      for (let i = 0; i < totals.length; i++) totals[i] += weight * Math.min(1, Math.max(0, scores[i]));
    }
    return this.picker.pick(totals);
  }

  routed(request: RouteRequest, replica: number): void {
    this.onRouted?.(request, replica);
  }
}

/** The prefix scorer over a router-side index; `routed` records what was sent where. */
function prefixScorer(replicas: number, options: PrefixIndexOptions | undefined) {
  const index = new PrefixIndex(replicas, options);
  // pick and routed see the same request in turn: hash its prompt once.
  let last: { request: RouteRequest; hashes: string[] } | null = null;
  const hashesOf = (request: RouteRequest) => {
    if (last?.request !== request) last = { request, hashes: index.blockHashes(request.tokens) };
    return last.hashes;
  };
  return {
    score: (request: RouteRequest, views: readonly ReplicaView[]) => views.map((v) => index.score(v.index, hashesOf(request))),
    record: (request: RouteRequest, replica: number) => index.record(replica, hashesOf(request)),
  };
}

class SessionRouter implements Router {
  readonly name = 'session';
  private readonly home = new Map<string, number>();
  private readonly firstCall = new ScoredRouter('least-queue', [{ weight: 1, score: (_r, v) => queueScores(v) }]);

  constructor(private readonly spillWaiting: number) {}

  pick(request: RouteRequest, replicas: readonly ReplicaView[]): number {
    const home = this.home.get(request.sessionId);
    if (home === undefined) return this.firstCall.pick(request, replicas);
    const leastWaiting = Math.min(...replicas.map((r) => r.waiting));
    if (replicas[home].waiting - leastWaiting < this.spillWaiting) return home;
    return this.firstCall.pick(request, replicas);
  }

  routed(request: RouteRequest, replica: number): void {
    this.home.set(request.sessionId, replica);
  }

  /** Sessions end with their job: the map holds live sessions only. */
  sessionEnded(sessionId: string): void {
    this.home.delete(sessionId);
  }
}

export function createRouter(name: string, replicas: number, options: RouterOptions = {}): Router {
  const queue = { weight: 1, score: (_r: RouteRequest, v: readonly ReplicaView[]) => queueScores(v) };
  const kv = { weight: 1, score: (_r: RouteRequest, v: readonly ReplicaView[]) => kvScores(v) };
  switch (name as RouterName) {
    case 'round-robin':
      return new ScoredRouter(name, []);
    case 'least-queue':
      return new ScoredRouter(name, [queue]);
    case 'kv-usage':
      return new ScoredRouter(name, [kv]);
    case 'prefix': {
      const prefix = prefixScorer(replicas, options.prefix);
      return new ScoredRouter(name, [{ weight: 1, score: prefix.score }], prefix.record);
    }
    case 'session':
      return new SessionRouter(options.spillWaiting ?? SESSION_SPILL_WAITING);
    case 'prefix-full': {
      const prefix = prefixScorer(replicas, { maxBlocks: FULL_PREFIX_BLOCKS, ...options.prefix });
      return new ScoredRouter(name, [{ weight: 1, score: prefix.score }], prefix.record);
    }
    case 'mix':
    case 'mix-full': {
      const prefix = prefixScorer(replicas, name === 'mix' ? options.prefix : { maxBlocks: FULL_PREFIX_BLOCKS, ...options.prefix });
      return new ScoredRouter(
        name,
        [
          { ...queue, weight: MIX_WEIGHTS.queue },
          { ...kv, weight: MIX_WEIGHTS.kvUsage },
          { weight: MIX_WEIGHTS.prefix, score: prefix.score },
        ],
        prefix.record,
      );
    }
    default:
      throw new EngineError('INVALID_ARGUMENT', `unknown router "${name}"; one of ${ROUTER_NAMES.join(', ')}`);
  }
}
