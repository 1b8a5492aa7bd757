/**
 * Authentication for the device's listening service: password hashing (argon2id), the
 * password strength policy, lockout with back-off, device cookies (a browser that logged in
 * before is limited per cookie, never by a guesser's counters), sessions and CSRF tokens.
 * Importing this module is cheap: the strength dictionaries load on first use.
 */
export {
  PasswordHashError,
  PasswordInputError,
  AuthBusyError,
  PasswordPolicyError,
  LockoutStateError,
  SessionStateError,
  DeviceCookieStateError,
} from './errors.ts';
export type { PasswordPolicyReason } from './errors.ts';
export { HashLimiter, defaultHashLimiterConfig, validateHashLimiterConfig } from './hash-limiter.ts';
export type { HashLimiterConfig, HashPriority } from './hash-limiter.ts';
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
export type {
  LockoutConfig,
  LockoutState,
  LockoutAttempt,
  LockoutDecision,
  LockoutCheckOptions,
  FailureRecord,
} from './lockout.ts';
export {
  DeviceCookiePolicy,
  defaultDeviceCookieConfig,
  validateDeviceCookieConfig,
  emptyDeviceCookieState,
  createDeviceCookieKey,
  parseDeviceCookieState,
  validateDeviceCookieState,
  serialiseDeviceCookieState,
  parseDeviceCookieKey,
  serialiseDeviceCookieKey,
  DEVICE_COOKIE_FORMAT,
} from './device-cookie.ts';
export type {
  DeviceCookieConfig,
  DeviceCookieState,
  DeviceCookieTrust,
  DeviceCookieDecision,
  DeviceCookieAdmission,
} from './device-cookie.ts';
export { LoginGuard } from './login-guard.ts';
export type {
  LoginGuardState,
  LoginGuardAttempt,
  LoginTicket,
  LoginGuardDecision,
  LoginGuardConfig,
} from './login-guard.ts';
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
export type { AuthErrorCode } from './errors.ts';
