/**
 * The owner accounts behind the cloud's API and app: sign-up under the password policy with the
 * address confirmed by a mailed link, the guarded password check (device cookies, back-off per
 * source and per account, all before any hash), password reset and change, notifications by mail,
 * sessions and the failure counters every instance shares through the store.
 *
 * Sign-up, login and the reset request answer the same, in content and in time, whether the
 * address has an account or not: the same hashing work on both paths, and whatever differs (the
 * token, the message) happens after the answer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { InvalidInputError } from '../errors/index.ts';
import { hostCookie, requiredField, type SurfaceEvent, type WebRequest } from '../web/index.ts';
import {
  LockoutPolicy,
  DeviceCookiePolicy,
  hashPassword,
  verifyPassword,
  checkPasswordStrength,
  sourceKeyFor,
  isWellFormedToken,
  type HashPriority,
} from '../auth/index.ts';
import { AccountError, AccountStateError, RateLimitedError } from './errors.ts';
import type { CloudStore, AccountRecord, SessionRecord } from './store.ts';
import type { OwnerApiConfig } from './owner-api-config.ts';
import type { Mailer, MailFacts, MailKind } from './mail.ts';
import { checkLink, issueLink, spendLink, type AccountLinkConfig } from './account-links.ts';

/** The owner's session cookie. */
export const SESSION_COOKIE = '__Host-bulwark-cloud';
/** The pre-session form cookie of the login and register forms. */
export const LOGIN_COOKIE = '__Host-bulwark-cloud-login';
/** Marks a browser (or app) that has logged in before (OWASP device cookie); signed, bound to the e-mail. */
const DEVICE_COOKIE = '__Host-bulwark-cloud-device';
const EMAIL = /^[^\s@<>"'`]{1,64}@[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63}){1,8}$/;

/** What an owner route's handler gets besides the request. */
export interface OwnerCtx {
  account?: AccountRecord;
  session?: SessionRecord & { id: string };
  /** True when the session came as `Authorization: Bearer` (an app: no CSRF token asked). */
  bearer?: boolean;
}

/** How a password check ended: the account and a fresh device cookie (a Set-Cookie value) on success. */
export interface PasswordCheck {
  readonly account?: AccountRecord;
  readonly deviceCookie?: string;
  /** True when the browser had a valid device cookie (so a sign-in from it is not new). */
  readonly trusted?: boolean;
}

/** A new session: its id (the bearer token and cookie value), CSRF token and Set-Cookie value. */
export interface NewSession {
  readonly id: string;
  readonly csrfToken: string;
  readonly cookie: string;
}

/** A required string field of a request body, at most `max` characters. */
export function field(body: Readonly<Record<string, unknown>>, name: string, max = 256): string {
  return requiredField(body[name], name, max);
}

/** An e-mail address in its one stored form (trimmed, lower case), or a 400. */
export function normaliseEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) {
    throw new InvalidInputError('that is not an e-mail address', { field: 'email' });
  }
  return email;
}

function hashId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('base64url');
}

/** Refuses (429) while any of `keys` is backing off, then charges all of them one failure. */
export async function admitAttempt(
  store: CloudStore,
  policy: LockoutPolicy,
  keys: ReadonlyArray<{ key: string; threshold: number }>,
): Promise<void> {
  const now = Date.now();
  const seen = await store.attempts(keys.map((k) => k.key));
  for (const k of keys) {
    const a = seen.get(k.key);
    if (!a) continue;
    const until = Math.min(a.lastFailureAt, now) + policy.delayAfter(a.failures, k.threshold);
    if (until > now)
      throw new RateLimitedError(Math.ceil((until - now) / 1000), k.key.split(':').slice(0, 2).join(':'));
  }
  await store.recordFailure(
    keys.map((k) => k.key),
    now,
  );
}

