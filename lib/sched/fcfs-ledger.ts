/**
 * How far a policy's order has drifted from first-come-first-served, per waiting segment.
 *
 * First-come-first-served starts a segment once every segment queued before it has started. So
 * when a segment is first seen waiting, the ledger notes the work queued ahead of it (the sum of
 * their service estimates) and how much work had started by then. Once the work started since
 * passes `slack` times what it was owed (the work ahead plus its own), an arrival order would
 * have started it already: it is overdue. Both sides are the policy's own estimates, so no
 * throughput needs measuring.
 */
import type { SchedulingCandidate } from './policy.js';

interface SegmentEntry {
  segmentIndex: number;
  /** Its own service estimate when first seen waiting (a running one's shrinks as it runs). */
  ownS: number;
  /** The work queued ahead of it when first seen, plus its own. */
  owedS: number;
  /** The ledger's started work when it was first seen waiting, and when it started. */
  startedAtEntryS: number;
  startedAtStartS?: number;
}

export class FcfsLedger {
  /** Service estimates of every segment seen starting, summed. */
  private startedS = 0;
  /** Per job, its current segment; kept once it starts, so a preempted segment stays overdue. */
  private readonly entries = new Map<string, SegmentEntry>();
  /** Per job, the index of its last segment seen running (a job runs its segments in order). */
  private readonly lastStarted = new Map<string, number>();

  /** Records one step's candidates: segments seen waiting for the first time, and first starts. */
  observe(candidates: readonly SchedulingCandidate[], serviceS: (c: SchedulingCandidate) => number): void {
    const fresh: SchedulingCandidate[] = [];
    for (const c of candidates) {
      if (this.hasStarted(c)) continue;
      const entry = this.entries.get(c.jobId);
      if (c.running) {
        const current = entry?.segmentIndex === c.segmentIndex ? entry : undefined;
        if (current) current.startedAtStartS = this.startedS;
        this.startedS += current?.ownS ?? serviceS(c);
        this.lastStarted.set(c.jobId, c.segmentIndex);
      } else if (entry?.segmentIndex !== c.segmentIndex) {
        fresh.push(c);
      }
    }
    if (fresh.length === 0) return;
    // The work queued ahead of each fresh segment: every waiting segment queued before it.
    const queued = candidates
      .filter((c) => !c.running && !this.hasStarted(c))
      .map((c) => {
        const entry = this.entries.get(c.jobId);
        return { queuedS: c.segmentQueuedS, serviceS: entry?.segmentIndex === c.segmentIndex ? entry.ownS : serviceS(c) };
      })
      .sort((a, b) => a.queuedS - b.queuedS);
    for (const c of fresh) {
      let aheadS = 0;
      for (const q of queued) {
        if (q.queuedS >= c.segmentQueuedS) break;
        aheadS += q.serviceS;
      }
      const ownS = serviceS(c);
      this.entries.set(c.jobId, { segmentIndex: c.segmentIndex, ownS, owedS: aheadS + ownS, startedAtEntryS: this.startedS });
    }
  }

  /** More than `slack` times the work the segment was owed started while it waited. */
  overdue(c: SchedulingCandidate, slack: number): boolean {
    const entry = this.entries.get(c.jobId);
    if (entry === undefined || entry.segmentIndex !== c.segmentIndex) return false;
    return (entry.startedAtStartS ?? this.startedS) - entry.startedAtEntryS > slack * entry.owedS;
  }

  drop(jobId: string): void {
    this.entries.delete(jobId);
    this.lastStarted.delete(jobId);
  }

  /** Jobs the ledger holds state for (tests check nothing leaks). */
  get size(): number {
    return new Set([...this.entries.keys(), ...this.lastStarted.keys()]).size;
  }

  private hasStarted(c: SchedulingCandidate): boolean {
    return (this.lastStarted.get(c.jobId) ?? -1) >= c.segmentIndex;
  }
}
