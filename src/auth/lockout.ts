/**
 * Lockout with exponential back-off, per source address and per account (issue 3, point 6).
 *
 * A pure core: state in, state out, `now` passed in (ms since the epoch); no timers, no files.
 * The caller keeps the state, asks {@link LockoutPolicy.admit} BEFORE computing any hash,
 * answers 429 with Retry-After when refused, and persists the new state atomically.
 *
 * The back-off: after `sourceThreshold` (5) failures from one source, that source waits
 * `baseDelayMs` (30 s), doubling with every further failure, capped at `maxDelayMs` (1 h).
 * The account has the same rule with a much higher threshold (100), so an attacker at one
 * address cannot lock the owner out from another, yet the total guessing rate against the
 * account stays bounded however many addresses the attacker has. A success resets the
 * source's record; it does not reset the account's, so a distributed attacker gets no fresh
 * budget each time the owner logs in. Records are forgotten after `forgetAfterMs` without a
 * failure, and at most `maxTrackedSources` / `maxTrackedAccounts` are kept (oldest evicted).
 *
 * A name nobody has is counted as its own account too (`unknown: true`), so guesses at it are
 * answered exactly as guesses at a real person's name and cannot tell which names exist. Those
 * records live in their own table (at most {@link MAX_TRACKED_UNKNOWN_NAMES}): a stranger spraying
 * made-up names never evicts a real person's record, and when the table is full the record with
 * the fewest failures goes first, so flushing out one locked name takes that many failures for
 * every record in the table.
 *
 * Attempts are charged when admitted ("charge first, refund on success"): concurrent attempts
 * from one source see each other, and a crash mid-hash still counts the attempt.
 *
 * The login surfaces put {@link ./login-guard.ts LoginGuard} in front of this policy: attempts
 * with a valid device cookie never reach it, so the account-wide ceiling holds back only browsers
 * that have not logged in before, and a guesser spread over addresses cannot lock the owner out.
 */
import { isIP } from 'node:net';
import { InvalidInputError, integerSettings } from '../errors/index.ts';
import { LockoutStateError } from './errors.ts';

/** Limits of a {@link LockoutPolicy}. Times in milliseconds. */
export interface LockoutConfig {
  /** Failures from one source before it backs off (1..20). */
  readonly sourceThreshold: number;
  /** Failures against one account, from all sources, before it backs off. */
  readonly accountThreshold: number;
  /** The first back-off, ms; doubles with every further failure. */
  readonly baseDelayMs: number;
  /** The longest back-off, ms. */
  readonly maxDelayMs: number;
  /** A record with no failure for this long is forgotten, ms (at least maxDelayMs). */
  readonly forgetAfterMs: number;
  /** Most source records kept; the oldest is evicted beyond this. */
  readonly maxTrackedSources: number;
  /** Most account records kept; the oldest is evicted beyond this. */
  readonly maxTrackedAccounts: number;
}

/** The secure default: 5 per source, 100 per account, 30 s doubling to 1 h, forget after 24 h. */
export const defaultLockoutConfig: Readonly<LockoutConfig> = Object.freeze({
  sourceThreshold: 5,
  accountThreshold: 100,
  baseDelayMs: 30_000,
  maxDelayMs: 3_600_000,
  forgetAfterMs: 86_400_000,
  maxTrackedSources: 1_024,
  maxTrackedAccounts: 64,
});

/**
 * Most records kept of names nobody has, apart from the accounts; beyond it the one with the fewest
 * failures goes first. Fixed for now: as a LockoutConfig key it would first need its place among the
 * unit's settings in src/audit/baseline-checks.ts, or every audit would report it missing.
 */
export const MAX_TRACKED_UNKNOWN_NAMES = 256;

/** Hard bounds used when validating persisted state. */
export const LOCKOUT_STATE_BOUNDS = Object.freeze({
  /** Longest source or account key, characters. */
  maxKeyLength: 128,
  /** Most failures a record can hold. */
  maxFailures: 1_000_000,
  /** Most records of either kind in a persisted state. */
  maxRecords: 100_000,
  /** Largest timestamp accepted, ms (the largest valid Date). */
  maxTime: 8_640_000_000_000_000,
});

