/**
 * Product models: what each product can do and how risky it is. A model is a file
 * (`schema: bulwark.model/v1`, see model-file.ts); the five built-in products are model files
 * shipped in the package (models/), read by the same code as a maker's own. The factory puts the
 * model into each unit's bundle, and from then on the unit's model comes from its bundle.
 *
 * @module bulwark/models
 */
import { BulwarkError } from '../errors/index.ts';
import { builtinModels, readModelFile } from './model-file.ts';
import type { ModelSpec } from './model-types.ts';

export type {
  Capability,
  CapabilityValueType,
  InitialPasswordMode,
  ModelDocumentation,
  ModelPrivacyClass,
  ModelSpec,
  NetworkKind,
  RiskClass,
} from './model-types.ts';
export {
  MAX_MODEL_FILE_BYTES,
  MODEL_SCHEMA_ID,
  ModelFileError,
  SecurityBaselineError,
  canonicalModel,
  modelDigest,
  modelFromDocument,
  modelSchema,
  parseModel,
  readModelFile,
} from './model-file.ts';
export type { ModelFileErrorCode } from './model-file.ts';
export {
  BASELINE_SETTINGS,
  BASELINE_SETTING_IDS,
  SHIPPED_SECURITY_BASELINE,
  TLS_VERSION_LEVELS,
  baselineDeclarationProblems,
  describeBaselineValue,
  isBaselineSetting,
  isWeaker,
  securityBaselineOf,
} from './security-baseline.ts';
export type {
  BaselineScale,
  BaselineSettingId,
  BaselineSettingSpec,
  SecurityBaseline,
  SecurityBaselineDeclaration,
} from './security-baseline.ts';
export {
  NO_VALUE,
  actionAccessibleName,
  actionLabel,
  afterAction,
  capabilityName,
  valueInWords,
} from './capability-words.ts';
export type { CapabilityWordsSource } from './capability-words.ts';
export { checkAgainstSchema } from './schema-check.ts';
export type { SchemaNode, SchemaProblem } from './schema-check.ts';
export { ACTUATORS, SENSORS } from './vocabulary.ts';
export type { Actuator, Sensor } from './vocabulary.ts';

/** Stable codes of the models folder's errors. */
export type ModelsErrorCode = 'MODEL_UNKNOWN' | 'MODEL_FILE_INVALID' | 'MODEL_FILE_UNREADABLE';

/** Thrown when a model id is not in the catalogue. */
export class UnknownModelError extends BulwarkError<ModelsErrorCode> {
  constructor(model: string) {
    super('MODEL_UNKNOWN', `unknown model '${model}'; known models: ${MODEL_IDS.join(', ')}`, { model });
  }
}

/** Ids of the built-in models. */
export const MODEL_IDS: readonly string[] = builtinModels().map((m) => m.id);

/** Every built-in model. */
export function listModels(): readonly ModelSpec[] {
  return builtinModels();
}

/** The built-in model with `id`; throws UnknownModelError (code MODEL_UNKNOWN) when there is none. */
export function getModel(id: string): ModelSpec {
  const model = builtinModels().find((m) => m.id === id);
  if (!model) throw new UnknownModelError(id);
  return model;
}

/** True when `ref` names a file rather than a built-in model id. */
export function isModelFileRef(ref: string): boolean {
  return ref.includes('/') || /\.(json|ya?ml)$/i.test(ref);
}

/**
 * What every `--model` takes: a built-in id (`plug`) or a model file (`./thermostat.model.yaml`).
 * @throws UnknownModelError for an unknown id; ModelFileError for a file that cannot be read or breaks a rule
 */
export function resolveModel(ref: string): ModelSpec {
  return isModelFileRef(ref) ? readModelFile(ref) : getModel(ref);
}

/** Locks, cameras and anything with a microphone must pair by setup code, never push-button. */
export function allowsPushButtonPairing(model: ModelSpec): boolean {
  return model.riskClass === 'standard' && !model.sensors.includes('microphone') && !model.sensors.includes('camera');
}
