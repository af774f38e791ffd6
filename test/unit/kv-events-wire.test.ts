/**
 * KV events on the wire: each event's msgpack bytes are the ones vLLM's msgspec writes for its
 * `array_like, omit_defaults, tag` Structs — every field, in declaration order, tag first
 * (worked out by hand below, byte by byte) — a batch is `[ts as float64, [events],
 * data_parallel_rank]`, and a message is three frames — topic, 8-byte big-endian sequence
 * number, payload — with consecutive sequence numbers (lib/kv-events/publisher.ts, through a
 * transport that records the frames).
 */
import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { encodeEventBatch } from '../../lib/kv-events/batch-encoding.js';
import type { KvEvent } from '../../lib/kv-events/events.js';
import { KvEventPublisher, type KvEventFrames, type KvEventTransport } from '../../lib/kv-events/publisher.js';
import { bindsEndpoint } from '../../lib/kv-events/zmq-transport.js';

const str = (s: string) => [0xa0 + s.length, ...[...s].map((c) => c.charCodeAt(0))]; // fixstr (< 32 bytes)
/** 1,700,000,000 as an IEEE double, worked out by hand: exponent 30 (0x41d), mantissa 0x954fc4 << 22 … */
const TS_BYTES = [0x41, 0xd9, 0x54, 0xfc, 0x40, 0x00, 0x00, 0x00];

/** The events' part of a batch: the payload between its head (array of 3, ts) and the rank. */
function eventBytes(events: KvEvent[]): number[] {
  const payload = [...encodeEventBatch(1_700_000_000, events)];
  expect(payload.slice(0, 10)).toEqual([0x93, 0xcb, ...TS_BYTES]);
  expect(payload[payload.length - 1]).toBe(0x00); // data_parallel_rank 0
  return payload.slice(10, -1);
}

describe("events in msgspec's positional layout", () => {
  it('BlockRemoved: [tag, block_hashes, medium, group_idx]', () => {
    expect(eventBytes([{ type: 'BlockRemoved', blockHashes: [5n], medium: 'GPU' }])).toEqual([
      0x91, // the events list: one
      0x94, ...str('BlockRemoved'), 0x91, 0x05, ...str('GPU'), 0x00,
    ]);
  });

  it('AllBlocksCleared: just the tag', () => {
    expect(eventBytes([{ type: 'AllBlocksCleared' }])).toEqual([0x91, 0x91, ...str('AllBlocksCleared')]);
  });

  it('BlockStored: nine fields after the tag, nil where None; hashes in the shortest integer form, uint64 from 2^32', () => {
    const stored: KvEvent = { type: 'BlockStored', blockHashes: [1n << 32n, 70_000n], parentBlockHash: null, tokenIds: [1, 300], blockSize: 2, medium: 'CPU' };
    expect(eventBytes([stored])).toEqual([
      0x91,
      0x9a, // fixarray (0x90 + n) of 10
      ...str('BlockStored'),
      0x92, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 0xce, 0x00, 0x01, 0x11, 0x70, // block_hashes
      0xc0, // parent_block_hash: None
      0x92, 0x01, 0xcd, 0x01, 0x2c, // token_ids
      0x02, // block_size
      0xc0, // lora_id: None
      ...str('CPU'), // medium
      0xc0, // lora_name: None
      0xc0, // extra_keys: None
      0x00, // group_idx: 0
    ]);
  });

  it('decodes, as a router would, to the arrays vLLM sends', () => {
    const parent = 0xfedcba9876543210n;
    const events: KvEvent[] = [
      { type: 'BlockStored', blockHashes: [0x8000000000000001n], parentBlockHash: parent, tokenIds: [7, 8], blockSize: 2, medium: 'GPU' },
      { type: 'BlockRemoved', blockHashes: [0x8000000000000001n, 3n], medium: 'CPU' },
      { type: 'AllBlocksCleared' },
    ];
    expect(decode(encodeEventBatch(1_700_000_000.25, events), { useBigInt64: true })).toEqual([
      1_700_000_000.25,
      [
        ['BlockStored', [0x8000000000000001n], parent, [7, 8], 2, null, 'GPU', null, null, 0],
        ['BlockRemoved', [0x8000000000000001n, 3], 'CPU', 0],
        ['AllBlocksCleared'],
      ],
      0,
    ]);
  });
});

