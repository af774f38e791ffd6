/**
 * `astraea micro`: the control-plane micro-benchmarks (lib/micro/): the scheduler's decision per
 * step at 100 to 10,000 live jobs, block-manager operations, workload parsing. Prints the table
 * recorded in docs/performance.md, or one JSON line per case.
 */
import { Command } from 'commander';
import { EngineError } from '../errors.js';
import { positiveOption } from './args.js';

interface MicroFlags {
  filter?: string;
  maxTime?: string;
  json?: boolean;
}

export function microCommand(): Command {
  return new Command('micro')
    .description('control-plane micro-benchmarks (Benchmark.js): decision per step, block manager, workload parsing; µs per op')
    .option('--filter <text>', 'only the cases whose name or group (scheduler, block manager, workload) contains this text, e.g. "1,000 live"')
    .option('--max-time <s>', 'seconds to time each case (default: 2, 4 for the big ones; 0.5 for a quick look)')
    .option('--json', 'print one JSON line per case (name, meanS, rmePct, samples, note) instead of the table')
    .action(runMicroCommand);
}

async function runMicroCommand(values: MicroFlags): Promise<void> {
  if (values.filter !== undefined && values.filter.trim() === '') throw new EngineError('INVALID_ARGUMENT', '--filter must not be empty');
  const maxTimeS = values.maxTime === undefined ? undefined : positiveOption(values.maxTime, 'max-time', NaN);
  // Benchmark.js and the engine are loaded only by this command, so `astraea --help` stays fast.
  const [{ microCases, MICRO_GROUPS }, { formatMicros, markdownTable, runMicro }] = await Promise.all([import('../micro/cases.js'), import('../micro/harness.js')]);
  const cases = microCases(values.filter);
  if (cases.length === 0) {
    throw new EngineError('INVALID_ARGUMENT', `--filter "${values.filter}" matches no case name nor group (${Object.keys(MICRO_GROUPS).join(', ')})`);
  }
  const results = await runMicro(cases, {
    maxTimeS,
    // JSON lines go out as each case ends; the table waits for all, with progress on stderr meanwhile.
    onResult: values.json
      ? (r) => process.stdout.write(JSON.stringify(r) + '\n')
      : (r) => process.stderr.write(`${r.name}: ${formatMicros(r.meanS * 1e6)} µs ±${r.rmePct.toFixed(2)}% (${r.samples} samples)\n`),
  });
  if (!values.json) process.stdout.write(markdownTable(results) + '\n');
}
