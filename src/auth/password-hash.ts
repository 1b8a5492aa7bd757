/**
 * Password hashing with argon2id (RFC 9106) from node:crypto, stored as PHC strings:
 * `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (standard base64 without padding).
 *
 * Passwords are normalised to Unicode NFKC before hashing and before verifying (NIST SP
 * 800-63B §5.1.1.2 allows NFKC or NFKD). NFKC folds compatibility forms, so the same password
 * typed as full-width letters, a ligature or a precomposed/decomposed accent on another
 * keyboard or phone still matches; the policy counts length on the same normalised form.
 */
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';
import { requireIntegerSetting } from '../errors/index.ts';
import { PasswordHashError, PasswordInputError } from './errors.ts';
import { HashLimiter, type HashPriority } from './hash-limiter.ts';

/** The cost parameters of an argon2id hash. */
export interface Argon2Params {
  /** Memory cost in KiB (argon2 `m`). */
  readonly memoryKiB: number;
  /** Number of passes over memory (argon2 `t`). */
  readonly passes: number;
  /** Lanes (argon2 `p`). */
  readonly parallelism: number;
  /** Length of the stored tag in bytes. */
  readonly tagLength: number;
}

/** Current defaults for new hashes: OWASP's argon2id minimum, m=19 MiB, t=2, p=1, 32-byte tag. */
export const DEFAULT_ARGON2_PARAMS: Readonly<Argon2Params> = Object.freeze({
  memoryKiB: 19_456,
  passes: 2,
  parallelism: 1,
  tagLength: 32,
});

/**
 * Bounds on argon2id parameters. New hashes must meet the minimums; a stored hash below them
 * still verifies (and reports needsRehash), but one above the maximums is refused outright, so
 * a planted hash string cannot make a single login cost gigabytes or minutes.
 */
export const ARGON2_BOUNDS = Object.freeze({
  /** Floor for new hashes, KiB. */
  minMemoryKiB: 19_456,
  /** Ceiling for any hash, KiB (256 MiB). */
  maxMemoryKiB: 262_144,
  /** Floor for new hashes. */
  minPasses: 2,
  /** Ceiling for any hash. */
  maxPasses: 10,
  /** Ceiling for any hash (lanes). */
  maxParallelism: 8,
  /** Tag length range for any hash, bytes. */
  minTagLength: 16,
  maxTagLength: 64,
  /** Salt length of new hashes, bytes (from the OS CSPRNG). */
  saltLength: 16,
  /** Salt length range accepted when verifying, bytes (RFC 9106 minimum is 8). */
  minStoredSaltLength: 8,
  maxStoredSaltLength: 64,
  /** Longest PHC string parsed, characters. */
  maxPhcLength: 256,
  /** Longest password accepted before normalisation, UTF-16 code units. */
  maxPasswordInputLength: 1_024,
});

/** What {@link verifyPassword} found. */
export interface PasswordVerification {
  /** The password matches the hash. */
  readonly ok: boolean;
  /** The stored hash is weaker than the current parameters: rehash it now that the password is known. */
  readonly needsRehash: boolean;
}

