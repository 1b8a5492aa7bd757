/**
 * Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a browser that
 * has logged in successfully gets a long-lived cookie bound to the account and signed with
 * HMAC-SHA-256 under a per-installation key. Login attempts that present a valid one are limited
 * per cookie, so a guesser spread over many addresses cannot lock the owner's browser out.
 *
 * A pure core: state in, state out, `now` passed in (ms since the epoch); no timers, no files.
 * The cookie value is `<id>.<issued, s>.<mac>`: the id is 16 random bytes (base64url), the MAC
 * covers the account, the id and the issue time, so a cookie is worth nothing for another account
 * or on another installation, and cannot be minted without the key.
 *
 * Per cookie: after `cookieFailureThreshold` failures (each within `cookieForgetAfterMs` of the
 * last), the cookie is on the lockout list for `cookieLockoutMs` after every further failure.
 * The state also holds the physical unlock: until `untrustedUnlockedUntil`, attempts WITHOUT a
 * valid cookie are not held back by the account-wide ceiling (see {@link LoginGuard}).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidInputError, integerSettings } from '../errors/index.ts';
import { DeviceCookieStateError } from './errors.ts';
import {
  LOCKOUT_STATE_BOUNDS,
  hasExactKeys,
  isPlainObject,
  validateFailureRecords,
  type FailureRecord,
} from './lockout.ts';

/** Limits of a {@link DeviceCookiePolicy}. Times in milliseconds. */
export interface DeviceCookieConfig {
  /** How long a device cookie stays valid after it was issued, ms (1 to 400 days). */
  readonly cookieMaxAgeMs: number;
  /** Failures with one device cookie before it goes on the lockout list (1..20). */
  readonly cookieFailureThreshold: number;
  /** How long a cookie stays on the lockout list after a failure at or past the threshold, ms. */
  readonly cookieLockoutMs: number;
  /** A cookie's failures are forgotten after this long without one, ms (at least cookieLockoutMs). */
  readonly cookieForgetAfterMs: number;
  /** Most cookie records kept; the oldest is evicted beyond this. */
  readonly maxTrackedCookies: number;
  /** How long a physical act on the unit lifts the account-wide ceiling for new browsers, ms. */
  readonly physicalUnlockMs: number;
}

const DAY_MS = 86_400_000;

/** The secure default: 180-day cookies, 5 failures, then 15 minutes per further failure; 5-minute unlock. */
export const defaultDeviceCookieConfig: Readonly<DeviceCookieConfig> = Object.freeze({
  cookieMaxAgeMs: 180 * DAY_MS,
  cookieFailureThreshold: 5,
  cookieLockoutMs: 900_000,
  cookieForgetAfterMs: DAY_MS,
  maxTrackedCookies: 1_024,
  physicalUnlockMs: 300_000,
});

/** Fixed sizes of the cookie and its key. */
export const DEVICE_COOKIE_FORMAT = Object.freeze({
  /** Bytes of the HMAC key. */
  keyBytes: 32,
  /** Bytes of a cookie's random id. */
  idBytes: 16,
  /** Longest account name a cookie can be bound to, characters (an e-mail address fits). */
  maxAccountLength: 320,
  /** Longest cookie value accepted, characters. */
  maxValueLength: 96,
  /** How far in the future an issue time may lie (clock differences between instances), ms. */
  maxClockSkewMs: 300_000,
});

const VALUE_PATTERN = /^([A-Za-z0-9_-]{22})\.(\d{1,13})\.([A-Za-z0-9_-]{43})$/;
const MAC_LABEL = 'bulwark-device-cookie/1';

const requireInt = integerSettings('DEVICE_COOKIE_CONFIG_INVALID');

