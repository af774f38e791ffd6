/**
 * The workload file (DESIGN.md, "Workload file"): JSONL, one job per line.
 *
 *   {"id":"j17","arrival_s":3.2,"kind":"airline","segments":[
 *     {"input_tokens":1200,"output_tokens":48,"tool":{"name":"search","duration_s":0.8}},
 *     {"input_tokens":240,"output_tokens":30,"tool":null}],
 *    "prefix_id":"sys","prefix_tokens":900,"priority":1}
 *
 * A tool call may start subagents (Claude Code's Task tool), each with segments of its own:
 *
 *   "tool":{"name":"task","duration_s":0,"subagents":[{"segments":[...]},{"segments":[...]}]}
 *
 * A subagent runs on a fork of the job's context: its first segment's `input_tokens` (its task
 * prompt) are appended to everything the job has so far, its later segments to its own context.
 * The call returns `duration_s` after the last subagent ends (lib/workload/replay.ts).
 *
 * In TypeScript the fields are camelCase (`arrivalS`, `inputTokens`, `outputTokens`,
 * `tool: {name, durationS, subagents?} | null`, `prefixId`, `prefixTokens`).
 *
 * Rules enforced by `parseWorkload` (each failure is an EngineError('INVALID_WORKLOAD') whose
 * message names the source, the 1-based line number and the field):
 * - every line is one JSON object; blank (whitespace-only) lines are skipped; unknown fields are
 *   rejected (a typo must not silently become a default);
 * - `id`: non-empty string, unique in the file; `kind`: non-empty string;
 * - `arrival_s`: finite, ≥ 0;
 * - `segments`: non-empty array; `input_tokens` a non-negative integer; `output_tokens` a
 *   positive integer (the forced generation length: a segment generates at least one token,
 *   otherwise it could not end in a tool call or finish);
 * - `tool`: `{name: non-empty string, duration_s: finite ≥ 0}` on every segment but the last,
 *   `null` on the last;
 * - `tool.subagents`, if present: a non-empty array of `{segments}`, each segments array under
 *   the rules above; a subagent's own tool calls start no subagents (nesting is rejected);
 * - `prefix_id` (non-empty string) and `prefix_tokens` (non-negative integer) come together or
 *   not at all; `priority`, if present, is a finite number (its meaning belongs to the policy);
 * - the job's first prompt (prefix tokens + first segment's input tokens) is at least 1 token.
 *
 * Arrival order: the file need not be sorted. `parseWorkload` returns the jobs sorted by
 * `arrivalS`, stably (jobs with equal arrivals keep their file order).
 *
 * `formatWorkload` writes one line per job, fields in the order above, optional fields only when
 * set, numbers as JSON writes them (shortest exact form), each line ending in "\n". So
 * `parseWorkload(formatWorkload(jobs))` deep-equals `jobs` for valid jobs sorted by arrival, and
 * `formatWorkload(parseWorkload(text)) === text` for a text in that canonical form.
 */
import { EngineError } from '../errors.js';

/** The external call that ends a segment: a tool, or (for traces with a user) the user's reply. */
export interface ToolCall {
  name: string;
  /** Seconds from the tool call to its result arriving (after the last subagent ends, if any). */
  durationS: number;
  /** Subagents the call starts, run in parallel on forks of the job's context; absent: none. */
  subagents?: Subagent[];
}

/** A child job started by a tool call: its own chain of segments on a fork of the parent's context. */
export interface Subagent {
  /** The first segment's input is the task prompt, appended to the parent's whole context. */
  segments: WorkloadSegment[];
}

export interface WorkloadSegment {
  /** Tokens appended before the segment generates (the prompt, or the previous tool's result). */
  inputTokens: number;
  /** Forced generation length (end-of-sequence is ignored). */
  outputTokens: number;
  /** The call that ends the segment; null on the last segment. */
  tool: ToolCall | null;
}

