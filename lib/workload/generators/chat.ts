/**
 * `chat`: long multi-turn conversations with a person. The context grows turn after turn to tens
 * of thousands of tokens, the person takes seconds to minutes to answer (tool 'user'), and every
 * session shares one system prompt. This is the case where keeping a job's KV through its waits
 * can backfire: long contexts, long waits.
 *
 * Model (one session = one job, one segment per assistant turn):
 * - the shared system prompt: prefix 'chat-system', 600 tokens (assumption);
 * - the first user message: with probability 2/3 it carries a long document, lognormal(median
 *   15,000, σ 0.85) in [1,000, 64,000] tokens, else a short message, lognormal(median 100, σ 1.0)
 *   in [1, 4,000]. The 2/3 follows the Mooncake FAST'25 trace, whose requests mix ShareGPT chats
 *   with L-Eval and LooGLE long-document sessions 1:1:1 (../shared/traces/mooncake_fast25); the
 *   document's median and σ are fitted below; the 64,000 cap (Mooncake's p99 is 66,456) keeps
 *   every session inside Llama-3.1's 128k context;
 * - 4–30 assistant turns, uniform (assumption, as traces.ts CONVERSATION_KIND);
 * - later user messages lognormal(median 60, σ 1.0) in [1, 4,000] (assumption: short follow-ups);
 * - assistant replies lognormal(median 69, σ 1.35) in [1, 1,000]: fitted to Mooncake's output
 *   lengths (p50 69, p90 389: σ = ln(389/69)/1.2816);
 * - the person's reply time: human.ts (read the reply, think, type the next message): p10 35 s,
 *   p50 1.6 min, p90 2.8 min.
 * Fit: with the document at median 15,000 and σ 0.85, the context each request sees (prefix plus
 * the whole conversation so far) has p50 11,249 and p90 38,000 tokens over 3,000 sessions, against
 * Mooncake's 11,587 and 38,611 (test/unit/generators.test.ts checks ±15%). Then about a third of
 * the sessions (33%) end above 20,000 tokens of context, 58% above 10,000 and 10% above 40,000.
 *
 * Base rate (load 1): 0.03 sessions/s: the simulator (h100-llama3-8b, policy fcfs) is stepping
 * 58% of the time, and stops keeping up near 0.07 sessions/s; docs/workloads.md has the
 * measurement.
 */
import type { WorkloadJob, WorkloadSegment } from '../format.js';
import { lognormal, uniformInt } from '../random.js';
import { poissonArrivals } from './arrivals.js';
import { humanReplyS } from './human.js';
import type { RandomStreams } from './streams.js';

export const CHAT_BASE_RATE_PER_S = 0.03;
export const CHAT_DEFAULT_JOBS = 200;
export const CHAT_SYSTEM_PROMPT_TOKENS = 600;
export const DOCUMENT_SHARE = 2 / 3;
export const DOCUMENT_MEDIAN_TOKENS = 15000;
export const DOCUMENT_SIGMA = 0.85;

export function chatJobs(count: number, ratePerS: number, streams: RandomStreams): WorkloadJob[] {
  const rng = streams.shapes;
  const tokens = (median: number, sigma: number, min: number, max: number) =>
    Math.min(max, Math.max(min, Math.round(lognormal(rng, median, sigma))));
  return poissonArrivals(streams.arrivals, count, ratePerS).map((arrivalS, i) => {
    const turns = uniformInt(rng, 4, 30);
    const firstMessage = rng() < DOCUMENT_SHARE ? tokens(DOCUMENT_MEDIAN_TOKENS, DOCUMENT_SIGMA, 1000, 64_000) : tokens(100, 1.0, 1, 4000);
    const messages = [firstMessage];
    const replies: number[] = [];
    for (let t = 0; t < turns; t++) {
      replies.push(tokens(69, 1.35, 1, 1000));
      if (t > 0) messages.push(tokens(60, 1.0, 1, 4000));
    }
    const segments: WorkloadSegment[] = replies.map((outputTokens, t) => ({
      inputTokens: messages[t],
      outputTokens,
      tool: t === turns - 1 ? null : { name: 'user', durationS: humanReplyS(rng, outputTokens, messages[t + 1]) },
    }));
    return { id: `chat-${i}`, arrivalS, kind: 'chat', segments, prefixId: 'chat-system', prefixTokens: CHAT_SYSTEM_PROMPT_TOKENS };
  });
}