/** Validates a (partial) config against the defaults; refuses values that would weaken the scheme. */
export function validateDeviceCookieConfig(config: Partial<DeviceCookieConfig> = {}): DeviceCookieConfig {
  const m = { ...defaultDeviceCookieConfig, ...config };
  const cookieLockoutMs = requireInt('cookieLockoutMs', m.cookieLockoutMs, 60_000, DAY_MS);
  return Object.freeze({
    cookieMaxAgeMs: requireInt('cookieMaxAgeMs', m.cookieMaxAgeMs, DAY_MS, 400 * DAY_MS),
    cookieFailureThreshold: requireInt('cookieFailureThreshold', m.cookieFailureThreshold, 1, 20),
    cookieLockoutMs,
    cookieForgetAfterMs: requireInt('cookieForgetAfterMs', m.cookieForgetAfterMs, cookieLockoutMs, 30 * DAY_MS),
    maxTrackedCookies: requireInt('maxTrackedCookies', m.maxTrackedCookies, 16, LOCKOUT_STATE_BOUNDS.maxRecords),
    physicalUnlockMs: requireInt('physicalUnlockMs', m.physicalUnlockMs, 60_000, 900_000),
  });
}

/** The persisted state: per-cookie failures (oldest first) and the physical unlock. Plain JSON. */
export interface DeviceCookieState {
  readonly version: 1;
  /** Failures per cookie id. */
  readonly cookies: readonly FailureRecord[];
  /** Until when (ms since the epoch) new browsers are not held back by the account-wide ceiling; 0: not. */
  readonly untrustedUnlockedUntil: number;
}

/** What a presented cookie proved. */
export type DeviceCookieTrust = { readonly trusted: true; readonly id: string } | { readonly trusted: false };

/** What {@link DeviceCookiePolicy.admit} returns: the decision and the state to keep. */
export interface DeviceCookieAdmission {
  readonly decision: DeviceCookieDecision;
  readonly state: DeviceCookieState;
}

/** The answer for an attempt with a valid cookie. */
export type DeviceCookieDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterSeconds: number; readonly scope: 'cookie' };

/** A state with nothing recorded and no unlock. */
export function emptyDeviceCookieState(): DeviceCookieState {
  return { version: 1, cookies: [], untrustedUnlockedUntil: 0 };
}

/** A new random key for signing device cookies (keep it 0600, never log it). */
export function createDeviceCookieKey(): Buffer {
  return randomBytes(DEVICE_COOKIE_FORMAT.keyBytes);
}

function checkKeyBytes(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== DEVICE_COOKIE_FORMAT.keyBytes) {
    throw new InvalidInputError(`the device cookie key must be ${DEVICE_COOKIE_FORMAT.keyBytes} bytes`);
  }
}

function checkAccount(account: string): string {
  if (typeof account !== 'string' || account.length === 0 || account.length > DEVICE_COOKIE_FORMAT.maxAccountLength) {
    throw new InvalidInputError('account must be a non-empty string');
  }
  return account;
}

function checkNow(now: number): number {
  if (!Number.isSafeInteger(now) || now < 0 || now > LOCKOUT_STATE_BOUNDS.maxTime) {
    throw new InvalidInputError('now must be a non-negative integer time in ms');
  }
  return now;
}

function newCookieId(): string {
  return randomBytes(DEVICE_COOKIE_FORMAT.idBytes).toString('base64url');
}

function macOf(key: Uint8Array, account: string, id: string, issuedSeconds: string): Buffer {
  return createHmac('sha256', key).update(`${MAC_LABEL}\n${account}\n${id}\n${issuedSeconds}`, 'utf8').digest();
}

/**
 * The rules of device cookies over a {@link DeviceCookieState}. Every method is pure but
 * {@link issue}, which draws a random id unless given one.
 *
 * @example
 * const policy = new DeviceCookiePolicy();
 * const trust = policy.verify(key, 'admin', req.cookies.get('__Host-bulwark-device'), Date.now());
 * if (trust.trusted) { const { decision, state: charged } = policy.admit(state, trust.id, Date.now()); ... }
 */
export class DeviceCookiePolicy {
  readonly config: DeviceCookieConfig;

