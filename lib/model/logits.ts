/**
 * The logits of a token sequence at every position, computed the way the engine serves: the
 * first `split` ids prefilled as one chunk through the paged cache, the rest decoded one token
 * at a time. The basis of `astraea logits`, a debugging tool users and tests rely on.
 */
import { EngineError } from '../errors.js';
import type { KvDtypeOption, NativeModel } from '../native/index.js';
import { blocksFor, buildStepPlan } from '../native/plan.js';

export interface LogitsOptions {
  ids: readonly number[];
  /** How many ids the first (prefill) chunk takes; 1..ids.length. Default: all. */
  split?: number;
  blockSize?: number;
  /** The KV cache's element type; default 'auto' (the model's default, as the engine's). */
  kvDtype?: KvDtypeOption;
}

/** One Float32Array of vocabSize logits per position. */
export async function positionLogits(model: NativeModel, options: LogitsOptions): Promise<Float32Array[]> {
  const { ids } = options;
  const split = options.split ?? ids.length;
  const blockSize = options.blockSize ?? 16;
  if (ids.length === 0) throw new EngineError('INVALID_ARGUMENT', 'ids must not be empty');
  if (!Number.isInteger(split) || split < 1 || split > ids.length) {
    throw new EngineError('INVALID_ARGUMENT', `split must be between 1 and ${ids.length}, got ${split}`);
  }
  const { vocabSize } = model.info();
  // Blocks in reverse order, so a paging bug (a table read as if contiguous) cannot go unnoticed.
  const blockCount = blocksFor(ids.length, blockSize);
  const blocks = Array.from({ length: blockCount }, (_, i) => blockCount - 1 - i);
  const cache = model.createKvCache({ blockSize, deviceBlocks: blockCount, dtype: options.kvDtype ?? 'auto' });
  try {
    const rows: Float32Array[] = [];
    const run = async (start: number, end: number) => {
      const plan = buildStepPlan({
        sequences: [{ tokens: ids.slice(start, end), startPosition: start, blocks }],
        logits: 'all',
      });
      const result = await model.step(cache, plan);
      for (let r = 0; r < result.logitsRows; r++) {
        rows.push(result.logits!.slice(r * vocabSize, (r + 1) * vocabSize));
      }
    };
    await run(0, split);
    for (let p = split; p < ids.length; p++) await run(p, p + 1);
    return rows;
  } finally {
    cache.dispose();
  }
}
