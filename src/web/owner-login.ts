/**
 * The secret checks of the device's page: each person's login password, the setup code and the
 * current password on a change. Each person has their own lockout account and device cookie
 * (`admin`, the first owner, keeps the ones it always had), so one person's wrong passwords
 * never hold back another. Every check goes through src/auth's LoginGuard first (device cookie,
 * then the per-source and account-wide back-off, all before any hash), so a guessing flood never
 * costs a hash and never holds back the owner's own browser. A name nobody has is counted on its
 * own account too (kept apart, so it never evicts a person's): its answers are a real name's.
 */
import { randomBytes } from 'node:crypto';
import {
  LoginGuard,
  setUserPassword,
  type DeviceCookieConfig,
  type HashPriority,
  type LoginGuardAttempt,
  type LoginGuardDecision,
  type LoginGuardState,
  type LoginTicket,
  type LockoutConfig,
} from '../auth/index.ts';
import type { DeviceBundle } from '../bundle/index.ts';
import { hashPassword, sourceKeyFor, verifyPassword } from './auth-bridge.ts';
import { HttpError, hostCookie, type WebRequest } from './http.ts';
import type { WebStateStore } from './owner-state.ts';
import { DEVICE_COOKIE, deviceCookieNameOf, type DeviceAccount } from './users.ts';

/** The first owner's user name on every device. */
export const OWNER_NAME = 'admin';
/**
 * The account the login route names for a name nobody has (it journals it so); {@link OwnerLogin.guarded}
 * counts the form's name on its own account instead. device-routes.ts keeps its own copy of this value.
 */
export const UNKNOWN_ACCOUNT = '(unknown)';
/** Marks the first owner's browser that has logged in before (OWASP device cookie); signed, bound to the account. */
export { DEVICE_COOKIE };

/** How a guarded secret check ended; `deviceCookie` (a Set-Cookie value) on success. */
export interface GuardedCheck {
  readonly ok: boolean;
  readonly trusted: boolean;
  readonly deviceCookie?: string;
}

/** Where a refused attempt is journalled. */
export type LockedOutRecorder = (req: WebRequest, event: string, account: string, detail: string) => void;

const LOCKED_OUT_DETAIL = {
  cookie: 'device cookie locked out',
  account: 'account-wide ceiling (new browsers)',
  source: 'source backing off',
} as const;

/** The guarded checks of one device's owner account. */
export class OwnerLogin {
  readonly guard: LoginGuard;
  readonly #state: WebStateStore;
  readonly #bundle: DeviceBundle;
  readonly #onLockedOut: LockedOutRecorder;
  #dummyHash: Promise<string> | undefined;

  constructor(
    state: WebStateStore,
    bundle: DeviceBundle,
    onLockedOut: LockedOutRecorder,
    config: { lockout: Partial<LockoutConfig>; deviceCookie: Partial<DeviceCookieConfig> },
  ) {
    this.#state = state;
    this.#bundle = bundle;
    this.#onLockedOut = onLockedOut;
    this.guard = new LoginGuard({ lockout: config.lockout, deviceCookie: config.deviceCookie });
  }

  /** The owner's password hash: the one they set, or the label's while they have set none. */
  currentHash(): string | undefined {
    const sticker = this.#bundle.unit.initialPasswordMode === 'sticker' ? this.#bundle.adminPasswordHash : undefined;
    return this.#state.owner?.passwordHash ?? sticker;
  }

  /** The Set-Cookie value of `account`'s device cookie (each person has their own cookie name). */
  deviceCookieHeader(value: string, account: string = OWNER_NAME): string {
    return hostCookie(deviceCookieNameOf(account), value, this.guard.cookies.maxAgeSeconds);
  }

