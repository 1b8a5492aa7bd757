/**
 * Errors of the policy capability. A profile is a configuration file written by a person, so
 * its errors are ConfigErrors that name the key at fault.
 */
import { BulwarkError, ConfigError } from '../errors/index.ts';

/** Stable codes a ProfileError may carry. */
export type ProfileErrorCode =
  | 'PROFILE_UNREADABLE' // the file is missing, not a regular file, or cannot be read
  | 'PROFILE_TOO_LARGE' // the text is bigger than `maxProfileBytes`
  | 'PROFILE_SYNTAX' // not well-formed YAML, or more than one document
  | 'PROFILE_UNKNOWN_KEY' // a key that is not part of the profile schema
  | 'PROFILE_MISSING_KEY' // a required key is absent
  | 'PROFILE_STATED_BY_MODEL' // a key states a fact the model carries (sensors, actuators, supportPeriodEnd)
  | 'PROFILE_INVALID'; // a key is present but its value is not allowed

/** Thrown when a device profile cannot be parsed or breaks the schema; `key` names the key ('$' = whole document). */
export class ProfileError extends ConfigError {
  declare readonly code: ProfileErrorCode;
  constructor(code: ProfileErrorCode, key: string, message: string) {
    super(code, key, message);
  }
}

/** Thrown when an example profile name is not one of the shipped examples. */
export class UnknownExampleError extends ConfigError {
  constructor(model: string) {
    super('PROFILE_UNKNOWN_EXAMPLE', 'model', `no example profile named ${JSON.stringify(model.slice(0, 40))}`);
  }
}

/** Stable codes a FactsRecordError may carry. */
export type FactsErrorCode =
  | 'FACTS_RECORD_INVALID' // a record, or what it is built from, breaks the schema or a rule beside it
  | 'FACTS_RELEASE_MISMATCH'; // the release repository publishes another model or version than the record's

/**
 * Thrown when a security facts record cannot be built or parsed; `field` names the field at fault
 * ('$' = the whole record), e.g. 'support.endsOn'.
 */
export class FactsRecordError extends BulwarkError<FactsErrorCode> {
  readonly field: string;
  constructor(code: FactsErrorCode, field: string, message: string) {
    super(code, `${field}: ${message}`, { field });
    this.field = field;
  }
}
