/**
 * KV events on a ZeroMQ PUB socket, ready to hand to the engine (EngineOptions.kvEvents).
 * Imported dynamically (`astraea serve --kv-events`): it loads the optional `zeromq` and
 * `@msgpack/msgpack` packages, which a server without KV events never needs.
 */
import { KvEventSource } from './event-source.js';
import { KvEventPublisher } from './publisher.js';
import type { KvEventsSink } from './sink.js';
import { openZmqTransport } from './zmq-transport.js';

export interface KvEventsOptions {
  /** A ZeroMQ endpoint: `tcp://*:5557` binds, `tcp://router:5557` connects (vLLM's rule). */
  endpoint: string;
  /** The first frame of each message (default ""; llm-d's indexer expects `kv@<pod>@<model>`). */
  topic?: string;
  /** NONE_HASH's seed: vLLM's PYTHONHASHSEED, llm-d's HashSeed (default ""). */
  hashSeed?: string;
  /** 0 (default): a batch per event-loop turn (an engine step); else per this many ms. */
  flushIntervalMs?: number;
}

export async function openKvEvents(options: KvEventsOptions): Promise<KvEventsSink> {
  const transport = await openZmqTransport(options.endpoint);
  const publisher = new KvEventPublisher(transport, { topic: options.topic, flushIntervalMs: options.flushIntervalMs });
  return new KvEventSource(publisher, { hashSeed: options.hashSeed });
}
