/**
 * `tokencake`: Tokencake (Bian et al., "Tokencake: A KV-Cache-centric Serving Framework for
 * LLM-based Multi-Agent Applications", arXiv 2510.18586). See DESIGN.md (Policies).
 *
 * What it keeps:
 * - Time scheduler, offload: when an agent stalls on a function call, its KV goes to host memory
 *   ('swap') if the predicted call is longer than the copy out and back
 *   (T_tool > offloadMinRatio × 2 × T_copy, T_copy = context × KV bytes per token / bandwidth);
 *   a shorter call keeps its KV on the device ('preserve').
 * - Time scheduler, predictive upload: `prefetchToolWaits` names an offloaded agent once its
 *   predicted remaining call time (`toolRemainingS`, conditional on the time already waited) is at
 *   most T_copy + uploadLeadS, so the copy back, started beside the next step, lands before the
 *   predicted return; not earlier, so the device memory is lent to other work as long as
 *   possible. The earliest predicted return goes first.
 * - Space scheduler: agent types (a job's `kind`) are ranked by a hybrid priority, graph structure
 *   (the path still ahead: expected remaining segments + 1) and runtime state (KV footprint:
 *   mean context tokens of its live jobs), each normalised by the largest over live types and
 *   mixed by `structureWeight`. The top `criticalTypes` types (ties included) are critical-path
 *   agents. A reserved pool of min(maxReservedFraction × capacity, tokens of the live critical
 *   agents) is kept for them. Memory is two pools: a critical agent's waiting call is admitted
 *   while the running and admitted calls and it fit in the whole pool; another agent's only while,
 *   besides, the non-critical ones and it fit in the shared pool (capacity − reserve). The rest
 *   wait, left out of `order`. Preserved KV the planner must take back is a non-critical agent's first (no
 *   critical inversion). The reserve partitions memory; it does not move critical calls ahead.
 *
 * Where it had to guess (the paper's exact formulas were not available to us):
 * - The benefit test for offloading (stall longer than the round-trip copy, ratio 1) and the
 *   upload lead (one step: decisions are taken once per step and the copy runs beside the next
 *   one; default memory().stepS, else 0.02 s).
 * - No DAG reaches the engine, so "critical path" is read from what the policy sees: the expected
 *   remaining segments of a type (learned per kind), mixed half and half with its KV usage;
 *   priorities are recomputed at every step (the paper: periodically). criticalTypes 1.
 * - The reserve's size: the paper partitions memory dynamically; here it is what the critical
 *   agents hold or will hold (their context tokens), capped at maxReservedFraction (0.3, the upper
 *   bound of the reserve in the pku-lemonade/TokenCake implementation). With one agent type every agent is critical and
 *   the reserve changes nothing.
 * - Use of the pools is counted in context tokens of the running and admitted calls, not the
 *   preserved tool-wait KV (most of which is offloaded) nor output still to come.
 * - Checking every call against the whole pool (critical calls included) is ours: it completes
 *   the two-pool partition.
 * - Ordering as vLLM, on which Tokencake builds: running first, then first come first served per
 *   call; recompute preemption (so a running critical call can still be preempted by the
 *   planner for an earlier one: only the reserve and the reclaim order protect it). Ranking
 *   critical calls first instead, a priority the paper does not describe, nearly tripled the
 *   mean JCT in a trial on a simulated mixed workload. Preserved KV the planner takes back:
 *   non-critical first, then the latest predicted return, copied to the host ('swap').
 * - Liveness: the engine fails a step that runs nothing, so when every waiting call would be held
 *   back and nothing runs, the first waiting call is admitted anyway. A held-back call that
 *   already has KV (back from a short, preserved call) is put last instead of left out: the
 *   planner can take memory back only from calls in the order.
 * - A job whose preserved KV the planner takes back to the host in a plan is not named for upload
 *   by the prefetch that follows that plan: its copy out has not run yet (the engine's prefetch
 *   would try to start the copy back before it).
 */
import { EngineError } from '../errors.js';
import { copySeconds, type MemoryView } from './kv-waste.js';
import { byJobId } from './ordering.js';
import type { PausedJobView, Policy, SchedulingCandidate, ToolWaitKvAction, WaitingJobView } from './policy.js';

