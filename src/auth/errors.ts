/**
 * The errors of the auth folder. Each carries a stable code; none ever carries a password,
 * a hash, a session id or a token.
 */
import { BulwarkError } from '../errors/index.ts';

/** Stable codes of the auth folder's errors, its config settings included. */
export type AuthErrorCode =
  | 'PASSWORD_HASH_INVALID' // a stored PHC hash string is malformed or names unsafe parameters
  | 'PASSWORD_INPUT_INVALID' // a password to hash is too long or ill-formed
  | 'AUTH_BUSY' // the hash limiter's queue is full, or a caller waited too long
  | 'PASSWORD_TOO_WEAK' // the strength policy refused a password
  | 'LOCKOUT_STATE_INVALID' // persisted lockout state does not match its schema
  | 'SESSION_STATE_INVALID' // persisted session state does not match its schema
  | 'DEVICE_COOKIE_STATE_INVALID' // persisted device-cookie state or key does not match its schema
  | 'ARGON2_PARAMS_UNSAFE' // an Argon2 setting below the safe floor (ConfigError)
  | 'HASH_LIMITER_CONFIG_INVALID' // ConfigError of the hash limiter
  | 'LOCKOUT_CONFIG_INVALID' // ConfigError of the lockout policy
  | 'SESSION_CONFIG_INVALID' // ConfigError of the session store
  | 'DEVICE_COOKIE_CONFIG_INVALID' // ConfigError of the device cookies
  | UserErrorCode;

/** Codes of the named users and their roles (roles.ts). */
export type UserErrorCode =
  | 'ROLE_REFUSED' // the signed-in user's role does not allow the action
  | 'USER_NAME_INVALID' // a user name outside 1-32 characters of the safe set
  | 'USER_ROLE_INVALID' // a role that is not owner, member or guest
  | 'USER_EXPIRY_INVALID' // an end date that is malformed, past, or given for someone not a guest
  | 'USER_EXISTS' // the name is taken (names are case-insensitive)
  | 'USER_UNKNOWN' // no user of that name
  | 'USER_FIRST_OWNER' // the first owner (the label's account) cannot be removed or demoted
  | 'USER_LIMIT' // the list holds its most users
  | 'USER_STATE_INVALID'; // a stored user list does not match its schema

/** Thrown when a stored PHC hash string is malformed or names unsafe parameters. */
export class PasswordHashError extends BulwarkError<AuthErrorCode> {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('PASSWORD_HASH_INVALID', message, details);
  }
}

/** Thrown when a password given to be hashed is not acceptable input (too long, ill-formed). */
export class PasswordInputError extends BulwarkError<AuthErrorCode> {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('PASSWORD_INPUT_INVALID', message, details);
  }
}

/** Thrown when the hash limiter's queue is full or a caller waited too long for a slot. */
export class AuthBusyError extends BulwarkError<AuthErrorCode> {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('AUTH_BUSY', message, details);
  }
}

/** One reason a password was refused: a stable code and a sentence a person can act on. */
export interface PasswordPolicyReason {
  readonly code: string;
  readonly message: string;
}

/** Thrown when a password fails the strength policy; carries the reasons, never the password. */
export class PasswordPolicyError extends BulwarkError<AuthErrorCode> {
  readonly reasons: readonly PasswordPolicyReason[];
  constructor(reasons: readonly PasswordPolicyReason[]) {
    super('PASSWORD_TOO_WEAK', `password refused: ${reasons.map((r) => r.code).join(', ')}`, {
      reasons: reasons.map((r) => ({ code: r.code, message: r.message })),
    });
    this.reasons = reasons;
  }
}

/** Thrown when persisted lockout state does not match its schema. */
export class LockoutStateError extends BulwarkError<AuthErrorCode> {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('LOCKOUT_STATE_INVALID', message, details);
  }
}

/** Thrown when persisted session state does not match its schema. */
export class SessionStateError extends BulwarkError<AuthErrorCode> {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('SESSION_STATE_INVALID', message, details);
  }
}

/** Thrown when persisted device-cookie state or its key does not match its schema. */
export class DeviceCookieStateError extends BulwarkError<AuthErrorCode> {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('DEVICE_COOKIE_STATE_INVALID', message, details);
  }
}

/** Thrown by the user list and the role checks; `code` says which rule refused. */
export class UserError extends BulwarkError<UserErrorCode> {}