/** Failures recorded for one source or one account. */
export interface FailureRecord {
  /** The source key or account name. */
  readonly key: string;
  /** Failures counted (charged attempts not yet refunded). */
  readonly failures: number;
  /** When the last failure was charged, ms since the epoch. */
  readonly lastFailureAt: number;
}

/** The whole lockout state: plain JSON, persisted by the caller. Records are oldest first. */
export interface LockoutState {
  readonly version: 1;
  readonly sources: readonly FailureRecord[];
  readonly accounts: readonly FailureRecord[];
  /** Names nobody has, each its own account, apart so that they never evict a real one. */
  readonly unknownNames: readonly FailureRecord[];
}

/** One login (or other secret-guessing) attempt: where it came from and whom it claims to be. */
export interface LockoutAttempt {
  /** The source key, e.g. from {@link sourceKeyFor}(socket.remoteAddress). */
  readonly source: string;
  /** The account claimed; for a name nobody has, a key of that name (see LoginGuard.unknownNameAccount). */
  readonly account: string;
  /** True when nobody has the name: counted like an account, in the table of unknown names. */
  readonly unknown?: boolean;
}

/** How {@link LockoutPolicy.check} applies its limits to one attempt. */
export interface LockoutCheckOptions {
  /** True while a physical act on the unit lifts the account-wide ceiling; the source's back-off stays. */
  readonly accountLifted?: boolean;
}

/** The answer to "may this attempt be checked now?". */
export type LockoutDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterSeconds: number; readonly scope: 'source' | 'account' };

const requireInt = integerSettings('LOCKOUT_CONFIG_INVALID');

/** Validates a (partial) config against the defaults; refuses anything that disables lockout. */
export function validateLockoutConfig(config: Partial<LockoutConfig> = {}): LockoutConfig {
  const merged = { ...defaultLockoutConfig, ...config };
  const sourceThreshold = requireInt('sourceThreshold', merged.sourceThreshold, 1, 20);
  const accountThreshold = requireInt('accountThreshold', merged.accountThreshold, sourceThreshold, 1_000);
  const baseDelayMs = requireInt('baseDelayMs', merged.baseDelayMs, 1_000, 3_600_000);
  const maxDelayMs = requireInt('maxDelayMs', merged.maxDelayMs, baseDelayMs, 86_400_000);
  const forgetAfterMs = requireInt('forgetAfterMs', merged.forgetAfterMs, maxDelayMs, 30 * 86_400_000);
  const maxTrackedSources = requireInt(
    'maxTrackedSources',
    merged.maxTrackedSources,
    16,
    LOCKOUT_STATE_BOUNDS.maxRecords,
  );
  const maxTrackedAccounts = requireInt(
    'maxTrackedAccounts',
    merged.maxTrackedAccounts,
    1,
    LOCKOUT_STATE_BOUNDS.maxRecords,
  );
  return Object.freeze({
    sourceThreshold,
    accountThreshold,
    baseDelayMs,
    maxDelayMs,
    forgetAfterMs,
    maxTrackedSources,
    maxTrackedAccounts,
  });
}

/** A state with nothing recorded. */
export function emptyLockoutState(): LockoutState {
  return { version: 1, sources: [], accounts: [], unknownNames: [] };
}

function checkKey(what: string, key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > LOCKOUT_STATE_BOUNDS.maxKeyLength) {
    throw new InvalidInputError(
      `${what} must be a non-empty string of at most ${LOCKOUT_STATE_BOUNDS.maxKeyLength} characters`,
    );
  }
  return key;
}

function checkNow(now: number): number {
  if (!Number.isSafeInteger(now) || now < 0 || now > LOCKOUT_STATE_BOUNDS.maxTime) {
    throw new InvalidInputError('now must be a non-negative integer time in ms');
  }
  return now;
}

