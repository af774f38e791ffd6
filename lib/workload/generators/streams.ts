/**
 * The random streams a generator draws from. Job shapes and arrival gaps come from separate
 * mulberry32 streams, both derived from the generator's name and the seed, so that the same seed
 * at another load gives the same jobs at rescaled times (paired comparisons across loads).
 */
import { hashString, mulberry32, type Rng } from '../random.js';

export interface RandomStreams {
  shapes: Rng;
  arrivals: Rng;
}

export function randomStreams(generator: string, seed: number): RandomStreams {
  return {
    shapes: mulberry32(hashString(`${generator}/shapes/${seed}`)),
    arrivals: mulberry32(hashString(`${generator}/arrivals/${seed}`)),
  };
}