/** Records every message; the first `failures` sends reject. */
class RecordingTransport implements KvEventTransport {
  messages: KvEventFrames[] = [];
  failures = 0;
  closed = false;
  async send(frames: KvEventFrames): Promise<void> {
    if (this.failures-- > 0) throw new Error('socket gone');
    this.messages.push(frames);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const seqOf = (frames: KvEventFrames) => Buffer.from(frames[1]).readBigUInt64BE(0);

describe('the publisher', () => {
  it('sends one three-frame message per event-loop turn, sequence numbers 0, 1, 2 …', async () => {
    const transport = new RecordingTransport();
    const publisher = new KvEventPublisher(transport, { topic: 'kv@pod-1@m', nowS: () => 1_700_000_000 });
    publisher.push({ type: 'BlockRemoved', blockHashes: [1n], medium: 'GPU' });
    publisher.push({ type: 'BlockRemoved', blockHashes: [2n], medium: 'GPU' });
    await turn();
    await turn();
    publisher.push({ type: 'AllBlocksCleared' });
    await turn();
    await turn();
    expect(transport.messages).toHaveLength(2);
    expect(transport.messages.map((m) => m.length)).toEqual([3, 3]);
    expect(Buffer.from(transport.messages[0][0]).toString('utf8')).toBe('kv@pod-1@m');
    expect([...transport.messages[0][1]]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect([...transport.messages[1][1]]).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    // Two removals of one medium in a row are one event.
    expect(decode(transport.messages[0][2])).toEqual([1_700_000_000, [['BlockRemoved', [1, 2], 'GPU', 0]], 0]);
    await publisher.close();
    expect(transport.closed).toBe(true);
  });

  it("merges one chain's consecutive stores as vLLM reports a request's blocks, and nothing else", async () => {
    const transport = new RecordingTransport();
    const publisher = new KvEventPublisher(transport, { nowS: () => 1 });
    publisher.push({ type: 'BlockStored', blockHashes: [11n], parentBlockHash: null, tokenIds: [1, 2], blockSize: 2, medium: 'GPU' });
    publisher.push({ type: 'BlockStored', blockHashes: [12n], parentBlockHash: 11n, tokenIds: [3, 4], blockSize: 2, medium: 'GPU' });
    publisher.push({ type: 'BlockStored', blockHashes: [21n], parentBlockHash: 99n, tokenIds: [5, 6], blockSize: 2, medium: 'GPU' }); // another chain
    publisher.push({ type: 'BlockRemoved', blockHashes: [11n], medium: 'GPU' });
    publisher.push({ type: 'BlockRemoved', blockHashes: [12n], medium: 'CPU' }); // another medium
    await publisher.close();
    expect(Buffer.from(transport.messages[0][0]).length).toBe(0); // vLLM's default topic: ""
    expect(decode(transport.messages[0][2])).toEqual([
      1,
      [
        ['BlockStored', [11, 12], null, [1, 2, 3, 4], 2, null, 'GPU', null, null, 0],
        ['BlockStored', [21], 99, [5, 6], 2, null, 'GPU', null, null, 0],
        ['BlockRemoved', [11], 'GPU', 0],
        ['BlockRemoved', [12], 'CPU', 0],
      ],
      0,
    ]);
  });

  it('a failed send is counted and leaves a gap in the sequence, never an exception', async () => {
    const transport = new RecordingTransport();
    const publisher = new KvEventPublisher(transport);
    transport.failures = 1;
    publisher.push({ type: 'AllBlocksCleared' });
    publisher.flush();
    publisher.push({ type: 'AllBlocksCleared' });
    await publisher.close();
    expect(publisher.failedBatches).toBe(1);
    expect(publisher.sentBatches).toBe(1);
    expect(transport.messages.map(seqOf)).toEqual([1n]);
  });

  it("binds or connects by vLLM's rule", () => {
    expect(bindsEndpoint('tcp://*:5557')).toBe(true);
    expect(bindsEndpoint('tcp://[::]:5557')).toBe(true);
    expect(bindsEndpoint('ipc:///tmp/kv')).toBe(true);
    expect(bindsEndpoint('tcp://router:5557')).toBe(false);
  });
});
