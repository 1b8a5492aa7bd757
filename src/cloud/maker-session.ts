/**
 * The maker's sign-in to the cloud's maker pages: the maker's API token typed into a form, charged
 * to the source address before it is checked (the owner login's back-off), its SHA-256 compared in
 * constant time with the configured hash, then a session like an owner's: a random id in a
 * `__Host-` cookie, only its hash in the store (so any instance answers), idle and absolute
 * timeouts, and a CSRF token every form of the maker's pages carries.
 */
import { createHash, randomBytes } from 'node:crypto';
import { LockoutPolicy, isWellFormedToken, sourceKeyFor } from '../auth/index.ts';
import { checkSameOrigin, constantTimeEqual, hostCookie, HttpError, type WebRequest } from '../web/index.ts';
import { NotFoundError } from './errors.ts';
import { admitAttempt } from './owner-accounts.ts';
import type { OwnerApiConfig } from './owner-api-config.ts';
import type { CloudStore } from './store.ts';

/** The maker's session cookie. */
export const MAKER_COOKIE = '__Host-bulwark-cloud-maker';
/** The pre-session cookie of the maker's sign-in form. */
export const MAKER_LOGIN_COOKIE = '__Host-bulwark-cloud-maker-login';
/**
 * The account id of maker sessions in the sessions table: owner account ids are 22 random
 * characters, so no owner has it, and an owner session is never a maker's nor the reverse.
 */
const MAKER_ACCOUNT = 'maker';

/** A live maker session. */
export interface MakerSession {
  readonly idHash: string;
  readonly csrfToken: string;
}

const hashId = (id: string): string => createHash('sha256').update(id, 'utf8').digest('base64url');

/** Sign-in, session lookup and sign-out of the maker. */
export class MakerSessions {
  readonly #store: CloudStore;
  readonly #config: OwnerApiConfig;
  readonly #policy: LockoutPolicy;

  constructor(store: CloudStore, config: OwnerApiConfig) {
    this.#store = store;
    this.#config = config;
    this.#policy = new LockoutPolicy({ ...config.login });
  }

  /** True when the cloud was given a maker token (else every maker page answers 404). */
  get enabled(): boolean {
    return this.#config.makerTokenSha256 !== null;
  }

  /**
   * Checks a typed token (after its source's back-off); on success a new session, as a Set-Cookie
   * value, and the source's failures forgotten. Undefined: the wrong token.
   */
  async signIn(req: WebRequest, token: string): Promise<{ cookie: string } | undefined> {
    const expected = this.#config.makerTokenSha256;
    if (!expected) throw new NotFoundError();
    const key = `maker:src:${sourceKeyFor(req.sourceAddress)}`;
    await admitAttempt(this.#store, this.#policy, [{ key, threshold: this.#policy.config.sourceThreshold }]);
    const given = createHash('sha256').update(token.trim()).digest('hex');
    if (!constantTimeEqual(given, expected)) return undefined;
    await this.#store.clearAttempts(key);
    const id = randomBytes(32).toString('base64url');
    const now = Date.now();
    const record = {
      idHash: hashId(id),
      accountId: MAKER_ACCOUNT,
      csrfToken: randomBytes(32).toString('base64url'),
      createdAt: now,
      lastSeenAt: now,
    };
    await this.#store.createSession(record, this.#config.maxSessionsPerAccount);
    return { cookie: hostCookie(MAKER_COOKIE, id) };
  }

  /** The caller's live maker session, or undefined. */
  async sessionOf(req: WebRequest): Promise<MakerSession | undefined> {
    if (!this.enabled) return undefined;
    const id = req.cookies.get(MAKER_COOKIE);
    if (!id || !isWellFormedToken(id)) return undefined;
    const s = await this.#store.session(hashId(id));
    if (!s || s.accountId !== MAKER_ACCOUNT) return undefined;
    const now = Date.now();
    const c = this.#config;
    if (now < s.createdAt || now - s.lastSeenAt >= c.idleTimeoutMs || now - s.createdAt >= c.absoluteTimeoutMs) {
      await this.#store.deleteSession(s.idHash);
      return undefined;
    }
    if (now - s.lastSeenAt > 60_000) await this.#store.touchSession(s.idHash, now);
    return { idHash: s.idHash, csrfToken: s.csrfToken };
  }

  /** The session of a maker page, or 404 (no maker token) or a redirect to the sign-in form. */
  async require(req: WebRequest): Promise<MakerSession> {
    if (!this.enabled) throw new NotFoundError();
    const s = await this.sessionOf(req);
    if (!s) throw new HttpError(303, 'AUTH_REQUIRED', 'sign in first', { location: '/maker/login' });
    return s;
  }

  /** The same-origin rule and the session's CSRF token, for each form a maker page posts. */
  checkForm(req: WebRequest, s: MakerSession): void {
    checkSameOrigin(req);
    const token = req.body.csrf;
    if (typeof token !== 'string' || !constantTimeEqual(token, s.csrfToken))
      throw new HttpError(403, 'CSRF_TOKEN_INVALID', 'missing or wrong CSRF token');
  }

  /** Ends the session; the Set-Cookie value that removes its cookie. */
  async signOut(s: MakerSession): Promise<string> {
    await this.#store.deleteSession(s.idHash);
    return hostCookie(MAKER_COOKIE, '', 0);
  }
}