export interface WorkloadJob {
  id: string;
  arrivalS: number;
  kind: string;
  segments: WorkloadSegment[];
  /** A prompt prefix shared with other jobs (see tokens.ts): prepended to the first segment. */
  prefixId?: string;
  prefixTokens?: number;
  priority?: number;
}

const JOB_FIELDS = new Set(['id', 'arrival_s', 'kind', 'segments', 'prefix_id', 'prefix_tokens', 'priority']);
const SEGMENT_FIELDS = new Set(['input_tokens', 'output_tokens', 'tool']);
const TOOL_FIELDS = new Set(['name', 'duration_s', 'subagents']);
const SUBAGENT_FIELDS = new Set(['segments']);

type Fail = (field: string, what: string) => never;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parse a JSONL workload; see the module comment for the rules. `source` names it in errors. */
export function parseWorkload(text: string, source: string): WorkloadJob[] {
  const jobs: WorkloadJob[] = [];
  const lineOfId = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const lineNo = i + 1;
    const fail = (field: string, what: string): never => {
      throw new EngineError('INVALID_WORKLOAD', `${source}:${lineNo}: field '${field}' ${what}`);
    };
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      throw new EngineError(
        'INVALID_WORKLOAD',
        `${source}:${lineNo}: not valid JSON (${err instanceof Error ? err.message : String(err)})`,
      );
    }
    if (!isObject(raw)) {
      throw new EngineError('INVALID_WORKLOAD', `${source}:${lineNo}: a job must be a JSON object`);
    }
    for (const key of Object.keys(raw)) if (!JOB_FIELDS.has(key)) fail(key, 'is not a workload field');

    const id = raw.id;
    if (typeof id !== 'string' || id === '') fail('id', 'must be a non-empty string');
    const jobId = id as string;
    const earlier = lineOfId.get(jobId);
    if (earlier !== undefined) fail('id', `'${jobId}' repeats the id on line ${earlier}`);
    lineOfId.set(jobId, lineNo);

    const arrivalS = raw.arrival_s;
    if (!isNonNegativeFinite(arrivalS)) fail('arrival_s', 'must be a finite number ≥ 0');
    const kind = raw.kind;
    if (typeof kind !== 'string' || kind === '') fail('kind', 'must be a non-empty string');

    const segments = parseSegments(raw.segments, 'segments', fail, true);

    const job: WorkloadJob = { id: jobId, arrivalS: arrivalS as number, kind: kind as string, segments };
    const hasPrefixId = 'prefix_id' in raw;
    const hasPrefixTokens = 'prefix_tokens' in raw;
    if (hasPrefixId !== hasPrefixTokens) {
      fail(hasPrefixId ? 'prefix_tokens' : 'prefix_id', 'must be given together with the other prefix field');
    }
    if (hasPrefixId) {
      if (typeof raw.prefix_id !== 'string' || raw.prefix_id === '') fail('prefix_id', 'must be a non-empty string');
      if (!isNonNegativeInteger(raw.prefix_tokens)) fail('prefix_tokens', 'must be a non-negative integer');
      job.prefixId = raw.prefix_id as string;
      job.prefixTokens = raw.prefix_tokens as number;
    }
    if ('priority' in raw) {
      if (typeof raw.priority !== 'number' || !Number.isFinite(raw.priority)) fail('priority', 'must be a finite number');
      job.priority = raw.priority as number;
    }
    if ((job.prefixTokens ?? 0) + segments[0].inputTokens === 0) {
      fail('segments[0].input_tokens', 'must be ≥ 1 when there are no prefix tokens (the first prompt is empty)');
    }
    jobs.push(job);
  }
  // Stable: Array.prototype.sort is stable since ES2019, so equal arrivals keep file order.
  return jobs.sort((a, b) => a.arrivalS - b.arrivalS);
}

/**
 * A segments array at field path `at` (e.g. 'segments', or a subagent's
 * 'segments[2].tool.subagents[0].segments'); subagents are parsed only where `subagentsAllowed`.
 */
