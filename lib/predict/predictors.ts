/**
 * What the engine predicts, in one place: the step costs it measures (service times, recompute
 * costs), tool durations per tool, output lengths per kind and segment, and segments per job.
 * The engine feeds each observation in; the policies read the predictions through the
 * environment they are built with, and the planner through `expectations()`.
 */
import type { PolicyEnvironment } from '../sched/registry.js';
import { JobLengthPredictor } from './job-length.js';
import { OutputLengthPredictor } from './output-length.js';
import { SegmentGrowthPredictor } from './segment-growth.js';
import { StepCosts } from './step-costs.js';
import { ToolTimePredictor } from './tool-time.js';

/** What a job's current segment is expected to do, as the predictors see it now. */
export interface SegmentExpectations {
  outputTokens: number;
  futureSegments: number;
  /** Tokens a later segment of the job's kind adds to its context (learned per kind). */
  growthPerSegment: number;
  /** The chance this segment is the job's last (learned per kind). */
  lastSegmentChance: number;
}

/** What the expectations read of a job: its kind and, while a segment runs, that segment. */
export interface ExpectationSubject {
  kind: string;
  active: { index: number; spec: { maxTokens: number; hintedOutputTokens?: number } } | null;
}

export class Predictors {
  readonly costs = new StepCosts();
  readonly toolTimes = new ToolTimePredictor();
  readonly outputLengths = new OutputLengthPredictor();
  readonly jobLengths = new JobLengthPredictor();
  readonly segmentGrowth = new SegmentGrowthPredictor();

  /** The policy environment's predictions (lib/sched/registry.ts); memory is the engine's. */
  policyEnvironment(memory: PolicyEnvironment['memory'], scale: PolicyEnvironment['scale'] = { tokens: 1, time: 1 }): PolicyEnvironment {
    return {
      memory,
      scale,
      toolTimeS: (tool, hintS) => this.toolTimes.expectedDurationS(tool, hintS),
      toolRemainingS: (tool, elapsedS, hintS) => this.toolTimes.remainingS(tool, elapsedS, hintS),
      toolTimeQuantileS: (tool, q) => this.toolTimes.quantileS(tool, q),
      toolOutlasts: (tool, elapsedS, moveCostS, hintS) => this.toolTimes.outlasts(tool, elapsedS, moveCostS, hintS),
      costs: this.costs,
    };
  }

  /**
   * What the policy is told to expect of each job's current segment: the client's output hint,
   * else the predictors' figures as they stand now — read at every step, not frozen when the
   * segment was queued. (Frozen, a segment queued before any segment of its kind had finished
   * kept the 128-token default while later ones got the learned mean; under overload HRRN then
   * left the earliest arrivals for last.) One lookup per (kind, segment index) per step, kept per
   * kind by index: a string key built per job and step cost more than the rest of the candidate.
   */
  expectations(): (job: ExpectationSubject) => SegmentExpectations {
    const byKind = new Map<string, (SegmentExpectations | undefined)[]>();
    return (job) => {
      const active = job.active;
      if (!active) return { outputTokens: 0, futureSegments: 0, growthPerSegment: 0, lastSegmentChance: 1 };
      let byIndex = byKind.get(job.kind);
      if (!byIndex) {
        byIndex = [];
        byKind.set(job.kind, byIndex);
      }
      let learned = byIndex[active.index];
      if (!learned) {
        learned = {
          outputTokens: this.outputLengths.predict({ kind: job.kind, segmentIndex: active.index }),
          futureSegments: this.jobLengths.futureSegments(job.kind, active.index),
          growthPerSegment: this.segmentGrowth.perSegment(job.kind),
          lastSegmentChance: this.jobLengths.lastSegmentChance(job.kind, active.index),
        };
        byIndex[active.index] = learned;
      }
      return {
        outputTokens: Math.min(active.spec.maxTokens, active.spec.hintedOutputTokens ?? learned.outputTokens),
        futureSegments: learned.futureSegments,
        growthPerSegment: learned.growthPerSegment,
        lastSegmentChance: learned.lastSegmentChance,
      };
    };
  }
}
