/**
 * The password checks of the hub's page, each person's on their own account (lockout record and
 * device cookie), as on the device: src/auth's LoginGuard first (a browser that logged in before is
 * limited per device cookie, never by a guesser's counters; the account-wide ceiling holds back
 * only new browsers), then argon2id, a trusted browser's hash ahead of a flood. A name nobody has
 * is counted on its own account too (kept apart, so it never evicts a person's), so a guesser cannot
 * tell from the answers which names exist.
 * `bulwark hub unlock` (the 0600 control socket) lifts the ceiling for one new browser.
 */
import {
  LoginGuard,
  emptyDeviceCookieState,
  emptyLockoutState,
  parseDeviceCookieState,
  parseLockoutState,
  serialiseDeviceCookieState,
  serialiseLockoutState,
  sourceKeyFor,
  verifyPassword,
  hashPassword,
  createDeviceCookieKey,
  parseDeviceCookieKey,
  serialiseDeviceCookieKey,
  defaultDeviceCookieConfig,
  type DeviceCookieState,
  type LockoutState,
  type LoginGuardState,
} from '../auth/index.ts';
import { HttpError, hostCookie, type SurfaceEvent, type WebRequest } from '../web/index.ts';
import type { HubStore } from './store.ts';
import type { HubAccount } from './users.ts';

/** The hub owner's user name. */
export const HUB_OWNER = 'admin';
/** The meta key of the owner's password hash. */
export const OWNER_KEY = 'web.owner-hash';
/** Where the guard's state lives in the hub's store (meta keys). */
const META = Object.freeze({
  lockout: 'web.lockout',
  deviceCookies: 'web.device-cookies',
  deviceCookieKey: 'web.device-cookie-key',
  /** Until when (ms) new browsers skip the account-wide ceiling; written by the control socket. */
  loginUnlockedUntil: 'web.login-unlocked-until',
});
/** Marks a browser that has logged in before (OWASP device cookie); distinct from the device's. */
const DEVICE_COOKIE = '__Host-bulwark-hub-device';
/** How the journal names a login as someone nobody is (never what was typed). */
const UNKNOWN_IDENTITY = '(unknown)';

/** Each person's device cookie has its own name, so a browser two people share keeps both. */
function deviceCookieNameOf(account: string): string {
  return account === HUB_OWNER ? DEVICE_COOKIE : `${DEVICE_COOKIE}-${account.split('#')[0]!}`;
}

/** The name the login form gave (the caller found nobody of that name); '' when there is none. */
function triedNameOf(req: WebRequest): string {
  const name = req.body.username;
  return typeof name === 'string' ? name : '';
}

/** How a check of the owner's password ended; `deviceCookie` (a Set-Cookie value) on success. */
export interface OwnerPasswordCheck {
  readonly ok: boolean;
  readonly deviceCookie?: string;
}

/**
 * The hub's physical act (`bulwark hub unlock`, through the 0600 control socket): for 5 minutes,
 * or until one new browser has logged in, the admin page's account-wide ceiling does not hold
 * new browsers back; the per-address back-off still does. Returns the end, ms since the epoch.
 */
export function unlockHubLogin(store: HubStore, now: number): number {
  const until = now + defaultDeviceCookieConfig.physicalUnlockMs;
  store.setMeta(META.loginUnlockedUntil, String(until));
  return until;
}

/** Reads a JSON meta value with `parse`, or `empty()` when it is missing or damaged. */
export function metaOr<T>(store: HubStore, key: string, parse: (text: string) => T, empty: () => T): T {
  try {
    const t = store.getMeta(key);
    return t === undefined ? empty() : parse(t);
  } catch {
    return empty();
  }
}

/** The device cookie key in the hub's store (0600 SQLite), made at first use. */
function deviceCookieKeyOf(store: HubStore): Buffer {
  const existing = metaOr<Buffer | undefined>(store, META.deviceCookieKey, parseDeviceCookieKey, () => undefined);
  if (existing) return existing;
  const key = createDeviceCookieKey();
  store.setMeta(META.deviceCookieKey, serialiseDeviceCookieKey(key));
  return key;
}

/** The guarded password check of the hub's one owner account. */
export class HubOwnerLogin {
  readonly #store: HubStore;
  readonly #guard = new LoginGuard();
  readonly #cookieKey: Buffer;
  readonly #record: (req: WebRequest, e: SurfaceEvent) => void;
  readonly #warn: (m: string) => void;
  #lockout: LockoutState;
  #cookies: DeviceCookieState;
  #loggedUnlock = 0;
  #dummyHash: Promise<string> | undefined;

