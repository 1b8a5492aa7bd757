/**
 * Sessions for the device's admin page (issue 3, point 8): 256-bit random ids, an idle timeout
 * (15 min) and an absolute one (12 h), a per-session CSRF synchronizer token, bounded counts.
 *
 * A pure core: no timers and no files; `now` is passed in (ms since the epoch) and the caller
 * persists {@link SessionStore.serialise} atomically when a method reports a change. The state
 * keeps only SHA-256(id), never the cookie value itself, so a leaked state file cannot be
 * replayed as a cookie. The CSRF token is kept as is, because pages must embed it; alone it is
 * useless without the session cookie.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidInputError, integerSettings } from '../errors/index.ts';
import { SessionStateError } from './errors.ts';

/** Limits of a {@link SessionStore}. Times in milliseconds. */
export interface SessionConfig {
  /** A session unused for this long ends, ms. */
  readonly idleTimeoutMs: number;
  /** A session ends this long after login however active, ms. */
  readonly absoluteTimeoutMs: number;
  /** Most sessions per user; a new login ends that user's least recently used one beyond this. */
  readonly maxSessionsPerUser: number;
  /** Most sessions in all; a new login ends the least recently used one beyond this. */
  readonly maxSessions: number;
  /** Activity is recorded at most this often per session, ms (spares the flash a write per request). */
  readonly touchIntervalMs: number;
}

/** The secure default: 15 min idle, 12 h absolute, 8 per user, 64 in all, activity kept per minute. */
export const defaultSessionConfig: Readonly<SessionConfig> = Object.freeze({
  idleTimeoutMs: 900_000,
  absoluteTimeoutMs: 43_200_000,
  maxSessionsPerUser: 8,
  maxSessions: 64,
  touchIntervalMs: 60_000,
});

/** Hard bounds used when validating persisted state. */
export const SESSION_STATE_BOUNDS = Object.freeze({
  /** Most sessions a persisted state may hold. */
  maxRecords: 10_000,
  /** Longest user name, characters. */
  maxUserLength: 128,
  /** Largest timestamp accepted, ms. */
  maxTime: 8_640_000_000_000_000,
});

/** Bytes of randomness in a session id and in a CSRF token (256 bits). */
const TOKEN_BYTES = 32;
/** A 256-bit value as unpadded base64url: 43 characters. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** One session as persisted. */
export interface SessionRecord {
  /** SHA-256 of the session id, base64url. */
  readonly idHash: string;
  readonly user: string;
  /** The CSRF synchronizer token, base64url (256 bits). */
  readonly csrfToken: string;
  /** Login time, ms since the epoch. */
  readonly createdAt: number;
  /** Last recorded activity, ms since the epoch. */
  readonly lastSeenAt: number;
}

/** All sessions: plain JSON, persisted by the caller. */
export interface SessionState {
  readonly version: 1;
  readonly sessions: readonly SessionRecord[];
}

/** What a caller learns about a live session. */
export interface SessionView {
  readonly user: string;
  /** The token to embed in this session's forms and to expect back on every state change. */
  readonly csrfToken: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  /** When the session ends if unused, ms since the epoch. */
  readonly idleExpiresAt: number;
  /** When the session ends regardless, ms since the epoch. */
  readonly absoluteExpiresAt: number;
}

/** A new session: its id goes into the `__Host-` cookie and nowhere else. */
export interface NewSession extends SessionView {
  readonly id: string;
}

const requireInt = integerSettings('SESSION_CONFIG_INVALID');

/** Validates a (partial) config against the defaults; throws ConfigError naming the key. */
export function validateSessionConfig(config: Partial<SessionConfig> = {}): SessionConfig {
  const merged = { ...defaultSessionConfig, ...config };
  const idleTimeoutMs = requireInt('idleTimeoutMs', merged.idleTimeoutMs, 60_000, 3_600_000);
  const absoluteTimeoutMs = requireInt('absoluteTimeoutMs', merged.absoluteTimeoutMs, idleTimeoutMs, 86_400_000);
  const maxSessionsPerUser = requireInt('maxSessionsPerUser', merged.maxSessionsPerUser, 1, 64);
  const maxSessions = requireInt(
    'maxSessions',
    merged.maxSessions,
    maxSessionsPerUser,
    SESSION_STATE_BOUNDS.maxRecords,
  );
  const touchIntervalMs = requireInt('touchIntervalMs', merged.touchIntervalMs, 0, Math.floor(idleTimeoutMs / 4));
  return Object.freeze({ idleTimeoutMs, absoluteTimeoutMs, maxSessionsPerUser, maxSessions, touchIntervalMs });
}

function hashId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('base64url');
}

