/**
 * Batches KV events and sends each batch as one message of vLLM's ZmqEventPublisher: three
 * frames — the topic (UTF-8, "" by default, as vLLM's), the sequence number as 8 bytes
 * big-endian (0, 1, 2, … per publisher, as vLLM's `itertools.count()`), and the msgpack batch
 * (./batch-encoding.ts). A subscriber that sees a gap knows it missed a batch (PUB drops at its
 * high-water mark or before a subscriber connects); it then resynchronises from the batches that
 * follow, as with vLLM's publisher in its default setup (its replay socket is an opt-in we do
 * not offer: docs/server.md, "KV events").
 *
 * Batching: the events of one engine step arrive synchronously (the block manager reports as it
 * changes its record), so the batch is cut once the current turn of the event loop ends
 * (setImmediate), or `flushIntervalMs` after its first event to send fewer, larger batches.
 * Consecutive stores of one chain, and consecutive removals, merge into one event, as vLLM
 * reports a request's new blocks in one BlockStored.
 *
 * The transport is an interface so tests can watch the frames without a socket
 * (./zmq-transport.ts is the real one). Sends are serialised: a ZeroMQ socket takes one send at
 * a time.
 */
import { encodeEventBatch } from './batch-encoding.js';
import type { KvEvent } from './events.js';

export type KvEventFrames = [topic: Uint8Array, sequence: Uint8Array, payload: Uint8Array];

/** Where message frames go: a PUB socket, or a test's recorder. */
export interface KvEventTransport {
  send(frames: KvEventFrames): Promise<void>;
  close(): Promise<void>;
}

export interface KvEventPublisherOptions {
  /** The first frame of every message ("" by default; llm-d expects `kv@<pod>@<model>`). */
  topic?: string;
  /** 0 (default): send at the end of the current event-loop turn; else this long after the first event. */
  flushIntervalMs?: number;
  /** Seconds since the epoch, for each batch's `ts` (default: the wall clock). */
  nowS?: () => number;
}

export class KvEventPublisher {
  /** Batches handed to the transport, and the ones whose send failed. */
  sentBatches = 0;
  failedBatches = 0;
  lastError: Error | null = null;
  private readonly topic: Uint8Array;
  private readonly flushIntervalMs: number;
  private readonly nowS: () => number;
  private pending: KvEvent[] = [];
  private scheduled = false;
  private nextSequence = 0n;
  private sending: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly transport: KvEventTransport,
    options: KvEventPublisherOptions = {},
  ) {
    this.topic = new TextEncoder().encode(options.topic ?? '');
    this.flushIntervalMs = options.flushIntervalMs ?? 0;
    if (!(this.flushIntervalMs >= 0)) throw new RangeError('flushIntervalMs must be >= 0');
    this.nowS = options.nowS ?? (() => Date.now() / 1000);
  }

  /** Queues an event for the next batch (dropped once closed). */
  push(event: KvEvent): void {
    if (this.closed) return;
    if (!this.mergeIntoLast(event)) this.pending.push(event);
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = () => this.flush();
    if (this.flushIntervalMs === 0) setImmediate(flush);
    else setTimeout(flush, this.flushIntervalMs);
  }

  /** Sends the pending events now as one batch (nothing when none are pending). */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    const sequence = new Uint8Array(8);
    new DataView(sequence.buffer).setBigUint64(0, this.nextSequence++, false);
    const frames: KvEventFrames = [this.topic, sequence, encodeEventBatch(this.nowS(), events)];
    this.sending = this.sending.then(() =>
      this.transport.send(frames).then(
        () => {
          this.sentBatches++;
        },
        (error: Error) => {
          // A lost batch shows as a gap in the sequence numbers; the engine must not fail for it.
          this.failedBatches++;
          this.lastError = error;
        },
      ),
    );
  }

  /** Sends what is pending and waits until every batch so far has been handed to the transport. */
  async drain(): Promise<void> {
    this.flush();
    await this.sending;
  }

  /** Sends what is pending, waits for every send, and closes the transport. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    await this.sending;
    await this.transport.close();
  }

  /** Extends the last pending event with `event` when they are one chain's stores or one medium's removals. */
  private mergeIntoLast(event: KvEvent): boolean {
    const last = this.pending[this.pending.length - 1];
    if (last === undefined || last.type !== event.type) return false;
    if (last.type === 'BlockStored' && event.type === 'BlockStored') {
      const continues =
        last.medium === event.medium &&
        last.blockSize === event.blockSize &&
        event.parentBlockHash !== null &&
        event.parentBlockHash === last.blockHashes[last.blockHashes.length - 1] &&
        (last.tokenIds.length > 0) === (event.tokenIds.length > 0);
      if (!continues) return false;
      last.blockHashes.push(...event.blockHashes);
      for (const t of event.tokenIds) last.tokenIds.push(t);
      return true;
    }
    if (last.type === 'BlockRemoved' && event.type === 'BlockRemoved' && last.medium === event.medium) {
      last.blockHashes.push(...event.blockHashes);
      return true;
    }
    return false;
  }
}
