/**
 * Converters from the shared traces (read at run time from ../shared/traces/ beside the checkout,
 * never copied into the repository; the workload generators embed only compact derived figures,
 * data/traces/) to workload jobs: tau-bench's LLM calls and SWE-agent's steps. All randomness
 * comes from mulberry32 seeded by the caller, so the same inputs and seed give the same jobs.
 *
 * Arrivals are a Poisson process: job k (0-based) arrives at the sum of k + 1 exponential gaps
 * of rate `arrivalRatePerS` (so the first job arrives after one gap, not at 0).
 *
 * Malformed CSV input is an EngineError('INVALID_TRACE') naming the source line.
 */
import { EngineError } from '../errors.js';
import { checkDuration, checkMaxJobs, checkRate } from './checks.js';
import { csvRows, groupBy, intField, numberField, orderedSteps, type Row } from './csv.js';
import type { ToolCall, WorkloadJob, WorkloadSegment } from './format.js';
import { exponential, mulberry32, type Rng } from './random.js';

/**
 * The trace converters' shared skeleton: one job per group of rows, in order, up to `maxJobs`,
 * arriving as a Poisson process (each job's arrival gap is drawn from `rng` before `build` draws
 * anything for it).
 */
function arrivingJobs(
  groups: Row[][],
  options: { arrivalRatePerS: number; maxJobs?: number },
  rng: Rng,
  build: (group: Row[], arrivalS: number, index: number) => WorkloadJob,
): WorkloadJob[] {
  const maxJobs = checkMaxJobs(options.maxJobs);
  const jobs: WorkloadJob[] = [];
  let clock = 0;
  for (const group of groups) {
    if (jobs.length >= maxJobs) break;
    clock += exponential(rng, options.arrivalRatePerS);
    jobs.push(build(group, clock, jobs.length));
  }
  return jobs;
}

export interface TauBenchOptions {
  arrivalRatePerS: number;
  seed: number;
  /**
   * Duration of the external wait that ends a segment. Called with 'tool' (the agent called a
   * tool) or 'user' (the agent replied and waits for the simulated user's next message).
   */
  toolDurationS: (toolName: string, rng: Rng) => number;
  /** Keep only the first `maxJobs` jobs in file order (default: all). */
  maxJobs?: number;
  /**
   * If set, the first `prefixTokens` tokens of every job's first prompt are the shared airline
   * policy prompt: each job gets `prefix_id` 'tau-airline-policy' with these tokens, and its first
   * segment's input is `prompt_tokens − prefixTokens` (must not be negative). Default: no prefix.
   * (The smallest first prompt in the trace is 1,265 tokens.)
   */
  prefixTokens?: number;
}

/**
 * tau-bench airline (`tau_bench/derived_gpt-4o-airline_llm_calls.csv`; one row per LLM call) →
 * one job per `job_id` (id `tau-<job_id>`, kind 'tau_airline'), in file order of first
 * appearance; each LLM call (ordered by `call_idx`, which must run 0..n−1) is one segment:
 * - `input_tokens`: the first call's `prompt_tokens`; a later call's is the previous row's
 *   `next_input_tokens` (the trace's context is consistent: prompt[i] = prompt[i−1] +
 *   output[i−1] + next_input[i−1]);
 * - `output_tokens`: the row's `output_tokens`;
 * - `tool`: a call followed by `tool` ends in a tool call named 'tool'; followed by `user`, in an
 *   external wait named 'user' (the simulated customer's reply); durations from
 *   `toolDurationS(name, rng)` (the trace has no timing: its tools are mock-database lookups).
 *   The trace records no tool names, hence the generic names.
 * - the job's last call has `tool: null` whatever its `next` says: the released file marks no
 *   row `end` (its last calls are followed by a tool or user message that no further LLM call
 *   consumes), so the final wait is dropped. `end` on any call but the last is an error.
 * Tool schemas are not counted in the trace's token numbers (see its README).
 * Randomness: one mulberry32(seed) stream; per job, the arrival gap, then each segment's tool
 * duration in order.
 */
