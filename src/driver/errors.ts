/**
 * The errors of the driver boundary. Each carries a stable code; none carries a value the agent
 * holds secret (a driver is never given any), and a driver's own text is cut to a bounded length.
 */
import { BulwarkError, ConfigError } from '../errors/index.ts';

/** Stable codes of the driver folder's errors and fault events. */
export type DriverErrorCode =
  | 'DRIVER_CONFIG_INVALID'
  | 'DRIVER_MODEL_INVALID'
  | 'DRIVER_PROTOCOL_INVALID'
  | 'DRIVER_LINE_TOO_LONG'
  | 'DRIVER_VALUE_INVALID'
  | 'DRIVER_UNKNOWN_CAPABILITY'
  | 'DRIVER_UNKNOWN_ACTION'
  | 'DRIVER_FAILED'
  | 'DRIVER_TIMEOUT'
  | 'DRIVER_BUSY'
  | 'DRIVER_UNAVAILABLE'
  | 'DRIVER_EXITED'
  | 'DRIVER_RATE_LIMITED'
  | 'DRIVER_FAULT';

/**
 * The base of every driver error. Thrown for a message that breaks the protocol
 * ('DRIVER_PROTOCOL_INVALID', 'DRIVER_LINE_TOO_LONG'), a value the model does not allow
 * ('DRIVER_VALUE_INVALID', 'DRIVER_UNKNOWN_CAPABILITY', 'DRIVER_UNKNOWN_ACTION'), a driver that
 * answered with an error ('DRIVER_FAILED'), did not answer in time ('DRIVER_TIMEOUT'), has too many
 * requests outstanding ('DRIVER_BUSY'), or is not running ('DRIVER_UNAVAILABLE').
 */
export class DriverError extends BulwarkError<DriverErrorCode> {}

/** Thrown when a driver client setting is malformed or unsafe ('DRIVER_CONFIG_INVALID'). */
export class DriverConfigError extends ConfigError {
  constructor(key: string, message: string) {
    super('DRIVER_CONFIG_INVALID', key, message);
  }
}