/** Options of {@link OwnerAccounts}. */
export interface OwnerAccountsOptions {
  readonly store: CloudStore;
  readonly config: OwnerApiConfig;
  /** The key that signs device cookies, shared by every instance (the store's 'device-cookie' secret). */
  readonly deviceCookieKey: Buffer;
  /** Journal entries about a request (logins). */
  readonly record: (req: WebRequest, event: SurfaceEvent) => void;
  readonly log: (message: string) => void;
  /** The cloud's outgoing mail. */
  readonly mailer: Mailer;
  /** The origin links in messages point to, e.g. 'https://cloud.example.com' (read when a link is made). */
  readonly linkBase: () => string;
  readonly links: AccountLinkConfig;
}

/** Messages to one address per day at most (sign-up attempts, resets): a stranger cannot flood a mailbox. */
const MAILS_PER_ADDRESS_PER_DAY = 30;
/** ... and at most this many for one asker (a source address, bucketed as the login back-off buckets it). */
const MAILS_PER_ADDRESS_PER_SOURCE_PER_DAY = 5;

/** Registration, password checks and sessions of the owner accounts. */
export class OwnerAccounts {
  readonly #store: CloudStore;
  readonly #config: OwnerApiConfig;
  readonly #deviceCookieKey: Buffer;
  readonly #record: OwnerAccountsOptions['record'];
  readonly #log: (message: string) => void;
  readonly #loginPolicy: LockoutPolicy;
  readonly #cookiePolicy: DeviceCookiePolicy;
  readonly #mailer: Mailer;
  readonly #linkBase: () => string;
  readonly #links: AccountLinkConfig;
  readonly #pending = new Set<Promise<void>>();
  #dummyHash: Promise<string> | undefined;

  constructor(o: OwnerAccountsOptions) {
    this.#store = o.store;
    this.#config = o.config;
    this.#deviceCookieKey = o.deviceCookieKey;
    this.#record = o.record;
    this.#log = o.log;
    this.#loginPolicy = new LockoutPolicy({ ...o.config.login });
    this.#cookiePolicy = new DeviceCookiePolicy({ ...o.config.deviceCookie });
    this.#mailer = o.mailer;
    this.#linkBase = o.linkBase;
    this.#links = o.links;
  }

