/**
 * A deterministic fake model for the HTTP server's tests: an assistant that follows a script.
 * `reply(promptText)` gives the whole assistant turn for a conversation; the backend emits it one
 * token per step, then end of sequence. The tokenizer is the real byte-level one with the ChatML /
 * Hermes template, so the server's rendering, streaming and tool-call parsing run as in production.
 *
 * The backend trusts nothing but the steps the engine sends. Like a real KV cache it stores each
 * token in the slot its block table names (position p: block blocks[floor(p / blockSize)], slot
 * p % blockSize), runs the step's swaps and copies, and reads the context back from those slots before
 * choosing the next token. A wrong block table, a prefix-cache hit on the wrong blocks or a lost
 * swap therefore gives a wrong (or unreadable) context, and a test sees a wrong reply or an error.
 *
 * The sampled token of a prefill chunk that is not the prompt's last one is discarded by the
 * engine, but the backend cannot tell which chunk is last: `reply` may also be called with a
 * prompt cut at a chunk boundary. Keep it a pure function of its argument.
 */
import type { BackendModelInfo, BackendStep, BackendStepResult, EngineBackend } from '../../lib/engine/backend.js';
import { buildByteLevelTokenizer } from '../../lib/model/byte-tokenizer-files.js';
import { Tokenizer } from '../../lib/model/tokenizer.js';
import type { PlannedSequence } from '../../lib/native/plan.js';

export interface ScriptedChatBackendOptions {
  /** The assistant's whole reply to a prompt (the rendered conversation up to the generation prompt). */
  reply: (contextText: string) => string;
  /** Vocabulary size of the byte-level tokenizer (default 512; at least 263). */
  vocabSize?: number;
  /**
   * Another tokenizer instead of the byte-level one (a real one, or one with other special
   * tokens); its template must write ChatML's generation prompt, and its eos_token ends the turn.
   */
  tokenizer?: Tokenizer;
  /** Default 4096. */
  maxPositionEmbeddings?: number;
  /** Tokens per KV block; must equal the engine's `blockSize` option (both default 16). */
  blockSize?: number;
  /** Reported seconds per step (default 0.001). */
  stepS?: number;
}

/** What the ChatML template writes before each assistant turn (add_generation_prompt). */
const GENERATION_PROMPT = '<|im_start|>assistant\n';
const KV_BYTES_PER_TOKEN = 64;

export class ScriptedChatBackend implements EngineBackend {
  readonly kind = 'sim' as const;
  readonly info: BackendModelInfo;
  readonly tokenizer: Tokenizer;
  readonly blockBytes: number;
  readonly swapBytesPerS = 1e9;
  /** Times dispose() ran (the engine must call it exactly once). */
  disposed = 0;

  private readonly reply: (contextText: string) => string;
  private readonly blockSize: number;
  private readonly stepS: number;
  private readonly eosId: number;
  private readonly markerTokens: number[];
  /** The fake KV cache: block id → the token id in each slot (a hole: never written). */
  private readonly deviceBlocks = new Map<number, number[]>();
  private readonly hostBlocks = new Map<number, number[]>();
  /** Reply tokens per prompt text, so a reply is tokenized (and `reply` called) once per prompt. */
  private readonly replies = new Map<string, number[]>();

