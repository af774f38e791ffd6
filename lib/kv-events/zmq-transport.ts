/**
 * The ZeroMQ PUB socket KV events go out on (the `zeromq` package, an optional dependency:
 * loaded only when KV events are asked for). vLLM's rule for its endpoint: bind when the address
 * is a wildcard (`tcp://*:5557`, `tcp://[::]:5557`) or local (`ipc://`, `inproc://`), else
 * connect — a router that binds one collector port for many engines is reached with
 * `tcp://router:5557`. The send high-water mark is vLLM's 100,000 messages; linger is 0 so a
 * closing engine never waits on a subscriber that went away.
 */
import { EngineError } from '../errors.js';
import type { KvEventFrames, KvEventTransport } from './publisher.js';

/** Whether vLLM would bind (rather than connect) a PUB socket to `endpoint`. */
export function bindsEndpoint(endpoint: string): boolean {
  return endpoint.includes('*') || endpoint.includes('::') || endpoint.startsWith('ipc://') || endpoint.startsWith('inproc://');
}

export async function openZmqTransport(endpoint: string, options: { sendHighWaterMark?: number } = {}): Promise<KvEventTransport> {
  let zmq: typeof import('zeromq');
  try {
    zmq = await import('zeromq');
  } catch (error) {
    throw new EngineError('INVALID_ARGUMENT', `KV events need the optional package "zeromq" (npm install zeromq): ${(error as Error).message}`);
  }
  const socket = new zmq.Publisher({ sendHighWaterMark: options.sendHighWaterMark ?? 100_000, linger: 0 });
  try {
    if (bindsEndpoint(endpoint)) await socket.bind(endpoint);
    else socket.connect(endpoint);
  } catch (error) {
    socket.close();
    throw new EngineError('INVALID_ARGUMENT', `cannot open the KV-event socket on ${endpoint}: ${(error as Error).message}`);
  }
  return {
    send: (frames: KvEventFrames) => socket.send(frames),
    close: async () => {
      socket.close();
    },
  };
}
