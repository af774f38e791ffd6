/**
 * Workload files: `parseWorkload` on a 10,000-job JSONL text (every line checked field by field,
 * then sorted by arrival), and `formatWorkload` writing it back. The text is the default synthetic
 * agent mix (airline / coding / chat: 1–30 segments per job) written by `formatWorkload`.
 */
import { syntheticAgentWorkload } from '../workload/agent-mix.js';
import { formatWorkload, parseWorkload } from '../workload/format.js';
import { grouped, sink, type MicroCase } from './harness.js';

export const WORKLOAD_JOBS = 10000;

/** The jobs and their text, made when the first case is prepared (not while others are timed). */
function workload() {
  const jobs = syntheticAgentWorkload({ jobs: WORKLOAD_JOBS, arrivalRatePerS: 10, seed: 1 });
  const text = formatWorkload(jobs);
  return { jobs, text, bytes: Buffer.byteLength(text), segments: jobs.reduce((sum, j) => sum + j.segments.length, 0) };
}

export function workloadCases(): MicroCase[] {
  let data: ReturnType<typeof workload> | null = null;
  const load = () => (data ??= workload());
  const rate = (meanS: number) => {
    const { bytes, segments } = load();
    return `${grouped(WORKLOAD_JOBS / meanS)} jobs/s, ${grouped(bytes / meanS / 1e6, 1)} MB/s (${grouped(bytes / 1e6, 2)} MB, ${grouped(segments)} segments)`;
  };
  return [
    {
      name: `parseWorkload: ${grouped(WORKLOAD_JOBS)} jobs of JSONL`,
      maxTimeS: 4,
      prepare: () => {
        const { text } = load();
        return () => {
          sink.value = parseWorkload(text, 'bench');
        };
      },
      note: rate,
    },
    {
      name: `formatWorkload: ${grouped(WORKLOAD_JOBS)} jobs`,
      maxTimeS: 4,
      prepare: () => {
        const { jobs } = load();
        return () => {
          sink.value = formatWorkload(jobs);
        };
      },
      note: rate,
    },
  ];
}
