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
  type PasswordPolicyReason,
  type AuthErrorCode,
} from './errors.ts';
export {
  HashLimiter,
  defaultHashLimiterConfig,
  validateHashLimiterConfig,
  type HashLimiterConfig,
  type HashPriority,
} from './hash-limiter.ts';
export {
  hashPassword,
  verifyPassword,
  parsePasswordHash,
  validateArgon2Params,
  normalisePassword,
  defaultHashLimiter,
  DEFAULT_ARGON2_PARAMS,
  ARGON2_BOUNDS,
  type Argon2Params,
  type PasswordVerification,
  type ParsedPasswordHash,
  type PasswordHashOptions,
  type VerifyPasswordOptions,
} from './password-hash.ts';
export {
  checkPasswordStrength,
  assertPasswordStrength,
  preloadPasswordPolicy,
  passwordLength,
  passwordPolicyRules,
  PASSWORD_POLICY_INPUT_BOUNDS,
  type PasswordStrength,
  type PasswordStrengthContext,
  type PasswordFeedback,
} from './password-policy.ts';
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
  type LockoutConfig,
  type LockoutState,
  type LockoutAttempt,
  type LockoutDecision,
  type LockoutCheckOptions,
  type FailureRecord,
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
  type DeviceCookieConfig,
  type DeviceCookieState,
  type DeviceCookieTrust,
  type DeviceCookieDecision,
  type DeviceCookieAdmission,
} from './device-cookie.ts';
export {
  LoginGuard,
  type LoginGuardState,
  type LoginGuardAttempt,
  type LoginTicket,
  type LoginGuardDecision,
  type LoginGuardConfig,
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
  type SessionConfig,
  type SessionState,
  type SessionRecord,
  type SessionView,
  type NewSession,
} from './sessions.ts';