  constructor(options: ScriptedChatBackendOptions) {
    let vocabSize = options.vocabSize ?? 512;
    if (options.tokenizer) {
      this.tokenizer = options.tokenizer;
      vocabSize = options.tokenizer.vocabSize;
    } else {
      const files = buildByteLevelTokenizer({ vocabSize });
      this.tokenizer = Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);
    }
    // The engine stops on tokenizer.eosIds and info.eosTokenIds together; for this tokenizer both
    // are just `<|im_end|>` (the config's eos_token), which also closes a turn in the template.
    this.info = {
      vocabSize,
      maxPositionEmbeddings: options.maxPositionEmbeddings ?? 4096,
      eosTokenIds: [...this.tokenizer.eosIds],
      kvBytesPerToken: KV_BYTES_PER_TOKEN,
    };
    this.eosId = this.tokenizer.eosIds[0];
    this.reply = options.reply;
    this.blockSize = options.blockSize ?? 16;
    this.blockBytes = this.blockSize * KV_BYTES_PER_TOKEN;
    this.stepS = options.stepS ?? 0.001;
    this.markerTokens = this.tokenizer.encode(GENERATION_PROMPT, { addSpecialTokens: false });
  }

  async step(step: BackendStep): Promise<BackendStepResult> {
    // Everything is read before the first await: the block tables are the engine's live arrays.
    // The native plan's order: device → host copies, then host → device, then the new tokens.
    for (const [device, host] of step.swapOut) this.hostBlocks.set(host, [...(this.deviceBlocks.get(device) ?? [])]);
    for (const [host, device] of step.swapIn) this.deviceBlocks.set(device, [...(this.hostBlocks.get(host) ?? [])]);
    for (const [from, to] of step.copy ?? []) this.deviceBlocks.set(to, [...(this.deviceBlocks.get(from) ?? [])]);
    for (const s of step.sequences) this.write(s);
    const tokens = step.sequences.map((s) => this.nextToken(this.readContext(s)));
    await new Promise<void>((resolve) => setImmediate(resolve)); // the engine loop yields, as on a real backend
    return { tokens, elapsedS: this.stepS, blockingSwapS: 0, overlappedSwapS: 0, overlappedSwapBlocks: 0 };
  }

  dispose(): void {
    this.deviceBlocks.clear();
    this.hostBlocks.clear();
    this.replies.clear();
    this.disposed++;
  }

  private slot(s: PlannedSequence, position: number): { block: number; slot: number } {
    const block = s.blocks[Math.floor(position / this.blockSize)];
    if (block === undefined) throw new Error(`ScriptedChatBackend: position ${position} is beyond the block table (${s.blocks.length} blocks)`);
    return { block, slot: position % this.blockSize };
  }

  private write(s: PlannedSequence): void {
    s.tokens.forEach((token, i) => {
      const { block, slot } = this.slot(s, s.startPosition + i);
      let slots = this.deviceBlocks.get(block);
      if (!slots) this.deviceBlocks.set(block, (slots = []));
      slots[slot] = token;
    });
  }

  private readContext(s: PlannedSequence): number[] {
    const length = s.startPosition + s.tokens.length;
    const context = new Array<number>(length);
    for (let p = 0; p < length; p++) {
      const { block, slot } = this.slot(s, p);
      const token = this.deviceBlocks.get(block)?.[slot];
      // Only an engine bug reads KV that no step wrote: fail the step loudly.
      if (token === undefined) throw new Error(`ScriptedChatBackend: position ${p} (block ${block}, slot ${slot}) was never written`);
      context[p] = token;
    }
    return context;
  }

  /** The reply's next token after what the current assistant turn holds so far, else eos. */
  private nextToken(context: number[]): number {
    const markerEnd = this.lastMarkerEnd(context);
    if (markerEnd < 0) return this.eosId; // a raw token job: nothing scripted to say
    const generated = context.slice(markerEnd);
    // A turn marker or eos after the last generation prompt: this is a cut through the history
    // (a prefill chunk), not the turn being generated.
    if (generated.some((t) => t === this.eosId || t === this.markerTokens[0])) return this.eosId;
    const promptText = this.tokenizer.decode(context.slice(0, markerEnd));
    let replyTokens = this.replies.get(promptText);
    if (!replyTokens) {
      replyTokens = this.tokenizer.encode(this.reply(promptText), { addSpecialTokens: false });
      this.replies.set(promptText, replyTokens);
    }
    // A turn that strays from the script (a corrupted context) ends at once: the test sees it.
    for (let i = 0; i < generated.length; i++) if (generated[i] !== replyTokens[i]) return this.eosId;
    return generated.length < replyTokens.length ? replyTokens[generated.length] : this.eosId;
  }

  /** Index just past the last generation prompt in the context, or -1. */
  private lastMarkerEnd(context: readonly number[]): number {
    const marker = this.markerTokens;
    for (let start = context.length - marker.length; start >= 0; start--) {
      let i = 0;
      while (i < marker.length && context[start + i] === marker[i]) i++;
      if (i === marker.length) return start + marker.length;
    }
    return -1;
  }
}
