/**
 * The swap bandwidth the native backend measures when it opens (NativeBackend.open: 64 blocks out
 * and back in, five rounds, the median), three times per preset, beside this machine's read
 * bandwidth: a swap is a copy, so it reads and writes each byte, and half the read bandwidth is
 * roughly its ceiling on one memory system.
 *   npm run build:ts && node dist/bench/native/swap-probe.js
 */
import { NativeBackend } from '../../lib/engine/native-backend.js';
import { loadModel } from '../../lib/model/load.js';
import { native } from '../../lib/native/index.js';

const readBytesPerS = await native().measureReadBandwidth();
process.stdout.write(`${JSON.stringify(native().backendInfo())}, read bandwidth ${(readBytesPerS / 1e9).toFixed(1)} GB/s\n`);
process.stdout.write('| preset | block bytes | swap GB/s (3 openings) | / half the read bandwidth |\n| --- | ---: | --- | ---: |\n');
for (const preset of ['tiny', 'small']) {
  const model = await loadModel({ model: preset });
  const rates: number[] = [];
  let blockBytes = 0;
  for (let i = 0; i < 3; i++) {
    const backend = await NativeBackend.open({ ...model, dispose: () => {} }, { blockSize: 16, deviceBlocks: 256, hostBlocks: 256 });
    rates.push(backend.swapBytesPerS);
    blockBytes = backend.blockBytes;
    backend.dispose();
  }
  model.dispose();
  const best = Math.max(...rates);
  process.stdout.write(`| ${preset} | ${blockBytes} | ${rates.map((r) => (r / 1e9).toFixed(1)).join(', ')} | ${(best / (readBytesPerS / 2)).toFixed(2)} |\n`);
}
