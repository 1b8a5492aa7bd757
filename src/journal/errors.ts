/**
 * The errors of the journal folder. Each carries a stable code; none ever carries the text of
 * an identity, a detail or any other value that might hold a secret, only field names.
 */
import { BulwarkError } from '../errors/index.ts';

/** Stable codes of the journal folder's errors, its config settings included. */
export type JournalErrorCode =
  | 'JOURNAL_ENTRY_INVALID'
  | 'JOURNAL_QUERY_INVALID'
  | 'JOURNAL_CLOSED'
  | 'JOURNAL_STORAGE_FAILED'
  | 'JOURNAL_FILE_UNSAFE'
  | 'JOURNAL_CONFIG_INVALID'
  | 'LOGGER_CONFIG_INVALID'; // ConfigErrors of the journal and the logger

/** Thrown by `record()` when an entry does not match the schema (unknown field, wrong type, bad source). */
export class JournalEntryError extends BulwarkError<JournalErrorCode> {
  /** The field at fault, e.g. 'source'. */
  readonly field: string;
  constructor(field: string, message: string) {
    super('JOURNAL_ENTRY_INVALID', `${field}: ${message}`, { field });
    this.field = field;
  }
}

/** Thrown by `list()` when a query (limit, cursor, filters) is malformed. */
export class JournalQueryError extends BulwarkError<JournalErrorCode> {
  constructor(field: string, message: string) {
    super('JOURNAL_QUERY_INVALID', `${field}: ${message}`, { field });
  }
}

/** Thrown when a journal is used after `close()`. */
export class JournalClosedError extends BulwarkError<JournalErrorCode> {
  constructor() {
    super('JOURNAL_CLOSED', 'the connection journal is closed');
  }
}

/**
 * Thrown (or passed to `onError`) when the journal file cannot be read or written:
 * 'JOURNAL_STORAGE_FAILED' for an I/O error, 'JOURNAL_FILE_UNSAFE' when the path is a
 * symlink or not a regular file.
 */
export class JournalStorageError extends BulwarkError<JournalErrorCode> {
  constructor(
    code: 'JOURNAL_STORAGE_FAILED' | 'JOURNAL_FILE_UNSAFE',
    message: string,
    details: Record<string, unknown> = {},
    cause?: unknown,
  ) {
    super(code, message, details, cause === undefined ? undefined : { cause });
  }
}