/**
 * The lockout rules over a {@link LockoutState}. Every method is pure.
 *
 * @example
 * const policy = new LockoutPolicy();
 * const { decision, state: charged } = policy.admit(state, { source, account: 'owner' }, Date.now());
 * state = charged; await persist(state);
 * if (!decision.allowed) return reply.code(429).header('Retry-After', decision.retryAfterSeconds).send();
 * if ((await verifyPassword(pw, stored)).ok) { state = policy.recordSuccess(state, attempt, Date.now()); ... }
 */
export class LockoutPolicy {
  readonly config: LockoutConfig;

  constructor(config: Partial<LockoutConfig> = {}) {
    this.config = validateLockoutConfig(config);
  }

  /** The back-off after `failures` failures against `threshold`, ms (0 below the threshold). */
  delayAfter(failures: number, threshold: number): number {
    if (failures < threshold) return 0;
    const doublings = failures - threshold;
    // Past ~40 doublings any base is beyond the cap; stop before 2 ** n loses integer precision.
    if (doublings > 40) return this.config.maxDelayMs;
    return Math.min(this.config.baseDelayMs * 2 ** doublings, this.config.maxDelayMs);
  }

  #lockedUntil(record: FailureRecord | undefined, threshold: number, now: number): number {
    if (!record) return 0;
    // A clock that went backwards must not turn a record into a lock longer than maxDelayMs.
    return Math.min(record.lastFailureAt, now) + this.delayAfter(record.failures, threshold);
  }

  /**
   * Whether the attempt may go ahead now; does not change the state. With `accountLifted` (a
   * physical act on the unit), only the source's back-off applies, not the account's ceiling.
   */
  check(state: LockoutState, attempt: LockoutAttempt, now: number, options: LockoutCheckOptions = {}): LockoutDecision {
    checkNow(now);
    const source = checkKey('source', attempt.source);
    const account = checkKey('account', attempt.account);
    const bySource = this.#lockedUntil(
      state.sources.find((r) => r.key === source),
      this.config.sourceThreshold,
      now,
    );
    const accountRecord =
      options.accountLifted === true ? undefined : accountsOf(state, attempt).find((r) => r.key === account);
    const byAccount = this.#lockedUntil(accountRecord, this.config.accountThreshold, now);
    const until = Math.max(bySource, byAccount);
    if (until <= now) return { allowed: true };
    return {
      allowed: false,
      retryAfterSeconds: Math.ceil((until - now) / 1_000),
      scope: bySource >= byAccount ? 'source' : 'account',
    };
  }

  /**
   * Checks the attempt and, when allowed, charges it as a failure at once; call
   * {@link recordSuccess} if it then succeeds. Use this before computing any hash.
   */
  admit(
    state: LockoutState,
    attempt: LockoutAttempt,
    now: number,
    options: LockoutCheckOptions = {},
  ): { decision: LockoutDecision; state: LockoutState } {
    const decision = this.check(state, attempt, now, options);
    if (!decision.allowed) return { decision, state: this.prune(state, now) };
    return { decision, state: this.recordFailure(state, attempt, now) };
  }

  /** Counts one failure for the source and the account (for attempts not charged by {@link admit}). */
  recordFailure(state: LockoutState, attempt: LockoutAttempt, now: number): LockoutState {
    checkNow(now);
    const source = checkKey('source', attempt.source);
    const account = checkKey('account', attempt.account);
    const pruned = this.prune(state, now);
    const sources = this.#bump(pruned.sources, source, now, this.config.maxTrackedSources);
    if (attempt.unknown === true) {
      const bumped = this.#bump(pruned.unknownNames, account, now, Number.POSITIVE_INFINITY);
      const unknownNames = evictFewestFailures(bumped, MAX_TRACKED_UNKNOWN_NAMES);
      return { version: 1, sources, accounts: pruned.accounts, unknownNames };
    }
    const accounts = this.#bump(pruned.accounts, account, now, this.config.maxTrackedAccounts);
    return { version: 1, sources, accounts, unknownNames: pruned.unknownNames };
  }

  /**
   * Records that an admitted attempt succeeded: forgets the source's failures and refunds the
   * account the one failure that {@link admit} charged.
   */
  recordSuccess(state: LockoutState, attempt: LockoutAttempt, now: number): LockoutState {
    checkNow(now);
    const source = checkKey('source', attempt.source);
    const account = checkKey('account', attempt.account);
    const pruned = this.prune(state, now);
    const refunded: FailureRecord[] = [];
    for (const r of accountsOf(pruned, attempt)) {
      if (r.key !== account) refunded.push(r);
      else if (r.failures > 1) refunded.push({ key: r.key, failures: r.failures - 1, lastFailureAt: r.lastFailureAt });
    }
    const sources = pruned.sources.filter((r) => r.key !== source);
    if (attempt.unknown === true) return { ...pruned, sources, unknownNames: refunded };
    return { ...pruned, sources, accounts: refunded };
  }

  /** Drops records with no failure for `forgetAfterMs`. */
  prune(state: LockoutState, now: number): LockoutState {
    checkNow(now);
    const horizon = now - this.config.forgetAfterMs;
    const keep = (r: FailureRecord) => r.lastFailureAt > horizon;
    if (state.sources.every(keep) && state.accounts.every(keep) && state.unknownNames.every(keep)) return state;
    return {
      version: 1,
      sources: state.sources.filter(keep),
      accounts: state.accounts.filter(keep),
      unknownNames: state.unknownNames.filter(keep),
    };
  }

  #bump(records: readonly FailureRecord[], key: string, now: number, max: number): FailureRecord[] {
    const previous = records.find((r) => r.key === key);
    const failures = Math.min((previous?.failures ?? 0) + 1, LOCKOUT_STATE_BOUNDS.maxFailures);
    const next = records.filter((r) => r.key !== key);
    // Oldest first: the updated record moves to the end, and eviction takes from the front.
    next.push({ key, failures, lastFailureAt: now });
    return next.length > max ? next.slice(next.length - max) : next;
  }
}

