/**
 * Errors of the update system. Callers (the journal, the admin page, the CLI) map the stable
 * `code`, never the message.
 */
import { BulwarkError } from '../errors/index.ts';

/** Why a device refused an update; every one of these leaves the running image in place. */
export const UPDATE_REFUSAL_CODES = [
  /** The image is older than the running one, or its security version is below the device's counter. */
  'UPDATE_DOWNGRADE',
  /** Metadata without enough valid signatures: tampered, signed by an unknown key, or a below-threshold root. */
  'UPDATE_METADATA_UNSIGNED',
  /** Metadata past its expiry date: a frozen (stale) repository. */
  'UPDATE_METADATA_EXPIRED',
  /** Metadata older than what the device has already seen (a replay). */
  'UPDATE_METADATA_ROLLBACK',
  /** Metadata files from different releases (snapshot and targets do not match). */
  'UPDATE_METADATA_MISMATCH',
  /** Metadata that is malformed or otherwise not acceptable. */
  'UPDATE_METADATA_INVALID',
  /** The image's bytes do not match the signed length and hashes. */
  'UPDATE_IMAGE_HASH_MISMATCH',
  /** The image tarball or its image.json is malformed or does not match the signed custom data. */
  'UPDATE_IMAGE_INVALID',
  /** The image is for another model. */
  'UPDATE_WRONG_MODEL',
  /** A download went past its signed length or the configured maximum. */
  'UPDATE_TOO_LARGE',
  /** A download did not finish within its deadline, or the server went silent. */
  'UPDATE_TIMEOUT',
  /** The repository could not be reached or answered with an HTTP error. */
  'UPDATE_UNREACHABLE',
  /** This exact image already failed its health check on this device. */
  'UPDATE_PREVIOUSLY_FAILED',
] as const;

/** One refusal code. */
export type UpdateRefusalCode = (typeof UPDATE_REFUSAL_CODES)[number];

/** Thrown when the device refuses an update; `code` says why (see {@link UPDATE_REFUSAL_CODES}). */
export class UpdateRefusedError extends BulwarkError {
  declare readonly code: UpdateRefusalCode;
  constructor(code: UpdateRefusalCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}

/** Thrown when the device's own update state cannot be read or written (code 'UPDATE_STATE_INVALID' and the like). */
export class UpdateStateError extends BulwarkError {}

/** Thrown by the release side: a repository or key problem, a refused publish (codes 'RELEASE_*'). */
export class ReleaseError extends BulwarkError {}
