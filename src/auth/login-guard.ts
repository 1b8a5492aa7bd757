/**
 * The login rule of a surface that keeps its own counters (the device's and the hub's admin
 * pages): device cookies before lockout. A pure core over {@link LockoutPolicy} and
 * {@link DeviceCookiePolicy}; the caller persists the state and sets the cookie.
 *
 * - An attempt with a valid device cookie for the claimed account ("trusted") is limited per
 *   cookie only: never by the per-address back-off, never by the account-wide ceiling.
 * - Any other attempt ("untrusted") keeps the per-address back-off, and the account-wide
 *   ceiling applies to untrusted attempts only; a physical act on the unit lifts that ceiling
 *   (not the per-address back-off) until it runs out or one new browser has logged in.
 * - A success issues a fresh device cookie.
 * - A name nobody has is counted as its own account ({@link LoginGuard.unknownNameAccount}), in a
 *   table of its own, so its answers are those of a real person's name and real records stay put.
 */
import { createHmac } from 'node:crypto';
import type { LockoutAttempt, LockoutConfig, LockoutState } from './lockout.ts';
import { LockoutPolicy } from './lockout.ts';
import { DeviceCookiePolicy, type DeviceCookieConfig, type DeviceCookieState } from './device-cookie.ts';

/** Separates the MAC of an unknown name from the device cookies made with the same key. */
const UNKNOWN_NAME_LABEL = 'bulwark lockout: a name nobody has\0';

/** Everything a {@link LoginGuard} decides on. Both parts are persisted by the caller. */
export interface LoginGuardState {
  readonly lockout: LockoutState;
  readonly cookies: DeviceCookieState;
}

/** One login attempt as the guard sees it. */
export interface LoginGuardAttempt extends LockoutAttempt {
  /** The device cookie the browser sent, if any (unverified). */
  readonly deviceCookie?: string | undefined;
}

/** What the guard admitted: hand it back to {@link LoginGuard.recordSuccess}. */
export type LoginTicket =
  | { readonly trusted: true; readonly account: string; readonly cookieId: string }
  | { readonly trusted: false; readonly account: string; readonly attempt: LockoutAttempt; readonly unlocked: boolean };

/** The answer to "may this attempt be checked now?". */
export type LoginGuardDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterSeconds: number; readonly scope: 'source' | 'account' | 'cookie' };

/** Limits of a {@link LoginGuard}: the untrusted lockout and the device cookies. */
export interface LoginGuardConfig {
  readonly lockout: Partial<LockoutConfig>;
  readonly deviceCookie: Partial<DeviceCookieConfig>;
}

/**
 * Device cookies in front of the lockout.
 *
 * @example
 * const guard = new LoginGuard();
 * const r = guard.admit(state, key, { source, account: 'admin', deviceCookie: req.cookies.get(NAME) }, Date.now());
 * state = r.state; persist(state);
 * if (!r.decision.allowed) return answer429(r.decision.retryAfterSeconds);
 * if (await checkPassword()) {
 *   const ok = guard.recordSuccess(state, key, r.ticket, Date.now());
 *   state = ok.state; setCookie(ok.deviceCookie);
 * }
 */
export class LoginGuard {
  readonly lockout: LockoutPolicy;
  readonly cookies: DeviceCookiePolicy;

  constructor(config: Partial<LoginGuardConfig> = {}) {
    this.lockout = new LockoutPolicy(config.lockout ?? {});
    this.cookies = new DeviceCookiePolicy(config.deviceCookie ?? {});
  }

  /** Checks the attempt and, when allowed, charges it at once; call {@link recordSuccess} if it then succeeds. */
  admit(
    state: LoginGuardState,
    key: Uint8Array,
    attempt: LoginGuardAttempt,
    now: number,
  ): { decision: LoginGuardDecision; ticket: LoginTicket; state: LoginGuardState } {
    const trust = this.cookies.verify(key, attempt.account, attempt.deviceCookie, now);
    if (trust.trusted) {
      const r = this.cookies.admit(state.cookies, trust.id, now);
      const ticket: LoginTicket = { trusted: true, account: attempt.account, cookieId: trust.id };
      return { decision: r.decision, ticket, state: { lockout: state.lockout, cookies: r.state } };
    }
    const cookies = this.cookies.prune(state.cookies, now);
    const unlocked = this.cookies.isUnlocked(cookies, now);
    const plain: LockoutAttempt = {
      source: attempt.source,
      account: attempt.account,
      unknown: attempt.unknown === true,
    };
    const r = this.lockout.admit(state.lockout, plain, now, { accountLifted: unlocked });
    const ticket: LoginTicket = { trusted: false, account: attempt.account, attempt: plain, unlocked };
    return { decision: r.decision, ticket, state: { lockout: r.state, cookies } };
  }

  /** The admitted attempt succeeded: refunds its charge and returns a fresh device cookie value to set. */
  recordSuccess(
    state: LoginGuardState,
    key: Uint8Array,
    ticket: LoginTicket,
    now: number,
  ): { state: LoginGuardState; deviceCookie: string } {
    const deviceCookie = this.cookies.issue(key, ticket.account, now);
    if (ticket.trusted) {
      const cookies = this.cookies.recordSuccess(state.cookies, ticket.cookieId, now);
      return { state: { lockout: state.lockout, cookies }, deviceCookie };
    }
    const lockout = this.lockout.recordSuccess(state.lockout, ticket.attempt, now);
    // The unlock was for one new browser: it has its cookie now, so the ceiling is back for the rest.
    const cookies = ticket.unlocked ? this.cookies.endUnlock(state.cookies) : state.cookies;
    return { state: { lockout, cookies }, deviceCookie };
  }

  /**
   * The lockout account of a name nobody has, to admit with `unknown: true`: one per name (any case),
   * so guesses at it back off exactly as guesses at a real name do. It is a MAC of the name under
   * the installation's `key`, so the stored counters never hold what was typed (people type
   * passwords into the name field).
   */
  unknownNameAccount(key: Uint8Array, name: string): string {
    const mac = createHmac('sha256', key).update(UNKNOWN_NAME_LABEL).update(name.toLowerCase(), 'utf8').digest();
    return `?${mac.subarray(0, 16).toString('base64url')}`;
  }

  /** A physical act on the unit: lifts the account-wide ceiling for new browsers for `physicalUnlockMs`. */
  unlock(state: LoginGuardState, now: number): LoginGuardState {
    return { lockout: state.lockout, cookies: this.cookies.unlock(state.cookies, now) };
  }
}
