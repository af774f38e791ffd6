/**
 * `openKvEvents` for the package's entry point: the module behind it, and the optional packages
 * it loads (`zeromq`, `@msgpack/msgpack`), are imported on the first call, so `import 'astraea'`
 * works where they are not installed.
 */
import type { KvEventsOptions } from './open-kv-events.js';
import type { KvEventsSink } from './sink.js';

/** vLLM's KV events on a ZeroMQ PUB socket, for EngineOptions.kvEvents (docs/server.md, "KV events"). */
export async function openKvEvents(options: KvEventsOptions): Promise<KvEventsSink> {
  return (await import('./open-kv-events.js')).openKvEvents(options);
}