/** The table an attempt's account is counted in: the accounts, or the names nobody has. */
function accountsOf(state: LockoutState, attempt: LockoutAttempt): readonly FailureRecord[] {
  return attempt.unknown === true ? state.unknownNames : state.accounts;
}

/**
 * Keeps at most `max` of `records` (oldest first), evicting those with the fewest failures first
 * (the oldest among equals), never the last one, just charged. A spray of fresh names then evicts
 * only other fresh names: flushing out a locked name takes as many failures for every other record.
 */
function evictFewestFailures(records: readonly FailureRecord[], max: number): FailureRecord[] {
  const excess = records.length - max;
  if (excess <= 0) return [...records];
  const byFailures = records
    .slice(0, -1)
    .map((r, at) => ({ failures: r.failures, at }))
    .sort((a, b) => a.failures - b.failures || a.at - b.at);
  const evicted = new Set(byFailures.slice(0, excess).map((e) => e.at));
  return records.filter((_r, at) => !evicted.has(at));
}

function fail(message: string, details: Record<string, unknown> = {}): never {
  throw new LockoutStateError(message, details);
}

/** True for a plain JSON object (no class instance, no array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)
  );
}

/** True when `value` has exactly `keys` as its own keys. */
export function hasExactKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && keys.every((k) => Object.hasOwn(value, k));
}

