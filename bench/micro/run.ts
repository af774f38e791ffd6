/**
 * Every control-plane micro-benchmark in one table: the scheduler's decision per step
 * (./scheduler.ts), block-manager operations (./block-manager.ts) and workload parsing
 * (./workload-parse.ts). Results are recorded in docs/performance.md.
 *
 *   npm run build:ts && node dist/bench/micro/run.js [--filter text] [--max-time seconds]
 */
import { blockManagerCases } from './block-manager.js';
import { main } from './harness.js';
import { schedulerCases } from './scheduler.js';
import { workloadCases } from './workload-parse.js';

await main(() => [...schedulerCases(), ...blockManagerCases(), ...workloadCases()]);
