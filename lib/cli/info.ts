/** `astraea info`: what a model is, as the engine sees it. */
import { native } from '../native/index.js';
import { loadModel } from '../model/load.js';
import { loadOptions, MODEL_OPTIONS, parse } from './args.js';

export async function runInfo(args: string[]): Promise<void> {
  const values = parse(args, MODEL_OPTIONS);
  const model = await loadModel(loadOptions(values));
  try {
    const out = { ...model.info, tokenizer: model.tokenizer ? { vocabSize: model.tokenizer.vocabSize } : null, backend: native().backendInfo() };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } finally {
    model.dispose();
  }
}
