/**
 * A group of jobs the scheduler treats as one: the branches of one agent run's fan-out (calls
 * forked from one job: parallel tool calls, subagents) or the jobs a client ties together with a
 * hint (a prompt cache key, a session token). The policy sees each branch with the group's id,
 * the group's arrival and the service the whole group has attained, so per-program policies rank
 * the fan-out as one program and the branches run together instead of being scattered across the
 * queue. A job alone is a group of one, whose figures are its own.
 */
import type { JobRecord } from './job-record.js';

export class JobGroup {
  readonly members = new Set<JobRecord>();
  /** Service attained by members that have closed: the group keeps what it was given. */
  private closedAttainedTokens = 0;
  /** The member while there is exactly one (the common case, read for every job at every step). */
  private solo: JobRecord | null = null;
  /** Jobs that have ever joined, and of those, forks that shared another member's KV. */
  joined = 0;
  forks = 0;

  constructor(
    readonly id: string,
    /** The first member's arrival: the group's, for job-level orders (FCFS by job, response ratios). */
    readonly arrivalS: number,
  ) {}

  add(record: JobRecord): void {
    this.members.add(record);
    this.joined++;
    this.solo = this.members.size === 1 ? record : null;
  }

  /** Removes a closed member; true when the group is now empty. */
  remove(record: JobRecord): boolean {
    if (this.members.delete(record)) this.closedAttainedTokens += record.state.attainedTokens();
    this.solo = this.members.size === 1 ? this.members.values().next().value! : null;
    return this.members.size === 0;
  }

  /** Prompt tokens computed plus tokens generated, over every member, open or closed. */
  attainedTokens(): number {
    if (this.solo !== null) return this.closedAttainedTokens + this.solo.state.attainedTokens();
    let sum = this.closedAttainedTokens;
    for (const m of this.members) sum += m.state.attainedTokens();
    return sum;
  }
}

/** The open groups by id: a group exists while it has members. */
export class JobGroups {
  private readonly byId = new Map<string, JobGroup>();

  get size(): number {
    return this.byId.size;
  }

  /** Adds the job to its group, opening the group (arriving with the job) if it is new. */
  join(groupId: string, arrivalS: number): JobGroup {
    let group = this.byId.get(groupId);
    if (group === undefined) {
      group = new JobGroup(groupId, arrivalS);
      this.byId.set(groupId, group);
    }
    return group;
  }

  /** Removes a closed job from its group; true when that closed the group. */
  leave(record: JobRecord): boolean {
    if (!record.group.remove(record)) return false;
    this.byId.delete(record.group.id);
    return true;
  }
}