  constructor(config: Partial<DeviceCookieConfig> = {}) {
    this.config = validateDeviceCookieConfig(config);
  }

  /** A new cookie value for `account`, issued at `now`. */
  issue(key: Uint8Array, account: string, now: number, id = newCookieId()): string {
    checkKeyBytes(key);
    checkNow(now);
    if (!/^[A-Za-z0-9_-]{22}$/.test(id)) throw new InvalidInputError('a device cookie id is 16 bytes in base64url');
    const issued = String(Math.floor(now / 1_000));
    return `${id}.${issued}.${macOf(key, checkAccount(account), id, issued).toString('base64url')}`;
  }

  /** Whether `value` is a cookie this key issued for `account`, unexpired; the MAC is compared in constant time. */
  verify(key: Uint8Array, account: string, value: string | undefined, now: number): DeviceCookieTrust {
    checkKeyBytes(key);
    checkNow(now);
    if (typeof value !== 'string' || value.length > DEVICE_COOKIE_FORMAT.maxValueLength) return { trusted: false };
    if (typeof account !== 'string' || account.length === 0 || account.length > DEVICE_COOKIE_FORMAT.maxAccountLength) {
      return { trusted: false };
    }
    const m = VALUE_PATTERN.exec(value);
    if (!m) return { trusted: false };
    const [, id = '', issued = '', mac = ''] = m;
    const issuedMs = Number(issued) * 1_000;
    if (issuedMs > now + DEVICE_COOKIE_FORMAT.maxClockSkewMs || now - issuedMs >= this.config.cookieMaxAgeMs) {
      return { trusted: false };
    }
    const given = Buffer.from(mac, 'base64url');
    const expected = macOf(key, account, id, issued);
    const valid = given.length === expected.length && timingSafeEqual(given, expected);
    return valid ? { trusted: true, id } : { trusted: false };
  }

  /** The cookie's Max-Age, seconds. */
  get maxAgeSeconds(): number {
    return Math.floor(this.config.cookieMaxAgeMs / 1_000);
  }

  /** Until when a cookie with `record`'s failures is locked out, ms (0: not locked). For store-held counters too. */
  lockedUntil(record: Pick<FailureRecord, 'failures' | 'lastFailureAt'> | undefined, now: number): number {
    if (!record || record.failures < this.config.cookieFailureThreshold) return 0;
    // A clock that went backwards must not lengthen the lock.
    return Math.min(record.lastFailureAt, now) + this.config.cookieLockoutMs;
  }

