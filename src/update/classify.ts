/**
 * Turns a failed TUF refresh into one of our refusal codes. tuf-js throws its own error classes
 * for root and timestamp, but rewraps snapshot and targets failures as a RuntimeError whose
 * message carries the original one; so the class is looked at first, then the message. The
 * tests in classify.test.ts pin this against real tuf-js failures: a tuf-js upgrade that changes
 * its wording fails them. An unrecognised failure is still a refusal ('UPDATE_METADATA_INVALID').
 */
import { UpdateRefusedError, type UpdateRefusalCode } from './errors.ts';

const BY_CLASS: Readonly<Record<string, UpdateRefusalCode>> = {
  UnsignedMetadataError: 'UPDATE_METADATA_UNSIGNED',
  ExpiredMetadataError: 'UPDATE_METADATA_EXPIRED',
  LengthOrHashMismatchError: 'UPDATE_METADATA_MISMATCH',
  DownloadLengthMismatchError: 'UPDATE_TOO_LARGE',
};

const BY_MESSAGE: ReadonlyArray<readonly [RegExp, UpdateRefusalCode]> = [
  [/was signed by \d+\/\d+ keys|failed to verify|no signature for key|no public key/i, 'UPDATE_METADATA_UNSIGNED'],
  [/is expired/i, 'UPDATE_METADATA_EXPIRED'],
  [
    /does not match snapshot version|doesn't match timestamp|expected hash|expected length/i,
    'UPDATE_METADATA_MISMATCH',
  ],
  [/missing \S+ in (new )?snapshot/i, 'UPDATE_METADATA_MISMATCH'],
  [/is less than current|expected version \d+, got \d+/i, 'UPDATE_METADATA_ROLLBACK'],
  [/max length reached/i, 'UPDATE_TOO_LARGE'],
];

/** A short, log-safe form of a library message: one line, no long hex runs, at most 140 characters. */
export function shortMessage(text: string): string {
  return text
    .replace(/^Unable to load (?:snapshot metadata|targets) error (?:Error: )?/, '')
    .replace(/[0-9a-f]{16,}/gi, '…')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 140);
}

/**
 * The refusal behind a failed refresh or download.
 * @param lastFailure the fetcher's record of the last failed download, if any: the real cause when tuf-js rewrapped it
 * @param role the role of the last file fetched, for the message
 */
export function classifyUpdateFailure(
  err: unknown,
  lastFailure?: UpdateRefusedError,
  role?: string,
): UpdateRefusedError {
  if (err instanceof UpdateRefusedError) return err;
  if (lastFailure) return lastFailure;
  const name = (err as { constructor?: { name?: string } } | null)?.constructor?.name ?? '';
  const message = err instanceof Error ? err.message : String(err);
  const where = role && role !== 'image' ? `${role}: ` : '';
  let code: UpdateRefusalCode | undefined = BY_CLASS[name];
  if (name === 'BadVersionError' || name === 'EqualVersionError') {
    code = /does not match|doesn't match/.test(message) ? 'UPDATE_METADATA_MISMATCH' : 'UPDATE_METADATA_ROLLBACK';
  }
  code ??= BY_MESSAGE.find(([re]) => re.test(message))?.[1];
  if (!code && err instanceof SyntaxError) code = 'UPDATE_METADATA_INVALID';
  let text = shortMessage(message) || 'metadata refused';
  // Snapshot and targets are pinned by hash: a changed byte shows up as a hash mismatch, not a bad
  // signature.
  if (code === 'UPDATE_METADATA_MISMATCH' && /expected (hash|length)/i.test(message) && role)
    text =
      `${role}.json does not match the length and hash the ${role === 'snapshot' ? 'timestamp' : 'snapshot'} ` +
      'signed for it (tampered, or from another release)';
  return new UpdateRefusedError(
    code ?? 'UPDATE_METADATA_INVALID',
    `${where}${text}`,
    { ...(role ? { role } : {}) },
    { cause: err },
  );
}
