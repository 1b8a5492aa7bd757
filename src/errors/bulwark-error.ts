/** The error classes every folder builds on; ./index.ts is the front door. */
import type { ErrorCode } from './codes.ts';

/**
 * The root of every error Bulwark throws on purpose; `C` is the folder's union of codes.
 *
 * @example
 * export class PairingError extends BulwarkError<PairingErrorCode> {}
 */
export class BulwarkError<C extends string = string> extends Error {
  /** Stable, machine-readable code, e.g. 'PAIRING_WINDOW_CLOSED'. */
  readonly code: C;
  /** Extra non-secret facts that help a person fix the problem. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: C, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** Thrown when a configuration value is missing, malformed or would weaken security. */
export class ConfigError extends BulwarkError<ErrorCode> {
  /** The config key at fault, e.g. 'pbkdf2Iterations'. */
  readonly key: string;
  constructor(code: ErrorCode, key: string, message: string) {
    super(code, `${key}: ${message}`, { key });
    this.key = key;
  }
}

/** Thrown when input from outside (a file, a request, a frame) does not match its schema. */
export class InvalidInputError extends BulwarkError<'INVALID_INPUT'> {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INVALID_INPUT', message, details);
  }
}

/** True when `err` is a BulwarkError carrying `code`. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof BulwarkError && err.code === code;
}

/** Returns `value` when it is an integer from `min` to `max`; otherwise throws ConfigError(`code`) naming `key`. */
export function requireIntegerSetting(code: ErrorCode, key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(code, key, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * The integer-setting check of one folder's config: `int(key, value, min, max)` returns `value`
 * or throws ConfigError(`code`) naming `key`.
 */
export function integerSettings(code: ErrorCode): (key: string, value: unknown, min: number, max: number) => number {
  return (key, value, min, max) => requireIntegerSetting(code, key, value, min, max);
}
