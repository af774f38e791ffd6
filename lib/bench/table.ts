/** The human table of a comparison: JCT per policy, the ratio to fcfs, and where the time went. */
import type { RunSummary } from './summary.js';

export function seconds(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '–';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** Right-aligned columns but the first; one header rule. */
export function layout(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n') + '\n';
}

/**
 * One row per summary. `vs fcfs` is the mean JCT over fcfs's mean in the same group (the same
 * workload, load and pool); blank when fcfs did not run.
 */
export function comparisonTable(summaries: readonly RunSummary[]): string {
  const header = ['policy', 'mean s', 'p50', 'p90', 'p99', 'vs fcfs', 'queue', 'compute', 'tool', 'kv recovery', 'failed'];
  const fcfsMean = summaries.find((s) => s.policy === 'fcfs')?.jct_s.mean ?? null;
  const rows = summaries.map((s) => [
    s.policy,
    seconds(s.jct_s.mean),
    seconds(s.jct_s.p50),
    seconds(s.jct_s.p90),
    seconds(s.jct_s.p99),
    fcfsMean !== null && fcfsMean > 0 && s.jct_s.mean !== null ? (s.jct_s.mean / fcfsMean).toFixed(3) : '',
    seconds(s.breakdown_s.queueing),
    seconds(s.breakdown_s.compute),
    seconds(s.breakdown_s.tool),
    seconds(s.breakdown_s.kv_recovery),
    String(s.failed),
  ]);
  return layout([header, ...rows]);
}

/** One line saying what was run, so a pasted table carries its context; `seeds` for a run over several. */
export function describeRun(s: RunSummary, seeds?: readonly number[]): string {
  const w = s.workload_params;
  const scale = w.scale.tokens === 1 && w.scale.time === 1 ? 'full scale' : `tokens ×${w.scale.tokens}, time ×${w.scale.time}`;
  const swaps = s.swap_bytes_per_s === undefined ? '' : `, swaps ${(s.swap_bytes_per_s / 1e9).toFixed(1)} GB/s`;
  const rate = w.arrival_rate_per_s;
  // Coding requests arrive a few per minute: per hour reads better than 0.00 jobs/s. A burst has no rate.
  const arrivals = rate === null || !Number.isFinite(rate) ? 'all at once' : rate < 0.1 ? `${(rate * 3600).toFixed(1)} jobs/h` : `${rate.toFixed(2)} jobs/s`;
  return `${s.workload}: ${w.jobs} jobs, load ${w.load} (${arrivals}), ${seeds ? `seeds ${seeds.join(',')}` : `seed ${w.seed}`}, ${scale}; ${s.engine} engine, ${s.model}, ${s.kv_blocks} KV blocks${swaps}, ${s.predictor} predictor`;
}
