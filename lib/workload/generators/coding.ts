/**
 * `coding`: long-context coding agents (Claude Code, Codex) — the regime where job-aware serving
 * matters most (DESIGN.md): contexts of ~100K tokens growing by ~1K per step, short outputs,
 * heavy-tailed tool calls, many steps per request, one large shared prompt prefix.
 *
 * One job = one user request to the agent: a chain of LLM steps (segments), each appending a tool's
 * result to the context and generating until its next tool call. Fitted to TraceLab's published
 * aggregates (coding-fits.ts for steps and tokens, coding-tools.ts for tool kinds and latencies;
 * ../shared/traces/tracelab, "TraceLab (SyFI Lab, University of Washington)", arXiv 2606.30560,
 * dataset CC BY 4.0). Besides those fits:
 * - every request starts with the agent's system prompt and tool schemas, the prefix
 *   'coding-agent-prompt' of 17,000 tokens shared by all (the mean of the first cached prefixes of
 *   the two example sessions: Claude Code 27,217, Codex 6,912; assumption);
 * - a request continues a session: its first prompt is the prefix, the conversation before it
 *   (its history, the request's own tokens) and the user's message. The window: the whole request
 *   must fit Llama-3.1's 131,072 positions, subagents included. TraceLab's median context per step
 *   is 118,656 tokens — 91% of this window, from models with 200K–400K windows — so sessions here
 *   run up against the window: the history is as long as the room the request leaves, less a slack
 *   uniform in [0, 5,000] tokens (assumption). That puts the median context per step at ~110K (the
 *   window caps it near 111.5K, whatever the history; docs/workloads.md);
 * - compaction: a request whose own steps outgrow the window (1.7% of requests, the longest, with
 *   28% of all steps) has every token it appends and generates scaled by one factor so that it ends
 *   at the window, and no history; Claude Code and Codex compact the context instead, which one job's
 *   growing KV cannot express. The per-step token medians over all steps are a fifth lower for it
 *   than published (docs/workloads.md has the figures);
 * - subagents (Claude Code's Task tool): with probability 1% a tool call is a 'task' that starts
 *   1–3 subagents (uniform), each a chain of its own — steps from the same fit, at most 20
 *   tool-initiated (the fit's p90), tokens and tools as any step, no subagents of its own — on a
 *   fork of the parent's context; the parent resumes with their final outputs (the reports) when
 *   the last has ended (duration_s 0). All assumptions: TraceLab publishes no figure on them.
 *
 * Arrivals: Poisson (default), the Azure conversation trace's gaps, or a burst at t = 0
 * (arrival-shapes.ts). Base rate (load 1): see CODING_BASE_RATE_PER_S.
 *
 * At another token scale s the contexts peak at 131,072·s tokens: the `small` preset's 4,096
 * positions need s ≤ 0.031.
 */
import type { Subagent, ToolCall, WorkloadJob, WorkloadSegment } from '../format.js';
import { uniformInt, type Rng } from '../random.js';
import { arrivalTimes } from './arrival-shapes.js';
import { appendedTokensPerStep, outputTokensPerStep, toolStepsPerRequest } from './coding-fits.js';
import { drawToolCall } from './coding-tools.js';
import type { RandomStreams } from './streams.js';
import type { ArrivalShape } from './types.js';

/**
 * Base rate (load 1): 0.006 requests/s (22 an hour), half the rate at which the simulator
 * (h100-llama3-8b, policy fcfs) stops keeping up (about 0.012: mean non-tool time 8.8× the light
 * load's, 15× at 0.0125), as for `paper` and `tau`. At load 1 a step runs 35% of the time and the
 * mean non-tool time is 1.2× the light load's; docs/workloads.md has the measurement.
 */
export const CODING_BASE_RATE_PER_S = 0.006;
export const CODING_DEFAULT_JOBS = 200;
export const CODING_PREFIX_ID = 'coding-agent-prompt';
export const CODING_PREFIX_TOKENS = 17_000;
export const CONTEXT_WINDOW_TOKENS = 131_072;
export const HISTORY_SLACK_MAX_TOKENS = 5_000;
export const FAN_OUT_PROBABILITY = 0.01;
export const MAX_SUBAGENTS = 3;
export const SUBAGENT_MAX_TOOL_STEPS = 20;
export const TASK_TOOL = 'task';

/** A generated request with what its job alone does not show. */
export interface CodingRequest {
  job: WorkloadJob;
  /** The conversation before the request: the first prompt's own tokens before the user's message. */
  historyTokens: number;
  /** 1, or the factor every token of the request was scaled by to fit the window (compaction). */
  compaction: number;
}

