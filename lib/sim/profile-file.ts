/**
 * Simulation profiles as JSON files (what `astraea calibrate` writes, what `--profile FILE`
 * reads). A built-in name or a file path; a file is checked field by field and a bad one is an
 * EngineError naming the file and the field.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { EngineError } from '../errors.js';
import { SIMULATION_PROFILES, type SimulationProfile } from './cost-model.js';
import type { ProfileFile } from './profile-schema.js';

export type { ProfileFile } from './profile-schema.js';



export async function parseProfile(text: string, source: string): Promise<SimulationProfile> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new EngineError('INVALID_ARGUMENT', `${source}: not valid JSON (${(error as Error).message})`);
  }
  // TypeBox takes about a second to import; only reading a profile file pays it.
  const [{ Value }, { ProfileFileSchema }] = await Promise.all([import('typebox/value'), import('./profile-schema.js')]);
  if (!Value.Check(ProfileFileSchema, raw)) {
    const first = Value.Errors(ProfileFileSchema, raw)[0];
    const where = first?.instancePath || '(top level)';
    throw new EngineError('INVALID_ARGUMENT', `${source}: ${where} ${first?.message ?? 'does not match the profile format'}`);
  }
  return raw as ProfileFile;
}

/** A built-in profile by name, or a profile file by path. */
export async function loadProfile(nameOrPath: string): Promise<SimulationProfile> {
  if (Object.hasOwn(SIMULATION_PROFILES, nameOrPath)) return SIMULATION_PROFILES[nameOrPath];
  if (!existsSync(nameOrPath)) {
    throw new EngineError('INVALID_ARGUMENT', `--profile "${nameOrPath}" is neither a built-in profile (${Object.keys(SIMULATION_PROFILES).join(', ')}) nor a file`);
  }
  return parseProfile(readFileSync(nameOrPath, 'utf8'), nameOrPath);
}

export function writeProfile(path: string, profile: ProfileFile): void {
  writeFileSync(path, JSON.stringify(profile, null, 2) + '\n');
}