  constructor(store: HubStore, record: (req: WebRequest, e: SurfaceEvent) => void, warn: (m: string) => void) {
    this.#store = store;
    this.#record = record;
    this.#warn = warn;
    this.#lockout = metaOr(store, META.lockout, parseLockoutState, emptyLockoutState);
    this.#cookies = metaOr<DeviceCookieState>(
      store,
      META.deviceCookies,
      parseDeviceCookieState,
      emptyDeviceCookieState,
    );
    this.#cookieKey = deviceCookieKeyOf(store);
  }

  /**
   * Checks a guess at `who`'s password (undefined: the login form's name is nobody's, which costs
   * the same work and is counted on that name's own account, so it is answered as a real name is):
   * device cookie and lockout first (429 before any hash), then argon2id. A success refunds the
   * charge and yields a fresh device cookie.
   */
  async check(req: WebRequest, password: string, who: HubAccount | undefined): Promise<OwnerPasswordCheck> {
    const source = sourceKeyFor(req.sourceAddress);
    const identity = who?.name ?? UNKNOWN_IDENTITY;
    const attempt = who
      ? { source, account: who.account, deviceCookie: req.cookies.get(deviceCookieNameOf(who.account)) }
      : { source, account: this.#guard.unknownNameAccount(this.#cookieKey, triedNameOf(req)), unknown: true };
    const given = this.#stateWithUnlock(Date.now());
    const r = this.#guard.admit(given, this.#cookieKey, attempt, Date.now());
    // The unlock lives in its own meta key (the control socket writes it), never in the stored list.
    const cookies =
      r.state.cookies === given.cookies ? this.#cookies : { ...r.state.cookies, untrustedUnlockedUntil: 0 };
    this.#save({ lockout: r.state.lockout, cookies });
    if (!r.decision.allowed) {
      if (r.decision.scope === 'cookie') this.#warn('login: a device cookie is locked out after repeated failures');
      const wait = String(r.decision.retryAfterSeconds);
      this.#event(req, identity, 'locked-out', `retry in ${wait} s (${r.decision.scope})`);
      throw new HttpError(429, 'LOGIN_LOCKED_OUT', `too many failed attempts; try again in ${wait} s`, {
        'retry-after': wait,
      });
    }
    const priority = r.ticket.trusted ? 'trusted' : 'normal';
    const hash = who ? (who.added?.passwordHash ?? this.#store.getMeta(OWNER_KEY)) : undefined;
    // An unknown name costs a real check too, so timing does not tell which names exist.
    const checked = await verifyPassword(password, hash ?? (await this.#nobodysHash()), { priority });
    if (!checked.ok || !hash || !who) {
      this.#event(req, identity, 'failure');
      return { ok: false };
    }
    this.#event(req, identity, 'success', r.ticket.trusted ? 'trusted browser' : undefined);
    const done = this.#guard.recordSuccess(
      { lockout: this.#lockout, cookies: this.#cookies },
      this.#cookieKey,
      r.ticket,
      Date.now(),
    );
    this.#save(done.state);
    // The unlock was for one new browser: it has its cookie now.
    if (!r.ticket.trusted && r.ticket.unlocked) this.#store.setMeta(META.loginUnlockedUntil, undefined);
    if (r.ticket.trusted) this.#warn(`login: ${identity} logged in from a trusted browser (device cookie)`);
    const cookie = hostCookie(deviceCookieNameOf(who.account), done.deviceCookie, this.#guard.cookies.maxAgeSeconds);
    return { ok: true, deviceCookie: cookie };
  }

  /** Clears the login back-off of one account (the owner's lockout setting); the per-address back-off stays. */
  clearAccount(account: string): void {
    const accounts = this.#lockout.accounts.filter((a) => a.key !== account);
    this.#save({ lockout: { ...this.#lockout, accounts }, cookies: this.#cookies });
  }

  /**
   * A hash of nobody's password, made at the first name nobody has. A refused attempt (AUTH_BUSY in a
   * flood) is not kept: a kept refusal would answer every later unknown name 503 at once, unlike a real one.
   */
  #nobodysHash(): Promise<string> {
    this.#dummyHash ??= hashPassword('not-a-password-of-anyone').catch((err: unknown) => {
      this.#dummyHash = undefined;
      throw err;
    });
    return this.#dummyHash;
  }

  #event(req: WebRequest, identity: string, result: SurfaceEvent['result'], detail?: string): void {
    this.#record(req, { event: 'login', result, identity, ...(detail ? { detail } : {}) });
  }

  /** The guard's state with the control socket's unlock (if any) applied; logs a new unlock once. */
  #stateWithUnlock(now: number): LoginGuardState {
    const until = Number(this.#store.getMeta(META.loginUnlockedUntil) ?? 0);
    if (!Number.isSafeInteger(until) || until <= now) return { lockout: this.#lockout, cookies: this.#cookies };
    if (until !== this.#loggedUnlock) {
      this.#loggedUnlock = until;
      const when = new Date(until).toISOString();
      this.#warn(`login: a new browser may log in until ${when} (hub unlock); per-address back-off still applies`);
    }
    return { lockout: this.#lockout, cookies: { ...this.#cookies, untrustedUnlockedUntil: until } };
  }

  #save(next: LoginGuardState): void {
    if (next.lockout !== this.#lockout)
      this.#store.setMeta(META.lockout, serialiseLockoutState((this.#lockout = next.lockout)));
    if (next.cookies === this.#cookies) return;
    this.#cookies = next.cookies;
    this.#store.setMeta(META.deviceCookies, serialiseDeviceCookieState(this.#cookies));
  }
}
