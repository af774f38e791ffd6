/**
 * KV events replayed into a mirror (vLLM hash → media) equal the block manager's own record of
 * the content it can serve (`BlockManager.storedContent()`): first on a hand-worked sequence of
 * calls (store, swap out, evict, swap in, reset), then after an engine run on the simulator with
 * a pool small enough to evict and a policy that swaps every tool wait, its events read by a real
 * ZeroMQ SUB socket. Every GPU store's hash is checked against its parent and tokens with vLLM's
 * formula, and the engine's own content keys are rebuilt from the events' tokens, so the mirror
 * is compared with the block manager through a mapping the test derives itself.
 */
import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { BlockManager } from '../../lib/kv/block-manager.js';
import { hashBlock, type BlockHash } from '../../lib/kv/prefix-hash.js';
import { hashBlockTokens, noneHash } from '../../lib/kv-events/block-hash.js';
import type { KvEvent } from '../../lib/kv-events/events.js';
import { KvEventSource } from '../../lib/kv-events/event-source.js';
import { KvEventPublisher, type KvEventFrames, type KvEventTransport } from '../../lib/kv-events/publisher.js';
import type { KvEventsSink } from '../../lib/kv-events/sink.js';
import { openZmqTransport } from '../../lib/kv-events/zmq-transport.js';
import { FcfsPolicy } from '../../lib/sched/fcfs.js';
import type { Policy } from '../../lib/sched/policy.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import type { WorkloadJob } from '../../lib/workload/format.js';
import { runWorkload } from '../../lib/workload/replay.js';

type WireEvent = [string, ...unknown[]];

/** The router's view: which media hold each hash, replayed from the decoded events. */
class Mirror {
  readonly media = new Map<bigint, Set<string>>();
  /** Every hash announced on the GPU → the engine's key for it, rebuilt from the tokens. */
  readonly engineKeyOf = new Map<bigint, BlockHash>();
  readonly none: bigint;
  constructor(
    private readonly blockSize: number,
    seed = '',
  ) {
    this.none = noneHash(seed);
  }

  apply(events: WireEvent[]): void {
    for (const event of events) {
      const [tag] = event;
      if (tag === 'AllBlocksCleared') {
        this.media.clear();
      } else if (tag === 'BlockStored') {
        const [, hashes, parent, tokens, blockSize, loraId, medium, loraName, extraKeys, groupIdx] = event as [string, (bigint | number)[], bigint | number | null, number[], number, null, string, null, null, number];
        expect(event).toHaveLength(10);
        expect([blockSize, loraId, loraName, extraKeys, groupIdx]).toEqual([this.blockSize, null, null, null, 0]);
        if (medium === 'GPU') this.checkChain(hashes.map(BigInt), parent === null ? null : BigInt(parent), tokens);
        else expect([parent, tokens]).toEqual([null, []]);
        for (const h of hashes) this.add(BigInt(h), medium);
      } else {
        expect(tag).toBe('BlockRemoved');
        const [, hashes, medium, groupIdx] = event as [string, (bigint | number)[], string, number];
        expect(event).toHaveLength(4);
        expect(groupIdx).toBe(0);
        for (const h of hashes) {
          const media = this.media.get(BigInt(h));
          expect(media?.has(medium), `removing ${h} from ${medium}, where it was never stored`).toBe(true);
          media!.delete(medium);
          if (media!.size === 0) this.media.delete(BigInt(h));
        }
      }
    }
  }

  /** The mirror as "MEDIUM hash" strings. */
  entries(): string[] {
    return [...this.media].flatMap(([h, media]) => [...media].map((m) => `${m} ${h}`)).sort();
  }

  /** What the block manager holds, as the same strings (through the keys the events taught us). */
  expected(blocks: BlockManager): string[] {
    const hashOf = new Map([...this.engineKeyOf].map(([h, key]) => [key, h]));
    const { device, host } = blocks.storedContent();
    const toEntry = (medium: string) => (key: BlockHash) => {
      expect(hashOf.has(key), `an ${medium} block whose store was never announced`).toBe(true);
      return `${medium} ${hashOf.get(key)}`;
    };
    return [...device.map(toEntry('GPU')), ...host.map(toEntry('CPU'))].sort();
  }

