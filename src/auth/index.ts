/**
 * Authentication for the device's listening service: password hashing (argon2id), the
 * password strength policy, lockout with back-off, sessions and CSRF tokens.
 * Importing this module is cheap: the strength dictionaries load on first use.
 */
export {
  PasswordHashError,
  PasswordInputError,
  AuthBusyError,
  PasswordPolicyError,
  LockoutStateError,
  SessionStateError,
} from './errors.ts';
export type { PasswordPolicyReason } from './errors.ts';
export { HashLimiter, defaultHashLimiterConfig, validateHashLimiterConfig } from './hash-limiter.ts';
export type { HashLimiterConfig } from './hash-limiter.ts';
export {
  hashPassword,
  verifyPassword,
  parsePasswordHash,
  validateArgon2Params,
  normalisePassword,
  defaultHashLimiter,
  DEFAULT_ARGON2_PARAMS,
  ARGON2_BOUNDS,
} from './password-hash.ts';
export type {
  Argon2Params,
  PasswordVerification,
  ParsedPasswordHash,
  PasswordHashOptions,
  VerifyPasswordOptions,
} from './password-hash.ts';
export {
  checkPasswordStrength,
  assertPasswordStrength,
  preloadPasswordPolicy,
  passwordLength,
  passwordPolicyRules,
  PASSWORD_POLICY_INPUT_BOUNDS,
} from './password-policy.ts';
export type { PasswordStrength, PasswordStrengthContext, PasswordFeedback } from './password-policy.ts';
export {
  LockoutPolicy,
  defaultLockoutConfig,
  validateLockoutConfig,
  emptyLockoutState,
  parseLockoutState,
  validateLockoutState,
  serialiseLockoutState,
  sourceKeyFor,
  LOCKOUT_STATE_BOUNDS,
} from './lockout.ts';
export type { LockoutConfig, LockoutState, LockoutAttempt, LockoutDecision, FailureRecord } from './lockout.ts';
export {
  SessionStore,
  defaultSessionConfig,
  validateSessionConfig,
  emptySessionState,
  parseSessionState,
  validateSessionState,
  serialiseSessionState,
  isWellFormedToken,
  SESSION_STATE_BOUNDS,
} from './sessions.ts';
export type { SessionConfig, SessionState, SessionRecord, SessionView, NewSession } from './sessions.ts';