  /** A device cookie for the owner, issued without a password (the setup code proved them). */
  issueDeviceCookie(): string {
    return this.deviceCookieHeader(this.guard.cookies.issue(this.#state.deviceCookieKey, OWNER_NAME, Date.now()));
  }

  /**
   * Runs a guarded secret check for `account`: device cookie first, then lockout, both before any
   * hash (429 while waiting). A trusted browser's hash waits ahead of a guessing flood. On success
   * the answer carries a fresh device cookie (`deviceCookie`, a Set-Cookie value). With
   * {@link UNKNOWN_ACCOUNT}, the login form's name is counted on its own account, as a person's is.
   */
  async guarded(
    req: WebRequest,
    account: string,
    event: string,
    check: (priority: HashPriority) => Promise<boolean>,
  ): Promise<GuardedCheck> {
    const ticket = this.#admit(req, account, event);
    const ok = await check(ticket.trusted ? 'trusted' : 'normal');
    if (!ok) return { ok, trusted: ticket.trusted };
    const r = this.guard.recordSuccess(this.guardState(), this.#state.deviceCookieKey, ticket, Date.now());
    this.saveGuardState(r.state);
    return { ok, trusted: ticket.trusted, deviceCookie: this.deviceCookieHeader(r.deviceCookie, account) };
  }

  /** Checks a person's password (rehashing an outdated hash); an unknown user costs the same work. */
  async checkPassword(who: DeviceAccount | undefined, password: string, priority: HashPriority): Promise<boolean> {
    const hash = who?.added ? who.added.passwordHash : who ? this.currentHash() : undefined;
    if (!who || !hash) {
      // Same work as a real check, so timing does not reveal whether a user exists.
      await verifyPassword(password, await this.#nobodysHash(), { priority });
      return false;
    }
    const result = await verifyPassword(password, hash, { priority });
    if (result.ok && result.needsRehash && who.added) {
      const passwordHash = await hashPassword(password, undefined, { priority });
      await this.#state.saveUsers(setUserPassword(this.#state.users, who.name, passwordHash, Date.now()));
    } else if (result.ok && result.needsRehash) {
      const passwordHash = await hashPassword(password, undefined, { priority });
      const source = this.#state.owner?.source ?? 'sticker';
      const changedAt = new Date().toISOString();
      await this.#state.saveOwner({ version: 1, username: OWNER_NAME, passwordHash, changedAt, source });
    }
    return result.ok;
  }

  /**
   * A hash of nobody's password, made at the first name nobody has. A refused attempt (AUTH_BUSY in a
   * flood) is not kept: a kept refusal would answer every later unknown name 503 at once, unlike a real one.
   */
  #nobodysHash(): Promise<string> {
    this.#dummyHash ??= hashPassword(randomBytes(16).toString('hex')).catch((err: unknown) => {
      this.#dummyHash = undefined;
      throw err;
    });
    return this.#dummyHash;
  }

  /** The guard's state as stored. */
  guardState(): LoginGuardState {
    return { lockout: this.#state.lockout, cookies: this.#state.deviceCookies };
  }

  /** Stores what changed in the guard's state. */
  saveGuardState(next: LoginGuardState): void {
    if (next.lockout !== this.#state.lockout) {
      this.#state.lockout = next.lockout;
      this.#state.markDirty('lockout');
    }
    if (next.cookies !== this.#state.deviceCookies) {
      this.#state.deviceCookies = next.cookies;
      this.#state.markDirty('cookies');
    }
  }

  /** Charges the attempt before any hash; answers 429 (journalled under `event`) while it must wait. */
  #admit(req: WebRequest, account: string, event: string): LoginTicket {
    const r = this.guard.admit(this.guardState(), this.#state.deviceCookieKey, this.#attempt(req, account), Date.now());
    this.saveGuardState(r.state);
    if (!r.decision.allowed) {
      // The journal names the person; the id their cookies are bound to stays out of it.
      this.#onLockedOut(req, event, account.split('#')[0]!, lockedOutDetail(r.decision));
      const wait = String(r.decision.retryAfterSeconds);
      throw new HttpError(429, 'LOGIN_LOCKED_OUT', `too many failed attempts; try again in ${wait} s`, {
        'retry-after': wait,
      });
    }
    return r.ticket;
  }

  /** The attempt as the guard counts it: a name nobody has on that name's own account, like a person's. */
  #attempt(req: WebRequest, account: string): LoginGuardAttempt {
    const source = sourceKeyFor(req.sourceAddress);
    if (account !== UNKNOWN_ACCOUNT)
      return { source, account, deviceCookie: req.cookies.get(deviceCookieNameOf(account)) };
    const key = this.#state.deviceCookieKey;
    return { source, account: this.guard.unknownNameAccount(key, triedNameOf(req)), unknown: true };
  }
}

/** The name the login form gave (the route found nobody of that name); '' when there is none. */
function triedNameOf(req: WebRequest): string {
  const name = req.body.username;
  return typeof name === 'string' ? name : '';
}

function lockedOutDetail(d: LoginGuardDecision): string {
  return d.allowed ? '' : LOCKED_OUT_DETAIL[d.scope];
}
