/**
 * Shrinking (or growing) a workload after it is generated, so that one model of a workload can
 * run at realistic GPU scale or on a small CPU machine (generators/types.ts, WorkloadScale).
 *
 * - `tokens` multiplies every token count: segment inputs and outputs and the shared prefix,
 *   each rounded to the nearest integer (Math.round), outputs kept ≥ 1 and a job's first prompt
 *   (prefix + first input) kept ≥ 1 token, the format's minimums; `prefix_id` is kept even when
 *   its tokens round to 0, so prefix sharing stays visible.
 * - `time` multiplies every duration outside the engine: tool durations (including human
 *   replies) and arrival times, hence every inter-arrival gap (the arrival rate divides by it).
 * A tool call's subagents are scaled the same way (their inputs, outputs and tool calls).
 */
import { EngineError } from '../errors.js';
import type { ToolCall, WorkloadJob, WorkloadSegment } from './format.js';
import type { WorkloadScale } from './generators/types.js';

/** The scale with defaults filled in; throws INVALID_ARGUMENT for a factor that is not finite > 0. */
export function resolveScale(scale: Partial<WorkloadScale> | undefined): WorkloadScale {
  const resolved = { tokens: scale?.tokens ?? 1, time: scale?.time ?? 1 };
  for (const [field, value] of Object.entries(resolved)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new EngineError('INVALID_ARGUMENT', `scale.${field} must be a finite number > 0, got ${String(value)}`);
    }
  }
  return resolved;
}

/** New jobs with token counts and durations multiplied (see the module comment); `jobs` is unchanged. */
export function applyScale(jobs: readonly WorkloadJob[], scale: Partial<WorkloadScale>): WorkloadJob[] {
  const { tokens, time } = resolveScale(scale);
  if (tokens === 1 && time === 1) return jobs.map((job) => structuredClone(job));
  return jobs.map((job) => {
    const scaled: WorkloadJob = {
      ...job,
      arrivalS: job.arrivalS * time,
      segments: scaleSegments(job.segments, tokens, time),
    };
    if (job.prefixTokens !== undefined) scaled.prefixTokens = Math.round(job.prefixTokens * tokens);
    if ((scaled.prefixTokens ?? 0) + scaled.segments[0].inputTokens === 0) scaled.segments[0].inputTokens = 1;
    return scaled;
  });
}

function scaleSegments(segments: readonly WorkloadSegment[], tokens: number, time: number): WorkloadSegment[] {
  return segments.map((seg) => ({
    inputTokens: Math.round(seg.inputTokens * tokens),
    outputTokens: Math.max(1, Math.round(seg.outputTokens * tokens)),
    tool: seg.tool === null ? null : scaleTool(seg.tool, tokens, time),
  }));
}

function scaleTool(tool: ToolCall, tokens: number, time: number): ToolCall {
  const scaled: ToolCall = { name: tool.name, durationS: tool.durationS * time };
  if (tool.subagents !== undefined) scaled.subagents = tool.subagents.map((sub) => ({ segments: scaleSegments(sub.segments, tokens, time) }));
  return scaled;
}
