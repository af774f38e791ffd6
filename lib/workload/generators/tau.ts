/**
 * `tau`: customer-service agent jobs with real shapes, real arrival burstiness and heavy-tailed
 * tool times, each part from a different public trace (data/traces/README.md):
 * - shapes: the tau-bench airline trajectories of GPT-4o (200 jobs, 2,454 LLM calls): each job's
 *   segments with their input and output tokens and whether a tool call or the customer's reply
 *   follows (data/traces/tau-airline-shapes.json). Jobs take the shapes in a seeded random order,
 *   all 200 before any repeats;
 * - arrivals: the Azure LLM 2023 conversation trace's inter-arrival gaps replayed in order from a
 *   seeded random start, rescaled so the mean rate is base × load (arrivals.ts);
 * - tool calls: the TraceLab fit (tool-latency.ts): p50 0.3 s, p90 13.6 s, p99 3.6 min, mean
 *   18.4 s. tau-bench's own tools are mock-database lookups with no timing, so this stands for
 *   real tools (databases, web services, builds);
 * - the customer's reply ('user'): a person reading the agent's message and typing the next one
 *   (human.ts; the reply read is the segment's output, the message typed is the next segment's
 *   input): an assumption, the trace's customer is a GPT-4 simulator.
 * Every job shares the airline policy prompt: the first 1,200 tokens of the first prompt are the
 * prefix 'tau-airline-policy' (an assumption: the smallest first prompt in the trace is 1,265
 * tokens, policy plus the customer's first message). Tool schemas are not counted (the trace's
 * token counts leave them out).
 *
 * Base rate (load 1): 1.5 jobs/s, half the rate at which the simulator (h100-llama3-8b, policy
 * fcfs) stops keeping up (about 3 jobs/s); docs/workloads.md has the measurement.
 */
import type { ToolCall, WorkloadJob } from '../format.js';
import type { Rng } from '../random.js';
import { replayedArrivals } from './arrivals.js';
import { humanReplyS } from './human.js';
import type { RandomStreams } from './streams.js';
import { toolLatencyS } from './tool-latency.js';
import { loadAzureGapsS, loadTauShapes, type JobShape } from './trace-data.js';

export const TAU_BASE_RATE_PER_S = 1.5;
export const TAU_DEFAULT_JOBS = 1000;
export const TAU_POLICY_PREFIX_TOKENS = 1200;

/** The shapes in the order jobs take them: seeded shuffles of all shapes, one after another. */
function shapeOrder(shapes: readonly JobShape[], count: number, rng: Rng): JobShape[] {
  const order: JobShape[] = [];
  while (order.length < count) {
    const pass = [...shapes];
    for (let i = pass.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [pass[i], pass[j]] = [pass[j], pass[i]];
    }
    order.push(...pass);
  }
  return order.slice(0, count);
}

export function tauJobs(count: number, ratePerS: number, streams: RandomStreams): WorkloadJob[] {
  const arrivals = replayedArrivals(streams.arrivals, loadAzureGapsS(), count, ratePerS);
  const rng = streams.shapes;
  return shapeOrder(loadTauShapes(), count, rng).map((shape, i) => {
    const segments = shape.segments.map(([inputTokens, outputTokens, next], s) => {
      let tool: ToolCall | null = null;
      if (next === 0) tool = { name: 'tool', durationS: toolLatencyS(rng) };
      else if (next === 1) tool = { name: 'user', durationS: humanReplyS(rng, outputTokens, shape.segments[s + 1][0]) };
      return { inputTokens: s === 0 ? inputTokens - TAU_POLICY_PREFIX_TOKENS : inputTokens, outputTokens, tool };
    });
    return { id: `tau-${i}`, arrivalS: arrivals[i], kind: 'tau_airline', segments, prefixId: 'tau-airline-policy', prefixTokens: TAU_POLICY_PREFIX_TOKENS };
  });
}
