/**
 * Every control-plane micro-benchmark, by group in the order of the table: the scheduler's
 * decision per step (./scheduler.ts), block-manager operations (./block-manager.ts) and workload
 * parsing (./workload-parse.ts). Run by `astraea micro`; results are recorded in
 * docs/performance.md. Building the list is cheap (names and closures): each case's state is made
 * only when it is prepared.
 */
import { blockManagerCases } from './block-manager.js';
import type { MicroCase } from './harness.js';
import { schedulerCases } from './scheduler.js';
import { workloadCases } from './workload-parse.js';

/** A group's name selects all of its cases, whose own names do not repeat it. */
export const MICRO_GROUPS: Readonly<Record<string, () => MicroCase[]>> = {
  scheduler: () => schedulerCases(),
  'block manager': blockManagerCases,
  workload: workloadCases,
};

/** The cases whose group or name contains `filter` (all of them without one). */
export function microCases(filter?: string): MicroCase[] {
  const selected: MicroCase[] = [];
  for (const [group, cases] of Object.entries(MICRO_GROUPS)) {
    for (const c of cases()) if (filter === undefined || group.includes(filter) || c.name.includes(filter)) selected.push(c);
  }
  return selected;
}