export function codingJobs(count: number, ratePerS: number, streams: RandomStreams, arrivals: ArrivalShape = 'poisson'): WorkloadJob[] {
  return codingRequests(count, ratePerS, streams, arrivals).map((request) => request.job);
}

export function codingRequests(count: number, ratePerS: number, streams: RandomStreams, arrivals: ArrivalShape = 'poisson'): CodingRequest[] {
  const times = arrivalTimes(arrivals, streams.arrivals, count, ratePerS);
  return times.map((arrivalS, i) => {
    const { segments, historyTokens, compaction } = drawRequest(streams.shapes);
    const job: WorkloadJob = { id: `coding-${i}`, arrivalS, kind: 'coding', segments, prefixId: CODING_PREFIX_ID, prefixTokens: CODING_PREFIX_TOKENS };
    return { job, historyTokens, compaction };
  });
}

function drawRequest(rng: Rng): { segments: WorkloadSegment[]; historyTokens: number; compaction: number } {
  const room = CONTEXT_WINDOW_TOKENS - CODING_PREFIX_TOKENS;
  const drawn = drawChain(rng, toolStepsPerRequest(rng), true);
  let segments = drawn;
  let compaction = 1;
  let peak = peakGrowth(segments);
  // Scaled, the peak shrinks in proportion but for rounding (outputs stay ≥ 1): shrink until it fits.
  while (peak > room) {
    compaction *= Math.min(room / peak, 0.999);
    segments = scaleChain(drawn, compaction);
    peak = peakGrowth(segments);
  }
  const slack = rng() * HISTORY_SLACK_MAX_TOKENS;
  // A compacted request starts a fresh context (its peak, rounded down, may sit a little below the window).
  const historyTokens = compaction < 1 ? 0 : Math.max(0, Math.round(room - peak - slack));
  segments[0] = { ...segments[0], inputTokens: segments[0].inputTokens + historyTokens };
  return { segments, historyTokens, compaction };
}

/** A chain of 1 + toolSteps steps: appended tokens, output, and the tool call that ends each but the last. */
function drawChain(rng: Rng, toolSteps: number, withSubagents: boolean): WorkloadSegment[] {
  const segments: WorkloadSegment[] = [];
  let appended = appendedTokensPerStep(rng); // the user's message (a subagent's: its task prompt)
  for (let k = 0; k <= toolSteps; k++) {
    const outputTokens = outputTokensPerStep(rng);
    let tool: ToolCall | null = null;
    let next = 0;
    if (k < toolSteps) {
      if (withSubagents && rng() < FAN_OUT_PROBABILITY) {
        const subagents: Subagent[] = Array.from({ length: uniformInt(rng, 1, MAX_SUBAGENTS) }, () => ({
          segments: drawChain(rng, Math.min(toolStepsPerRequest(rng), SUBAGENT_MAX_TOOL_STEPS), false),
        }));
        tool = { name: TASK_TOOL, durationS: 0, subagents };
        next = subagents.reduce((sum, sub) => sum + sub.segments[sub.segments.length - 1].outputTokens, 0);
      } else {
        const call = drawToolCall(rng);
        tool = { name: call.kind, durationS: call.durationS };
        next = appendedTokensPerStep(rng);
      }
    }
    segments.push({ inputTokens: appended, outputTokens, tool });
    appended = next;
  }
  return segments;
}

/**
 * The most tokens the chain holds above the context it starts from: its own end, or a subagent's
 * end on top of the context it forked (the parent's, after the step that started it).
 */
export function peakGrowth(segments: readonly WorkloadSegment[]): number {
  let context = 0;
  let peak = 0;
  for (const seg of segments) {
    context += seg.inputTokens + seg.outputTokens;
    peak = Math.max(peak, context);
    for (const sub of seg.tool?.subagents ?? []) peak = Math.max(peak, context + peakGrowth(sub.segments));
  }
  return peak;
}

/** Every token count times `factor`, rounded down (outputs at least 1), subagents included. */
function scaleChain(segments: readonly WorkloadSegment[], factor: number): WorkloadSegment[] {
  return segments.map((seg) => ({
    inputTokens: Math.floor(seg.inputTokens * factor),
    outputTokens: Math.max(1, Math.floor(seg.outputTokens * factor)),
    tool:
      seg.tool === null
        ? null
        : {
            ...seg.tool,
            ...(seg.tool.subagents === undefined ? {} : { subagents: seg.tool.subagents.map((sub) => ({ segments: scaleChain(sub.segments, factor) })) }),
          },
  }));
}
