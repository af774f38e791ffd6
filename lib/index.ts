/** The public Node API. */
export { EngineError, isEngineError } from './errors.js';
export { native } from './native/index.js';
export type * from './native/types.js';
export { buildStepPlan, blocksFor } from './native/plan.js';
export type { PlannedSequence, PlannedStep, SamplingOptions, BlockPair } from './native/plan.js';
export { loadModel } from './model/load.js';
export type { LoadModelOptions, LoadedModel } from './model/load.js';
export { makeModel } from './model/make-model.js';
export type { MakeModelOptions, MadeModel } from './model/make-model.js';
export { positionLogits } from './model/logits.js';
export { presetConfig, PRESET_NAMES } from './model/presets.js';
export type { HfConfig, PresetName } from './model/presets.js';
export { Tokenizer } from './model/tokenizer.js';
export type { ChatMessage } from './model/tokenizer.js';