  /** Runs `work` after the answer went out; a failure is logged by kind only. */
  #later(what: string, work: () => Promise<void>): void {
    const p: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(work)
      .catch((err: unknown) => this.#log(`${what} failed: ${(err as { code?: string }).code ?? 'error'}`))
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  /** Resolves when the work started after earlier answers is done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    await this.#mailer.idle();
  }

  /** A link into the app carrying `token`. */
  linkTo(path: string, token: string): string {
    return `${this.#linkBase()}${path}?token=${encodeURIComponent(token)}`;
  }

  /**
   * True while the address may get another account message today from this asker (a source bucket, or an inviting
   * owner): at most MAILS_PER_ADDRESS_PER_SOURCE_PER_DAY per (address, asker), so one stranger cannot use up the
   * owner's own resets, and MAILS_PER_ADDRESS_PER_DAY per address in all, so many cannot bury the address in mail.
   */
  async withinMailBudget(email: string, asker: string): Promise<boolean> {
    const keys = [`mail:${email}`, `mail:${email}:${asker}`];
    const limits = [MAILS_PER_ADDRESS_PER_DAY, MAILS_PER_ADDRESS_PER_SOURCE_PER_DAY];
    const seen = await this.#store.attempts(keys);
    const now = Date.now();
    for (const [i, key] of keys.entries()) {
      const s = seen.get(key);
      if (s && now - s.lastFailureAt >= 86_400_000) await this.#store.clearAttempts(key);
      else if (s && s.failures >= limits[i]!) {
        this.#log('mail: an address reached its daily limit of account messages');
        return false;
      }
    }
    await this.#store.recordFailure(keys, now);
    return true;
  }

  /** Mails the account (in the background) and logs the notification (never the link). */
  notify(account: Pick<AccountRecord, 'id' | 'email'>, kind: MailKind, facts: MailFacts, detail: string): void {
    this.#later(`notification ${kind}`, async () => {
      this.#mailer.send(kind, account.email, facts);
      await this.#store.addNotification({
        id: randomBytes(12).toString('base64url'),
        accountId: account.id,
        kind,
        at: Date.now(),
        detail,
      });
    });
  }

  /**
   * Charges a login attempt before any hash. With a valid device cookie for `email` only that
   * cookie's failures count (429 while it is on the lockout list); without one, the source's
   * back-off and the account-wide ceiling. Returns the counter a success clears.
   */
  async #admitLogin(req: WebRequest, email: string): Promise<{ trusted: boolean; clearKey: string }> {
    const now = Date.now();
    const trust = this.#cookiePolicy.verify(this.#deviceCookieKey, email, req.cookies.get(DEVICE_COOKIE), now);
    if (!trust.trusted) {
      const sourceKey = `login:src:${sourceKeyFor(req.sourceAddress)}`;
      const lc = this.#loginPolicy.config;
      await admitAttempt(this.#store, this.#loginPolicy, [
        { key: sourceKey, threshold: lc.sourceThreshold },
        { key: `login:acct:${email}`, threshold: lc.accountThreshold },
      ]);
      return { trusted: false, clearKey: sourceKey };
    }
    const key = `login:cookie:${trust.id}`;
    const seen = (await this.#store.attempts([key])).get(key);
    const until = this.#cookiePolicy.lockedUntil(seen, now);
    if (until > now) {
      this.#log('login: a device cookie is locked out after repeated failures');
      throw new RateLimitedError(Math.ceil((until - now) / 1000), 'login:cookie');
    }
    if (seen && now - seen.lastFailureAt >= this.#cookiePolicy.config.cookieForgetAfterMs) {
      await this.#store.clearAttempts(key);
    }
    await this.#store.recordFailure([key], now);
    return { trusted: true, clearKey: key };
  }

  #event(req: WebRequest, result: SurfaceEvent['result'], detail?: string): void {
    this.#record(req, { event: 'login', result, ...(detail ? { detail } : {}) });
  }

  /** The password check behind every login; on success also a fresh device cookie (a Set-Cookie value). */
  async checkPassword(req: WebRequest, email: string, password: string): Promise<PasswordCheck> {
    const { trusted, clearKey } = await this.#admitLogin(req, email).catch((err: unknown) => {
      if (err instanceof RateLimitedError) this.#event(req, 'locked-out', `retry in ${err.retryAfterSeconds} s`);
      throw err;
    });
    const priority: HashPriority = trusted ? 'trusted' : 'normal';
    const account = await this.#store.accountByEmail(email);
    if (!account) {
      // The same work as a real check, so timing does not tell whether the account exists.
      this.#dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await this.#dummyHash, { priority });
      this.#event(req, 'failure');
      return {};
    }
    const result = await verifyPassword(password, account.passwordHash, { priority });
    if (!result.ok) {
      this.#event(req, 'failure');
      return {};
    }
    // An address nobody has confirmed opens no session, and fails as a wrong password does: otherwise signing up
    // with an address and logging in would tell whether it was taken (the sign-up's answer is the same for both).
    if (account.verifiedAt == null) {
      this.#event(req, 'failure', 'address not confirmed');
      return {};
    }
    this.#event(req, 'success', trusted ? 'trusted browser' : undefined);
    await this.#store.clearAttempts(clearKey);
    if (result.needsRehash) await this.#store.updatePasswordHash(account.id, await hashPassword(password));
    if (trusted) this.#log('login from a trusted browser (device cookie)');
    const value = this.#cookiePolicy.issue(this.#deviceCookieKey, email, Date.now());
    return { account, trusted, deviceCookie: hostCookie(DEVICE_COOKIE, value, this.#cookiePolicy.maxAgeSeconds) };
  }

  /** After a login: a browser without a device cookie is a new sign-in, and the owner hears of it. */
  signedIn(req: WebRequest, check: PasswordCheck): void {
    if (check.account && !check.trusted)
      this.notify(check.account, 'sign-in', { source: sourceKeyFor(req.sourceAddress) }, 'new sign-in');
  }

  async #strongPassword(email: string, password: string): Promise<void> {
    const userInputs = [email, email.split('@')[0]!, 'bulwark', 'cloud'];
    const strength = await checkPasswordStrength(password, { userInputs });
    if (!strength.ok) {
      const reasons = strength.reasons.map((r) => r.message);
      throw new AccountError('PASSWORD_POLICY', 'choose a stronger password', { reasons });
    }
  }

  /**
   * Sign-up under the password policy. A new address gets an unconfirmed account and a link to
   * confirm it; an address with an account gets a message saying someone tried. Both paths hash
   * the password and try the insert, and answer nothing that tells them apart.
   */
  async signUp(req: WebRequest, emailRaw: string, password: string): Promise<void> {
    const email = normaliseEmail(emailRaw);
    // Sign-up is a guess at nothing, but it costs a hash: a budget per source of its own, so a sign-up never clears
    // the source's login back-off (a sign-up between password guesses would otherwise reset it).
    const sourceKey = `signup:src:${sourceKeyFor(req.sourceAddress)}`;
    const threshold = this.#loginPolicy.config.sourceThreshold * 4;
    await admitAttempt(this.#store, this.#loginPolicy, [{ key: sourceKey, threshold }]);
    await this.#strongPassword(email, password);
    const account: AccountRecord = {
      id: randomBytes(16).toString('base64url'),
      email,
      passwordHash: await hashPassword(password),
      createdAt: Date.now(),
    };
    const created = await this.#store.createAccount(account).then(
      () => true,
      (err: unknown) => {
        if (err instanceof AccountError && err.code === 'ACCOUNT_EXISTS') return false;
        throw err;
      },
    );
    await this.#store.clearAttempts(sourceKey);
    this.#log('sign-up request');
    this.#later('sign-up mail', async () => {
      if (!(await this.withinMailBudget(email, sourceKeyFor(req.sourceAddress)))) return;
      if (!created) return this.#mailer.send('signup-existing', email, { link: `${this.#linkBase()}/reset` });
      const token = await issueLink(this.#store, {
        accountId: account.id,
        purpose: 'verify',
        lifetimeMs: this.#links.verifyMs,
      });
      this.#mailer.send('verify', email, { link: this.linkTo('/verify', token) });
    });
  }

  /** Confirms an address with the token of its link; resolves with the account id. */
  async confirmAddress(tokenText: unknown): Promise<string> {
    const t = await checkLink(this.#store, tokenText, 'verify');
    await spendLink(this.#store, t);
    await this.#store.markVerified(t.accountId, Date.now());
    this.#log('an address was confirmed');
    return t.accountId;
  }

  /** Refuses (403) an account whose address is not confirmed yet. */
  requireConfirmed(account: AccountRecord): void {
    if (account.verifiedAt == null)
      throw new AccountStateError('ACCOUNT_UNVERIFIED', 'confirm your e-mail address first: open the link we sent');
  }

  /**
   * A reset request: the same answer and work for any address; the link (15 minutes by default)
   * is made and mailed after the answer, and only when the address has an account.
   */
  async requestReset(req: WebRequest, emailRaw: string): Promise<void> {
    const email = normaliseEmail(emailRaw);
    const threshold = this.#loginPolicy.config.sourceThreshold * 4;
    await admitAttempt(this.#store, this.#loginPolicy, [
      { key: `reset:src:${sourceKeyFor(req.sourceAddress)}`, threshold },
    ]);
    this.#log('password reset requested');
    this.#later('reset mail', async () => {
      // The budget first, for any address: the work after the answer differs as little as it can.
      if (!(await this.withinMailBudget(email, sourceKeyFor(req.sourceAddress)))) return;
      const account = await this.#store.accountByEmail(email);
      if (!account) return;
      const token = await issueLink(this.#store, {
        accountId: account.id,
        purpose: 'reset',
        lifetimeMs: this.#links.resetMs,
      });
      const minutes = Math.round(this.#links.resetMs / 60_000);
      this.#mailer.send('reset', email, { link: this.linkTo('/reset', token), minutes });
    });
  }

  /** Sets a new password with a reset link's token for this address; every session of the account ends. */
  async completeReset(tokenText: unknown, emailRaw: string, password: string): Promise<void> {
    const email = normaliseEmail(emailRaw);
    const account = await this.#store.accountByEmail(email);
    const t = await checkLink(this.#store, tokenText, 'reset', account?.id ?? '');
    await this.#strongPassword(email, password);
    await spendLink(this.#store, t);
    await this.#store.updatePasswordHash(t.accountId, await hashPassword(password));
    // Any other reset link mailed before this one dies with it.
    await this.#store.spendUnusedAccountTokens(t.accountId, 'reset', Date.now());
    // The link reached the mailbox, so the address is confirmed too.
    await this.#store.markVerified(t.accountId, Date.now());
    await this.#store.deleteSessionsOf(t.accountId);
    this.notify(account!, 'password-changed', {}, 'password reset by link');
  }

  /** Changes the password with the current one; the account's other sessions end. */
  async changePassword(req: WebRequest, ctx: OwnerCtx, current: string, next: string): Promise<void> {
    const { account } = await this.checkPassword(req, ctx.account!.email, current);
    if (!account) throw new AccountError('LOGIN_FAILED', 'the current password is wrong');
    await this.#strongPassword(account.email, next);
    await this.#store.updatePasswordHash(account.id, await hashPassword(next));
    await this.#store.spendUnusedAccountTokens(account.id, 'reset', Date.now());
    await this.#store.deleteSessionsOf(account.id, ctx.session!.idHash);
    this.notify(account, 'password-changed', {}, 'password changed');
  }

  /** Starts a session for the account (the oldest goes past the per-account cap). */
  async newSession(accountId: string): Promise<NewSession> {
    const id = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const now = Date.now();
    const record = { idHash: hashId(id), accountId, csrfToken, createdAt: now, lastSeenAt: now };
    await this.#store.createSession(record, this.#config.maxSessionsPerAccount);
    return { id, csrfToken, cookie: hostCookie(SESSION_COOKIE, id) };
  }

  /** The caller's live session (bearer token first, else the cookie), or undefined. */
  async sessionOf(req: WebRequest): Promise<OwnerCtx | undefined> {
    const auth = req.headers.authorization;
    const bearer = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    const id = bearer ?? req.cookies.get(SESSION_COOKIE);
    if (!id || !isWellFormedToken(id)) return undefined;
    const s = await this.#store.session(hashId(id));
    const now = Date.now();
    if (!s) return undefined;
    const c = this.#config;
    if (now < s.createdAt || now - s.lastSeenAt >= c.idleTimeoutMs || now - s.createdAt >= c.absoluteTimeoutMs) {
      await this.#store.deleteSession(s.idHash);
      return undefined;
    }
    if (now - s.lastSeenAt > 60_000) await this.#store.touchSession(s.idHash, now);
    const account = await this.#store.accountById(s.accountId);
    if (!account) return undefined;
    return { account, session: { ...s, id }, bearer: bearer !== undefined };
  }

  /** Deletes the account and everything about it: its rows, and the messages to it in the maildir. */
  async deleteAccount(account: AccountRecord): Promise<void> {
    await this.#store.deleteAccount(account.id);
    await this.#mailer.forget(account.email);
  }

  /** Ends the caller's session; returns the Set-Cookie value that removes its cookie. */
  async endSession(ctx: OwnerCtx): Promise<string> {
    await this.#store.deleteSession(ctx.session!.idHash);
    return clearedSessionCookie();
  }
}

/** The Set-Cookie value that removes the session cookie. */
export function clearedSessionCookie(): string {
  return hostCookie(SESSION_COOKIE, '', 0);
}
