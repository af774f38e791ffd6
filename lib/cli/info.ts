/** `astraea info`: what a model is, as the engine sees it. */
import { Command } from 'commander';
import { native } from '../native/index.js';
import { loadModel } from '../model/load.js';
import { addModelOptions, loadOptions, type ModelFlags } from './args.js';

export function infoCommand(): Command {
  return addModelOptions(new Command('info').description('what a model is, as the engine sees it (JSON)')).action(async (values: ModelFlags) => {
    const model = await loadModel(loadOptions(values));
    try {
      const out = { ...model.info, tokenizer: model.tokenizer ? { vocabSize: model.tokenizer.vocabSize } : null, backend: native().backendInfo() };
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    } finally {
      model.dispose();
    }
  });
}