function checkNow(now: number): number {
  if (!Number.isSafeInteger(now) || now < 0 || now > SESSION_STATE_BOUNDS.maxTime) {
    throw new InvalidInputError('now must be a non-negative integer time in ms');
  }
  return now;
}

function checkUser(user: unknown): string {
  if (typeof user !== 'string' || user.length === 0 || user.length > SESSION_STATE_BOUNDS.maxUserLength) {
    throw new InvalidInputError(
      `user must be a non-empty string of at most ${SESSION_STATE_BOUNDS.maxUserLength} characters`,
    );
  }
  return user;
}

/** True when `value` has the shape of a session id or CSRF token (43 base64url characters). */
export function isWellFormedToken(value: unknown): value is string {
  return typeof value === 'string' && value.length === 43 && TOKEN_PATTERN.test(value);
}

/**
 * The session table. Methods never do I/O; those that change the table say so, and the
 * caller then persists {@link SessionStore.serialise} with an atomic write.
 *
 * @example
 * const store = new SessionStore({}, parseSessionState(await readFile(path, 'utf8')));
 * const { id, csrfToken } = store.create('owner', Date.now()); // set-cookie __Host-session=id
 * const { session, changed } = store.touch(cookieId, Date.now());
 * if (!session) return reply.code(401).send();
 * if (isStateChange && !store.verifyCsrf(cookieId, bodyToken, Date.now())) return reply.code(403).send();
 */
export class SessionStore {
  readonly config: SessionConfig;
  // Insertion order is least recently used first: touch re-inserts, so eviction takes the head.
  readonly #byHash = new Map<string, SessionRecord>();

  constructor(config: Partial<SessionConfig> = {}, state: SessionState = emptySessionState()) {
    this.config = validateSessionConfig(config);
    const valid = validateSessionState(state);
    const ordered = [...valid.sessions].sort((a, b) => a.lastSeenAt - b.lastSeenAt);
    for (const record of ordered) this.#byHash.set(record.idHash, record);
    this.#enforceLimits();
  }

  /** Number of sessions held (live or not yet pruned). */
  get size(): number {
    return this.#byHash.size;
  }

