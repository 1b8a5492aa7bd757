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
  /** The image needs a Node.js version outside the one this unit runs (its signed `node` range). */
  'UPDATE_NODE_UNSUPPORTED',
  /** A download went past its signed length or the configured maximum. */
  'UPDATE_TOO_LARGE',
  /** The image and its unpacked slot would not fit beside the space kept for the owner's data. */
  'UPDATE_NO_SPACE',
  /** A download did not finish within its deadline, or the server went silent. */
  'UPDATE_TIMEOUT',
  /** The repository could not be reached or answered with an HTTP error. */
  'UPDATE_UNREACHABLE',
  /** This exact image already failed its health check on this device. */
  'UPDATE_PREVIOUSLY_FAILED',
  /** A delta's base is not the image this unit runs (its SHA-256 or length differs). */
  'UPDATE_DELTA_BASE_MISMATCH',
  /** A delta that is not a zstd frame, is corrupt or tampered, too large, or rebuilds the wrong length. */
  'UPDATE_DELTA_INVALID',
  /** The image a delta rebuilt does not have the SHA-256 of the full image's signed target. */
  'UPDATE_DELTA_RESULT_MISMATCH',
  /** An update file (from `bulwark release export`) that is not one: truncated, malformed, or missing a file. */
  'UPDATE_FILE_INVALID',
] as const;

/** One refusal code. */
export type UpdateRefusalCode = (typeof UPDATE_REFUSAL_CODES)[number];

/** Thrown when the device refuses an update; `code` says why (see {@link UPDATE_REFUSAL_CODES}). */
export class UpdateRefusedError extends BulwarkError<UpdateRefusalCode> {
  constructor(
    code: UpdateRefusalCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, details, options);
  }
}

/** Codes of {@link UpdateStateError}. */
export type UpdateStateErrorCode =
  | 'UPDATE_STATE_INVALID'
  | 'BOOT_STATE_INVALID'
  | 'SECURITY_COUNTER_UNREADABLE'
  | 'SLOT_INVALID'
  | 'UPDATE_BUSY'
  | 'UPDATE_TUF_INCOMPATIBLE';

/** Thrown when the device's own update state cannot be read or written (code 'UPDATE_STATE_INVALID' and the like). */
export class UpdateStateError extends BulwarkError<UpdateStateErrorCode> {}

/** Codes of {@link ReleaseError}. */
export type ReleaseErrorCode =
  | 'RELEASE_REPO_EXISTS'
  | 'RELEASE_REPO_MISSING'
  | 'RELEASE_REPO_INVALID'
  | 'RELEASE_BUSY'
  | 'RELEASE_KEYS_EXIST'
  | 'RELEASE_KEYS_MISSING'
  | 'RELEASE_KEY_INVALID'
  | 'RELEASE_ROLE_INVALID'
  | 'RELEASE_ROOT_GAP'
  | 'RELEASE_ARTIFACT_MISSING'
  | 'RELEASE_ARTIFACT_CHANGED'
  | 'RELEASE_IMAGE_INVALID'
  | 'RELEASE_IMAGE_MISMATCH'
  | 'RELEASE_VERSION_INVALID'
  /** `release support` was given something that is not a date. */
  | 'RELEASE_SUPPORT_DATE_INVALID'
  | 'RELEASE_NOTES_INVALID'
  | 'RELEASE_DOWNGRADE_REFUSED'
  | 'RELEASE_DELTA_TOO_LARGE'
  | 'RELEASE_VERSION_NOT_CURRENT';

/** Thrown by the release side: a repository or key problem, a refused publish (codes 'RELEASE_*'). */
export class ReleaseError extends BulwarkError<ReleaseErrorCode> {}

/** Every code of the update system and the release side, their ConfigErrors included. */
export type UpdateErrorCode =
  | UpdateRefusalCode
  | UpdateStateErrorCode
  | ReleaseErrorCode
  | 'UPDATE_CONFIG_INVALID'
  | 'UPDATE_CONFIG_UNSAFE'
  | 'RELEASE_CONFIG_INVALID';
