/**
 * What `astraea bench` runs with no arguments: the `paper` agent mix (InferCept's six
 * augmentation types) shrunk to what the default model on a 2-core CPU serves in a few minutes
 * for all six policies, with a KV pool small enough that the policies' memory decisions matter.
 * The scale is recorded in every result line.
 */
export const DEFAULT_BENCH = {
  workload: 'paper',
  jobs: 40,
  load: 1,
  seed: 1,
  scale: { tokens: 0.1, time: 0.1 },
  kvBlocks: 256,
} as const;
