/** The simulation profile file format (lib/sim/profile-file.ts) as a TypeBox schema. */
import { Type, type Static } from 'typebox';

const Positive = Type.Number({ exclusiveMinimum: 0 });
const NonNegative = Type.Number({ minimum: 0 });
const PositiveInt = Type.Integer({ minimum: 1 });

export const ProfileFileSchema = Type.Object({
  model: Type.Object({ name: Type.String({ minLength: 1 }), vocabSize: PositiveInt, maxPositionEmbeddings: PositiveInt, kvBytesPerToken: PositiveInt }),
  costs: Type.Object({ name: Type.String({ minLength: 1 }), fixedS: NonNegative, tokenS: NonNegative, contextTokenS: NonNegative, attentionPairS: Type.Optional(NonNegative), sequenceS: Type.Optional(NonNegative), roofline: Type.Optional(Type.Boolean()), stepOverheadS: Type.Optional(NonNegative), swapBytesPerS: Positive }),
  deviceBlocks: PositiveInt,
  hostBlocks: Type.Integer({ minimum: 0 }),
  maxBatchTokens: PositiveInt,
  maxBatchSequences: PositiveInt,
  /** How the profile was measured (free-form; calibrate fills it). */
  provenance: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type ProfileFile = Static<typeof ProfileFileSchema>;
