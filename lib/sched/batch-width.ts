/**
 * How many jobs a compute-bound engine should run at once to finish them soonest on average
 * (astraea's option `batchWidth: 'fit'`, off by default; docs/policies.md, "A batch width from
 * the step costs").
 *
 * A step costs a + b·prompt tokens + c·decoding sequences (StepCosts' fit). Batching shares a
 * among the sequences of a step; every sequence added slows the others by c, and every prompt
 * computed stalls them by b a token. Take n jobs, each with P prompt tokens and W tokens to
 * generate, run in rounds of m: a round lasts m·P·b + W·(a + m·c), the r-th round's m jobs end
 * after r rounds, and the sum of completion times, (n/m + 1)·n/2 rounds' worth, is least at
 *
 *   m* = √(n · a·W / (b·P + c·W)).
 *
 * n is every job in the system, those in tool calls too (each will want its turn); counting only
 * the ready ones narrowed the batch too far (docs/policies.md). On a 2-core CPU, where a decoding
 * sequence costs a third of a step's fixed cost and a prompt token a fifth of it, m* is a
 * handful; on the H100 profile the fit's c is a fifth to a seventeenth of a, and m* runs to a few
 * dozen. The model has no arrivals: it is the drain of a backlog, not a queue that refills, and
 * near capacity the throughput a narrow batch gives up costs more than the rounds save — the
 * reason it is off.
 */
import type { SchedulingCandidate } from './policy.js';

/** A step's fixed cost, a prompt token's and a decoding sequence's, in seconds (a, b and c above). */
export interface BatchShape {
  fixedS: number;
  tokenS: number;
  sequenceS: number;
}

/**
 * m* above, at least 1: n the jobs in the system (`jobs`: the candidates and those in tool calls,
 * which will want their turn too; at least the candidates), W and P the candidates' averages
 * (a segment's W at least 1) — a job in a tool call is taken to be like the ready ones.
 */
export function batchWidthFor(candidates: readonly SchedulingCandidate[], shape: BatchShape, jobs = candidates.length): number {
  let outputTokens = 0;
  let promptTokens = 0;
  for (const c of candidates) {
    outputTokens += Math.max(1, c.expectedOutputTokens - c.generatedTokens);
    promptTokens += c.pendingPrefillTokens;
  }
  const shared = shape.fixedS * outputTokens;
  const own = shape.tokenS * promptTokens + shape.sequenceS * outputTokens;
  return Math.max(1, Math.ceil(Math.sqrt((Math.max(jobs, candidates.length) * shared) / own)));
}
