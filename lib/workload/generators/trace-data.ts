/**
 * The compact trace data embedded in the repository (data/traces/, see its README): how it is
 * derived from the shared traces (bench/traces/derive-traces.ts writes it; a test checks it is what the
 * traces give) and how the generators load it. The shared traces are not needed at run time.
 *
 * - tau-airline-shapes.json: per tau-bench airline job, its segments as [input tokens, output
 *   tokens, next] with next 0 = a tool call follows, 1 = the user's reply follows, 2 = the job
 *   ends (the last segment; the trace's own `next` for the last call is dropped, see
 *   traces.ts fromTauBench).
 * - azure-conv-arrivals.json: the Azure LLM 2023 conversation trace's inter-arrival gaps in
 *   integer milliseconds, in trace order (arrival times rounded to the millisecond, then
 *   differenced, so the gaps add up to the trace's span).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../../errors.js';
import { parseCsv } from '../csv.js';
import { fromTauBench } from '../trace-converters.js';

/** One segment of a recorded job: [input tokens, output tokens, next (0 tool, 1 user, 2 end)]. */
export type SegmentShape = [number, number, 0 | 1 | 2];
export interface JobShape {
  /** The trace's job id (tau-bench `task_trial`). */
  id: string;
  segments: SegmentShape[];
}

export const TAU_SHAPES_FILE = 'data/traces/tau-airline-shapes.json';
export const AZURE_GAPS_FILE = 'data/traces/azure-conv-arrivals.json';
export const TAU_TRACE_FILE = 'tau_bench/derived_gpt-4o-airline_llm_calls.csv';
export const AZURE_TRACE_FILE = 'azure_llm_2023/AzureLLMInferenceTrace_conv.csv';

// ---------------------------------------------------------------------------------------------
// Deriving (from the shared traces)

/** tau-bench airline calls CSV → job shapes, in the trace's job order (via fromTauBench). */
export function deriveTauShapes(csvText: string): JobShape[] {
  const nextCode = { tool: 0, user: 1 } as const;
  const jobs = fromTauBench(csvText, { arrivalRatePerS: 1, seed: 1, toolDurationS: () => 0 });
  return jobs.map((job) => ({
    id: job.id.replace(/^tau-/, ''),
    segments: job.segments.map((seg): SegmentShape => [
      seg.inputTokens,
      seg.outputTokens,
      seg.tool === null ? 2 : nextCode[seg.tool.name as 'tool' | 'user'],
    ]),
  }));
}

/** Azure conversation trace CSV → inter-arrival gaps in integer milliseconds. */
export function deriveAzureGapsMs(csvText: string): number[] {
  const records = parseCsv(csvText);
  const column = records[0]?.fields.indexOf('TIMESTAMP') ?? -1;
  if (column < 0) throw new EngineError('INVALID_TRACE', `azure csv: missing column 'TIMESTAMP'`);
  const times = records.slice(1).map(({ fields, line }) => parseTimestamp(fields[column], line));
  // Whole seconds relative to the first record keep the 100-ns tick counts exact in a double.
  const [firstSecond] = times[0];
  const msSinceStart = times.map(([second, ticks]) => Math.round(((second - firstSecond) * 1e7 + ticks - times[0][1]) / 1e4));
  const gaps: number[] = [];
  for (let i = 1; i < msSinceStart.length; i++) {
    const gap = msSinceStart[i] - msSinceStart[i - 1];
    if (gap < 0) throw new EngineError('INVALID_TRACE', `azure csv:${records[i + 1].line}: TIMESTAMP goes back in time`);
    gaps.push(gap);
  }
  return gaps;
}

/** 'YYYY-MM-DD hh:mm:ss.fffffff' (UTC) → [whole seconds since the epoch, 100-ns ticks within it]. */
function parseTimestamp(text: string, line: number): [number, number] {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(text.trim());
  if (match === null) throw new EngineError('INVALID_TRACE', `azure csv:${line}: bad TIMESTAMP '${text}'`);
  const [, y, mo, d, h, mi, s, fraction = ''] = match;
  const second = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
  return [second, Number(fraction.padEnd(7, '0'))];
}

// ---------------------------------------------------------------------------------------------
// Writing (compact JSON: one job, or forty gaps, per line)

export function formatTauShapes(shapes: readonly JobShape[]): string {
  const jobs = shapes.map((job) => `  ${JSON.stringify([job.id, job.segments])}`).join(',\n');
  return `{"source":"${TAU_TRACE_FILE}","next":["tool","user","end"],"jobs":[\n${jobs}\n]}\n`;
}

export function formatAzureGaps(gapsMs: readonly number[]): string {
  const lines: string[] = [];
  for (let i = 0; i < gapsMs.length; i += 40) lines.push(`  ${gapsMs.slice(i, i + 40).join(',')}`);
  return `{"source":"${AZURE_TRACE_FILE}","unit":"ms","gaps":[\n${lines.join(',\n')}\n]}\n`;
}

// ---------------------------------------------------------------------------------------------
// Loading (from the repository)

/**
 * The repository (or installed package) root: the nearest directory above this module holding a
 * package.json. Found by walking up because the module runs from lib/ (sources, under vitest)
 * and from dist/lib/ (compiled), one level apart.
 */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new EngineError('INTERNAL', `no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

function readEmbedded(relativePath: string): unknown {
  const file = path.join(packageRoot(), relativePath);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new EngineError('INVALID_TRACE', `cannot read ${file} (${err instanceof Error ? err.message : String(err)}); regenerate it with bench/traces/derive-traces.ts`);
  }
}

let tauShapes: JobShape[] | undefined;
let azureGapsS: number[] | undefined;

/** The embedded tau-bench airline job shapes (read once). */
export function loadTauShapes(): readonly JobShape[] {
  tauShapes ??= (readEmbedded(TAU_SHAPES_FILE) as { jobs: [string, SegmentShape[]][] }).jobs.map(([id, segments]) => ({ id, segments }));
  return tauShapes;
}

/** The embedded Azure conversation inter-arrival gaps, in seconds (read once). */
export function loadAzureGapsS(): readonly number[] {
  azureGapsS ??= (readEmbedded(AZURE_GAPS_FILE) as { gaps: number[] }).gaps.map((ms) => ms / 1000);
  return azureGapsS;
}
