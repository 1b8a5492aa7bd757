/**
 * Errors of the auditor. A finding about the device is never an error (it is a result); these
 * are thrown only when the audit itself cannot start: bad options or unreadable inputs.
 */
import { BulwarkError } from '../errors/index.ts';

/** Stable codes of {@link AuditError}. */
export type AuditErrorCode =
  | 'AUDIT_OPTIONS_INVALID' // an option is missing, malformed or out of bounds
  | 'AUDIT_MODEL_MISMATCH' // the profile names another model than the --bundle's unit is
  | 'AUDIT_TARGET_INVALID' // a --url/--hub/--cloud value is not an address the auditor may probe
  | 'AUDIT_INPUT_UNREADABLE' // --bundle/--state/--manifest/--source cannot be read
  | 'AUDIT_REPORT_NOT_KEPT' // a report that does not pass the release gate is not kept with a release
  | 'AUDIT_COPY_FAILED'; // the copy of the unit the reset and export checks run did not boot

/** Thrown when the audit cannot run as asked; `key` names the option at fault. */
export class AuditError extends BulwarkError {
  readonly key: string;
  constructor(code: AuditErrorCode, key: string, message: string) {
    super(code, `${key}: ${message}`, { key });
    this.key = key;
  }
}
