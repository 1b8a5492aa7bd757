/**
 * One table from error code to outcome: for every code of every folder, the HTTP status an HTTPS
 * surface answers with, the exit code of the CLI (sysexits) and whether the caller is at fault
 * (fixing the request or the command line fixes it). Handlers throw; these functions map.
 * (fastify's lib/errors.js; sysexits.h for the exit codes.)
 *
 * The HTTP statuses are those the device, hub and cloud surfaces answered before this table:
 * a code they did not name answered 400, and still does, even where the caller is not at fault.
 *
 * @example
 * res.statusCode = httpStatusOf(err);         // 404 for 'HUB_DEVICE_UNKNOWN'
 * process.exitCode = exitCodeOf(err);         // 69 for 'HUB_NOT_RUNNING'
 */
import { BulwarkError } from './bulwark-error.ts';
import { ERROR_TABLE, EXIT, type ErrorCode, type ErrorRule, type ExitCode } from './codes.ts';

export { ERROR_TABLE, EXIT };
export type { ErrorRule, ExitCode };

const { INTERNAL, NOINPUT, UNAVAILABLE, CANTCREAT, IOERR, NOPERM } = EXIT;

/**
 * The rule for a BulwarkError code the table does not know (a code relayed from another process, or
 * a class that declares no union): HTTP 400 as every surface answered such codes before the table,
 * exit code 1, and not the caller's fault.
 */
export const UNKNOWN_CODE_RULE: ErrorRule = Object.freeze({ http: 400, exit: INTERNAL, callerFault: false });

/**
 * Exit codes for errors that are not BulwarkErrors but carry a Node.js system error code
 * (`err.code`, e.g. 'EADDRINUSE' from listen); any other such error exits 1.
 */
export const SYSTEM_ERROR_EXITS: Readonly<Record<string, ExitCode>> = Object.freeze({
  EADDRINUSE: UNAVAILABLE,
  EADDRNOTAVAIL: UNAVAILABLE,
  ECONNREFUSED: UNAVAILABLE,
  ECONNRESET: UNAVAILABLE,
  ETIMEDOUT: UNAVAILABLE,
  EHOSTUNREACH: UNAVAILABLE,
  ENETUNREACH: UNAVAILABLE,
  ENOTFOUND: UNAVAILABLE,
  EACCES: NOPERM,
  EPERM: NOPERM,
  EROFS: NOPERM,
  ENOENT: NOINPUT,
  ENOTDIR: NOINPUT,
  EEXIST: CANTCREAT,
  EISDIR: CANTCREAT,
  ENOSPC: IOERR,
  EIO: IOERR,
  EMFILE: IOERR,
});

/** The rule of a known code, or undefined (also for names such as 'constructor'). */
export function ruleOf(code: string): ErrorRule | undefined {
  return Object.hasOwn(ERROR_TABLE, code) ? ERROR_TABLE[code as ErrorCode] : undefined;
}

/** `instanceof BulwarkError`, narrowing to its string-coded form rather than `BulwarkError<any>`. */
function isBulwarkError(err: unknown): err is BulwarkError {
  return err instanceof BulwarkError;
}

/** The Node.js system error code of a non-Bulwark error ('EADDRINUSE'), or undefined. */
function systemCodeOf(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^E[A-Z0-9]{2,30}$/.test(code) ? code : undefined;
}

/** The hub-device channel's wire codes (src/channel's CHANNEL_ERROR_CODES) a caller can be at fault for. */
const CHANNEL_WIRE_CODES: Readonly<Record<string, string>> = Object.freeze({
  BAD_VALUE: 'CAPABILITY_VALUE_INVALID',
  UNKNOWN_CAPABILITY: 'UNKNOWN_CAPABILITY',
  UNKNOWN_ACTION: 'UNKNOWN_ACTION',
});

/**
 * The rule of a BulwarkError. A request the peer refused as the caller's fault (the channel's
 * 'CHANNEL_REQUEST_FAILED' with the device's 'CAPABILITY_VALUE_INVALID', say) takes the peer's
 * rule: a value out of the model's range is bad data wherever it was refused, not a service down.
 */
function ruleOfError(err: BulwarkError): ErrorRule {
  const remote = err.details.remoteCode;
  if (err.code === 'CHANNEL_REQUEST_FAILED' && typeof remote === 'string') {
    const relayed = ruleOf(Object.hasOwn(CHANNEL_WIRE_CODES, remote) ? CHANNEL_WIRE_CODES[remote]! : remote);
    if (relayed?.callerFault) return relayed;
  }
  return ruleOf(err.code) ?? UNKNOWN_CODE_RULE;
}

/**
 * The code to show for `err`: a BulwarkError's code, a Node.js system error's code ('EADDRINUSE'),
 * else 'INTERNAL'.
 */
export function codeOf(err: unknown): string {
  if (isBulwarkError(err)) return err.code;
  return systemCodeOf(err) ?? 'INTERNAL';
}

/**
 * The HTTP status for `err`: an error that carries its own `status` (HttpError) keeps it; a
 * BulwarkError answers its code's status (400 for a code the table does not know); anything else 500.
 */
export function httpStatusOf(err: unknown): number {
  if (!isBulwarkError(err)) return 500;
  const own = (err as { status?: unknown }).status;
  if (typeof own === 'number' && Number.isInteger(own) && own >= 100 && own <= 599) return own;
  return ruleOfError(err).http;
}

/**
 * The CLI's exit code for `err`: its code's rule for a BulwarkError (1 for a code the table does not
 * know), {@link SYSTEM_ERROR_EXITS} for a Node.js system error, else 1.
 */
export function exitCodeOf(err: unknown): number {
  if (isBulwarkError(err)) return ruleOfError(err).exit;
  const code = systemCodeOf(err);
  return (code !== undefined ? SYSTEM_ERROR_EXITS[code] : undefined) ?? INTERNAL;
}

/** True when `err` is a BulwarkError whose code the table marks as the caller's fault. */
export function isCallerFault(err: unknown): boolean {
  return isBulwarkError(err) && ruleOfError(err).callerFault;
}