export interface TokencakeOptions {
  /**
   * Device memory now: KV bytes per token, copy bandwidth, step time. Default: kvBytesPerToken
   * 131072 (Llama-3-8B bf16), swapBytesPerS 25e9 (PCIe 4 x16).
   */
  memory?: () => MemoryView;
  /** Predicted duration of a tool call, seconds. Default: the hint, else 1 s. */
  toolTimeS?: (tool: string, hintS?: number) => number;
  /** Predicted seconds until a call that has run `elapsedS` returns. Default: toolTimeS − elapsed, at least 0. */
  toolRemainingS?: (tool: string, elapsedS: number, hintS?: number) => number;
  /** Device KV pool, tokens. Default: unbounded (the reserve never binds). */
  capacityTokens?: () => number;
  /** Largest fraction of the device pool reserved for critical agents. Default 0.3. */
  maxReservedFraction?: number;
  /** How many agent types count as critical (ties with the last included). Default 1. */
  criticalTypes?: number;
  /** Weight of graph structure (path ahead) against runtime state (KV usage), in [0, 1]. Default 0.5. */
  structureWeight?: number;
  /** Offload only if the predicted call exceeds this × the round-trip copy time. Default 1. */
  offloadMinRatio?: number;
  /** Seconds added to the copy time when deciding to upload. Default: memory().stepS, else 0.02. */
  uploadLeadS?: number;
  /** Preemption mode for a running sequence that cannot get memory. Default 'recompute'. */
  preemption?: 'recompute' | 'swap';
}

/** What the space scheduler knows of a live agent (a job). */
interface Agent {
  kind: string;
  tokens: number;
  /** Expected segments after the current one, as last seen (a tool wait keeps the last value). */
  futureSegments: number;
}

export class TokencakePolicy implements Policy {
  readonly name = 'tokencake';
  readonly preemption: 'recompute' | 'swap';
  private readonly memory: () => MemoryView;
  private readonly toolTimeS: (tool: string, hintS?: number) => number;
  private readonly toolRemainingS: (tool: string, elapsedS: number, hintS?: number) => number;
  private readonly capacityTokens: () => number;
  private readonly maxReservedFraction: number;
  private readonly criticalTypes: number;
  private readonly structureWeight: number;
  private readonly offloadMinRatio: number;
  private readonly uploadLeadS: number | undefined;
  private readonly agents = new Map<string, Agent>();
  /** Jobs the planner took back to the host in the plan under way (cleared by `order`). */
  private readonly reclaimedThisPlan = new Set<string>();

  constructor(options: TokencakeOptions = {}) {
    this.memory = options.memory ?? (() => ({ usedFraction: 0, waitingTokens: 0, kvBytesPerToken: 131072, swapBytesPerS: 25e9, prefillSPerToken: 0.0002 }));
    this.toolTimeS = options.toolTimeS ?? ((_tool, hintS) => hintS ?? 1);
    this.toolRemainingS = options.toolRemainingS ?? ((tool, elapsedS, hintS) => Math.max(0, this.toolTimeS(tool, hintS) - elapsedS));
    this.capacityTokens = options.capacityTokens ?? (() => Infinity);
    this.maxReservedFraction = options.maxReservedFraction ?? 0.3;
    this.criticalTypes = options.criticalTypes ?? 1;
    this.structureWeight = options.structureWeight ?? 0.5;
    this.offloadMinRatio = options.offloadMinRatio ?? 1;
    this.uploadLeadS = options.uploadLeadS;
    const check = (key: string, value: number, ok: boolean) => {
      if (!ok) throw new EngineError('INVALID_ARGUMENT', `${key} out of range: ${value}`);
    };
    check('maxReservedFraction', this.maxReservedFraction, this.maxReservedFraction >= 0 && this.maxReservedFraction <= 1);
    check('criticalTypes', this.criticalTypes, Number.isInteger(this.criticalTypes) && this.criticalTypes >= 0);
    check('structureWeight', this.structureWeight, this.structureWeight >= 0 && this.structureWeight <= 1);
    check('offloadMinRatio', this.offloadMinRatio, this.offloadMinRatio >= 0 && Number.isFinite(this.offloadMinRatio));
    if (this.uploadLeadS !== undefined) check('uploadLeadS', this.uploadLeadS, this.uploadLeadS >= 0 && Number.isFinite(this.uploadLeadS));
    this.preemption = options.preemption ?? 'recompute';
  }

  /**
   * Seconds to copy a context of `tokens` one way between device and host. A caller pricing many
   * jobs passes the memory view it read once (reading it walks every live job).
   */
  copyS(tokens: number, memory: MemoryView = this.memory()): number {
    return copySeconds(tokens, memory);
  }

  /** The agent types now critical: the top `criticalTypes` by hybrid priority, ties included. */
  criticalKinds(): Set<string> {
    const byKind = new Map<string, { path: number; kv: number; n: number }>();
    for (const a of this.agents.values()) {
      const k = byKind.get(a.kind) ?? { path: 0, kv: 0, n: 0 };
      k.path += a.futureSegments + 1;
      k.kv += a.tokens;
      k.n++;
      byKind.set(a.kind, k);
    }
    const means = [...byKind].map(([kind, k]) => ({ kind, path: k.path / k.n, kv: k.kv / k.n }));
    const maxPath = Math.max(1e-9, ...means.map((m) => m.path));
    const maxKv = Math.max(1e-9, ...means.map((m) => m.kv));
    const w = this.structureWeight;
    const ranked = means.map((m) => ({ kind: m.kind, p: w * (m.path / maxPath) + (1 - w) * (m.kv / maxKv) })).sort((a, b) => b.p - a.p);
    const out = new Set<string>();
    if (this.criticalTypes === 0 || ranked.length === 0) return out;
    const last = ranked[Math.min(this.criticalTypes, ranked.length) - 1].p;
    for (const r of ranked) if (r.p >= last) out.add(r.kind);
    return out;
  }

