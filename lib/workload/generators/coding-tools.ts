/**
 * The tool calls of a coding agent (Claude Code, Codex), by kind, for the `coding` generator.
 *
 * TraceLab (../shared/traces/tracelab: "TraceLab (SyFI Lab, University of Washington)",
 * arXiv 2606.30560, dataset CC BY 4.0) publishes the latency of all tool calls together — mean
 * 18.4 s, p50 0.3 s, p90 13.6 s, p99 3.6 min; 4% of calls over a minute carry 85% of tool time
 * (table session_timing_distribution, paper_macros.tex) — and, per kind, only a few medians: Read
 * 36 ms, Edit 95 ms, Claude's Bash ~409 ms, Codex's calls ~626 ms; the top three tools are over 80%
 * of Claude Code's calls (82.76%) and 95% of Codex's.
 *
 * So the mixture is built to be exactly the published distribution: a call's latency is drawn from
 * the TraceLab fit (tool-latency.ts, shared with `tau`), and its kind from a table of kind shares
 * per latency band (below). Each kind's latency is then the fit restricted by its column: heavy
 * tailed wherever the kind has a share of the slow bands. The table is an assumption, shaped so
 * that the kinds' medians are the published ones where there are any:
 *
 *   kind   stands for                               share   median   p90     p99     over 1 min
 *   read   Read, Glob, LS                           13.3%   36 ms    1.1 s   18 s    0.3%
 *   grep   Grep, search                              5.7%   137 ms   1.5 s   16 s    0
 *   plan   task lists (Claude's), update_plan       4.7%   17 ms    0.2 s   7 s     0
 *   edit   Edit, Write, MultiEdit, apply_patch      17.4%   92 ms    19 s    5.3 min 4.1%
 *   bash   Bash, exec_command, write_stdin          56.0%   632 ms   18 s    5.5 min 4.2%
 *   web    WebFetch, WebSearch                       2.9%   5.6 s    40 s    8.7 min 5.6%
 *
 * (bash merges Claude's Bash, median 409 ms, with Codex's shell, whose calls have median 626 ms;
 * web's median is an assumption, the example sessions' four web calls took 2.5–19 s.) Edit and
 * Bash carry the slow tail: builds and tests, and — a tool's wall time in the trace includes it —
 * waiting for the person to approve an edit or a command. The top three kinds are 87% of calls.
 * Claude Code's Task (subagents) is not drawn here: the `coding` generator makes those calls
 * itself, and their time is the subagents' run.
 */
import { standardNormal, type Rng } from '../random.js';
import { toolLatencyAtZ } from './tool-latency.js';

export const TOOL_KINDS = ['read', 'grep', 'plan', 'edit', 'bash', 'web'] as const;
export type ToolKind = (typeof TOOL_KINDS)[number];

/** Upper edges of the latency bands, in seconds (the last band is open). */
export const LATENCY_BAND_EDGES_S = [0.05, 0.3, 2, 13.6, 60] as const;

/** P(kind | band): one row per band, columns in TOOL_KINDS order; each row sums to 1. */
export const KIND_SHARES_BY_BAND: readonly (readonly number[])[] = [
  [0.28, 0.05, 0.14, 0.29, 0.24, 0], //    < 50 ms
  [0.14, 0.12, 0.02, 0.11, 0.61, 0], //    50–300 ms
  [0.07, 0.05, 0.01, 0.08, 0.77, 0.02], // 0.3–2 s
  [0.04, 0.02, 0.01, 0.18, 0.65, 0.1], //  2–13.6 s
  [0.02, 0.01, 0, 0.22, 0.65, 0.1], //     13.6–60 s
  [0.01, 0, 0, 0.22, 0.72, 0.05], //       over a minute
];

export interface CodingToolCall {
  kind: ToolKind;
  durationS: number;
}

/** One tool call: its latency from the TraceLab fit, then its kind given the latency's band. */
export function drawToolCall(rng: Rng): CodingToolCall {
  const durationS = toolLatencyAtZ(standardNormal(rng));
  let band = 0;
  while (band < LATENCY_BAND_EDGES_S.length && durationS >= LATENCY_BAND_EDGES_S[band]) band++;
  const shares = KIND_SHARES_BY_BAND[band];
  const u = rng();
  let k = 0;
  let cumulative = shares[0];
  while (u >= cumulative && k < shares.length - 1) cumulative += shares[++k];
  while (shares[k] === 0) k--; // rounding in the sums never picks a kind the band does not have
  return { kind: TOOL_KINDS[k], durationS };
}
