/**
 * Constrained decoding's contract with the engine: a per-segment object that says which ids the
 * next step may draw and follows each token drawn. The engine copies its mask into the step plan
 * (`PlannedSequence.allowedTokens`; the native sampler applies it, greedy and sampled alike) and
 * hands it every token the segment generates. The scheduler never sees it.
 */
export interface TokenConstraint {
  /**
   * The ids the next token may be: ceil(modelVocab / 32) words, id i allowed when bit i % 32 of
   * word i >> 5 is set. End-of-sequence ids are allowed only when the constraint is complete, and
   * then they are the only ones (a complete output ends there). Ready whenever the engine plans a
   * step: after construction and after each `accept` has settled.
   */
  allowedTokens(): Uint32Array;
  /**
   * Follows a sampled token and prepares the next mask. Resolves (or returns) true when the
   * token was allowed; false means the backend drew an id outside the mask.
   */
  accept(token: number): boolean | Promise<boolean>;
  /** Whether what was accepted so far is a complete output (an end-of-sequence id may follow). */
  isComplete(): boolean;
  /** Frees what the constraint holds (WASM memory); called once, when the segment ends. */
  dispose(): void;
}
