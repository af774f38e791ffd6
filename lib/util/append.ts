/**
 * Long token arrays grow in place and are never rebuilt per call: an array of more than ~16K
 * numbers lives in V8's large-object space, where every new backing store maps fresh pages. On
 * the 2-vCPU VMs these pages cost ~30 ns per element copied (against ~1–3 ns for a small one),
 * and copying each job's whole context per call made a long-context simulation spend most of its
 * time in the kernel (docs/simulator.md, "Speed").
 */

/** Appends `items` to `to` in place (a spread into `push` would overflow the stack for a long array). */
export function appendInPlace<T>(to: T[], items: readonly T[]): void {
  for (let i = 0; i < items.length; i++) to.push(items[i]);
}

/**
 * `to` extended by `items`: `to` itself, grown in place, unless it is empty, when a copy of
 * `items` made in one allocation (growing an empty array by pushes reallocates it ~20 times on
 * the way to a 100K-token prompt).
 */
export function extended<T>(to: T[], items: readonly T[]): T[] {
  if (to.length === 0) return items.slice();
  appendInPlace(to, items);
  return to;
}
