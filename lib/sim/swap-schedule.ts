/**
 * Which swaps of a step the forward pass must wait for, and which run beside it: the simulator's
 * copy of the native rule (cpp/core/swap_schedule.h), so a simulated step is priced as the native
 * one runs. test/native/swap-schedule-agreement.test.ts pins that the two agree on random plans.
 *
 * A swap-out runs beside the compute when its device block is in no block table, is no copy's
 * destination and no swap-in's destination, and its host block is no swap-in's source; a swap-in
 * when its device block is in no block table, in no copy pair and no swap-out's source, and its
 * host block is no swap-out's destination (an exchange's included). Everything else blocks, an
 * exchange's copies (`swapOutToVacated`) always.
 */
import type { BlockPair, PlannedSequence } from '../step.js';

export interface SwapPlan {
  sequences: readonly Pick<PlannedSequence, 'blocks'>[];
  swapOut: readonly BlockPair[];
  swapIn: readonly BlockPair[];
  copy?: readonly BlockPair[];
  swapOutToVacated?: readonly BlockPair[];
}

/** How many of the plan's swap pairs block the forward pass, and how many run beside it. */
export function splitSwaps(plan: SwapPlan): { blocking: number; background: number } {
  const exchanged = plan.swapOutToVacated ?? [];
  const total = plan.swapOut.length + plan.swapIn.length + exchanged.length;
  if (total === 0) return { blocking: 0, background: 0 };
  const forwardUses = blocksInTables(plan);
  const copyUses = new Set<number>();
  const copyWrites = new Set<number>();
  for (const [from, to] of plan.copy ?? []) {
    copyUses.add(from);
    copyUses.add(to);
    copyWrites.add(to);
  }
  const outDeviceSources = new Set(plan.swapOut.map(([device]) => device));
  const outHostDestinations = new Set([...plan.swapOut, ...exchanged].map(([, host]) => host));
  const inHostSources = new Set(plan.swapIn.map(([host]) => host));
  const inDeviceDestinations = new Set(plan.swapIn.map(([, device]) => device));
  let blocking = exchanged.length;
  for (const [device, host] of plan.swapOut) {
    if (forwardUses.has(device) || copyWrites.has(device) || inDeviceDestinations.has(device) || inHostSources.has(host)) blocking++;
  }
  for (const [host, device] of plan.swapIn) {
    if (forwardUses.has(device) || copyUses.has(device) || outDeviceSources.has(device) || outHostDestinations.has(host)) blocking++;
  }
  return { blocking, background: total - blocking };
}

/**
 * The swaps' device blocks that some sequence's block table holds. A step's tables can hold
 * hundreds of thousands of blocks (long contexts), its swaps a few: look the few up in the
 * tables rather than hash every table entry, and stop once each has been found.
 */
function blocksInTables(plan: SwapPlan): Set<number> {
  const swapDevices = new Set<number>();
  for (const [device] of plan.swapOut) swapDevices.add(device);
  for (const [, device] of plan.swapIn) swapDevices.add(device);
  const found = new Set<number>();
  for (const s of plan.sequences) {
    for (const b of s.blocks) {
      if (!swapDevices.has(b)) continue;
      found.add(b);
      if (found.size === swapDevices.size) return found;
    }
  }
  return found;
}
