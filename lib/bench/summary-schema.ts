/**
 * The shape of a result summary line (DESIGN.md, "Result summary"), as a TypeBox schema: the
 * single source of the RunSummary type, and what tests validate real output against. Kept apart
 * from summary.ts so that producing a summary does not load TypeBox (about a second on a small
 * machine); only a validator pays that.
 */
import { Type, type Static } from 'typebox';

const Seconds = Type.Number({ minimum: 0 });
const Count = Type.Integer({ minimum: 0 });
/** null when no job completed. */
const Quantile = Type.Union([Seconds, Type.Null()]);

export const JctSummarySchema = Type.Object({ mean: Quantile, p50: Quantile, p90: Quantile, p99: Quantile }, { additionalProperties: false });
/** In memory, before a summary is written: NaN where nothing completed. */
export type JctSummary = { mean: number; p50: number; p90: number; p99: number };

export const RunSummarySchema = Type.Object(
  {
    policy: Type.String({ minLength: 1 }),
    engine: Type.Union([Type.Literal('cpu'), Type.Literal('cuda'), Type.Literal('sim')]),
    workload: Type.String({ minLength: 1 }),
    jobs: Count,
    completed: Count,
    failed: Count,
    /** Failed jobs by error code. */
    errors: Type.Record(Type.String(), Count),
    jct_s: JctSummarySchema,
    makespan_s: Seconds,
    tokens_per_s: Type.Number({ minimum: 0 }),
    kv: Type.Object({ preserve: Count, swap: Count, discard: Count, release: Count }, { additionalProperties: false }),
    /** Mean over completed jobs of where each job's time went (adds up to jct_s.mean). */
    breakdown_s: Type.Object({ queueing: Quantile, compute: Quantile, tool: Quantile, kv_recovery: Quantile }, { additionalProperties: false }),
    /** 'learned': the engine predicts lengths online; 'oracle': the client passes the true ones. */
    predictor: Type.Union([Type.Literal('learned'), Type.Literal('oracle')]),
    /** The model served (cpu/cuda) or the cost profile (sim), and the device KV pool. */
    model: Type.String({ minLength: 1 }),
    kv_blocks: Count,
    workload_params: Type.Object(
      {
        seed: Type.Integer(),
        load: Type.Number({ exclusiveMinimum: 0 }),
        jobs: Count,
        scale: Type.Object({ tokens: Type.Number({ exclusiveMinimum: 0 }), time: Type.Number({ exclusiveMinimum: 0 }) }, { additionalProperties: false }),
        /** null: every job arrives at once (a burst). */
        arrival_rate_per_s: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
      },
      { additionalProperties: false },
    ),
    preemptions: Count,
    recomputed_prefill_tokens: Count,
    /** The device↔host copy rate the KV policies priced swaps with: measured on cpu/cuda, the profile's on sim. */
    swap_bytes_per_s: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    /** Steps the engine ran. */
    steps: Type.Optional(Count),
    /**
     * Mean control-plane time per step on a real engine (the step loop's time less the
     * backend's, over the steps: planning, bookkeeping, the hops back from the native thread);
     * null on the simulator, which charges its profile's constant (docs/simulator.md).
     */
    step_overhead_s: Type.Optional(Type.Union([Seconds, Type.Null()])),
  },
  { additionalProperties: false },
);
export type RunSummary = Static<typeof RunSummarySchema>;