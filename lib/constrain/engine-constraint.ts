/** A constraint for an engine's model: its tokenizer, its logit rows and its end-of-sequence ids. */
import type { BackendModelInfo } from '../engine/backend.js';
import { EngineError } from '../errors.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { createConstraint, type ConstraintSpec } from './compile.js';
import type { TokenConstraint } from './constraint.js';

export interface ConstrainableModel {
  readonly tokenizer: Tokenizer | null;
  readonly modelInfo: BackendModelInfo;
}

export function constraintForModel(model: ConstrainableModel, spec: ConstraintSpec): Promise<TokenConstraint> {
  const tokenizer = model.tokenizer;
  if (!tokenizer) throw new EngineError('NO_TOKENIZER', 'constrained decoding needs the model\'s tokenizer: it masks the vocabulary by spelling');
  // The same end-of-sequence ids the engine stops at (Engine.startSegment).
  const eosIds = [...new Set([...tokenizer.eosIds, ...model.modelInfo.eosTokenIds])];
  return createConstraint(spec, { tokenizer, vocabSize: model.modelInfo.vocabSize, eosIds });
}
