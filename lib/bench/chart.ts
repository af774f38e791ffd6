/**
 * Charts of a comparison, as SVG: a Vega-Lite spec compiled to Vega and rendered headless (no
 * browser, no canvas). `benchChart`: JCT per policy at one load, beside where the time went;
 * `sweepChart`: mean and p99 JCT per policy across loads.
 */
import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { EngineError } from '../errors.js';
import { describeRun } from './table.js';
import type { RunSummary } from './summary.js';

const POLICY_SCALE = { field: 'policy', type: 'nominal', title: 'policy', sort: null } as const;

export function benchChartSpec(summaries: readonly RunSummary[]): TopLevelSpec {
  const jct = summaries.flatMap((s) =>
    (['mean', 'p50', 'p90', 'p99'] as const).map((metric) => ({ policy: s.policy, metric, seconds: s.jct_s[metric] })),
  );
  const parts = summaries.flatMap((s) =>
    (['queueing', 'compute', 'tool', 'kv_recovery'] as const).map((part) => ({ policy: s.policy, part: part.replace('_', ' '), seconds: s.breakdown_s[part] })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Job completion time per policy', subtitle: summaries.length > 0 ? describeRun(summaries[0]) : '' },
    hconcat: [
      {
        data: { values: jct },
        mark: 'bar',
        width: 320,
        height: 220,
        encoding: {
          x: { ...POLICY_SCALE, axis: { labelAngle: -30 } },
          xOffset: { field: 'metric', sort: ['mean', 'p50', 'p90', 'p99'] },
          y: { field: 'seconds', type: 'quantitative', title: 'JCT (s)' },
          color: { field: 'metric', type: 'nominal', sort: ['mean', 'p50', 'p90', 'p99'], title: 'JCT' },
          tooltip: [{ field: 'policy' }, { field: 'metric' }, { field: 'seconds', format: '.2f' }],
        },
      },
      {
        data: { values: parts },
        mark: 'bar',
        width: 240,
        height: 220,
        encoding: {
          x: { ...POLICY_SCALE, axis: { labelAngle: -30 } },
          y: { field: 'seconds', type: 'quantitative', title: 'mean JCT by part (s)', stack: 'zero' },
          color: { field: 'part', type: 'nominal', title: 'time spent', scale: { scheme: 'tableau10' } },
          order: { field: 'part' },
        },
      },
    ],
    resolve: { scale: { color: 'independent' } },
  } as TopLevelSpec;
}

export function sweepChartSpec(summaries: readonly RunSummary[]): TopLevelSpec {
  const values = summaries.flatMap((s) =>
    (['mean', 'p99'] as const).map((metric) => ({ policy: s.policy, load: s.workload_params.load, metric: `${metric} JCT (s)`, seconds: s.jct_s[metric] })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: `Job completion time across loads: ${summaries[0]?.workload ?? ''}`, subtitle: summaries.length > 0 ? describeRun(summaries[0]).replace(/load [^;]*?\), /, '') : '' },
    data: { values },
    facet: { column: { field: 'metric', type: 'nominal', title: null } },
    spec: {
      width: 300,
      height: 220,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'load', type: 'quantitative', title: 'load (× base arrival rate)', scale: { type: 'log', base: 2 } },
        y: { field: 'seconds', type: 'quantitative', title: 'seconds', scale: { zero: false } },
        color: { field: 'policy', type: 'nominal', sort: null },
        tooltip: [{ field: 'policy' }, { field: 'load' }, { field: 'seconds', format: '.2f' }],
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Loaded on first use: the two packages take about a second to import, which every other
  // command (and `--help`) would otherwise pay.
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes the chart; only SVG (PNG would need a native canvas package). */
export async function writeChart(path: string, spec: TopLevelSpec): Promise<void> {
  if (extname(path).toLowerCase() !== '.svg') {
    throw new EngineError('INVALID_ARGUMENT', `--chart ${path}: charts are written as SVG; give a file ending in .svg`);
  }
  const svg = await renderSvg(spec);
  try {
    writeFileSync(path, svg);
  } catch (error) {
    throw new EngineError('INVALID_ARGUMENT', `--chart ${path}: cannot write (${(error as Error).message})`);
  }
}
