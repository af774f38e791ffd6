/**
 * `astraea serve --kv-events` as a router meets it: a SUB socket bound where the router listens,
 * the server's PUB connecting to it (vLLM's rule for a specific address), one chat call. The
 * frames carry the topic given, sequence numbers from 0, and `BlockStored` events whose first block
 * holds the first 16 ids of the prompt the chat template rendered — worked out here with the
 * preset's tokenizer, not read from the server. (The wire format and hashes in detail:
 * test/unit/kv-events-*.test.ts.)
 */
import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { buildByteLevelTokenizer } from '../../lib/model/byte-tokenizer-files.js';
import { presetConfig } from '../../lib/model/presets.js';
import { Tokenizer } from '../../lib/model/tokenizer.js';
import { until } from '../server/loopback.js';
import { startServe } from './serve-process.js';

const TOPIC = 'kv@pod-a@tiny';
const CONTENT = 'Summarise the failing test and propose a fix for the flaky retry loop.';

describe('astraea serve --kv-events', () => {
  it('publishes the prompt’s blocks to a subscribing router', async () => {
    const zmq = await import('zeromq');
    const sub = new zmq.Subscriber();
    await sub.bind('tcp://127.0.0.1:*');
    sub.subscribe(TOPIC);
    const frames: Buffer[][] = [];
    void (async () => {
      for await (const message of sub) frames.push(message as Buffer[]);
    })().catch(() => {});
    const serve = await startServe(['--preset', 'tiny', '--kv-events', sub.lastEndpoint as string, '--kv-events-topic', TOPIC]);
    try {
      // The PUB side connects asynchronously: a first call may go out before the subscription is up.
      let calls = 0;
      const call = async () => {
        calls++;
        const r = await fetch(`${serve.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: `${CONTENT} (${calls})` }], max_tokens: 4, temperature: 0 }),
        });
        expect(r.status).toBe(200);
        await r.json();
      };
      await call();
      await until(() => frames.length > 0 || calls > 20, 10_000).catch(() => undefined);
      while (frames.length === 0 && calls < 20) {
        await call();
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(frames.length).toBeGreaterThan(0);

      const files = buildByteLevelTokenizer({ vocabSize: presetConfig('tiny').vocab_size });
      const tokenizer = Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);
      const stored: { blocks: number; tokens: number[]; blockSize: number; medium: string; parent: unknown }[] = [];
      let previousSeq = -1n;
      for (const [topic, seq, payload] of frames) {
        expect(topic.toString()).toBe(TOPIC);
        const n = seq.readBigUInt64BE(0);
        if (previousSeq >= 0n) expect(n).toBe(previousSeq + 1n);
        previousSeq = n;
        const [ts, events] = decode(payload, { useBigInt64: true }) as [number, unknown[][]];
        expect(ts).toBeGreaterThan(1.7e9); // seconds since the epoch
        for (const e of events) {
          if (e[0] === 'BlockStored') stored.push({ blocks: (e[1] as unknown[]).length, tokens: (e[3] as (number | bigint)[]).map(Number), blockSize: Number(e[4]), medium: e[6] as string, parent: e[2] });
        }
      }
      // A BlockStored names a run of blocks and carries all their tokens: for a chain's first run,
      // the first 16 × blocks ids of some call's rendered prompt.
      const prompts = Array.from({ length: calls }, (_, i) =>
        tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: `${CONTENT} (${i + 1})` }], { addGenerationPrompt: true }), { addSpecialTokens: false }),
      );
      const firstBlocks = stored.filter((s) => s.parent === null);
      expect(firstBlocks.length).toBeGreaterThan(0);
      for (const block of firstBlocks) {
        expect(block.blockSize).toBe(16);
        expect(block.medium).toBe('GPU');
        expect(block.tokens).toHaveLength(16 * block.blocks);
        expect(prompts.map((p) => JSON.stringify(p.slice(0, block.tokens.length)))).toContain(JSON.stringify(block.tokens));
      }
    } finally {
      expect(await serve.stop()).toBe(0);
      sub.close();
    }
  });
});
