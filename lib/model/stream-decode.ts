/**
 * Turning token ids back into text, whole or one token at a time for streaming, so that the
 * streamed pieces always add up to the whole decode. Byte-level tokenizers (a top-level
 * `ByteLevel` decoder: GPT-2, Llama 3, Qwen) take a fast path: each token maps to its bytes
 * directly and added tokens are looked up by id (tokenizers.js scans the whole added-token list
 * for every decoded token, slow with thousands of reserved tokens). Other decoders stream through
 * a window of the sequence decoded by tokenizers.js.
 */
import { UNICODE_TO_BYTE } from './byte-tokenizer-files.js';

export interface StreamDecoder {
  /** Feeds one generated id; returns the text that became final (possibly ''). */
  push(id: number): string;
  /** Returns whatever is still held back (an incomplete character becomes U+FFFD) and resets. */
  flush(): string;
}

const REPLACEMENT_CHAR = '\uFFFD';

export class ByteLevelDecoder {
  /** Lazily filled: the bytes each non-added token stands for. */
  private readonly tokenBytes: (Uint8Array | undefined)[] = [];

  constructor(
    /** Content of every added token, by id. */
    private readonly addedById: ReadonlyMap<number, string>,
    /** Ids dropped when skipping special tokens. */
    private readonly specialIds: ReadonlySet<number>,
    /** The vocabulary spelling of a (non-added) token. */
    private readonly idToToken: (id: number) => string | undefined,
  ) {}

  decode(ids: readonly number[], skip: boolean): string {
    const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
    let out = '';
    let pending: Uint8Array[] = [];
    let pendingLen = 0;
    const flushBytes = (): void => {
      if (pendingLen === 0) return;
      const buf = new Uint8Array(pendingLen);
      let off = 0;
      for (const p of pending) {
        buf.set(p, off);
        off += p.length;
      }
      out += utf8.decode(buf);
      pending = [];
      pendingLen = 0;
    };
    for (const id of ids) {
      const added = this.addedById.get(id);
      if (added !== undefined) {
        // Skipped tokens vanish before decoding (as in HF), so bytes on either side still join.
        if (skip && this.specialIds.has(id)) continue;
        flushBytes();
        out += added;
      } else {
        if (skip && this.specialIds.has(id)) continue;
        const b = this.bytesOf(id);
        pending.push(b);
        pendingLen += b.length;
      }
    }
    flushBytes();
    return out;
  }

  /** A stream decoder; `checkId` rejects an id the tokenizer does not know. */
  stream(skip: boolean, checkId: (id: number) => void): StreamDecoder {
    let utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
    return {
      push: (id: number): string => {
        checkId(id);
        if (skip && this.specialIds.has(id)) return '';
        const added = this.addedById.get(id);
        if (added !== undefined) {
          const held = utf8.decode(); // an unfinished character before an added token is final (U+FFFD)
          return held + added;
        }
        return utf8.decode(this.bytesOf(id), { stream: true });
      },
      flush: (): string => {
        const held = utf8.decode();
        utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
        return held;
      },
    };
  }

  /**
   * Bytes of a non-added token: its characters through the byte-level table, or (as the Rust
   * decoder does) the token's own UTF-8 when some character is not in the table.
   */
  private bytesOf(id: number): Uint8Array {
    let bytes = this.tokenBytes[id];
    if (bytes === undefined) {
      const token = this.idToToken(id) ?? '';
      const out: number[] = [];
      let mapped = true;
      for (const ch of token) {
        const b = UNICODE_TO_BYTE.get(ch);
        if (b === undefined) {
          mapped = false;
          break;
        }
        out.push(b);
      }
      bytes = mapped ? Uint8Array.from(out) : new TextEncoder().encode(token);
      this.tokenBytes[id] = bytes;
    }
    return bytes;
  }
}

/**
 * For non-byte-level decoders (SentencePiece-style Metaspace + byte fallback, WordPiece...):
 * the prefix/read-offset scheme used by vLLM and TGI. Decode a window that starts at the last
 * emitted chunk (so context-dependent rules such as leading-space stripping see the same
 * neighbours as a full decode), release the new suffix unless it ends in U+FFFD (an
 * incomplete character that the next token may finish).
 */
export function windowedStream(decode: (ids: number[]) => string, checkId: (id: number) => void): StreamDecoder {
  let window: number[] = [];
  let read = 0; // window[0..read) was already emitted
  const release = (force: boolean): string => {
    const prefixText = read > 0 ? decode(window.slice(0, read)) : '';
    const fullText = decode(window);
    if (fullText.length <= prefixText.length && !force) return '';
    if (!force && fullText.endsWith(REPLACEMENT_CHAR)) return '';
    const delta = fullText.startsWith(prefixText) ? fullText.slice(prefixText.length) : fullText.slice(Math.min(prefixText.length, fullText.length));
    window = window.slice(read);
    read = window.length;
    return delta;
  };
  return {
    push: (id: number): string => {
      checkId(id);
      window.push(id);
      return release(false);
    },
    flush: (): string => {
      const out = read < window.length ? release(true) : '';
      window = [];
      read = 0;
      return out;
    },
  };
}