  private add(hash: bigint, medium: string): void {
    const media = this.media.get(hash) ?? new Set<string>();
    expect(media.has(medium), `${hash} stored twice on ${medium}`).toBe(false);
    media.add(medium);
    this.media.set(hash, media);
  }

  /** vLLM's chain over the event's blocks, and the engine's own keys for them (unsalted runs). */
  private checkChain(hashes: bigint[], parent: bigint | null, tokens: number[]): void {
    expect(tokens).toHaveLength(hashes.length * this.blockSize);
    let prev = parent ?? this.none;
    let prevKey: BlockHash | null = parent === null ? null : (this.engineKeyOf.get(parent) as BlockHash);
    expect(parent === null || prevKey !== undefined).toBe(true);
    hashes.forEach((h, i) => {
      const blockTokens = tokens.slice(i * this.blockSize, (i + 1) * this.blockSize);
      expect(h).toBe(hashBlockTokens(prev, blockTokens));
      const key = hashBlock(prevKey, blockTokens, 0, this.blockSize);
      this.engineKeyOf.set(h, key);
      prev = h;
      prevKey = key;
    });
  }
}

/** A queue that hands the events straight to a list (the hand-worked test needs no wire). */
function listQueue(out: KvEvent[]) {
  return { push: (e: KvEvent) => void out.push(structuredClone(e)), close: async () => {} };
}

/** The events as the wire would carry them, without the wire: positional arrays. */
async function asWire(events: KvEvent[]): Promise<WireEvent[]> {
  const { encodeEventBatch } = await import('../../lib/kv-events/batch-encoding.js');
  return (decode(encodeEventBatch(0.5, events), { useBigInt64: true }) as [number, WireEvent[], number])[1];
}

