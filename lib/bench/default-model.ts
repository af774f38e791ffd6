/**
 * The embedded default model of `astraea bench`: the `small` preset (≈100M parameters, BF16,
 * seed 0), written once as a real model directory to the user's cache and loaded from there on
 * every later run, so the benchmark serves a model the way a user would (safetensors from disk).
 *
 * Cache: $ASTRAEA_CACHE_DIR, else $XDG_CACHE_HOME/astraea, else ~/.cache/astraea. The directory
 * is built under a temporary name and renamed into place, so an interrupted build never leaves a
 * half-written model that a later run would trust.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { makeModel } from '../model/make-model.js';

export const DEFAULT_BENCH_MODEL = { preset: 'small', dtype: 'bf16', seed: 0 } as const;

export function cacheDir(): string {
  if (process.env.ASTRAEA_CACHE_DIR) return process.env.ASTRAEA_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'astraea');
}

/** The default model's directory, building it first if the cache lacks it. */
export async function ensureDefaultModel(onBuild?: (dir: string) => void): Promise<string> {
  const { preset, dtype, seed } = DEFAULT_BENCH_MODEL;
  const dir = join(cacheDir(), 'models', `${preset}-${dtype}-seed${seed}`);
  if (existsSync(join(dir, 'model.safetensors'))) return dir;
  onBuild?.(dir);
  mkdirSync(join(cacheDir(), 'models'), { recursive: true });
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  try {
    await makeModel({ preset, dtype, seed, outDir: building });
    rmSync(dir, { recursive: true, force: true });
    renameSync(building, dir);
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return dir;
}
