/**
 * The update file's format (update-file.ts reads one; src/release writes one): kept apart so that
 * an agent loads these few constants at boot, and the reader only when a file is installed.
 */
import { UpdateRefusedError } from './errors.ts';

/** Format tag of update.json. */
export const UPDATE_FILE_FORMAT = 'bulwark-update-file/1';
/** The file naming what an update file is for. */
export const UPDATE_FILE_INFO = 'update.json';
/** The base URL the TUF client is given for an unpacked update file (never fetched over a network). */
export const UPDATE_FILE_BASE_URL = 'file:///update-file';
/** Room for the metadata beside the image in an update file: every root, timestamp, snapshot and targets. */
export const UPDATE_FILE_METADATA_BYTES = 16 * 1_048_576;
/** Most entries in an update file: the roots of a long-lived product and a handful of other files. */
export const MAX_UPDATE_FILE_ENTRIES = 4_096;
/** What tar adds around the files of an update file at most: a header per entry, padding and the end marker. */
export const UPDATE_FILE_TAR_OVERHEAD = (MAX_UPDATE_FILE_ENTRIES + 2) * 1_024;

/** update.json. */
export interface UpdateFileInfo {
  readonly format: typeof UPDATE_FILE_FORMAT;
  readonly model: string;
  readonly version: string;
  /** The image's path inside the file (targets/<model>/<sha256>.image.tar). */
  readonly image: string;
  readonly createdAt: string;
}

/** The refusal of an update file that is not one. */
export const invalidUpdateFile = (why: string): UpdateRefusedError =>
  new UpdateRefusedError('UPDATE_FILE_INVALID', `the update file is not acceptable: ${why}`);

/** Checks update.json's shape (what the file says it is for; the TUF walk checks what it is). */
export function parseUpdateFileInfo(value: unknown): UpdateFileInfo {
  const v = value as Record<string, unknown> | null;
  if (typeof v !== 'object' || v === null || v.format !== UPDATE_FILE_FORMAT)
    throw invalidUpdateFile(`update.json is not ${UPDATE_FILE_FORMAT}`);
  for (const key of ['model', 'version', 'image', 'createdAt'] as const) {
    if (typeof v[key] !== 'string' || v[key].length === 0 || v[key].length > 256)
      throw invalidUpdateFile(`update.json has no valid ${key}`);
  }
  if (!/^targets\/[a-z0-9-]+\/[0-9a-f]{64}\.image\.tar$/.test(v.image as string))
    throw invalidUpdateFile('update.json names no image');
  return v as unknown as UpdateFileInfo;
}