  /** Tokens reserved for critical agents: what they hold or will hold, capped. */
  reservedTokens(critical: Set<string>): number {
    let tokens = 0;
    for (const a of this.agents.values()) if (critical.has(a.kind)) tokens += a.tokens;
    return Math.min(this.maxReservedFraction * this.capacityTokens(), tokens);
  }

  order(candidates: readonly SchedulingCandidate[], _nowS: number): SchedulingCandidate[] {
    this.reclaimedThisPlan.clear();
    for (const c of candidates) this.agents.set(c.jobId, { kind: c.kind, tokens: c.contextTokens, futureSegments: c.expectedFutureSegments });
    const critical = this.criticalKinds();
    const capacity = this.capacityTokens();
    const sharedPool = capacity - this.reservedTokens(critical);
    const sorted = [...candidates].sort((a, b) => Number(b.running) - Number(a.running) || a.segmentQueuedS - b.segmentQueuedS || byJobId(a, b));
    // KV the admitted calls hold or will hold: all of them (the whole pool), and the non-critical
    // ones (the shared pool).
    let total = 0;
    let nonCritical = 0;
    for (const c of sorted) {
      if (!c.running) continue;
      total += c.contextTokens;
      if (!critical.has(c.kind)) nonCritical += c.contextTokens;
    }
    const admitted: SchedulingCandidate[] = [];
    const holding: SchedulingCandidate[] = [];
    for (const c of sorted) {
      const isCritical = critical.has(c.kind);
      if (c.running) {
        admitted.push(c);
      } else if (total + c.contextTokens <= capacity && (isCritical || nonCritical + c.contextTokens <= sharedPool)) {
        total += c.contextTokens;
        if (!isCritical) nonCritical += c.contextTokens;
        admitted.push(c);
      } else if (c.pendingPrefillTokens + 1 < c.contextTokens) {
        holding.push(c); // has KV: shown last, so the planner can still take its memory back
      }
    }
    // Liveness: the engine must run something.
    if (admitted.length === 0 && holding.length === 0 && sorted.length > 0) admitted.push(sorted[0]);
    return [...admitted, ...holding];
  }

  onToolWait(job: PausedJobView, _nowS: number): ToolWaitKvAction {
    const agent = this.agents.get(job.jobId);
    this.agents.set(job.jobId, { kind: job.kind, tokens: job.contextTokens, futureSegments: agent?.futureSegments ?? 0 });
    const stallS = this.toolTimeS(job.tool, job.expectedToolS);
    return stallS > this.offloadMinRatio * 2 * this.copyS(job.contextTokens) ? 'swap' : 'preserve';
  }

  prefetchToolWaits(jobs: readonly WaitingJobView[], _nowS: number): string[] {
    const memory = this.memory();
    const lead = this.uploadLeadS ?? memory.stepS ?? 0.02;
    return jobs
      .filter((j) => !this.reclaimedThisPlan.has(j.jobId))
      .map((j) => ({ id: j.jobId, remaining: this.toolRemainingS(j.tool, j.waitedS, j.expectedToolS), upload: this.copyS(j.contextTokens, memory) }))
      .filter((j) => j.remaining <= j.upload + lead)
      .sort((a, b) => a.remaining - b.remaining || (a.id < b.id ? -1 : 1))
      .map((j) => j.id);
  }

  /** Non-critical agents first, then the one whose call is predicted to return last. */
  reclaimOrder(jobs: readonly WaitingJobView[], _nowS: number): string[] {
    const critical = this.criticalKinds();
    return jobs
      .map((j) => ({ id: j.jobId, critical: critical.has(j.kind), remaining: this.toolRemainingS(j.tool, j.waitedS, j.expectedToolS) }))
      .sort((a, b) => Number(a.critical) - Number(b.critical) || b.remaining - a.remaining || (a.id < b.id ? -1 : 1))
      .map((j) => j.id);
  }

  reclaimAction(job: WaitingJobView, _nowS: number): 'swap' | 'discard' {
    this.reclaimedThisPlan.add(job.jobId);
    return 'swap';
  }

  onJobClosed(jobId: string): void {
    this.agents.delete(jobId);
  }
}
