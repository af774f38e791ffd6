/**
 * Eviction priorities of cached blocks, from client hints (vLLM's `kv.retain` and
 * `vllm.set_priority`, docs/server.md "Hints"): a block declared at priority p until time t is
 * evicted from the prefix cache after every cached block of a lower priority — blocks with no
 * declaration, or one that has lapsed, count as priority 0 — and least recently used first among
 * equals. A declaration never pins: when only declared blocks are left, the lowest goes.
 *
 * A declaration belongs to the block's content: it is dropped when that content is evicted.
 * Lapses are read lazily against the clock (no timers). One declaration per block: a new one
 * replaces the one in force when it is at least as strong, else it is dropped (the stronger one
 * still lapses at its own time).
 */
export class BlockRetention {
  private readonly priority: Float64Array;
  private readonly untilS: Float64Array;
  /** Blocks with a declaration not yet cleared (lapsed ones included until their content goes). */
  private declared = 0;

  constructor(
    deviceBlocks: number,
    private readonly nowS: () => number,
  ) {
    this.priority = new Float64Array(deviceBlocks);
    this.untilS = new Float64Array(deviceBlocks);
  }

  /** Block `id` keeps `priority` (> 0) until `untilS` (Infinity: until its content is evicted). */
  declare(id: number, priority: number, untilS: number): void {
    if (!(priority > 0) || !(untilS > this.nowS())) return;
    const current = this.priorityOf(id);
    if (priority < current) return;
    if (this.priority[id] === 0) this.declared++;
    this.priority[id] = priority;
    this.untilS[id] = priority === current ? Math.max(untilS, this.untilS[id]) : untilS;
  }

  /** The block's priority now: 0 without a declaration in force. */
  priorityOf(id: number): number {
    const p = this.priority[id];
    return p > 0 && this.untilS[id] > this.nowS() ? p : 0;
  }

  /** The block's content is gone (evicted): so is its declaration. */
  clear(id: number): void {
    if (this.priority[id] === 0) return;
    this.priority[id] = 0;
    this.untilS[id] = 0;
    this.declared--;
  }

  /** Whether any block carries a declaration (else eviction is plain LRU, as without hints). */
  get inUse(): boolean {
    return this.declared > 0;
  }

  /** Blocks carrying a declaration, lapsed or not (tests check nothing piles up). */
  get declaredBlocks(): number {
    return this.declared;
  }
}