/** A parsed PHC string. */
export interface ParsedPasswordHash {
  readonly params: Argon2Params;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/** Options for hashing and verifying. */
export interface PasswordHashOptions {
  /** The gate the hash runs through; defaults to {@link defaultHashLimiter}. */
  readonly limiter?: HashLimiter;
  /** 'trusted' for a login that presented a valid device cookie: it waits ahead of a guessing flood. */
  readonly priority?: HashPriority;
}

/** The process-wide gate used when a caller passes none: 2 hashes at once, 16 waiting. */
export const defaultHashLimiter: HashLimiter = new HashLimiter();

/** The one normalisation applied to every password before it is hashed, verified or measured. */
export function normalisePassword(password: string): string {
  return password.normalize('NFKC');
}

function requireInt(key: string, value: unknown, min: number, max: number): number {
  return requireIntegerSetting('ARGON2_PARAMS_UNSAFE', key, value, min, max);
}

/** Validates parameters for new hashes (minimums and DoS ceilings); throws ConfigError naming the key. */
export function validateArgon2Params(params: Partial<Argon2Params> = {}): Argon2Params {
  const merged = { ...DEFAULT_ARGON2_PARAMS, ...params };
  const b = ARGON2_BOUNDS;
  return Object.freeze({
    memoryKiB: requireInt('memoryKiB', merged.memoryKiB, b.minMemoryKiB, b.maxMemoryKiB),
    passes: requireInt('passes', merged.passes, b.minPasses, b.maxPasses),
    parallelism: requireInt('parallelism', merged.parallelism, 1, b.maxParallelism),
    tagLength: requireInt('tagLength', merged.tagLength, b.minTagLength, b.maxTagLength),
  });
}

const PHC_PATTERN =
  /^\$argon2id\$v=19\$m=([1-9][0-9]{0,9}),t=([1-9][0-9]{0,9}),p=([1-9][0-9]{0,9})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function decodeB64(field: string, text: string): Buffer {
  const bytes = Buffer.from(text, 'base64');
  // Buffer's decoder is lenient; only the canonical unpadded encoding is accepted.
  if (bytes.toString('base64').replace(/=+$/, '') !== text) {
    throw new PasswordHashError(`PHC ${field} is not canonical unpadded base64`, { field });
  }
  return bytes;
}

function encodeB64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

function inRange(field: string, value: number, min: number, max: number): number {
  if (value < min || value > max) {
    throw new PasswordHashError(`PHC ${field} is outside ${min}..${max}`, { field, value, min, max });
  }
  return value;
}

/**
 * Parses and bounds-checks an argon2id PHC string; throws PasswordHashError
 * (PASSWORD_HASH_INVALID) when it is malformed, not argon2id v=19, or names unsafe parameters.
 */
export function parsePasswordHash(phc: string): ParsedPasswordHash {
  if (typeof phc !== 'string' || phc.length > ARGON2_BOUNDS.maxPhcLength) {
    throw new PasswordHashError('password hash is not a string of acceptable length');
  }
  const m = phc.match(PHC_PATTERN);
  if (!m) throw new PasswordHashError('password hash is not an argon2id v=19 PHC string');
  const [, mText, tText, pText, saltText, hashText] = m as unknown as [string, string, string, string, string, string];
  const b = ARGON2_BOUNDS;
  const parallelism = inRange('p', Number(pText), 1, b.maxParallelism);
  // RFC 9106 requires m >= 8p; the ceiling is our DoS bound. Floors below our new-hash minimum verify, then rehash.
  const memoryKiB = inRange('m', Number(mText), 8 * parallelism, b.maxMemoryKiB);
  const passes = inRange('t', Number(tText), 1, b.maxPasses);
  const salt = decodeB64('salt', saltText);
  const hash = decodeB64('hash', hashText);
  inRange('salt length', salt.length, b.minStoredSaltLength, b.maxStoredSaltLength);
  inRange('hash length', hash.length, b.minTagLength, b.maxTagLength);
  return { params: Object.freeze({ memoryKiB, passes, parallelism, tagLength: hash.length }), salt, hash };
}

/** Formats a PHC string from its parts (no validation: callers produce the parts). */
function formatPasswordHash(params: Argon2Params, salt: Uint8Array, hash: Uint8Array): string {
  const cost = `m=${params.memoryKiB},t=${params.passes},p=${params.parallelism}`;
  return `$argon2id$v=19$${cost}$${encodeB64(salt)}$${encodeB64(hash)}`;
}

/** True when a stored hash's parameters are weaker than `current` in any respect. */
export function isWeakerThan(stored: ParsedPasswordHash, current: Argon2Params): boolean {
  return (
    stored.params.memoryKiB < current.memoryKiB ||
    stored.params.passes < current.passes ||
    stored.params.tagLength < current.tagLength ||
    stored.salt.length < ARGON2_BOUNDS.saltLength
  );
}

/** Returns the UTF-8 bytes of the normalised password, or a reason it is not acceptable input. */
function passwordBytes(password: unknown): Buffer | string {
  if (typeof password !== 'string') return 'password is not a string';
  if (password.length === 0) return 'password is empty';
  if (password.length > ARGON2_BOUNDS.maxPasswordInputLength) return 'password is too long';
  // A lone surrogate would be encoded as U+FFFD, silently merging distinct passwords.
  if (!password.isWellFormed()) return 'password is not well-formed Unicode';
  return Buffer.from(normalisePassword(password), 'utf8');
}

function argon2id(message: Buffer, salt: Uint8Array, params: Argon2Params): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2(
      'argon2id',
      {
        message,
        nonce: salt,
        memory: params.memoryKiB,
        passes: params.passes,
        parallelism: params.parallelism,
        tagLength: params.tagLength,
      },
      (err, key) => {
        if (err) reject(err);
        else resolve(key);
      },
    );
  });
}

/**
 * Hashes a password with argon2id and a fresh random 16-byte salt; returns a PHC string.
 * Runs through a {@link HashLimiter} (AUTH_BUSY when it is saturated).
 *
 * @example
 * const phc = await hashPassword(newPassword);
 * // '$argon2id$v=19$m=19456,t=2,p=1$...$...'
 */
export async function hashPassword(
  password: string,
  params: Partial<Argon2Params> = DEFAULT_ARGON2_PARAMS,
  options: PasswordHashOptions = {},
): Promise<string> {
  const checked = validateArgon2Params(params);
  const message = passwordBytes(password);
  if (typeof message === 'string') throw new PasswordInputError(message);
  const salt = randomBytes(ARGON2_BOUNDS.saltLength);
  const limiter = options.limiter ?? defaultHashLimiter;
  try {
    const hash = await limiter.run(() => argon2id(message, salt, checked), { priority: options.priority ?? 'normal' });
    return formatPasswordHash(checked, salt, hash);
  } finally {
    message.fill(0);
  }
}

/** Options for {@link verifyPassword}. */
export interface VerifyPasswordOptions extends PasswordHashOptions {
  /** The parameters new hashes use now; a stored hash weaker than these needs a rehash. */
  readonly params?: Partial<Argon2Params>;
}

/**
 * Checks a password against a stored PHC string in constant time. A malformed or unsafe PHC
 * string throws PASSWORD_HASH_INVALID (before any hashing); a password that cannot be valid
 * input (empty, over-long, ill-formed Unicode) is simply `ok: false`.
 *
 * @example
 * const { ok, needsRehash } = await verifyPassword(attempt, stored);
 * if (ok && needsRehash) stored = await hashPassword(attempt);
 */
export async function verifyPassword(
  password: string,
  phc: string,
  options: VerifyPasswordOptions = {},
): Promise<PasswordVerification> {
  const current = validateArgon2Params(options.params ?? DEFAULT_ARGON2_PARAMS);
  const stored = parsePasswordHash(phc);
  const needsRehash = isWeakerThan(stored, current);
  const message = passwordBytes(password);
  if (typeof message === 'string') return { ok: false, needsRehash };
  const limiter = options.limiter ?? defaultHashLimiter;
  try {
    const priority = options.priority ?? 'normal';
    const candidate = await limiter.run(() => argon2id(message, stored.salt, stored.params), { priority });
    return { ok: timingSafeEqual(candidate, stored.hash), needsRehash };
  } finally {
    message.fill(0);
  }
}