  /** Whether an attempt with the valid cookie `id` may go ahead now; does not change the state. */
  check(state: DeviceCookieState, id: string, now: number): DeviceCookieDecision {
    checkNow(now);
    const until = this.lockedUntil(
      state.cookies.find((r) => r.key === id),
      now,
    );
    if (until <= now) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.ceil((until - now) / 1_000), scope: 'cookie' };
  }

  /** Checks and, when allowed, charges the cookie one failure at once ("charge first, refund on success"). */
  admit(state: DeviceCookieState, id: string, now: number): DeviceCookieAdmission {
    const decision = this.check(state, id, now);
    const pruned = this.prune(state, now);
    if (!decision.allowed) return { decision, state: pruned };
    return { decision, state: { ...pruned, cookies: this.#bump(pruned.cookies, id, now) } };
  }

  /** The admitted attempt with cookie `id` succeeded: its failures are forgotten. */
  recordSuccess(state: DeviceCookieState, id: string, now: number): DeviceCookieState {
    const pruned = this.prune(state, now);
    return { ...pruned, cookies: pruned.cookies.filter((r) => r.key !== id) };
  }

  /** A physical act on the unit: new browsers skip the account-wide ceiling for `physicalUnlockMs`. */
  unlock(state: DeviceCookieState, now: number): DeviceCookieState {
    checkNow(now);
    return { ...state, untrustedUnlockedUntil: now + this.config.physicalUnlockMs };
  }

  /** Ends the physical unlock (after the one new browser it was for has logged in). */
  endUnlock(state: DeviceCookieState): DeviceCookieState {
    return state.untrustedUnlockedUntil === 0 ? state : { ...state, untrustedUnlockedUntil: 0 };
  }

  /** Whether the physical unlock is in force at `now`. */
  isUnlocked(state: DeviceCookieState, now: number): boolean {
    return now < state.untrustedUnlockedUntil;
  }

  /** Drops cookie records with no failure for `cookieForgetAfterMs`, and an unlock that has run out. */
  prune(state: DeviceCookieState, now: number): DeviceCookieState {
    checkNow(now);
    const horizon = now - this.config.cookieForgetAfterMs;
    const keep = (r: FailureRecord): boolean => r.lastFailureAt > horizon;
    const unlockOver = state.untrustedUnlockedUntil !== 0 && state.untrustedUnlockedUntil <= now;
    if (state.cookies.every(keep) && !unlockOver) return state;
    const untrustedUnlockedUntil = unlockOver ? 0 : state.untrustedUnlockedUntil;
    return { version: 1, cookies: state.cookies.filter(keep), untrustedUnlockedUntil };
  }

  #bump(records: readonly FailureRecord[], key: string, now: number): FailureRecord[] {
    const previous = records.find((r) => r.key === key);
    const failures = Math.min((previous?.failures ?? 0) + 1, LOCKOUT_STATE_BOUNDS.maxFailures);
    const next = records.filter((r) => r.key !== key);
    // Oldest first: the updated record moves to the end, and eviction takes from the front.
    next.push({ key, failures, lastFailureAt: now });
    const max = this.config.maxTrackedCookies;
    return next.length > max ? next.slice(next.length - max) : next;
  }
}

function fail(message: string, details: Record<string, unknown> = {}): never {
  throw new DeviceCookieStateError(message, details);
}

/** Checks a parsed JSON value against the device-cookie state schema; throws DEVICE_COOKIE_STATE_INVALID. */
export function validateDeviceCookieState(value: unknown): DeviceCookieState {
  if (!isPlainObject(value) || !hasExactKeys(value, ['version', 'cookies', 'untrustedUnlockedUntil'])) {
    fail('device cookie state must be an object with exactly version, cookies, untrustedUnlockedUntil');
  }
  if (value.version !== 1) fail('unsupported device cookie state version');
  const until = value.untrustedUnlockedUntil;
  if (typeof until !== 'number' || !Number.isInteger(until) || until < 0 || until > LOCKOUT_STATE_BOUNDS.maxTime) {
    fail('device cookie state holds a bad unlock time');
  }
  return { version: 1, cookies: validateFailureRecords('cookies', value.cookies, fail), untrustedUnlockedUntil: until };
}

/** Parses and validates persisted device-cookie state; throws DEVICE_COOKIE_STATE_INVALID, never anything else. */
export function parseDeviceCookieState(text: string): DeviceCookieState {
  if (typeof text !== 'string') fail('device cookie state must be JSON text');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail('device cookie state is not valid JSON');
  }
  return validateDeviceCookieState(value);
}

/** Serialises device-cookie state as JSON for an atomic write (see src/storage). */
export function serialiseDeviceCookieState(state: DeviceCookieState): string {
  return JSON.stringify(validateDeviceCookieState(state));
}

/** The key as text for a 0600 file or a store row (base64url). */
export function serialiseDeviceCookieKey(key: Uint8Array): string {
  checkKeyBytes(key);
  return Buffer.from(key).toString('base64url') + '\n';
}

/** Reads a key written by {@link serialiseDeviceCookieKey}; throws DEVICE_COOKIE_STATE_INVALID (never echoing it). */
export function parseDeviceCookieKey(text: string): Buffer {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  if (!/^[A-Za-z0-9_-]{43}$/.test(trimmed)) fail('device cookie key file is malformed');
  return Buffer.from(trimmed, 'base64url');
}
