/**
 * The micro-benchmarks' shared harness: each case is timed by the `benchmark` package (Benchmark.js:
 * cycles of many calls, for `maxTime` seconds and at least 10 cycles) and reported as one row of a
 * markdown table: mean µs per call, ± the relative margin of error at 95%, and the number of
 * samples (cycles) behind it.
 *
 * A case is prepared just before it is timed and dropped after, so only one case's state (up to
 * 10,000 live jobs with their contexts) is in memory at a time. The timed function must leave the
 * state as it found it (or in an equivalent one), so that every call measures the same work;
 * each file says how its cases do that.
 */
import Benchmark from 'benchmark';

export interface MicroCase {
  name: string;
  /** Builds the state (untimed) and returns the call to time. */
  prepare: () => Promise<() => void> | (() => void);
  /** A note for the table, from the mean seconds per call (throughput, what the state was). */
  note?: (meanS: number) => string;
  /** Seconds Benchmark.js may spend timing the case. Default 2. */
  maxTimeS?: number;
}

export interface MicroResult {
  name: string;
  meanS: number;
  /** Relative margin of error, percent (95% confidence). */
  rmePct: number;
  samples: number;
  note: string;
}

export interface RunMicroOptions {
  /** Overrides every case's maxTimeS (a quick look: 0.5). */
  maxTimeS?: number;
  /** Called as each case ends (progress, or a line of output per case). */
  onResult?: (result: MicroResult) => void;
}

export async function runMicro(cases: Iterable<MicroCase>, options: RunMicroOptions = {}): Promise<MicroResult[]> {
  const results: MicroResult[] = [];
  for (const c of cases) {
    const fn = await c.prepare();
    const bench = new Benchmark(c.name, fn, { maxTime: options.maxTimeS ?? c.maxTimeS ?? 2, minSamples: 10 });
    bench.run({ async: false });
    if (bench.error) throw new Error(`${c.name}: ${String((bench.error as Error).stack ?? bench.error)}`);
    const meanS = bench.stats.mean;
    const result = { name: c.name, meanS, rmePct: bench.stats.rme, samples: bench.stats.sample.length, note: c.note?.(meanS) ?? '' };
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}

/** Where timed calls put their results, so the compiler cannot drop a call whose result is unused. */
export const sink: { value: unknown } = { value: undefined };

/** name | mean µs per op | ± rme % | samples | note */
export function markdownTable(results: readonly MicroResult[]): string {
  const rows = [
    '| name | mean µs per op | ± rme % | samples | note |',
    '| --- | ---: | ---: | ---: | --- |',
    ...results.map((r) => `| ${r.name} | ${formatMicros(r.meanS * 1e6)} | ${r.rmePct.toFixed(2)} | ${r.samples} | ${r.note} |`),
  ];
  return rows.join('\n');
}

/** About three significant digits: fewer decimals as the value grows (three below 1 µs). */
export function formatMicros(us: number): string {
  if (us >= 100) return us.toFixed(0);
  if (us >= 10) return us.toFixed(1);
  if (us >= 1) return us.toFixed(2);
  return us.toFixed(3);
}

/** Thousands separators for notes. */
export function grouped(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