function isBoundedInt(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Throws the caller's typed error for a damaged state file. */
type StateErrorThrower = (message: string, details: Record<string, unknown>) => never;

function validateRecord(field: string, item: unknown, onError: StateErrorThrower): FailureRecord {
  const bounds = LOCKOUT_STATE_BOUNDS;
  if (!isPlainObject(item) || !hasExactKeys(item, ['key', 'failures', 'lastFailureAt'])) {
    onError(`${field} holds a record without exactly key, failures, lastFailureAt`, { field });
  }
  const { key, failures, lastFailureAt } = item;
  const goodKey = typeof key === 'string' && key.length > 0 && key.length <= bounds.maxKeyLength;
  if (!goodKey) onError(`${field} holds a bad key`, { field });
  if (!isBoundedInt(failures, 1, bounds.maxFailures)) onError(`${field} holds a bad failure count`, { field });
  if (!isBoundedInt(lastFailureAt, 0, bounds.maxTime)) onError(`${field} holds a bad time`, { field });
  return { key, failures, lastFailureAt };
}

/**
 * Checks a persisted list of {@link FailureRecord}s (unique keys, bounded counts and times) and
 * returns it oldest first; `onError` throws the caller's typed error.
 */
export function validateFailureRecords(
  field: string,
  value: unknown,
  onError: StateErrorThrower = fail,
): FailureRecord[] {
  if (!Array.isArray(value)) onError(`${field} must be an array`, { field });
  if (value.length > LOCKOUT_STATE_BOUNDS.maxRecords) onError(`${field} has too many records`, { field });
  const seen = new Set<string>();
  const records: FailureRecord[] = [];
  for (const item of value as unknown[]) {
    const record = validateRecord(field, item, onError);
    if (seen.has(record.key)) onError(`${field} holds a duplicate key`, { field });
    seen.add(record.key);
    records.push(record);
  }
  // Keep the oldest-first order that eviction relies on, whatever order the file had.
  return records.sort((a, b) => a.lastFailureAt - b.lastFailureAt);
}

const STATE_KEYS = ['version', 'sources', 'accounts'] as const;

/**
 * Checks a parsed JSON value against the lockout state schema; throws LOCKOUT_STATE_INVALID.
 * `unknownNames` may be absent (a file from before it, or one with none): it is then empty.
 */
export function validateLockoutState(value: unknown): LockoutState {
  const shaped =
    isPlainObject(value) && (hasExactKeys(value, STATE_KEYS) || hasExactKeys(value, [...STATE_KEYS, 'unknownNames']));
  if (!shaped) fail('lockout state must be an object with exactly version, sources, accounts (and unknownNames)');
  if (value.version !== 1) fail('unsupported lockout state version');
  return {
    version: 1,
    sources: validateFailureRecords('sources', value.sources),
    accounts: validateFailureRecords('accounts', value.accounts),
    unknownNames: Object.hasOwn(value, 'unknownNames')
      ? validateFailureRecords('unknownNames', value.unknownNames)
      : [],
  };
}

/** Parses and validates persisted lockout state; throws LOCKOUT_STATE_INVALID, never anything else. */
export function parseLockoutState(text: string): LockoutState {
  if (typeof text !== 'string') fail('lockout state must be JSON text');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail('lockout state is not valid JSON');
  }
  return validateLockoutState(value);
}

/** Serialises lockout state as JSON for an atomic write (see src/storage). */
export function serialiseLockoutState(state: LockoutState): string {
  const { unknownNames, ...rest } = validateLockoutState(state);
  // Without unknown names the file keeps the shape an older image reads, should the unit fall back to one.
  return JSON.stringify(unknownNames.length > 0 ? { ...rest, unknownNames } : rest);
}

function expandIPv6(address: string): number[] {
  let text = address;
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes its two hextets first.
  const dotted = text.match(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const left = parse(head);
  const right = parse(rest ?? '');
  const zeros = rest === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<number>(zeros).fill(0), ...right];
}

/**
 * The key a source address is counted under: an IPv4 address as is (IPv4-mapped IPv6 included),
 * an IPv6 address by its /64, since one subscriber holds a whole /64. Throws INVALID_INPUT for
 * anything that is not an IP address.
 */
export function sourceKeyFor(address: string): string {
  const bare = typeof address === 'string' ? address.replace(/%.*$/, '') : '';
  const family = isIP(bare);
  if (family === 4) return bare;
  if (family !== 6) throw new InvalidInputError('source is not an IP address');
  const h = expandIPv6(bare.toLowerCase());
  if (h.slice(0, 5).every((x) => x === 0) && h[5] === 0xffff) {
    const [a = 0, b = 0] = [h[6], h[7]];
    return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
  }
  return `${h
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(':')}::/64`;
}