describe('the block manager reports, hand-worked', () => {
  it('store, swap out, evict, swap in, reset: the mirror follows, medium by medium', async () => {
    const blocks = new BlockManager({ deviceBlocks: 4, hostBlocks: 4, blockSize: 2 });
    const events: KvEvent[] = [];
    const source = new KvEventSource(listQueue(events));
    source.attach(blocks);
    const mirror = new Mirror(2);
    const step = async () => {
      mirror.apply(await asWire(events.splice(0)));
      expect(mirror.entries()).toEqual(mirror.expected(blocks));
    };
    const none = noneHash('');
    const h0 = hashBlockTokens(none, [1, 2]);
    const h1 = hashBlockTokens(h0, [3, 4]);

    const a = [1, 2, 3, 4, 5];
    blocks.ensure('a', a);
    blocks.markComputed('a', a, 5); // two full blocks (the fifth token's block is partial)
    expect(events).toEqual([
      { type: 'BlockStored', blockHashes: [h0], parentBlockHash: null, tokenIds: [1, 2], blockSize: 2, medium: 'GPU' },
      { type: 'BlockStored', blockHashes: [h1], parentBlockHash: h0, tokenIds: [3, 4], blockSize: 2, medium: 'GPU' },
    ]);
    await step();

    blocks.swapOut('a'); // the host copy; the device blocks stay cached
    expect(events).toEqual([{ type: 'BlockStored', blockHashes: [h0, h1], parentBlockHash: null, tokenIds: [], blockSize: 2, medium: 'CPU' }]);
    await step();
    expect(mirror.entries()).toEqual([`CPU ${h0}`, `CPU ${h1}`, `GPU ${h0}`, `GPU ${h1}`].sort());

    blocks.ensure('b', [9, 9, 9, 9, 9, 9, 9, 9]); // four blocks: two free, two evicted (the tail first)
    expect(events).toEqual([
      { type: 'BlockRemoved', blockHashes: [h1], medium: 'GPU' },
      { type: 'BlockRemoved', blockHashes: [h0], medium: 'GPU' },
    ]);
    await step(); // a swap seen whole: now only on the host
    expect(mirror.entries()).toEqual([`CPU ${h0}`, `CPU ${h1}`].sort());

    blocks.free('b');
    blocks.swapIn('a');
    blocks.restoreKeys('a', a);
    expect(events.map((e) => [e.type, 'medium' in e ? e.medium : null])).toEqual([
      ['BlockRemoved', 'CPU'],
      ['BlockStored', 'GPU'],
      ['BlockStored', 'GPU'],
    ]);
    await step();
    expect(mirror.entries()).toEqual([`GPU ${h0}`, `GPU ${h1}`].sort());

    expect(blocks.resetPrefixCache()).toBe(false); // 'a' still holds its blocks
    blocks.free('a');
    expect(blocks.resetPrefixCache()).toBe(true);
    expect(events).toEqual([{ type: 'AllBlocksCleared' }]);
    await step();
    expect(mirror.entries()).toEqual([]);
    blocks.checkInvariants();
    expect(blocks.stats().freeBlocks).toBe(4);
    expect(source.unresolvedKeys).toBe(0);
  });

  it('a job closed while swapped removes its host copies; a salted chain hashes its salt into block 0', async () => {
    const blocks = new BlockManager({ deviceBlocks: 4, hostBlocks: 4, blockSize: 2 });
    const events: KvEvent[] = [];
    const source = new KvEventSource(listQueue(events), { hashSeed: '42' });
    source.attach(blocks);
    const { saltRoot } = await import('../../lib/kv/prefix-hash.js');
    const root = saltRoot('tenant-1');
    source.noteSalt(root, 'tenant-1');
    blocks.ensure('s', [1, 2, 3], 3, root);
    blocks.markComputed('s', [1, 2, 3], 3);
    const salted = hashBlockTokens(noneHash('42'), [1, 2], ['tenant-1']);
    expect(events[0]).toMatchObject({ type: 'BlockStored', blockHashes: [salted], parentBlockHash: null });
    blocks.swapOut('s');
    blocks.free('s');
    expect(events.slice(1)).toEqual([
      { type: 'BlockStored', blockHashes: [salted], parentBlockHash: null, tokenIds: [], blockSize: 2, medium: 'CPU' },
      { type: 'BlockRemoved', blockHashes: [salted], medium: 'CPU' },
    ]);
  });
});

/** Swaps every pausing job's KV to the host (the swaps the events must show). */
function swapping(): Policy {
  const fcfs = new FcfsPolicy();
  return { name: 'swap-all', preemption: 'recompute', order: (c) => fcfs.order(c), onToolWait: () => 'swap' };
}

const MODEL = { name: 't', vocabSize: 1000, maxPositionEmbeddings: 8192, kvBytesPerToken: 1000 };
const COSTS = { name: 'c', fixedS: 0.01, tokenS: 0.001, contextTokenS: 0, swapBytesPerS: 1e9 };
const BLOCK = 16;

/** Eight agents sharing a 40-token system prompt, each calling a tool between two segments. */
const JOBS: WorkloadJob[] = Array.from({ length: 8 }, (_, i) => ({
  id: `j${i}`,
  arrivalS: i * 0.05,
  kind: 'k',
  prefixId: 'sys',
  prefixTokens: 40,
  segments: [
    { inputTokens: 30 + 7 * i, outputTokens: 12, tool: { name: 't', durationS: 0.3 + 0.1 * (i % 3) } },
    { inputTokens: 20, outputTokens: 10, tool: null },
  ],
}));

/** Frames in arrival order from a real SUB socket (bound; the engine's PUB connects, as to a router). */
async function zmqSubscriber(): Promise<{ endpoint: string; received: KvEventFrames[]; close: () => void } | null> {
  let zmq: typeof import('zeromq');
  try {
    zmq = await import('zeromq');
  } catch {
    return null;
  }
  const sub = new zmq.Subscriber();
  await sub.bind('tcp://127.0.0.1:*');
  sub.subscribe('kv@');
  const received: KvEventFrames[] = [];
  void (async () => {
    for await (const frames of sub) received.push(frames as unknown as KvEventFrames);
  })().catch(() => {});
  return { endpoint: sub.lastEndpoint as string, received, close: () => sub.close() };
}

