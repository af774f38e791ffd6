/**
 * `astraea calibrate`: measure the real engine and write a simulator profile (lib/sim/calibrate.ts).
 */
import { Command } from 'commander';
import { DEFAULT_BENCH, longContextReplay } from '../bench/defaults.js';
import { ensureDefaultModel } from '../bench/default-model.js';
import { progress } from '../bench/progress.js';
import { calibrate, DEFAULT_PROBES, type WorkloadReplay } from '../sim/calibrate.js';
import { writeProfile } from '../sim/profile-file.js';
import { resolveWorkload } from '../bench/workload-source.js';
import { ACTIVATIONS_HELP, activationsOption, dtypeOption, integerOption, KV_DTYPE_HELP, kvDtypeOption, positiveOption } from './args.js';

interface CalibrateFlags {
  workload: string;
  seed: string;
  jobs?: string;
  scaleTokens?: string;
  scaleTime?: string;
  load: string;
  model?: string;
  dtype?: string;
  activations?: string;
  kvDtype?: string;
  threads?: string;
  kvBlocks: string;
  longReplay: boolean;
  name: string;
  out: string;
}

export function calibrateCommand(): Command {
  return new Command('calibrate')
    .description('measure the real engine (step time by batch and context, control-plane time, swap bandwidth) and write a simulator profile')
    .option('--model <dir|preset>', 'model to measure (default: the embedded bench model)')
    .option('--dtype <auto|f32|f16|bf16|q8>', 'weight type in memory')
    .option('--activations <auto|f32|bf16>', ACTIVATIONS_HELP)
    .option('--kv-dtype <auto|f32|bf16>', KV_DTYPE_HELP)
    .option('--threads <n>', 'CPU threads (default: one per core)')
    .option('--kv-blocks <n>', 'device KV blocks of 16 tokens (the pool the profile simulates)', String(DEFAULT_BENCH.kvBlocks))
    .option('--workload <file|name|none>', 'also replay this workload and fit its steps (default: the bench workload, seed 2, so a bench on seed 1 validates out of sample)', DEFAULT_BENCH.workload)
    .option('--seed <n>', 'workload seed', '2')
    .option('--jobs <n>', 'workload jobs')
    .option('--load <x>', 'workload load', String(DEFAULT_BENCH.load))
    .option('--scale-tokens <x>', 'workload token scale (default: the bench’s)')
    .option('--scale-time <x>', 'workload time scale (default: the bench’s)')
    .option('--no-long-replay', 'skip the second replay: coding requests with contexts to 90% of the model’s positions, which levels the attention terms apart (6 requests, load 1)')
    .option('--name <name>', 'the profile’s name', 'calibrated')
    .option('--out <file>', 'where to write the profile', 'astraea-profile.json')
    .action(async (values: CalibrateFlags) => {
      const model = values.model ?? (await ensureDefaultModel((dir) => process.stderr.write(`astraea calibrate: building the default model into ${dir} (once)\n`)));
      const kvBlocks = integerOption(values.kvBlocks, 'kv-blocks', DEFAULT_BENCH.kvBlocks, 1);
      const timeScale = positiveOption(values.scaleTime, 'scale-time', DEFAULT_BENCH.scale.time);
      const seed = integerOption(values.seed, 'seed', 2);
      const replays: { label: string; build: WorkloadReplay }[] = [];
      if (values.workload !== 'none') {
        const workload = resolveWorkload(values.workload, {
          jobs: values.jobs === undefined ? DEFAULT_BENCH.jobs : integerOption(values.jobs, 'jobs', 0, 1),
          seed,
          load: positiveOption(values.load, 'load', 1),
          scale: { tokens: positiveOption(values.scaleTokens, 'scale-tokens', DEFAULT_BENCH.scale.tokens), time: timeScale },
        });
        replays.push({ label: `${workload.params.name}, seed ${seed}`, build: () => workload.jobs });
      }
      if (values.longReplay) {
        replays.push({
          label: `long contexts (coding), seed ${seed}`,
          build: ({ maxPositionEmbeddings }) => {
            const { workload, ...params } = longContextReplay(maxPositionEmbeddings, timeScale);
            return resolveWorkload(workload, { ...params, seed }).jobs;
          },
        });
      }
      const bar = progress();
      bar.start('probes', DEFAULT_PROBES.length);
      let replaying = -1;
      const { profile } = await calibrate({
        model: { model, dtype: dtypeOption(values.dtype, 'auto'), activations: activationsOption(values.activations), threads: integerOption(values.threads, 'threads', 0) },
        kvDtype: kvDtypeOption(values.kvDtype),
        name: values.name,
        // Room for the largest probe batch and the long-context replay, whatever pool the
        // profile is for.
        kvBlocks: Math.max(kvBlocks, 1024),
        onProbe: (done, total) => {
          bar.update(done);
          if (done === total) bar.stop('probes done');
        },
        workloads: replays.map((r) => r.build),
        onWorkloadJob: (done, total, replay) => {
          if (replay !== replaying) {
            if (replaying >= 0) bar.stop(`replayed ${replays[replaying].label}`);
            bar.start('replay', total);
            replaying = replay;
          }
          bar.update(done);
        },
      });
      if (replaying >= 0) bar.stop(`replayed ${replays[replaying].label}`);
      profile.deviceBlocks = kvBlocks;
      profile.hostBlocks = kvBlocks;
      writeProfile(values.out, profile);
      const c = profile.costs;
      const ms = (x: number | undefined, digits = 2) => ((x ?? 0) * 1e3).toFixed(digits);
      const matrix = c.roofline ? `max(${ms(c.fixedS)} ms, ${ms(c.tokenS, 3)} ms/token)` : `${ms(c.fixedS)} ms + ${ms(c.tokenS, 3)} ms/token`;
      process.stdout.write(
        `wrote ${values.out}: step = ${ms(c.stepOverheadS)} ms + ${matrix} + ${((c.contextTokenS ?? 0) * 1e6).toFixed(3)} µs/context token` +
          ` + ${((c.attentionPairS ?? 0) * 1e9).toFixed(1)} ns/attention pair + ${ms(c.sequenceS, 3)} ms/sequence; swaps ${(c.swapBytesPerS / 1e9).toFixed(1)} GB/s` +
          ` (median fit error ${((profile.provenance!.medianRelativeError as number) * 100).toFixed(1)}%)\n`,
      );
    });
}
