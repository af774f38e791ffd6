/**
 * The shape of a coding agent's work, fitted to TraceLab's published aggregates over 357,161 LLM
 * steps of real Claude Code and Codex sessions (../shared/traces/tracelab: tables
 * session_internal_counts and session_timing_distribution, paper_macros.tex; "TraceLab (SyFI Lab,
 * University of Washington)", tracelab.cs.washington.edu, arXiv 2606.30560, dataset CC BY 4.0).
 * Only aggregates are published; no trace data is embedded. Each fit names the statistic it
 * matches; docs/workloads.md compares the generated figures with the published ones.
 *
 * - Tool-initiated steps per request (a request is one user instruction; it has 1 + this many
 *   LLM steps): mean 7.8, p25 0, p50 1, p90 20, p99 86. The count is ⌊X⌋ with X the log-quantile
 *   fit (log-quantile.ts) through p50 1.5, p90 20.5, p99 86.5 — half a step above each published
 *   quantile, so the floor lands on it (then P(0) = 42%, so the p25 is 0 as published). Above the
 *   p99 the slope 2.096 makes the mean 7.8 (solved numerically) under a cap of 1,107 steps, the
 *   published p99 of tool-initiated steps per *session*, which one request cannot plausibly pass.
 * - Output tokens per step (reasoning included): the median is the published 214; the tail is the
 *   published generation time per step (p90 20.2 s, p99 1.3 min, mean 11.5 s) at the published
 *   median decode speed (40.7 tokens/s): p90 822, p99 3,175, mean 468 tokens. (The median of that
 *   conversion, 4.9 s × 40.7 = 199, agrees with the 214 to 7%.) Slope 3.416 above the p99 gives
 *   the mean 468 under a cap of 32,000 (Claude Code's default output limit; assumption).
 * - Tokens appended before a step (a tool's result, or the user's message): in the trace a step's
 *   "newly appended" tokens are everything after the cached prefix, which is the previous step's
 *   output plus the new tool results (the example rounds show it: round 3's 2,541 = round 2's
 *   output 2,475 + a 136-character result). So the fit matches the published median append, 875,
 *   on previous output + appended, and the published mean context growth per step, 608,810,766
 *   tokens over 357,161 steps = 1,705, on mean output + mean appended (every appended token grows
 *   the context in this engine; the trace's other appended tokens are re-sent after cache misses,
 *   3.8× in all). Lognormal with median 489 and σ 1.383 (mean 1,237) does both (solved
 *   numerically), capped at 25,000 tokens (Claude Code's file-read limit; assumption).
 */
import { lognormal, type Rng } from '../random.js';
import { drawLogQuantile, type LogQuantileFit } from './log-quantile.js';

export const TOOL_STEPS_FIT: LogQuantileFit = { p50: 1.5, p90: 20.5, p99: 86.5, tailSigma: 2.096, cap: 1107 };
export const OUTPUT_TOKENS_FIT: LogQuantileFit = { p50: 214, p90: 822, p99: 3175, tailSigma: 3.416, cap: 32_000 };
export const APPENDED_MEDIAN_TOKENS = 489;
export const APPENDED_SIGMA = 1.383;
export const APPENDED_CAP_TOKENS = 25_000;

/** The published figures the fits reproduce (tests and docs compare against these). */
export const TRACELAB_CODING = {
  toolStepsPerRequest: { mean: 7.8, p50: 1, p90: 20, p99: 86 },
  outputTokensPerStep: { p50: 214 },
  appendedTokensPerStep: { p50: 875 },
  contextGrowthPerStep: { mean: 608_810_766 / 357_161 },
  cachedContextPerStep: { p50: 118_656 },
} as const;

/** Tool-initiated LLM steps in one request (the request has one more step, its first). */
export function toolStepsPerRequest(rng: Rng): number {
  return Math.floor(drawLogQuantile(rng, TOOL_STEPS_FIT));
}

/** Tokens one step generates (≥ 1). */
export function outputTokensPerStep(rng: Rng): number {
  return Math.max(1, Math.round(drawLogQuantile(rng, OUTPUT_TOKENS_FIT)));
}

/** Tokens appended before one step: a tool's result, or the user's message. */
export function appendedTokensPerStep(rng: Rng): number {
  return Math.min(APPENDED_CAP_TOKENS, Math.round(lognormal(rng, APPENDED_MEDIAN_TOKENS, APPENDED_SIGMA)));
}