/** Without zeromq: the frames recorded as sent. */
class RecordingTransport implements KvEventTransport {
  readonly received: KvEventFrames[] = [];
  async send(frames: KvEventFrames): Promise<void> {
    this.received.push(frames);
  }
  async close(): Promise<void> {}
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('an engine run, read off the wire', () => {
  it('replayed into a mirror, equals the block manager after evictions and swaps; sequence numbers are consecutive', async () => {
    const sub = await zmqSubscriber();
    const recording = new RecordingTransport();
    const transport = sub === null ? recording : await openZmqTransport(sub.endpoint);
    const received = sub === null ? recording.received : sub.received;
    if (sub !== null) await sleep(300); // PUB drops what it sends before the connection is up
    const publisher = new KvEventPublisher(transport, { topic: 'kv@pod-0@t' });
    const source = new KvEventSource(publisher);
    let blocks: BlockManager | null = null;
    const sink: KvEventsSink = {
      attach: (b) => {
        blocks = b;
        source.attach(b);
      },
      noteSalt: (root, salt) => source.noteSalt(root, salt),
      close: () => source.close(),
    };

    const clock = new VirtualClock();
    const engine = Engine.withBackend(new SimulatedBackend(MODEL, COSTS, BLOCK, clock), {
      policy: swapping(),
      kvBlocks: 20,
      hostBlocks: 64,
      blockSize: BLOCK,
      clock,
      kvEvents: sink,
    });
    const done = runWorkload(engine, JOBS, clock);
    await clock.run();
    const outcomes = await done;
    expect(outcomes.map((o) => o.error)).toEqual(new Array(JOBS.length).fill(null));
    const stats = engine.stats();
    // The run did what the test is about: evicted cached content and swapped KV out and in.
    expect(stats.kv.evictions).toBeGreaterThan(0);
    expect(stats.kvTraffic.swapOutBytes).toBeGreaterThan(0);
    expect(stats.kvTraffic.swapInBytes).toBeGreaterThan(0);
    engine.checkInvariants();

    await publisher.drain();
    for (let i = 0; i < 200 && received.length < publisher.sentBatches; i++) await sleep(10);
    expect(publisher.failedBatches).toBe(0);
    expect(received.length).toBe(publisher.sentBatches);

    const mirror = new Mirror(BLOCK);
    received.forEach((frames, i) => {
      expect(frames).toHaveLength(3);
      expect(Buffer.from(frames[0]).toString()).toBe('kv@pod-0@t');
      expect(Buffer.from(frames[1]).readBigUInt64BE(0)).toBe(BigInt(i));
      const [ts, events, rank] = decode(frames[2], { useBigInt64: true }) as [number, WireEvent[], number];
      expect(ts).toBeGreaterThan(1.6e9);
      expect(rank).toBe(0);
      mirror.apply(events);
    });
    expect(mirror.entries().length).toBeGreaterThan(0);
    expect(mirror.entries()).toEqual(mirror.expected(blocks!));
    expect(mirror.entries().some((e) => e.startsWith('CPU'))).toBe(false); // every job ended: nothing left on the host
    expect(source.unresolvedKeys).toBe(0);
    // The shared prompt's two full blocks were announced once and served every job after.
    expect(stats.kv.prefixHitTokens).toBeGreaterThan(0);

    const before = received.length;
    await engine.close(); // the last message says every block is gone
    for (let i = 0; i < 200 && received.length === before; i++) await sleep(10);
    const last = decode(received[received.length - 1][2], { useBigInt64: true }) as [number, WireEvent[]];
    expect(last[1][last[1].length - 1]).toEqual(['AllBlocksCleared']);
    expect(Buffer.from(received[received.length - 1][1]).readBigUInt64BE(0)).toBe(BigInt(received.length - 1));
    sub?.close();
  });
});