  /** A JSON-serialisable snapshot of the table. */
  get state(): SessionState {
    return { version: 1, sessions: [...this.#byHash.values()] };
  }

  /** The table as JSON text, for an atomic write. */
  serialise(): string {
    return serialiseSessionState(this.state);
  }

  /** Starts a session for `user` with a fresh id and CSRF token. Always a change. */
  create(user: string, now: number): NewSession {
    checkUser(user);
    checkNow(now);
    this.prune(now);
    const id = randomBytes(TOKEN_BYTES).toString('base64url');
    const record: SessionRecord = {
      idHash: hashId(id),
      user,
      csrfToken: randomBytes(TOKEN_BYTES).toString('base64url'),
      createdAt: now,
      lastSeenAt: now,
    };
    this.#byHash.set(record.idHash, record);
    this.#enforceLimits(user);
    return { id, ...this.#view(record) };
  }

  /** The live session for `id`, or null; changes nothing. */
  validate(id: string, now: number): SessionView | null {
    checkNow(now);
    const record = this.#find(id);
    return record && this.#isLive(record, now) ? this.#view(record) : null;
  }

  /**
   * Validates `id` and records the activity (at most once per `touchIntervalMs`); an expired
   * session is removed. `changed` says whether the caller should persist.
   */
  touch(id: string, now: number): { session: SessionView | null; changed: boolean } {
    checkNow(now);
    const record = this.#find(id);
    if (!record) return { session: null, changed: false };
    if (!this.#isLive(record, now)) {
      this.#byHash.delete(record.idHash);
      return { session: null, changed: true };
    }
    if (now - record.lastSeenAt < this.config.touchIntervalMs) return { session: this.#view(record), changed: false };
    const touched: SessionRecord = { ...record, lastSeenAt: now };
    this.#byHash.delete(record.idHash);
    this.#byHash.set(touched.idHash, touched);
    return { session: this.#view(touched), changed: true };
  }

  /**
   * True when `token` is the CSRF token of the live session `sessionId`, compared in constant
   * time. Call on every state-changing request, together with the Origin check.
   */
  verifyCsrf(sessionId: string, token: string, now: number): boolean {
    checkNow(now);
    const record = this.#find(sessionId);
    if (!record || !this.#isLive(record, now) || !isWellFormedToken(token)) return false;
    return timingSafeEqual(Buffer.from(token, 'utf8'), Buffer.from(record.csrfToken, 'utf8'));
  }

  /** Ends the session `id` (logout). Returns true when one was ended. */
  destroy(id: string): boolean {
    const record = this.#find(id);
    return record ? this.#byHash.delete(record.idHash) : false;
  }

  /** Ends every session of `user` (password change, account removal). Returns how many. */
  destroyAllFor(user: string): number {
    checkUser(user);
    let ended = 0;
    for (const [hash, record] of this.#byHash) {
      if (record.user === user) {
        this.#byHash.delete(hash);
        ended++;
      }
    }
    return ended;
  }

  /** Removes expired sessions. Returns how many. */
  prune(now: number): number {
    checkNow(now);
    let removed = 0;
    for (const [hash, record] of this.#byHash) {
      if (!this.#isLive(record, now)) {
        this.#byHash.delete(hash);
        removed++;
      }
    }
    return removed;
  }

  #find(id: string): SessionRecord | undefined {
    // Anything not shaped like one of our ids is not hashed, let alone looked up.
    if (!isWellFormedToken(id)) return undefined;
    return this.#byHash.get(hashId(id));
  }

  #isLive(record: SessionRecord, now: number): boolean {
    // A clock set back before the login (an RTC reset) ends the session rather than extending it.
    return (
      now >= record.createdAt &&
      now - record.lastSeenAt < this.config.idleTimeoutMs &&
      now - record.createdAt < this.config.absoluteTimeoutMs
    );
  }

  #view(record: SessionRecord): SessionView {
    return {
      user: record.user,
      csrfToken: record.csrfToken,
      createdAt: record.createdAt,
      lastSeenAt: record.lastSeenAt,
      idleExpiresAt: record.lastSeenAt + this.config.idleTimeoutMs,
      absoluteExpiresAt: record.createdAt + this.config.absoluteTimeoutMs,
    };
  }

  #enforceLimits(user?: string): void {
    const perUser = new Map<string, number>();
    for (const record of this.#byHash.values()) perUser.set(record.user, (perUser.get(record.user) ?? 0) + 1);
    for (const [hash, record] of this.#byHash) {
      if (user !== undefined && record.user !== user) continue;
      const count = perUser.get(record.user) ?? 0;
      if (count <= this.config.maxSessionsPerUser) continue;
      this.#byHash.delete(hash);
      perUser.set(record.user, count - 1);
    }
    for (const hash of this.#byHash.keys()) {
      if (this.#byHash.size <= this.config.maxSessions) break;
      this.#byHash.delete(hash);
    }
  }
}

/** A table with no sessions. */
export function emptySessionState(): SessionState {
  return { version: 1, sessions: [] };
}

function fail(message: string, details: Record<string, unknown> = {}): never {
  throw new SessionStateError(message, details);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)
  );
}

function hasExactKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && keys.every((k) => Object.hasOwn(value, k));
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= SESSION_STATE_BOUNDS.maxTime;
}

const RECORD_KEYS = ['idHash', 'user', 'csrfToken', 'createdAt', 'lastSeenAt'] as const;

/** Checks a parsed JSON value against the session state schema; throws SESSION_STATE_INVALID. */
export function validateSessionState(value: unknown): SessionState {
  if (!isPlainObject(value) || !hasExactKeys(value, ['version', 'sessions']))
    fail('session state must be an object with exactly version, sessions');
  if (value.version !== 1) fail('unsupported session state version');
  const list = value.sessions;
  if (!Array.isArray(list)) fail('sessions must be an array');
  if (list.length > SESSION_STATE_BOUNDS.maxRecords) fail('too many sessions');
  const seen = new Set<string>();
  const sessions: SessionRecord[] = [];
  for (const item of list as unknown[]) {
    if (!isPlainObject(item) || !hasExactKeys(item, RECORD_KEYS))
      fail('a session record does not have exactly the expected fields');
    const { idHash, user, csrfToken, createdAt, lastSeenAt } = item;
    if (!isWellFormedToken(idHash)) fail('a session record has a bad idHash');
    if (seen.has(idHash)) fail('duplicate session');
    seen.add(idHash);
    if (typeof user !== 'string' || user.length === 0 || user.length > SESSION_STATE_BOUNDS.maxUserLength)
      fail('a session record has a bad user');
    if (!isWellFormedToken(csrfToken)) fail('a session record has a bad csrfToken');
    if (!isTime(createdAt) || !isTime(lastSeenAt) || lastSeenAt < createdAt) fail('a session record has bad times');
    sessions.push({ idHash, user, csrfToken, createdAt, lastSeenAt });
  }
  return { version: 1, sessions };
}

/** Parses and validates persisted session state; throws SESSION_STATE_INVALID, never anything else. */
export function parseSessionState(text: string): SessionState {
  if (typeof text !== 'string') fail('session state must be JSON text');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail('session state is not valid JSON');
  }
  return validateSessionState(value);
}

/** Serialises session state as JSON for an atomic write (mode 0600: it holds CSRF tokens). */
export function serialiseSessionState(state: SessionState): string {
  return JSON.stringify(validateSessionState(state));
}
