/** `astraea logits`: the logits at every position, prefill of --split ids then decode. */
import { Command } from 'commander';
import { EngineError } from '../errors.js';
import { positionLogits } from '../model/logits.js';
import { loadModel } from '../model/load.js';
import { addModelOptions, integerOption, KV_DTYPE_HELP, kvDtypeOption, loadOptions, type ModelFlags } from './args.js';

interface LogitsFlags extends ModelFlags {
  ids?: string;
  split?: string;
  blockSize?: string;
  kvDtype?: string;
  json?: boolean;
}

export function logitsCommand(): Command {
  return addModelOptions(new Command('logits').description('logits at every position: prefill of --split ids, then one decode step per id'))
    .option('--ids <list>', 'token ids, e.g. 5,17,3 (required)')
    .option('--split <k>', 'ids prefilled in the first step (default: all)')
    .option('--block-size <n>', 'KV block size in tokens', '16')
    .option('--kv-dtype <auto|f32|bf16>', KV_DTYPE_HELP)
    .option('--json', 'print every row as JSON')
    .action(async (values: LogitsFlags) => {
      if (!values.ids) throw new EngineError('INVALID_ARGUMENT', '--ids is required, e.g. --ids 5,17,3,99');
      const ids = values.ids.split(',').map((s) => {
        const n = Number(s.trim());
        if (s.trim() === '' || !Number.isInteger(n)) throw new EngineError('INVALID_ARGUMENT', `--ids: "${s}" is not an integer`);
        return n;
      });
      const model = await loadModel(loadOptions(values));
      try {
        const rows = await positionLogits(model.native, {
          ids,
          split: integerOption(values.split, 'split', ids.length, 1),
          blockSize: integerOption(values.blockSize, 'block-size', 16, 1),
          kvDtype: kvDtypeOption(values.kvDtype),
        });
        if (values.json) {
          process.stdout.write(JSON.stringify(rows.map((r) => Array.from(r))) + '\n');
          return;
        }
        rows.forEach((row, p) => {
          const top = Array.from(row.keys())
            .sort((a, b) => row[b] - row[a])
            .slice(0, 5)
            .map((id) => `${id}:${row[id].toFixed(4)}`);
          process.stdout.write(`position ${p} (id ${ids[p]}): top ${top.join(' ')}\n`);
        });
      } finally {
        model.dispose();
      }
    });
}
