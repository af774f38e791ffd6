/**
 * The adaptive KV manager's waste model (Astraea, after InferCept): while a job waits on a tool,
 * each way of handling its KV wastes memory × time, in bytes·seconds.
 *
 *   W_preserve = T_tool · C_self · M          its own KV sits idle for the whole tool call
 *   W_discard  = T_recompute · C_batch · M    waiting work is held back while the context is recomputed
 *   W_swap     = 2 · T_swap · C_batch · M     ... while the context is copied out and back in
 *
 * C_self: the job's context tokens; C_batch: tokens of waiting work that the freed memory would
 * admit; M: KV bytes per token; T_recompute: prefill time of the job's context; T_swap: the copy
 * time of the job's KV in one direction. Ties go to the cheaper action to carry out: preserve,
 * then swap (no recomputation), then discard.
 */

export type KvWasteChoice = 'preserve' | 'discard' | 'swap';

export interface KvWasteInputs {
  /** T_tool: predicted duration of the tool call, seconds. */
  toolTimeS: number;
  /** C_self: the job's own cached context tokens. */
  selfTokens: number;
  /** C_batch: tokens of waiting work that freeing this job's memory would admit. */
  batchTokens: number;
  /** M: KV bytes per token. */
  kvBytesPerToken: number;
  /** T_recompute: seconds to prefill the job's context again. */
  recomputeS: number;
  /** T_swap: seconds to copy the job's KV one way between device and host. */
  swapS: number;
}

export interface KvWaste {
  preserve: number;
  discard: number;
  swap: number;
  choice: KvWasteChoice;
}

/** The three wastes and their argmin. Pure. */
export function kvWaste(i: KvWasteInputs): KvWaste {
  const preserve = i.toolTimeS * i.selfTokens * i.kvBytesPerToken;
  const discard = i.recomputeS * i.batchTokens * i.kvBytesPerToken;
  const swap = 2 * i.swapS * i.batchTokens * i.kvBytesPerToken;
  let choice: KvWasteChoice = 'preserve';
  let best = preserve;
  if (swap < best) {
    choice = 'swap';
    best = swap;
  }
  if (discard < best) choice = 'discard';
  return { preserve, discard, swap, choice };
}

/** What the policy knows of device memory when a job pauses. */
export interface MemoryView {
  /** Fraction of device KV blocks in use, 0..1. */
  usedFraction: number;
  /** Tokens of work waiting for memory (prefill still to do of ready segments). */
  waitingTokens: number;
  kvBytesPerToken: number;
  /** Device↔host copy bandwidth, bytes per second, one direction. */
  swapBytesPerS: number;
  /** Prefill time per token, seconds (T_recompute = C_self × this). */
  prefillSPerToken: number;
  /** Tokens of device KV free or held only by the prefix cache (absent: unknown). */
  freeTokens?: number;
  /** Seconds of compute in a decode step now: the copy time a step can hide (absent: unknown). */
  stepS?: number;
  /** Tokens of KV the host swap pool has free (absent: unknown, assumed enough). */
  hostFreeTokens?: number;
}

/** Seconds to copy `contextTokens` of KV one way between device and host. */
export function copySeconds(contextTokens: number, memory: MemoryView): number {
  return (contextTokens * memory.kvBytesPerToken) / memory.swapBytesPerS;
}

/**
 * The waste inputs for a job with `contextTokens` of KV pausing on a tool of predicted duration
 * `toolTimeS`: C_batch = min(waiting tokens, C_self) (the freed memory holds C_self tokens, so it
 * admits at most that much waiting work), T_recompute = C_self × prefill s/token,
 * T_swap = C_self × M / bandwidth.
 */
export function kvWasteInputs(contextTokens: number, toolTimeS: number, memory: MemoryView): KvWasteInputs {
  return {
    toolTimeS,
    selfTokens: contextTokens,
    batchTokens: Math.min(Math.max(0, memory.waitingTokens), contextTokens),
    kvBytesPerToken: memory.kvBytesPerToken,
    recomputeS: contextTokens * memory.prefillSPerToken,
    swapS: copySeconds(contextTokens, memory),
  };
}
