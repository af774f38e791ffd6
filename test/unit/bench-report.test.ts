/** What `bench` and `simulate` print and draw: the comparison table and the SVG charts. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchChartSpec, renderSvg, sweepChartSpec, writeChart } from '../../lib/bench/chart.js';
import type { RunSummary } from '../../lib/bench/summary.js';
import { comparisonTable, describeRun } from '../../lib/bench/table.js';

function summary(policy: string, mean: number | null, load = 1): RunSummary {
  return {
    policy,
    engine: 'sim',
    workload: 'paper',
    jobs: 10,
    completed: mean === null ? 0 : 10,
    failed: mean === null ? 10 : 0,
    errors: mean === null ? { INTERNAL: 10 } : {},
    jct_s: { mean, p50: mean, p90: mean === null ? null : mean * 2, p99: mean === null ? null : mean * 3 },
    makespan_s: 100,
    tokens_per_s: 5,
    kv: { preserve: 1, swap: 2, discard: 3, release: 4 },
    breakdown_s: { queueing: mean === null ? null : mean / 2, compute: mean === null ? null : mean / 4, tool: mean === null ? null : mean / 4, kv_recovery: 0 },
    predictor: 'learned',
    model: 'h100-llama3-8b',
    kv_blocks: 25000,
    workload_params: { seed: 1, load, jobs: 10, scale: { tokens: 0.1, time: 0.5 }, arrival_rate_per_s: 2.5 },
    preemptions: 0,
    recomputed_prefill_tokens: 0,
  };
}

describe('comparison table', () => {
  it('gives each policy its JCTs and mean over fcfs’s, with a dash for what is missing', () => {
    const table = comparisonTable([summary('fcfs', 8), summary('astraea', 6), summary('broken', null)]);
    const lines = table.trimEnd().split('\n');
    expect(lines).toHaveLength(5); // header, rule, three rows
    expect(lines[0]).toMatch(/^policy\s+mean s\s+p50\s+p90\s+p99\s+vs fcfs\s+queue\s+compute\s+tool\s+kv recovery\s+failed$/);
    // astraea: mean 6, p90 12, p99 18; 6 / 8 = 0.750; queue 3, compute and tool 1.5, recovery 0.
    expect(lines[3].split(/\s+/)).toEqual(['astraea', '6.00', '6.00', '12.0', '18.0', '0.750', '3.00', '1.50', '1.50', '0.00', '0']);
    expect(lines[2].split(/\s+/)[5]).toBe('1.000');
    expect(lines[4].split(/\s+/)).toEqual(['broken', '–', '–', '–', '–', '', '–', '–', '–', '0.00', '10'].filter((c) => c !== ''));
  });

  it('describes the run, scale included', () => {
    expect(describeRun(summary('fcfs', 1))).toBe('paper: 10 jobs, load 1 (2.50 jobs/s), seed 1, tokens ×0.1, time ×0.5; sim engine, h100-llama3-8b, 25000 KV blocks, learned predictor');
    expect(describeRun({ ...summary('fcfs', 1), swap_bytes_per_s: 12.34e9 })).toBe(
      'paper: 10 jobs, load 1 (2.50 jobs/s), seed 1, tokens ×0.1, time ×0.5; sim engine, h100-llama3-8b, 25000 KV blocks, swaps 12.3 GB/s, learned predictor',
    );
  });
});

describe('charts', () => {
  it('renders the bench chart as an SVG naming every policy', async () => {
    const svg = await renderSvg(benchChartSpec([summary('fcfs', 8), summary('astraea', 6)]));
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['fcfs', 'astraea', 'Job completion time per policy', 'kv recovery']) expect(svg).toContain(text);
  });

  it('renders the sweep chart across loads', async () => {
    const runs = [0.5, 1, 2].flatMap((load) => [summary('fcfs', 4 * load, load), summary('astraea', 3 * load, load)]);
    const svg = await renderSvg(sweepChartSpec(runs));
    for (const text of ['mean JCT (s)', 'p99 JCT (s)', 'load (× base arrival rate)']) expect(svg).toContain(text);
  });

  it('writes SVG files and refuses other formats with a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'astraea-chart-'));
    try {
      const path = join(dir, 'c.svg');
      await writeChart(path, benchChartSpec([summary('fcfs', 1)]));
      expect(readFileSync(path, 'utf8')).toMatch(/^<svg/);
      await expect(writeChart(join(dir, 'c.png'), benchChartSpec([summary('fcfs', 1)]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/\.svg/) });
      await expect(writeChart(join(dir, 'missing', 'c.svg'), benchChartSpec([summary('fcfs', 1)]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/cannot write/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
