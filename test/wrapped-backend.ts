/**
 * A backend that runs another one's steps with what a test injects: a delay per step (calls that
 * outlast a deadline, on a model that steps in microseconds) and a fault (a step that throws what
 * `fault` returns for it). Everything else is the inner backend's.
 */
import type { BackendStep, BackendStepResult, EngineBackend } from '../lib/engine/backend.js';

export interface WrapOptions {
  /** Milliseconds each step waits before running (default 0). */
  delayMs?: number;
  /** An error to throw instead of running this step, or null to run it. */
  fault?: (step: BackendStep) => Error | null;
}

export class WrappedBackend implements EngineBackend {
  steps = 0;
  failed = 0;
  /** While set, the next step waits for `resume` (a test freezes the engine to read its state). */
  private paused: { promise: Promise<void>; release: () => void } | null = null;

  constructor(
    private readonly inner: EngineBackend,
    private readonly options: WrapOptions = {},
  ) {}

  get kind() {
    return this.inner.kind;
  }
  get info() {
    return this.inner.info;
  }
  get tokenizer() {
    return this.inner.tokenizer;
  }
  get blockBytes() {
    return this.inner.blockBytes;
  }
  get swapBytesPerS() {
    return this.inner.swapBytesPerS;
  }

  /** Holds every step from the next one on until `resume`. */
  pause(): void {
    if (this.paused) return;
    let release = () => {};
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.paused = { promise, release };
  }

  resume(): void {
    this.paused?.release();
    this.paused = null;
  }

  async step(step: BackendStep): Promise<BackendStepResult> {
    while (this.paused) await this.paused.promise;
    this.steps++;
    if (this.options.delayMs) await new Promise((resolve) => setTimeout(resolve, this.options.delayMs));
    const error = this.options.fault?.(step) ?? null;
    if (error) {
      this.failed++;
      throw error;
    }
    return this.inner.step(step);
  }

  dispose(): void {
    this.inner.dispose();
  }
}
