/**
 * Prometheus metrics at GET /metrics. Where vLLM has the concept its name is used (`vllm:` —
 * dashboards built for vLLM work unchanged); what only a job-aware engine knows is `astraea_`.
 * Per-call figures are observed as calls end; the engine's state and counters are read at scrape
 * time. Each server has its own registry, so two servers in one process do not collide.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine } from '../engine/engine.js';
import type { EngineStats, SegmentResult } from '../engine/types.js';
import type { SegmentTiming } from './call-segment.js';

const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160];
const TOKEN_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5];

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly ttft: Histogram;
  private readonly tpot: Histogram;
  private readonly e2e: Histogram;
  private readonly promptTokens: Counter;
  private readonly cachedPromptTokens: Counter;
  private readonly generationTokens: Counter;
  private readonly success: Counter;
  private readonly jct: Histogram;
  private readonly toolWait: Histogram;
  /** The engine's stats during a render(), so a scrape reads them once. */
  private snapshot: EngineStats | null = null;
  private readonly engine: Engine;

  constructor(engine: Engine, modelName: string) {
    this.engine = engine;
    const registers = [this.registry];
    this.registry.setDefaultLabels({ model_name: modelName });
    this.ttft = new Histogram({ name: 'vllm:time_to_first_token_seconds', help: 'Time to the first token of a call.', buckets: LATENCY_BUCKETS, registers });
    this.tpot = new Histogram({ name: 'vllm:time_per_output_token_seconds', help: 'Time per output token after the first.', buckets: TOKEN_LATENCY_BUCKETS, registers });
    this.e2e = new Histogram({ name: 'vllm:e2e_request_latency_seconds', help: 'Time from a call arriving to its last token.', buckets: LATENCY_BUCKETS, registers });
    this.promptTokens = new Counter({ name: 'vllm:prompt_tokens_total', help: 'Prompt tokens of finished calls.', registers });
    this.cachedPromptTokens = new Counter({ name: 'astraea_cached_prompt_tokens_total', help: 'Prompt tokens served from KV kept for the job or from the prefix cache.', registers });
    this.generationTokens = new Counter({ name: 'vllm:generation_tokens_total', help: 'Generated tokens of finished calls.', registers });
    this.success = new Counter({ name: 'vllm:request_success_total', help: 'Finished calls by finish reason.', labelNames: ['finished_reason'], registers });
    this.jct = new Histogram({ name: 'astraea_job_completion_seconds', help: 'Job completion time: from a job’s first call to its end.', buckets: [...LATENCY_BUCKETS, 320, 640], registers });
    this.toolWait = new Histogram({ name: 'astraea_tool_wait_seconds', help: 'Time jobs spent waiting on tools between calls.', buckets: LATENCY_BUCKETS, registers });

    // Read from the engine at scrape time: render() takes one snapshot for all the gauges.
    const stats = () => this.snapshot ?? engine.stats();
    const engineCounter = (name: string, help: string, labelNames: string[], values: () => [Record<string, string>, number][]) =>
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const [labels, n] of values()) this.inc(labels, n);
        },
      });
    // An info gauge (always 1) whose labels a router reads: the KV geometry of this replica.
    new Gauge({
      name: 'vllm:cache_config_info',
      help: 'Information of the KV cache configuration.',
      labelNames: ['block_size', 'num_gpu_blocks'],
      registers,
      collect() {
        this.reset();
        this.set({ block_size: String(engine.blockSize), num_gpu_blocks: String(stats().kv.deviceBlocks) }, 1);
      },
    });
    new Gauge({ name: 'vllm:num_requests_running', help: 'Calls generating now.', registers, collect() { this.set(stats().jobs.running); } });
    new Gauge({ name: 'vllm:num_requests_waiting', help: 'Calls waiting to be scheduled.', registers, collect() { this.set(stats().jobs.waiting); } });
    new Gauge({ name: 'astraea_jobs_tool_wait', help: 'Jobs waiting on a tool between calls.', registers, collect() { this.set(stats().jobs.toolWait); } });
    new Gauge({
      name: 'vllm:kv_cache_usage_perc',
      help: 'Fraction of device KV blocks in use (1 = full); KV kept only for jobs waiting on tools counts as free.',
      registers,
      collect() {
        this.set(engine.kvUsage);
      },
    });
    // The engine's running totals, exposed as counters: each scrape sets them to the engine's figure.
    engineCounter('astraea_kv_actions_total', 'KV decisions for jobs pausing on tools, by action.', ['action'], () =>
      Object.entries(stats().kvActions).map(([action, n]) => [{ action }, n]),
    );
    engineCounter('astraea_kv_swap_bytes_total', 'Bytes swapped between device and host KV pools, by direction.', ['direction'], () => {
      const t = stats().kvTraffic;
      return [[{ direction: 'out' }, t.swapOutBytes], [{ direction: 'in' }, t.swapInBytes]];
    });
    engineCounter('astraea_recomputed_prefill_tokens_total', 'Prompt tokens computed again after their KV was lost.', [], () => [[{}, stats().kvTraffic.recomputedPrefillTokens]]);
    engineCounter('astraea_preemptions_total', 'Running segments preempted for memory.', [], () => [[{}, stats().preemptions]]);
    engineCounter('astraea_job_forks_total', 'Jobs forked from a busy job (parallel calls extending one conversation).', [], () => [[{}, stats().forks.jobs]]);
    engineCounter('astraea_fork_shared_tokens_total', 'Context tokens forks took from their parent’s KV instead of computing.', [], () => [[{}, stats().forks.sharedTokens]]);
    new Gauge({
      name: 'astraea_queue_level_jobs',
      help: 'Open jobs per queue level of a multi-level policy (0 = most urgent).',
      labelNames: ['level'],
      registers,
      collect() {
        this.reset();
        (stats().queueLevels ?? []).forEach((n, level) => this.set({ level: String(level) }, n));
      },
    });
    new Gauge({ name: 'astraea_job_groups', help: 'Open job groups: the jobs scheduled as one fan-out (a job alone is a group of one).', registers, collect() { this.set(stats().jobs.groups); } });
  }

  /** A call finished (or was cancelled). */
  observeCall(result: SegmentResult, timing: SegmentTiming): void {
    if (timing.ttftS !== null) this.ttft.observe(timing.ttftS);
    if (timing.ttftS !== null && result.usage.completionTokens > 1) {
      this.tpot.observe((timing.e2eS - timing.ttftS) / (result.usage.completionTokens - 1));
    }
    this.e2e.observe(timing.e2eS);
    this.promptTokens.inc(result.usage.promptTokens);
    this.cachedPromptTokens.inc(result.usage.cachedPromptTokens);
    this.generationTokens.inc(result.usage.completionTokens);
    this.success.inc({ finished_reason: result.finishReason === 'tool_call' ? 'tool_calls' : result.finishReason });
  }

  /** A job ended: its completion time and the time it spent on tools. */
  observeJob(jctS: number, toolS: number): void {
    this.jct.observe(jctS);
    if (toolS > 0) this.toolWait.observe(toolS);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    this.snapshot = this.engine.stats();
    try {
      return { contentType: this.registry.contentType, body: await this.registry.metrics() };
    } finally {
      this.snapshot = null;
    }
  }
}