function parseSegments(value: unknown, at: string, fail: Fail, subagentsAllowed: boolean): WorkloadSegment[] {
  if (!Array.isArray(value) || value.length === 0) fail(at, 'must be a non-empty array');
  const list = value as unknown[];
  return list.map((seg, s) => {
    const here = `${at}[${s}]`;
    if (!isObject(seg)) return fail(here, 'must be an object');
    for (const key of Object.keys(seg)) if (!SEGMENT_FIELDS.has(key)) fail(`${here}.${key}`, 'is not a segment field');
    if (!isNonNegativeInteger(seg.input_tokens)) fail(`${here}.input_tokens`, 'must be a non-negative integer');
    if (!isNonNegativeInteger(seg.output_tokens) || seg.output_tokens === 0) {
      fail(`${here}.output_tokens`, 'must be a positive integer');
    }
    let tool: ToolCall | null = null;
    if (s === list.length - 1) {
      if (seg.tool !== null) fail(`${here}.tool`, 'must be null on the last segment');
    } else {
      tool = parseTool(seg.tool, `${here}.tool`, fail, subagentsAllowed);
    }
    return { inputTokens: seg.input_tokens as number, outputTokens: seg.output_tokens as number, tool };
  });
}

function parseTool(t: unknown, at: string, fail: Fail, subagentsAllowed: boolean): ToolCall {
  if (!isObject(t)) return fail(at, 'must be {name, duration_s} on every segment but the last');
  for (const key of Object.keys(t)) if (!TOOL_FIELDS.has(key)) fail(`${at}.${key}`, 'is not a tool field');
  if (typeof t.name !== 'string' || t.name === '') fail(`${at}.name`, 'must be a non-empty string');
  if (!isNonNegativeFinite(t.duration_s)) fail(`${at}.duration_s`, 'must be a finite number ≥ 0');
  const tool: ToolCall = { name: t.name as string, durationS: t.duration_s as number };
  if (!('subagents' in t)) return tool;
  if (!subagentsAllowed) fail(`${at}.subagents`, "is not allowed here: a subagent's tool calls start no subagents");
  if (!Array.isArray(t.subagents) || t.subagents.length === 0) fail(`${at}.subagents`, 'must be a non-empty array of {segments}');
  tool.subagents = (t.subagents as unknown[]).map((sub, c) => {
    const here = `${at}.subagents[${c}]`;
    if (!isObject(sub)) return fail(here, 'must be an object {segments}');
    for (const key of Object.keys(sub)) if (!SUBAGENT_FIELDS.has(key)) fail(`${here}.${key}`, 'is not a subagent field');
    return { segments: parseSegments(sub.segments, `${here}.segments`, fail, false) };
  });
  return tool;
}

/** Write jobs as JSONL in their given order (see the module comment for the exact form). */
export function formatWorkload(jobs: readonly WorkloadJob[]): string {
  let out = '';
  for (const job of jobs) {
    const line: Record<string, unknown> = {
      id: job.id,
      arrival_s: job.arrivalS,
      kind: job.kind,
      segments: formatSegments(job.segments),
    };
    if (job.prefixId !== undefined) line.prefix_id = job.prefixId;
    if (job.prefixTokens !== undefined) line.prefix_tokens = job.prefixTokens;
    if (job.priority !== undefined) line.priority = job.priority;
    out += JSON.stringify(line) + '\n';
  }
  return out;
}

function formatSegments(segments: readonly WorkloadSegment[]): unknown[] {
  return segments.map((seg) => ({
    input_tokens: seg.inputTokens,
    output_tokens: seg.outputTokens,
    tool: seg.tool === null ? null : formatTool(seg.tool),
  }));
}

function formatTool(tool: ToolCall): Record<string, unknown> {
  const out: Record<string, unknown> = { name: tool.name, duration_s: tool.durationS };
  if (tool.subagents !== undefined) out.subagents = tool.subagents.map((sub) => ({ segments: formatSegments(sub.segments) }));
  return out;
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isNonNegativeFinite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
