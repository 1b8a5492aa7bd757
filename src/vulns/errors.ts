/**
 * Errors of vulnerability handling. Callers (the CLI, the release gate) map the stable `code`,
 * never the message.
 */
import { BulwarkError } from '../errors/index.ts';

/** Codes of {@link VulnError}. */
export type VulnErrorCode =
  /** An advisory (OSV or CSAF) that is malformed, or names a version that is not one. */
  | 'VULN_ADVISORY_INVALID'
  /** An advisory file, folder or document past its size or count limits. */
  | 'VULN_INPUT_TOO_LARGE'
  /** An advisory file or folder that does not exist or cannot be read. */
  | 'VULN_INPUT_UNREADABLE'
  /** A vulnerability id no imported advisory carries, or that matches no published release. */
  | 'VULN_UNKNOWN'
  /** A VEX statement that is refused: "not affected" without a standard justification, an unknown status. */
  | 'VULN_STATEMENT_INVALID'
  /** An advisory asked for a vulnerability the maker has made no statement about. */
  | 'VULN_STATEMENT_MISSING'
  /** The repository's own vulnerability records cannot be read. */
  | 'VULN_STATE_INVALID'
  /** The field counts (the cloud's store or the maker API) could not be read. */
  | 'VULN_FIELD_UNAVAILABLE';

/** Thrown by vulnerability handling (codes 'VULN_*'). */
export class VulnError extends BulwarkError<VulnErrorCode> {}
