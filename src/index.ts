/**
 * The package's root entry, `bulwark`: the error hierarchy with its stable codes and the error
 * table (HTTP status and exit code of each code), and the types of a product model. Each
 * capability has its own entry: `bulwark/device`, `bulwark/factory`, `bulwark/hub`,
 * `bulwark/cloud`, `bulwark/release`, `bulwark/audit`, `bulwark/driver` and `bulwark/models`.
 *
 * @example
 * import { BulwarkError, exitCodeOf, type ModelSpec } from 'bulwark';
 * try {
 *   await run();
 * } catch (err) {
 *   if (err instanceof BulwarkError) process.exitCode = exitCodeOf(err);
 * }
 *
 * @module bulwark
 */
export * from './errors/index.ts';
export type {
  Capability,
  CapabilityValueType,
  InitialPasswordMode,
  ModelPrivacyClass,
  ModelSpec,
  NetworkKind,
  RiskClass,
} from './models/index.ts';
