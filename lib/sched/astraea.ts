/**
 * `astraea`: the product's default policy — `astraea-paper` plus our own improvements, each behind
 * an option so an ablation can turn it off (docs/policies.md records each one's evidence).
 *
 * Improvements so far:
 * - `ageFrom: 'any'` (default here; the paper ages only the lowest queue): a job demoted to a
 *   middle queue is aged to Q0 by its response ratio like any other, so a stream of fresh Q0 jobs
 *   cannot starve it. Evidence: test/native/starvation.test.ts — with it, the demoted job finishes
 *   within the bound; with `ageFrom: 'lowest'` it waits for the stream to end.
 */
import { AstraeaPaperPolicy, type AstraeaPaperOptions } from './astraea-paper.js';

export type AstraeaOptions = AstraeaPaperOptions;

export class AstraeaPolicy extends AstraeaPaperPolicy {
  override readonly name: string = 'astraea';

  constructor(options: AstraeaOptions = {}) {
    super({ ageFrom: 'any', ...options });
  }
}