export function fromTauBench(csvText: string, options: TauBenchOptions): WorkloadJob[] {
  const source = 'tau_bench csv';
  checkRate(options.arrivalRatePerS);
  checkMaxJobs(options.maxJobs);
  const prefix = options.prefixTokens;
  if (prefix !== undefined && (!Number.isSafeInteger(prefix) || prefix < 0)) {
    throw new EngineError('INVALID_ARGUMENT', `prefixTokens must be a non-negative integer, got ${prefix}`);
  }
  const rows = csvRows(csvText, source, ['job_id', 'call_idx', 'prompt_tokens', 'output_tokens', 'next', 'next_input_tokens']);
  const rng = mulberry32(options.seed);
  return arrivingJobs(groupBy(rows, (row) => row.get('job_id')), options, rng, (group, arrivalS) => {
    const jobName = group[0].get('job_id');
    const calls = orderedSteps(group, 'call_idx', source, `job '${jobName}'`);
    const segments: WorkloadSegment[] = calls.map((row, i) => {
      const last = i === calls.length - 1;
      const next = row.get('next').trim();
      if (next !== 'tool' && next !== 'user' && next !== 'end') {
        throw new EngineError('INVALID_TRACE', `${source}:${row.line}: 'next' must be tool, user or end, got '${next}'`);
      }
      if (next === 'end' && !last) {
        throw new EngineError('INVALID_TRACE', `${source}:${row.line}: 'next' is end but job '${jobName}' has later calls`);
      }
      let inputTokens = i === 0 ? intField(row, 'prompt_tokens', source) : intField(calls[i - 1], 'next_input_tokens', source);
      if (i === 0 && prefix !== undefined) {
        if (inputTokens < prefix) {
          throw new EngineError('INVALID_TRACE', `${source}:${row.line}: prompt_tokens ${inputTokens} < prefixTokens ${prefix}`);
        }
        inputTokens -= prefix;
      }
      let tool: ToolCall | null = null;
      if (!last) tool = { name: next, durationS: checkDuration(options.toolDurationS(next, rng), 'toolDurationS') };
      return { inputTokens, outputTokens: intField(row, 'output_tokens', source), tool };
    });
    const job: WorkloadJob = { id: `tau-${jobName}`, arrivalS, kind: 'tau_airline', segments };
    if (prefix !== undefined) {
      job.prefixId = 'tau-airline-policy';
      job.prefixTokens = prefix;
    }
    return job;
  });
}

// ---------------------------------------------------------------------------------------------
// SWE-agent

export interface SweAgentOptions {
  arrivalRatePerS: number;
  seed: number;
  /**
   * Tokens of the first prompt (system prompt + task statement), which the CSV does not carry.
   * Default 1300: the one GPT-4 run sent 7,141 prompt tokens over 5 calls whose observations and
   * responses add ~100 tokens per step, so its first prompt was ≈ 1,300 tokens.
   */
  systemPromptTokens?: number;
  /** Characters per token for the char counts (default 4, the usual English-text ratio). */
  charsPerToken?: number;
  maxJobs?: number;
}

/**
 * SWE-agent steps (`swe_agent_traj/derived_steps.csv`; one row per step) → one job per
 * (`run_dir`, `file`) (id `swe-<k>` in order of first appearance, kind 'swe_agent'); each step
 * (ordered by `step`, which must run 0..n−1) is one segment: the model's response, then the
 * action it runs.
 * - tokens ≈ ceil(chars / charsPerToken);
 * - `input_tokens`: `systemPromptTokens` for the first step; for a later step, the previous
 *   step's `observation_chars` in tokens (the action's output appended to the context);
 * - `output_tokens`: `response_chars` in tokens, at least 1 (the response includes the action);
 * - `tool`: {name 'swe_action', duration_s: the step's `execution_time_s`} (the CSV has no action
 *   names); the last step's tool is null, so its action time and observation are dropped (in
 *   these runs the last action is the submission).
 * Randomness: only the arrival gaps, from mulberry32(seed).
 */
export function fromSweAgentSteps(csvText: string, options: SweAgentOptions): WorkloadJob[] {
  const source = 'swe_agent csv';
  checkRate(options.arrivalRatePerS);
  checkMaxJobs(options.maxJobs);
  const systemPromptTokens = options.systemPromptTokens ?? 1300;
  if (!Number.isSafeInteger(systemPromptTokens) || systemPromptTokens < 1) {
    throw new EngineError('INVALID_ARGUMENT', `systemPromptTokens must be a positive integer, got ${systemPromptTokens}`);
  }
  const charsPerToken = options.charsPerToken ?? 4;
  if (!Number.isFinite(charsPerToken) || charsPerToken <= 0) {
    throw new EngineError('INVALID_ARGUMENT', `charsPerToken must be a finite number > 0, got ${charsPerToken}`);
  }
  const tokens = (chars: number) => Math.ceil(chars / charsPerToken);
  const rows = csvRows(csvText, source, ['run_dir', 'file', 'step', 'execution_time_s', 'observation_chars', 'response_chars']);
  const groups = groupBy(rows, (row) => `${row.get('run_dir')}\u0000${row.get('file')}`);
  return arrivingJobs(groups, options, mulberry32(options.seed), (group, arrivalS, index) => {
    const jobName = `${group[0].get('run_dir')}/${group[0].get('file')}`;
    const steps = orderedSteps(group, 'step', source, `run '${jobName}'`);
    const segments: WorkloadSegment[] = steps.map((row, i) => ({
      inputTokens: i === 0 ? systemPromptTokens : tokens(intField(steps[i - 1], 'observation_chars', source)),
      outputTokens: Math.max(1, tokens(intField(row, 'response_chars', source))),
      tool: i === steps.length - 1 ? null : { name: 'swe_action', durationS: numberField(row, 'execution_time_s', source) },
    }));
    return { id: `swe-${index}`, arrivalS, kind: 'swe_agent', segments };
  });
}
