/**
 * `astraea calibrate`: measure the real engine and write a simulator profile (lib/sim/calibrate.ts).
 */
import { Command } from 'commander';
import { DEFAULT_BENCH } from '../bench/defaults.js';
import { ensureDefaultModel } from '../bench/default-model.js';
import { progress } from '../bench/progress.js';
import { calibrate, DEFAULT_PROBES } from '../sim/calibrate.js';
import { writeProfile } from '../sim/profile-file.js';
import { dtypeOption, integerOption } from './args.js';

interface CalibrateFlags {
  model?: string;
  dtype?: string;
  threads?: string;
  kvBlocks: string;
  name: string;
  out: string;
}

export function calibrateCommand(): Command {
  return new Command('calibrate')
    .description('measure the real engine (step time by batch and context, control-plane time, swap bandwidth) and write a simulator profile')
    .option('--model <dir|preset>', 'model to measure (default: the embedded bench model)')
    .option('--dtype <auto|f32|f16|bf16>', 'weight type in memory')
    .option('--threads <n>', 'CPU threads (default: one per core)')
    .option('--kv-blocks <n>', 'device KV blocks of 16 tokens (the pool the profile simulates)', String(DEFAULT_BENCH.kvBlocks))
    .option('--name <name>', 'the profile’s name', 'calibrated')
    .option('--out <file>', 'where to write the profile', 'astraea-profile.json')
    .action(async (values: CalibrateFlags) => {
      const model = values.model ?? (await ensureDefaultModel((dir) => process.stderr.write(`astraea calibrate: building the default model into ${dir} (once)\n`)));
      const kvBlocks = integerOption(values.kvBlocks, 'kv-blocks', DEFAULT_BENCH.kvBlocks, 1);
      const bar = progress();
      bar.start('probes', DEFAULT_PROBES.length);
      const { profile } = await calibrate({
        model: { model, dtype: dtypeOption(values.dtype, 'auto'), threads: integerOption(values.threads, 'threads', 0) },
        name: values.name,
        // Room for the largest probe batch, whatever pool the profile is for.
        kvBlocks: Math.max(kvBlocks, 1024),
        onProbe: (done) => bar.update(done),
      });
      bar.stop('probes done');
      profile.deviceBlocks = kvBlocks;
      profile.hostBlocks = kvBlocks;
      writeProfile(values.out, profile);
      const c = profile.costs;
      process.stdout.write(
        `wrote ${values.out}: step = ${(c.fixedS * 1e3).toFixed(2)} ms + ${(c.tokenS * 1e3).toFixed(3)} ms/token + ${(c.contextTokenS * 1e6).toFixed(4)} µs/context token; ` +
          `swaps ${(c.swapBytesPerS / 1e9).toFixed(1)} GB/s (median fit error ${((profile.provenance!.medianRelativeError as number) * 100).toFixed(1)}%)\n`,
      );
    });
}
