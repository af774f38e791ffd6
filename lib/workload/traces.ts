/**
 * Converters from the shared traces (read at run time from ../shared/traces/ beside the checkout,
 * never copied into the repository; the workload generators embed only compact derived figures,
 * data/traces/) to workload jobs, and a synthetic generator for sweeps. All randomness
 * comes from mulberry32 seeded by the caller, so the same inputs and seed give the same jobs.
 *
 * Arrivals are a Poisson process: job k (0-based) arrives at the sum of k + 1 exponential gaps
 * of rate `arrivalRatePerS` (so the first job arrives after one gap, not at 0).
 *
 * Malformed CSV input is an EngineError('INVALID_TRACE') naming the source line.
 */
import { EngineError } from '../errors.js';
import type { ToolCall, WorkloadJob, WorkloadSegment } from './format.js';
import { exponential, mulberry32, standardNormal, uniformInt, type Rng } from './random.js';

// ---------------------------------------------------------------------------------------------
// CSV

/**
 * A small RFC 4180 CSV parser: comma-separated, fields optionally in double quotes (a quoted
 * field may hold commas, newlines and "" for a quote), records end in \n or \r\n. A trailing
 * newline does not make an empty record. Returns each record with the 1-based line it starts on.
 */
export function parseCsv(text: string): { fields: string[]; line: number }[] {
  const records: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let atFieldStart = true;
  let sawAny = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && atFieldStart) {
      quoted = true;
      atFieldStart = false;
      sawAny = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      atFieldStart = true;
      sawAny = true;
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      if (c === '\r') i++;
      fields.push(field);
      if (sawAny || fields.length > 1 || field !== '') records.push({ fields, line: recordLine });
      fields = [];
      field = '';
      atFieldStart = true;
      sawAny = false;
      line++;
      recordLine = line;
    } else {
      field += c;
      atFieldStart = false;
      sawAny = true;
    }
  }
  if (quoted) throw new EngineError('INVALID_TRACE', `CSV: unterminated quoted field starting on line ${recordLine}`);
  if (sawAny || field !== '') {
    fields.push(field);
    records.push({ fields, line: recordLine });
  }
  return records;
}

interface Row {
  line: number;
  get(column: string): string;
}

/** CSV with a header row → rows; checks the required columns and every row's width. */
function csvRows(text: string, source: string, required: readonly string[]): Row[] {
  const records = parseCsv(text);
  if (records.length === 0) throw new EngineError('INVALID_TRACE', `${source}: empty CSV (no header)`);
  const header = records[0].fields.map((h) => h.trim());
  const index = new Map(header.map((h, i) => [h, i]));
  for (const column of required) {
    if (!index.has(column)) throw new EngineError('INVALID_TRACE', `${source}: missing column '${column}'`);
  }
  return records.slice(1).map(({ fields, line }) => {
    if (fields.length !== header.length) {
      throw new EngineError(
        'INVALID_TRACE',
        `${source}:${line}: ${fields.length} fields, the header has ${header.length}`,
      );
    }
    return { line, get: (column: string) => fields[index.get(column) as number] };
  });
}

function intField(row: Row, column: string, source: string): number {
  const text = row.get(column).trim();
  const value = Number(text);
  if (text === '' || !Number.isSafeInteger(value) || value < 0) {
    throw new EngineError('INVALID_TRACE', `${source}:${row.line}: '${column}' must be a non-negative integer, got '${text}'`);
  }
  return value;
}

function numberField(row: Row, column: string, source: string): number {
  const text = row.get(column).trim();
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || value < 0) {
    throw new EngineError('INVALID_TRACE', `${source}:${row.line}: '${column}' must be a finite number ≥ 0, got '${text}'`);
  }
  return value;
}

/** Group rows by key in order of first appearance. */
function groupBy(rows: Row[], key: (row: Row) => string): Row[][] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [row]);
    else group.push(row);
  }
  return [...groups.values()];
}

