// Does llama.cpp read our GGUF block types as we do? For each type, the `small` preset's seeded
// weights are encoded in it (bench/native/ggml-blocks.ts), written to a GGUF file, and run by
// llama.cpp (greedy, through node-llama-cpp; see bench/native/llamacpp.ts for the install) and by
// this engine on the same ids, teacher-forced. Where the greedy tokens differ, the gap between our
// top logit and ours at llama.cpp's token says whether that is rounding (llama.cpp quantizes the
// activations in its dot products) or a different model.
//
//   node dist/bench/native/llamacpp-agreement.js [--types Q4_K,Q6_K,...] [--prompt 16] [--decode 24]

import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../lib/model/load.js';
import { positionLogits } from '../../lib/model/logits.js';
import type { WeightDtypeOption } from '../../lib/native/index.js';
import { BLOCK_TYPES, encodeBlocks, type BlockTypeName } from './ggml-blocks.js';
import { writeGguf, type HfTensor } from './gguf-writer.js';
import { measureLlamaCpp, randomTokens } from './llamacpp.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k] > values[best]) best = k;
  return best;
}

async function main(): Promise<void> {
  const types = option('types', Object.keys(BLOCK_TYPES).join(',')).split(',') as BlockTypeName[];
  for (const t of types) if (!(t in BLOCK_TYPES)) throw new Error(`unknown block type ${t} (${Object.keys(BLOCK_TYPES).join(', ')})`);
  const promptTokens = Number(option('prompt', '16'));
  const decodeTokens = Number(option('decode', '24'));
  const base = await loadModel({ model: 'small', seed: 5 });
  const vocab = base.info.vocabSize;
  const tokens = Array.from({ length: vocab }, (_, i) => (i < 3 ? ['<unk>', '<s>', '</s>'][i] : `t${i}`));
  console.log(`small preset (seeded), prompt ${promptTokens} ids, ${decodeTokens} greedy tokens from llama.cpp; ours teacher-forced on the same ids`);
  console.log('| type | ours, f32 (exact decode): agree | gaps where not | ours, auto (Q8_0): agree | gaps where not |');
  console.log('| --- | ---: | --- | ---: | --- |');
  try {
    for (const type of types) {
      const tensors: HfTensor[] = base.native.tensors().map((t) => {
        const data = base.native.tensorData(t.name);
        if (t.shape.length !== 2) return { name: t.name, dtype: t.dtype as 'F32', shape: t.shape, data };
        return { name: t.name, dtype: type, shape: t.shape, data: encodeBlocks(type, new Float32Array(data.slice().buffer), t.shape[0], t.shape[1]).bytes };
      });
      const file = join(tmpdir(), `astraea-agreement-${type}-${process.pid}.gguf`);
      try {
        await writeGguf(file, { config: base.config as never, tensors, vocab: { tokens, bosTokenId: 1, eosTokenId: 2 } });
        const reference = await measureLlamaCpp({ ggufPath: file, threads: 2, promptTokens, decodeTokens, runs: 1 });
        const ids = [...randomTokens(promptTokens, 3, vocab, 1), ...reference.generated];
        const cells: string[] = [];
        for (const dtype of ['f32', 'auto'] as WeightDtypeOption[]) {
          const m = await loadModel({ model: file, dtype });
          try {
            const logits = await positionLogits(m.native, { ids, split: 8 });
            const gaps: string[] = [];
            reference.generated.forEach((token, i) => {
              const l = logits[promptTokens - 1 + i];
              const best = argmax(l);
              if (best !== token) gaps.push((l[best] - l[token]).toFixed(3));
            });
            cells.push(`${reference.generated.length - gaps.length}/${reference.generated.length}`, gaps.join(', ') || '–');
          } finally {
            m.dispose();
          }
        }
        console.log(`| ${type} | ${cells.join(' | ')} |`);
      } finally {
        rmSync(file, { force: true });
      }
    }
  } finally {
    base.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
