/**
 * One message's payload: vLLM's `KVEventBatch` as msgspec writes it — `array_like`, so a
 * three-element msgpack array `[ts, [event, …], data_parallel_rank]`, the rank 0 (vLLM's
 * publisher fills in its rank; this engine is one rank). `ts` is seconds since the epoch as a
 * float64 (0xcb): msgspec writes a Python float that way even when it is whole, where a JS
 * encoder would write a whole number as an integer — so the array head and `ts` are written here
 * and only the events go through @msgpack/msgpack.
 */
import { encode } from '@msgpack/msgpack';
import { eventToWire, type KvEvent } from './events.js';

/** msgpack bytes of the batch `[ts, events, 0]`. */
export function encodeEventBatch(timestampS: number, events: readonly KvEvent[]): Uint8Array {
  const body = encode(events.map(eventToWire), { useBigInt64: true });
  const out = new Uint8Array(1 + 9 + body.length + 1);
  out[0] = 0x93; // fixarray of 3
  out[1] = 0xcb; // float 64
  new DataView(out.buffer).setFloat64(2, timestampS, false);
  out.set(body, 10);
  out[out.length - 1] = 0x00; // data_parallel_rank 0
  return out;
}