/** Sort a job's rows by an index column and check it runs 0, 1, 2, ... */
function orderedSteps(rows: Row[], column: string, source: string, jobName: string): Row[] {
  const withIndex = rows.map((row) => ({ row, idx: intField(row, column, source) }));
  withIndex.sort((a, b) => a.idx - b.idx);
  withIndex.forEach(({ row, idx }, i) => {
    if (idx !== i) {
      throw new EngineError('INVALID_TRACE', `${source}:${row.line}: ${jobName}: '${column}' ${idx} where ${i} was expected`);
    }
  });
  return withIndex.map(({ row }) => row);
}

function checkRate(rate: number): void {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
    throw new EngineError('INVALID_ARGUMENT', `arrivalRatePerS must be a finite number > 0, got ${rate}`);
  }
}

function checkMaxJobs(maxJobs: number | undefined): number {
  if (maxJobs === undefined) return Infinity;
  if (!Number.isSafeInteger(maxJobs) || maxJobs < 0) {
    throw new EngineError('INVALID_ARGUMENT', `maxJobs must be a non-negative integer, got ${maxJobs}`);
  }
  return maxJobs;
}

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

function checkDuration(value: number, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new EngineError('INVALID_ARGUMENT', `${what} must return a finite number ≥ 0, got ${value}`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// tau-bench

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

// ---------------------------------------------------------------------------------------------
// Synthetic

/**
 * A distribution for one workload quantity. `lognormal` is parameterised by its median and
 * sigma (the log-space standard deviation: p90 = median·e^(1.2816·sigma)). `min`/`max` clamp the
 * draw. Token counts are rounded to the nearest integer after clamping.
 */
export type Distribution =
  | { type: 'constant'; value: number }
  | { type: 'uniform'; min: number; max: number }
  | { type: 'lognormal'; median: number; sigma: number; min?: number; max?: number }
  | { type: 'exponential'; mean: number; min?: number; max?: number };

export interface SyntheticKind {
  name: string;
  /** Relative share of jobs of this kind (> 0). */
  weight: number;
  /** Number of segments: a uniform integer in [min, max]. */
  segments: { min: number; max: number };
  /** Shared prompt prefix per kind (prefix_id '<name>-system'); 0 or absent for none. */
  prefixTokens?: number;
  /** The job's own first-prompt tokens (after the prefix). */
  firstInputTokens: Distribution;
  /** Tool-result tokens appended before each later segment. */
  toolResultTokens: Distribution;
  outputTokens: Distribution;
  toolDurationS: Distribution;
  /** Tool names, chosen uniformly per call (default ['tool']). */
  tools?: string[];
}

export interface SyntheticOptions {
  jobs: number;
  arrivalRatePerS: number;
  seed: number;
  /** Default: DEFAULT_SYNTHETIC_KINDS. */
  kinds?: SyntheticKind[];
}

/**
 * Default kinds, fitted by eye to the traces' published quantiles (not to raw samples):
 * - `airline` (tau-bench GPT-4o airline): 4–20 segments (p50 11, p90 20 calls per job); a
 *   1,200-token shared policy prefix + lognormal(60, 0.5) own tokens (first prompts ≥ 1,265);
 *   tool results lognormal(median 248, σ 0.27) (p90 349); outputs lognormal(46, 0.85) (p90 137)
 *   clamped to [1, 512]; waits lognormal(median 1 s, σ 1) clamped to [0.05, 30] s — an
 *   assumption (tau-bench has no timing; most waits are the simulated user).
 * - `coding` (TraceLab coding agents): 2–30 segments; 4,000-token shared prefix +
 *   lognormal(1500, 0.8) own; tool results lognormal(875, 1.0) in [1, 16000] (fresh append p50
 *   ~875); outputs lognormal(214, 1.0) in [1, 4096]; tool latency lognormal(median 0.3 s,
 *   σ 2.97) in [0.005, 600] s (p50 0.3 s, p90 13.6 s: the heavy tail); tools Read/Edit/Bash.
 * - `chat` (Azure LLM 2023 conversation): one segment; input lognormal(1020, 0.77) in
 *   [1, 14050] (p90 2,734); output lognormal(129, 0.93) in [1, 1000] (p90 424).
 * Weights 0.4 / 0.4 / 0.2.
 */
export const DEFAULT_SYNTHETIC_KINDS: readonly SyntheticKind[] = [
  {
    name: 'airline',
    weight: 0.4,
    segments: { min: 4, max: 20 },
    prefixTokens: 1200,
    firstInputTokens: { type: 'lognormal', median: 60, sigma: 0.5, min: 1, max: 2000 },
    toolResultTokens: { type: 'lognormal', median: 248, sigma: 0.27, min: 1, max: 2000 },
    outputTokens: { type: 'lognormal', median: 46, sigma: 0.85, min: 1, max: 512 },
    toolDurationS: { type: 'lognormal', median: 1, sigma: 1, min: 0.05, max: 30 },
    tools: ['tool', 'user'],
  },
  {
    name: 'coding',
    weight: 0.4,
    segments: { min: 2, max: 30 },
    prefixTokens: 4000,
    firstInputTokens: { type: 'lognormal', median: 1500, sigma: 0.8, min: 1, max: 32000 },
    toolResultTokens: { type: 'lognormal', median: 875, sigma: 1.0, min: 1, max: 16000 },
    outputTokens: { type: 'lognormal', median: 214, sigma: 1.0, min: 1, max: 4096 },
    toolDurationS: { type: 'lognormal', median: 0.3, sigma: 2.97, min: 0.005, max: 600 },
    tools: ['Read', 'Edit', 'Bash'],
  },
  {
    name: 'chat',
    weight: 0.2,
    segments: { min: 1, max: 1 },
    firstInputTokens: { type: 'lognormal', median: 1020, sigma: 0.77, min: 1, max: 14050 },
    toolResultTokens: { type: 'constant', value: 0 },
    outputTokens: { type: 'lognormal', median: 129, sigma: 0.93, min: 1, max: 1000 },
    toolDurationS: { type: 'constant', value: 0 },
  },
];

/**
 * Long multi-turn conversations (not in the default mix): the context grows turn after turn to
 * tens of thousands of tokens, people take seconds to minutes to answer, and every session
 * shares one system prompt — the case where keeping KV per job can backfire. Assumptions, checked
 * against the Mooncake FAST'25 trace (ShareGPT / L-Eval / LooGLE turns kept in order; prompt p50
 * 11,587, p90 38,611 tokens; outputs p50 69, mean 149): a 600-token system prompt; a first
 * message lognormal(median 2,000, σ 1.0) in [1, 32,000] (pasted documents make the long tail);
 * 4–30 turns; each later user message lognormal(200, 1.0) in [1, 4,000]; replies
 * lognormal(120, 0.9) in [1, 1,000]; the person's reply time (tool `user`) lognormal(median
 * 15 s, σ 1.0) in [1, 300] s. A 30-turn session ends near 13,000 tokens at the medians.
 */
export const CONVERSATION_KIND: SyntheticKind = {
  name: 'conversation',
  weight: 1,
  segments: { min: 4, max: 30 },
  prefixTokens: 600,
  firstInputTokens: { type: 'lognormal', median: 2000, sigma: 1.0, min: 1, max: 32000 },
  toolResultTokens: { type: 'lognormal', median: 200, sigma: 1.0, min: 1, max: 4000 },
  outputTokens: { type: 'lognormal', median: 120, sigma: 0.9, min: 1, max: 1000 },
  toolDurationS: { type: 'lognormal', median: 15, sigma: 1.0, min: 1, max: 300 },
  tools: ['user'],
};

/** One draw from a distribution (clamped to its min/max where given). */
export function sample(dist: Distribution, rng: Rng): number {
  let value: number;
  switch (dist.type) {
    case 'constant':
      return dist.value;
    case 'uniform':
      return dist.min + rng() * (dist.max - dist.min);
    case 'lognormal':
      value = dist.median * Math.exp(dist.sigma * standardNormal(rng));
      break;
    case 'exponential':
      value = exponential(rng, 1 / dist.mean);
      break;
  }
  if (dist.min !== undefined) value = Math.max(dist.min, value);
  if (dist.max !== undefined) value = Math.min(dist.max, value);
  return value;
}

function checkKind(kind: SyntheticKind): void {
  const bad = (what: string) => {
    throw new EngineError('INVALID_ARGUMENT', `synthetic kind '${kind.name}': ${what}`);
  };
  if (typeof kind.name !== 'string' || kind.name === '') bad('name must be a non-empty string');
  if (!Number.isFinite(kind.weight) || kind.weight <= 0) bad('weight must be > 0');
  const { min, max } = kind.segments;
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 1 || max < min) {
    bad('segments must be integers with 1 ≤ min ≤ max');
  }
  const prefix = kind.prefixTokens ?? 0;
  if (!Number.isSafeInteger(prefix) || prefix < 0) bad('prefixTokens must be a non-negative integer');
  if (kind.tools !== undefined && (kind.tools.length === 0 || kind.tools.some((t) => t === ''))) {
    bad('tools must be non-empty names');
  }
}

/**
 * `jobs` synthetic agent jobs (ids `syn-<i>`, kind = the kind's name) with Poisson arrivals.
 * Per job, from one mulberry32(seed) stream in this order: arrival gap, kind (by weight),
 * segment count, then per segment: input tokens (first: `firstInputTokens`, later:
 * `toolResultTokens`), output tokens, and for all but the last segment the tool name and
 * duration. Token counts are rounded; outputs are at least 1, and a first prompt without a
 * prefix at least 1 token.
 */
export function syntheticAgentWorkload(options: SyntheticOptions): WorkloadJob[] {
  const kinds = options.kinds ?? DEFAULT_SYNTHETIC_KINDS;
  if (!Number.isSafeInteger(options.jobs) || options.jobs < 0) {
    throw new EngineError('INVALID_ARGUMENT', `jobs must be a non-negative integer, got ${options.jobs}`);
  }
  checkRate(options.arrivalRatePerS);
  if (kinds.length === 0) throw new EngineError('INVALID_ARGUMENT', 'kinds must not be empty');
  kinds.forEach(checkKind);
  const totalWeight = kinds.reduce((sum, k) => sum + k.weight, 0);
  const rng = mulberry32(options.seed);
  const count = (dist: Distribution, min: number) => Math.max(min, Math.round(sample(dist, rng)));
  const jobs: WorkloadJob[] = [];
  let clock = 0;
  for (let i = 0; i < options.jobs; i++) {
    clock += exponential(rng, options.arrivalRatePerS);
    let pick = rng() * totalWeight;
    let kind = kinds[kinds.length - 1];
    for (const k of kinds) {
      if (pick < k.weight) {
        kind = k;
        break;
      }
      pick -= k.weight;
    }
    const prefix = kind.prefixTokens ?? 0;
    const n = uniformInt(rng, kind.segments.min, kind.segments.max);
    const tools = kind.tools ?? ['tool'];
    const segments: WorkloadSegment[] = [];
    for (let s = 0; s < n; s++) {
      const inputTokens = s === 0 ? count(kind.firstInputTokens, prefix > 0 ? 0 : 1) : count(kind.toolResultTokens, 0);
      const outputTokens = count(kind.outputTokens, 1);
      let tool: ToolCall | null = null;
      if (s < n - 1) {
        const name = tools[uniformInt(rng, 0, tools.length - 1)];
        tool = { name, durationS: checkDuration(Math.max(0, sample(kind.toolDurationS, rng)), 'toolDurationS') };
      }
      segments.push({ inputTokens, outputTokens, tool });
    }
    const job: WorkloadJob = { id: `syn-${i}`, arrivalS: clock, kind: kind.name, segments };
    if (prefix > 0) {
      job.prefixId = `${kind.name}-system`;
      job.prefixTokens = prefix;
    }
    jobs.push(job);
  }
  return jobs;
}
