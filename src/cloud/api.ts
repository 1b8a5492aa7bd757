/**
 * The owner API (HTTPS, JSON, `/v1`) and the owner web app on the same server, with the
 * device page's rules: the manufacturer-CA certificate, security headers and strict CSP on every
 * answer, argon2id passwords under the same strength policy, device cookies (a browser that
 * logged in before is limited per cookie only) and, for other browsers, back-off per source and
 * per account, all before any hash is computed, `__Host-` session cookies, a CSRF token plus an Origin
 * check on every cookie-authenticated state change. API clients may instead send the session
 * token as `Authorization: Bearer` (not ambient, so no CSRF). Another owner's device answers
 * 404 exactly like a device that does not exist.
 *
 * Wrong claim codes count against the account and the source that sent them, never against the
 * serial: a stranger who knows a serial cannot keep its owner from claiming it. A flood against
 * one serial is logged and flagged to the maker in the store.
 *
 * Sessions, attempt counters, the pre-login CSRF key and the device cookie key live in the
 * store, so any instance answers any request.
 */
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { BulwarkError, InvalidInputError } from '../errors/index.ts';
import { validateAdmissionConfig, type AdmissionConfig } from '../admission/index.ts';
import { formatSource, type JournalRecordInput } from '../journal/index.ts';
import {
  Router, HttpError, parseBody, parseCookies, hostCookie, writeResponse, defaultHttpLimits, listenHttps, checkSameOrigin, answerInternalError,
  type WebRequest, type WebResponse, type HttpLimits,
} from '../web/index.ts';
import {
  LockoutPolicy, DeviceCookiePolicy, hashPassword, verifyPassword, checkPasswordStrength, sourceKeyFor,
  isWellFormedToken, validateSessionConfig, validateDeviceCookieConfig,
  type LockoutConfig, type DeviceCookieConfig, type HashPriority,
} from '../auth/index.ts';
import { hashClaimCode, normaliseClaimCode, READABLE_ALPHABET } from '../identity/index.ts';
import { getModel } from '../models/index.ts';
import { SERIAL, type ScalarValue } from '../cloudprotocol/index.ts';
import { AccountError, ClaimError, CommandError, NotFoundError, RateLimitedError, CloudConfigError } from './errors.ts';
import type { CloudStore, AccountRecord, SessionRecord, DeviceRecord, CommandRecord } from './store.ts';
import type { CommandCenter } from './commands.ts';
import * as pages from './app-pages.ts';

/** Settings of the owner API. Times in ms. */
export interface OwnerApiConfig {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Extra host names (with port when not 443) the Host header may carry, e.g. 'cloud.example.com'. */
  readonly publicHosts: readonly string[];
  readonly limits: HttpLimits;
  readonly idleTimeoutMs: number;
  readonly absoluteTimeoutMs: number;
  readonly maxSessionsPerAccount: number;
  /** Login back-off for browsers without a valid device cookie: per source address and per account. */
  readonly login: Partial<LockoutConfig>;
  /** Device cookies: their life and the per-cookie lockout (src/auth). */
  readonly deviceCookie: Partial<DeviceCookieConfig>;
  /** Failed claims per account before it backs off. */
  readonly claimAccountThreshold: number;
  /** Failed claims from one source address (IPv6: its /64) before it backs off. */
  readonly claimSourceThreshold: number;
  /** Failed claims of one serial (from all accounts) before it is flagged to the maker; never refuses a claim. */
  readonly claimSerialThreshold: number;
  /** The first claim back-off, ms; doubles with each further failure. */
  readonly claimBaseDelayMs: number;
  readonly claimMaxDelayMs: number;
  /** Most telemetry points returned or charted. */
  readonly maxTelemetryPoints: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
  /** Per-source caps and the deadline to be past the headers (docs/connections.md). */
  readonly admission: Partial<AdmissionConfig>;
}

/** The secure default. */
export const defaultOwnerApiConfig: Readonly<OwnerApiConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 9443,
  publicHosts: [],
  limits: defaultHttpLimits,
  idleTimeoutMs: 900_000,
  absoluteTimeoutMs: 43_200_000,
  maxSessionsPerAccount: 8,
  login: { sourceThreshold: 5, accountThreshold: 20, maxTrackedSources: 100_000, maxTrackedAccounts: 100_000 },
  deviceCookie: {},
  claimAccountThreshold: 5,
  claimSourceThreshold: 20,
  claimSerialThreshold: 10,
  claimBaseDelayMs: 30_000,
  claimMaxDelayMs: 3_600_000,
  maxTelemetryPoints: 500,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1_024,
  // Households and offices share an address: more per source than a device's page allows.
  admission: { maxConnectionsPerSource: 64, maxPendingPerSource: 16 },
});

/** Validates a (partial) config; refuses settings that switch a protection off. */
export function validateOwnerApiConfig(config: Partial<OwnerApiConfig> = {}): OwnerApiConfig {
  const c = { ...defaultOwnerApiConfig, ...config };
  const int = (key: keyof OwnerApiConfig, min: number, max: number): void => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new CloudConfigError(key, `must be an integer from ${min} to ${max}`);
  };
  int('port', 0, 65_535);
  int('claimAccountThreshold', 1, 20);
  int('claimSourceThreshold', c.claimAccountThreshold, 100);
  int('claimSerialThreshold', 1, 100);
  int('claimBaseDelayMs', 1_000, 3_600_000);
  int('claimMaxDelayMs', c.claimBaseDelayMs, 86_400_000);
  int('maxTelemetryPoints', 10, 10_000);
  int('requestTimeoutMs', 1_000, 120_000);
  int('keepAliveTimeoutMs', 1_000, 120_000);
  int('maxConnections', 1, 100_000);
  validateAdmissionConfig({ ...c.admission, maxConnections: c.maxConnections });
  validateSessionConfig({ idleTimeoutMs: c.idleTimeoutMs, absoluteTimeoutMs: c.absoluteTimeoutMs, maxSessionsPerUser: c.maxSessionsPerAccount, maxSessions: 10_000 });
  new LockoutPolicy({ ...c.login }); // validates
  validateDeviceCookieConfig({ ...c.deviceCookie });
  if (!Array.isArray(c.publicHosts) || c.publicHosts.some((h) => typeof h !== 'string' || !/^[a-z0-9.:[\]-]{1,255}$/i.test(h))) {
    throw new CloudConfigError('publicHosts', 'must be host names');
  }
  return c;
}

const SESSION_COOKIE = '__Host-bulwark-cloud';
const LOGIN_COOKIE = '__Host-bulwark-cloud-login';
/** Marks a browser (or app) that has logged in before (OWASP device cookie); signed, bound to the e-mail. */
const DEVICE_COOKIE = '__Host-bulwark-cloud-device';
const EMAIL = /^[^\s@<>"'`]{1,64}@[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63}){1,8}$/;
/** A claim code as the factory makes them: 16 symbols of the readable alphabet, upper case. */
const CLAIM_CODE = new RegExp(`^[${READABLE_ALPHABET.toUpperCase()}]{16}$`);

/** How a password check ended: the account and a fresh device cookie (a Set-Cookie value) on success. */
interface PasswordCheck {
  readonly account?: AccountRecord;
  readonly deviceCookie?: string;
}

interface Ctx {
  account?: AccountRecord;
  session?: SessionRecord & { id: string };
  bearer?: boolean;
}

/** Options of {@link startOwnerApi}. */
export interface OwnerApiOptions {
  readonly store: CloudStore;
  readonly commands: CommandCenter;
  /** The server certificate (issued by the manufacturer CA). */
  readonly certPem: string;
  readonly keyPem: string;
  readonly config?: Partial<OwnerApiConfig>;
  readonly log?: (msg: string) => void;
  /** The cloud's connection journal: every connection attempt, login and CSRF refusal. */
  readonly journal?: { record(entry: JournalRecordInput): void };
}

/** A running owner API. */
export interface OwnerApi {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly routes: ReturnType<Router<Ctx>['list']>;
  close(): Promise<void>;
}

function field(body: Readonly<Record<string, unknown>>, name: string, max = 256): string {
  const v = body[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new InvalidInputError(`field ${name} is missing or too long`, { field: name });
  return v;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function hashId(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('base64url');
}

function normaliseEmail(raw: string): string {
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) throw new InvalidInputError('that is not an e-mail address', { field: 'email' });
  return email;
}

function deviceView(d: DeviceRecord): Record<string, unknown> {
  return {
    serial: d.serial, model: d.model, online: d.online, lastSeenAt: d.seenAt ? new Date(d.seenAt).toISOString() : null,
    claimedAt: d.claimedAt ? new Date(d.claimedAt).toISOString() : null, state: d.state?.capabilities ?? [],
  };
}

function commandView(c: CommandRecord): Record<string, unknown> {
  return { id: c.id, capability: c.capability, action: c.action, status: c.status, ...(c.result?.value !== undefined ? { value: c.result.value } : {}), ...(c.result?.error ? { error: c.result.error } : {}) };
}

/**
 * The controls the owner may use from the cloud for a model: actuators only, and never a
 * sensitive capability (a lock's bolt, a camera's snapshot): those stay on the local network.
 */
export function remoteControls(model: string): Array<{ capability: string; actions: string[] }> {
  try {
    return getModel(model).capabilities
      .filter((c) => (c.kind === 'switch' || c.kind === 'lock' || c.kind === 'level') && c.sensitive !== true)
      .map((c) => ({ capability: c.id, actions: c.actions.filter((a) => a !== 'get' && a !== 'set') }))
      .filter((c) => c.actions.length > 0);
  } catch {
    return [];
  }
}

/**
 * Starts the owner API and web app.
 *
 * @example
 * const api = await startOwnerApi({ store, commands, certPem, keyPem, config: { port: 9443 } });
 */
export async function startOwnerApi(o: OwnerApiOptions): Promise<OwnerApi> {
  const config = validateOwnerApiConfig(o.config);
  const { store, commands } = o;
  const log = o.log ?? (() => undefined);
  const journalEvent = (req: WebRequest, event: string, result: JournalRecordInput['result'], detail?: string): void => {
    o.journal?.record({ surface: 'web', source: formatSource(req.sourceAddress, req.sourcePort), event, result,
      ...(detail ? { detail } : {}) });
  };
  const loginPolicy = new LockoutPolicy({ ...config.login });
  // Only its back-off maths is used: each key below brings its own threshold.
  const claimPolicy = new LockoutPolicy({
    sourceThreshold: config.claimAccountThreshold, accountThreshold: config.claimSourceThreshold,
    baseDelayMs: config.claimBaseDelayMs, maxDelayMs: config.claimMaxDelayMs,
    forgetAfterMs: Math.max(86_400_000, config.claimMaxDelayMs),
  });
  const cookiePolicy = new DeviceCookiePolicy({ ...config.deviceCookie });
  const loginKey = await store.sharedSecret('login-csrf');
  const deviceCookieKey = await store.sharedSecret('device-cookie');
  const router = new Router<Ctx>();
  const allowedHosts = new Set<string>();
  let dummyHash: Promise<string> | undefined;

  // ---- protections ---------------------------------------------------------------------

  /** Same-origin proof, as on the device page (Sec-Fetch-Site cannot be forged by a page). */
  const loginToken = (cookie: string): string => createHmac('sha256', loginKey).update(cookie).digest('base64url');
  function newLoginCookie(): { cookie: string; token: string } {
    const value = randomBytes(32).toString('base64url');
    return { cookie: hostCookie(LOGIN_COOKIE, value, 1800), token: loginToken(value) };
  }
  function requirePreSessionToken(req: WebRequest): void {
    checkSameOrigin(req);
    const cookie = req.cookies.get(LOGIN_COOKIE);
    const token = req.body.csrf;
    if (!cookie || typeof token !== 'string' || !safeEqual(loginToken(cookie), token)) {
      throw new HttpError(403, 'CSRF_TOKEN_INVALID', 'the form expired or did not come from this site: reload it');
    }
  }

  /** Refuses (429) while any of `keys` is backing off, then charges all of them one failure. */
  async function admit(policy: LockoutPolicy, keys: ReadonlyArray<{ key: string; threshold: number }>): Promise<void> {
    const now = Date.now();
    const seen = await store.attempts(keys.map((k) => k.key));
    for (const k of keys) {
      const a = seen.get(k.key);
      if (!a) continue;
      const until = Math.min(a.lastFailureAt, now) + policy.delayAfter(a.failures, k.threshold);
      if (until > now) throw new RateLimitedError(Math.ceil((until - now) / 1000), k.key.split(':').slice(0, 2).join(':'));
    }
    await store.recordFailure(keys.map((k) => k.key), now);
  }

  /**
   * Charges a login attempt before any hash. With a valid device cookie for `email` only that
   * cookie's failures count (429 while it is on the lockout list); without one, the source's
   * back-off and the account-wide ceiling. Returns the counter a success clears.
   */
  async function admitLogin(req: WebRequest, email: string): Promise<{ trusted: boolean; clearKey: string }> {
    const now = Date.now();
    const trust = cookiePolicy.verify(deviceCookieKey, email, req.cookies.get(DEVICE_COOKIE), now);
    if (!trust.trusted) {
      const sourceKey = `login:src:${sourceKeyFor(req.sourceAddress)}`;
      const lc = loginPolicy.config;
      await admit(loginPolicy, [
        { key: sourceKey, threshold: lc.sourceThreshold },
        { key: `login:acct:${email}`, threshold: lc.accountThreshold },
      ]);
      return { trusted: false, clearKey: sourceKey };
    }
    const key = `login:cookie:${trust.id}`;
    const seen = (await store.attempts([key])).get(key);
    const until = cookiePolicy.lockedUntil(seen, now);
    if (until > now) {
      log('login: a device cookie is locked out after repeated failures');
      throw new RateLimitedError(Math.ceil((until - now) / 1000), 'login:cookie');
    }
    if (seen && now - seen.lastFailureAt >= cookiePolicy.config.cookieForgetAfterMs) await store.clearAttempts(key);
    await store.recordFailure([key], now);
    return { trusted: true, clearKey: key };
  }

  /** The password check behind every login; on success also a fresh device cookie (a Set-Cookie value). */
  async function checkPassword(req: WebRequest, email: string, password: string): Promise<PasswordCheck> {
    const { trusted, clearKey } = await admitLogin(req, email).catch((err: unknown) => {
      if (err instanceof RateLimitedError) journalEvent(req, 'login', 'locked-out', `retry in ${err.retryAfterSeconds} s`);
      throw err;
    });
    const priority: HashPriority = trusted ? 'trusted' : 'normal';
    const account = await store.accountByEmail(email);
    if (!account) {
      // The same work as a real check, so timing does not tell whether the account exists.
      dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await dummyHash, { priority });
      journalEvent(req, 'login', 'failure');
      return {};
    }
    const result = await verifyPassword(password, account.passwordHash, { priority });
    if (!result.ok) {
      journalEvent(req, 'login', 'failure');
      return {};
    }
    journalEvent(req, 'login', 'success', trusted ? 'trusted browser' : undefined);
    await store.clearAttempts(clearKey);
    if (result.needsRehash) await store.updatePasswordHash(account.id, await hashPassword(password));
    if (trusted) log('login from a trusted browser (device cookie)');
    const value = cookiePolicy.issue(deviceCookieKey, email, Date.now());
    return { account, deviceCookie: hostCookie(DEVICE_COOKIE, value, cookiePolicy.maxAgeSeconds) };
  }

  async function newSession(accountId: string): Promise<{ id: string; csrfToken: string; cookie: string }> {
    const id = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const now = Date.now();
    await store.createSession({ idHash: hashId(id), accountId, csrfToken, createdAt: now, lastSeenAt: now }, config.maxSessionsPerAccount);
    return { id, csrfToken, cookie: hostCookie(SESSION_COOKIE, id) };
  }

  async function sessionOf(req: WebRequest): Promise<Ctx | undefined> {
    const auth = req.headers.authorization;
    const bearer = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    const id = bearer ?? req.cookies.get(SESSION_COOKIE);
    if (!id || !isWellFormedToken(id)) return undefined;
    const s = await store.session(hashId(id));
    const now = Date.now();
    if (!s) return undefined;
    if (now < s.createdAt || now - s.lastSeenAt >= config.idleTimeoutMs || now - s.createdAt >= config.absoluteTimeoutMs) {
      await store.deleteSession(s.idHash);
      return undefined;
    }
    if (now - s.lastSeenAt > 60_000) await store.touchSession(s.idHash, now);
    const account = await store.accountById(s.accountId);
    if (!account) return undefined;
    return { account, session: { ...s, id }, bearer: bearer !== undefined };
  }

  async function ownedDevice(serial: string, accountId: string): Promise<DeviceRecord> {
    const d = SERIAL.test(serial) ? await store.getDevice(serial) : undefined;
    if (!d || d.ownerId !== accountId) throw new NotFoundError('no such device');
    return d;
  }

  // ---- the operations, shared by the JSON API and the web app ----------------------------

  async function register(req: WebRequest, emailRaw: string, password: string): Promise<AccountRecord> {
    const email = normaliseEmail(emailRaw);
    // Registration is a guess at nothing, but it costs a hash: it shares the source's budget.
    await admit(loginPolicy, [{ key: `login:src:${sourceKeyFor(req.sourceAddress)}`, threshold: loginPolicy.config.sourceThreshold * 4 }]);
    const strength = await checkPasswordStrength(password, { userInputs: [email, email.split('@')[0]!, 'bulwark', 'cloud'] });
    if (!strength.ok) {
      throw new AccountError('PASSWORD_POLICY', 'choose a stronger password', { reasons: strength.reasons.map((r) => r.message) });
    }
    const account: AccountRecord = { id: randomBytes(16).toString('base64url'), email, passwordHash: await hashPassword(password), createdAt: Date.now() };
    await store.createAccount(account);
    await store.clearAttempts(`login:src:${sourceKeyFor(req.sourceAddress)}`);
    log(`account registered from ${req.sourceAddress}`);
    return account;
  }

  /** Counts a wrong code against `serial` for the maker: past the threshold it is flagged (never refused). */
  async function noteWrongClaim(serial: string): Promise<void> {
    const key = `claim:serial:${serial}`;
    const now = Date.now();
    await store.recordFailure([key], now);
    const failures = (await store.attempts([key])).get(key)?.failures ?? 0;
    if (failures < config.claimSerialThreshold) return;
    if (!(await store.flagClaimFlood(serial, failures, now))) return;
    log(`claim flood: ${serial} has had ${failures} wrong claim codes; flagged for the maker`);
  }

  async function claim(req: WebRequest, account: AccountRecord, serialRaw: unknown,
    codeRaw: unknown): Promise<DeviceRecord> {
    if (typeof serialRaw !== 'string' || !SERIAL.test(serialRaw.trim().toUpperCase())) throw new InvalidInputError('serial must be a serial number like PLG-XXXXXXXXXX', { field: 'serial' });
    const serial = serialRaw.trim().toUpperCase();
    if (typeof codeRaw !== 'string' || codeRaw.trim() === '') {
      throw new InvalidInputError('a claim needs the claim code from the device label: the serial number alone is never enough', { field: 'claimCode' });
    }
    if (codeRaw.length > 64) throw new InvalidInputError('claimCode too long', { field: 'claimCode' });
    const accountKey = `claim:acct:${account.id}`, sourceKey = `claim:src:${sourceKeyFor(req.sourceAddress)}`;
    // Guesses are charged to who sent them, never to the serial: a stranger cannot spend the owner's budget.
    await admit(claimPolicy, [
      { key: accountKey, threshold: config.claimAccountThreshold },
      { key: sourceKey, threshold: config.claimSourceThreshold },
    ]);
    const code = normaliseClaimCode(codeRaw);
    const outcome = CLAIM_CODE.test(code) ? await store.claimDevice(serial, account.id, hashClaimCode(serial, code), Date.now()) : 'refused';
    if (outcome === 'refused') {
      log(`claim refused for ${serial}`);
      await noteWrongClaim(serial);
      throw new ClaimError('CLAIM_REFUSED', 'the serial number or the claim code is wrong');
    }
    if (outcome === 'window-closed') throw new ClaimError('CLAIM_WINDOW_CLOSED', 'press the button on the device to open its claim window, then claim it within 10 minutes');
    if (outcome === 'taken') throw new ClaimError('DEVICE_CLAIMED', 'this device belongs to another account; a factory reset on the device releases it');
    if (outcome === 'claimed') {
      // A claim took a hand on the device: the account and source start afresh. Other right-code outcomes refund
      // nothing, or re-claiming one's own device would reset the counters between guesses.
      for (const key of [accountKey, sourceKey, `claim:serial:${serial}`]) await store.clearAttempts(key);
      log(`${serial} claimed`);
    }
    return (await store.getDevice(serial))!;
  }

  async function command(account: AccountRecord, serial: string, capability: unknown, action: unknown, value: unknown): Promise<CommandRecord> {
    const device = await ownedDevice(serial, account.id);
    if (typeof capability !== 'string' || typeof action !== 'string') throw new InvalidInputError('capability and action are required');
    const allowed = remoteControls(device.model).find((c) => c.capability === capability)?.actions.includes(action);
    if (!allowed) throw new CommandError('COMMAND_NOT_ALLOWED', `${device.model} has no remote action ${capability.slice(0, 32)} ${action.slice(0, 32)}`);
    if (!device.online) throw new CommandError('DEVICE_OFFLINE', 'the device is not connected to the cloud');
    let v: ScalarValue | undefined;
    if (value !== undefined && value !== '') {
      if (typeof value === 'string' && /^-?\d{1,6}$/.test(value)) v = Number(value);
      else if (typeof value === 'number' || typeof value === 'boolean') v = value;
      else throw new InvalidInputError('value must be a number or a boolean');
    }
    return commands.send(serial, account.id, capability, action, v);
  }

  const frameOf = (ctx: Ctx, title: string): pages.AppFrame & { csrf: string } => ({ title, csrf: ctx.session!.csrfToken, email: ctx.account!.email });

  // ---- JSON API ------------------------------------------------------------------------

  router.add({
    method: 'POST', path: '/v1/accounts', access: 'public', csrf: false,
    handler: async (req) => {
      checkSameOrigin(req, { allowNonBrowser: true });
      const account = await register(req, field(req.body, 'email', 254), field(req.body, 'password'));
      const s = await newSession(account.id);
      return { kind: 'json', status: 201, body: { account: { email: account.email }, token: s.id, csrfToken: s.csrfToken }, headers: { 'set-cookie': s.cookie } };
    },
  });
  router.add({
    method: 'POST', path: '/v1/sessions', access: 'public', csrf: false,
    handler: async (req) => {
      checkSameOrigin(req, { allowNonBrowser: true });
      const email = normaliseEmail(field(req.body, 'email', 254));
      const { account, deviceCookie } = await checkPassword(req, email, field(req.body, 'password'));
      if (!account || !deviceCookie) throw new AccountError('LOGIN_FAILED', 'wrong e-mail address or password');
      const s = await newSession(account.id);
      const headers = { 'set-cookie': [s.cookie, deviceCookie] };
      return { kind: 'json', body: { token: s.id, csrfToken: s.csrfToken }, headers };
    },
  });
  router.add({
    method: 'POST', path: '/v1/sessions/logout', access: 'session', csrf: true,
    handler: async (_req, ctx) => {
      await store.deleteSession(ctx.session!.idHash);
      return { kind: 'json', body: { ok: true }, headers: { 'set-cookie': hostCookie(SESSION_COOKIE, '', 0) } };
    },
  });
  router.add({
    method: 'GET', path: '/v1/me', access: 'session', csrf: false,
    handler: (_req, ctx) => ({ kind: 'json', body: { email: ctx.account!.email, createdAt: new Date(ctx.account!.createdAt).toISOString(), csrfToken: ctx.session!.csrfToken } }),
  });
  router.add({
    method: 'POST', path: '/v1/me/delete', access: 'session', csrf: true,
    handler: async (req, ctx) => {
      const { account } = await checkPassword(req, ctx.account!.email, field(req.body, 'password'));
      if (!account) throw new AccountError('LOGIN_FAILED', 'wrong password');
      await store.deleteAccount(account.id);
      log('an account and its data were deleted');
      return { kind: 'json', body: { ok: true, deleted: true }, headers: { 'set-cookie': hostCookie(SESSION_COOKIE, '', 0) } };
    },
  });
  router.add({
    method: 'POST', path: '/v1/claims', access: 'session', csrf: true,
    handler: async (req, ctx) => {
      const device = await claim(req, ctx.account!, req.body.serial, req.body.claimCode);
      return { kind: 'json', status: 201, body: { device: deviceView(device) } };
    },
  });
  router.add({
    method: 'GET', path: '/v1/devices', access: 'session', csrf: false,
    handler: async (_req, ctx) => ({ kind: 'json', body: { devices: (await store.listDevices(ctx.account!.id)).map(deviceView) } }),
  });
  router.add({
    method: 'GET', path: '/v1/devices/:serial', access: 'session', csrf: false,
    handler: async (req, ctx) => ({ kind: 'json', body: { device: deviceView(await ownedDevice(req.params.serial!, ctx.account!.id)) } }),
  });
  router.add({
    method: 'GET', path: '/v1/devices/:serial/telemetry', access: 'session', csrf: false,
    handler: async (req, ctx) => {
      const d = await ownedDevice(req.params.serial!, ctx.account!.id);
      const n = Number(req.query.get('limit') ?? '100');
      const limit = Number.isInteger(n) && n > 0 ? Math.min(n, config.maxTelemetryPoints) : 100;
      const rows = await store.telemetry(d.serial, d.claimedAt ?? 0, limit);
      return { kind: 'json', body: { telemetry: rows.map((r) => ({ seq: r.seq, at: new Date(r.at).toISOString(), receivedAt: new Date(r.receivedAt).toISOString(), values: r.values })) } };
    },
  });
  router.add({
    method: 'POST', path: '/v1/devices/:serial/commands', access: 'session', csrf: true,
    handler: async (req, ctx) => ({ kind: 'json', body: { command: commandView(await command(ctx.account!, req.params.serial!, req.body.capability, req.body.action, req.body.value)) } }),
  });
  router.add({
    method: 'POST', path: '/v1/devices/:serial/release', access: 'session', csrf: true,
    handler: async (req, ctx) => {
      if (!(await store.releaseByOwner(req.params.serial!, ctx.account!.id))) throw new NotFoundError('no such device');
      return { kind: 'json', body: { ok: true } };
    },
  });

  // ---- the web app ---------------------------------------------------------------------

  const loginHtml = (status: number, o: { error?: string; notice?: string; email?: string } = {}): WebResponse => {
    const pre = newLoginCookie();
    return { kind: 'html', status, body: pages.loginPage({ csrf: pre.token, ...o }), headers: { 'set-cookie': pre.cookie } };
  };
  const registerHtml = (status: number, o: { error?: string; reasons?: readonly string[]; email?: string } = {}): WebResponse => {
    const pre = newLoginCookie();
    return { kind: 'html', status, body: pages.registerPage({ csrf: pre.token, ...o }), headers: { 'set-cookie': pre.cookie } };
  };
  const startSession = async (accountId: string, deviceCookie?: string): Promise<WebResponse> => {
    const s = await newSession(accountId);
    const cookies = [s.cookie, hostCookie(LOGIN_COOKIE, '', 0), ...(deviceCookie ? [deviceCookie] : [])];
    return { kind: 'redirect', location: '/app', headers: { 'set-cookie': cookies } };
  };

  router.add({ method: 'GET', path: '/static/cloud.css', access: 'public', csrf: false, handler: () => ({ kind: 'text', body: pages.CLOUD_CSS, contentType: 'text/css; charset=utf-8', headers: { 'cache-control': 'public, max-age=3600' } }) });
  router.add({ method: 'GET', path: '/', access: 'public', csrf: false, handler: async (req) => ({ kind: 'redirect', location: (await sessionOf(req)) ? '/app' : '/login' }) });
  router.add({ method: 'GET', path: '/login', access: 'public', csrf: false, handler: async (req) => ((await sessionOf(req)) ? { kind: 'redirect', location: '/app' } : loginHtml(200)) });
  router.add({
    method: 'POST', path: '/login', access: 'public', csrf: false,
    handler: async (req) => {
      requirePreSessionToken(req);
      const emailRaw = field(req.body, 'email', 254);
      let email: string;
      try { email = normaliseEmail(emailRaw); } catch { return loginHtml(400, { error: 'That is not an e-mail address.', email: emailRaw }); }
      const { account, deviceCookie } = await checkPassword(req, email, field(req.body, 'password'));
      if (!account) return loginHtml(401, { error: 'Wrong e-mail address or password.', email });
      return startSession(account.id, deviceCookie);
    },
  });
  router.add({ method: 'GET', path: '/register', access: 'public', csrf: false, handler: () => registerHtml(200) });
  router.add({
    method: 'POST', path: '/register', access: 'public', csrf: false,
    handler: async (req) => {
      requirePreSessionToken(req);
      const email = field(req.body, 'email', 254);
      try {
        const account = await register(req, email, field(req.body, 'password'));
        return await startSession(account.id);
      } catch (err) {
        if (err instanceof AccountError) {
          const reasons = (err.details.reasons as string[] | undefined) ?? [];
          return registerHtml(err.code === 'ACCOUNT_EXISTS' ? 409 : 422, { error: err.code === 'ACCOUNT_EXISTS' ? 'That e-mail address already has an account.' : 'Choose a stronger password:', reasons, email });
        }
        if (err instanceof InvalidInputError) return registerHtml(400, { error: err.message, email });
        throw err;
      }
    },
  });
  router.add({
    method: 'POST', path: '/logout', access: 'session', csrf: true,
    handler: async (_req, ctx) => {
      await store.deleteSession(ctx.session!.idHash);
      return { kind: 'redirect', location: '/login', headers: { 'set-cookie': hostCookie(SESSION_COOKIE, '', 0) } };
    },
  });
  router.add({
    method: 'GET', path: '/app', access: 'session', csrf: false,
    handler: async (req, ctx) => {
      const notice = req.query.get('done') ?? undefined;
      return { kind: 'html', body: pages.devicesPage(frameOf(ctx, 'My devices'), { devices: await store.listDevices(ctx.account!.id), ...(notice ? { notice: notice.slice(0, 120) } : {}) }) };
    },
  });
  router.add({
    method: 'POST', path: '/app/claim', access: 'session', csrf: true,
    handler: async (req, ctx) => {
      try {
        const d = await claim(req, ctx.account!, req.body.serial, req.body.claimCode);
        return { kind: 'redirect', location: `/app/devices/${d.serial}?done=${encodeURIComponent('Claimed: the device is yours.')}` };
      } catch (err) {
        if (!(err instanceof BulwarkError) || err instanceof RateLimitedError) throw err;
        const status = statusOf(err);
        const serial = typeof req.body.serial === 'string' ? req.body.serial.slice(0, 32) : '';
        return { kind: 'html', status, body: pages.devicesPage(frameOf(ctx, 'My devices'), { devices: await store.listDevices(ctx.account!.id), error: err.message, serial }) };
      }
    },
  });
  router.add({
    method: 'GET', path: '/app/devices/:serial', access: 'session', csrf: false,
    handler: async (req, ctx) => {
      const d = await ownedDevice(req.params.serial!, ctx.account!.id);
      const rows = await store.telemetry(d.serial, d.claimedAt ?? 0, config.maxTelemetryPoints);
      const notice = req.query.get('done') ?? undefined;
      const error = req.query.get('error') ?? undefined;
      return {
        kind: 'html',
        body: pages.devicePage(frameOf(ctx, d.serial), { device: d, telemetry: rows, controls: remoteControls(d.model), ...(notice ? { notice: notice.slice(0, 120) } : {}), ...(error ? { error: error.slice(0, 160) } : {}) }),
      };
    },
  });
  router.add({
    method: 'POST', path: '/app/devices/:serial/command', access: 'session', csrf: true,
    handler: async (req, ctx) => {
      const serial = req.params.serial!;
      try {
        const c = await command(ctx.account!, serial, req.body.capability, req.body.action, req.body.value);
        const text = c.status === 'done' ? `${c.capability}: ${c.action} done` : `the device refused: ${c.result?.error?.message ?? 'unknown reason'}`;
        return { kind: 'redirect', location: `/app/devices/${serial}?${c.status === 'done' ? 'done' : 'error'}=${encodeURIComponent(text)}` };
      } catch (err) {
        if (err instanceof CommandError) return { kind: 'redirect', location: `/app/devices/${serial}?error=${encodeURIComponent(err.message)}` };
        throw err;
      }
    },
  });
  router.add({
    method: 'POST', path: '/app/devices/:serial/release', access: 'session', csrf: true,
    handler: async (req, ctx) => {
      if (!(await store.releaseByOwner(req.params.serial!, ctx.account!.id))) throw new NotFoundError('no such device');
      return { kind: 'redirect', location: `/app?done=${encodeURIComponent(`${req.params.serial} released`)}` };
    },
  });
  router.add({ method: 'GET', path: '/app/account', access: 'session', csrf: false, handler: (_req, ctx) => ({ kind: 'html', body: pages.accountPage(frameOf(ctx, 'Account'), { email: ctx.account!.email }) }) });
  router.add({
    method: 'POST', path: '/app/account/delete', access: 'session', csrf: true,
    handler: async (req, ctx) => {
      const { account } = await checkPassword(req, ctx.account!.email, field(req.body, 'password'));
      if (!account) return { kind: 'html', status: 401, body: pages.accountPage(frameOf(ctx, 'Account'), { email: ctx.account!.email, error: 'Wrong password.' }) };
      await store.deleteAccount(account.id);
      return { kind: 'redirect', location: '/login', headers: { 'set-cookie': hostCookie(SESSION_COOKIE, '', 0) } };
    },
  });

  // ---- dispatch ------------------------------------------------------------------------

  async function handle(raw: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = raw.method ?? 'GET';
    const head = method === 'HEAD';
    const rawUrl = raw.url ?? '/';
    const isApi = rawUrl.startsWith('/v1/');
    let req: WebRequest = {
      method, path: '/', query: new URLSearchParams(), params: {}, headers: raw.headers, cookies: parseCookies(raw.headers.cookie, config.limits),
      sourceAddress: (raw.socket.remoteAddress ?? '0.0.0.0').replace(/^::ffff:/, ''), sourcePort: raw.socket.remotePort ?? 0, body: {}, wantsJson: isApi,
    };
    let ctx: Ctx = {};
    try {
      if (rawUrl.length > config.limits.maxPathBytes || !rawUrl.startsWith('/')) throw new HttpError(414, 'URI_INVALID', 'bad request target');
      const url = new URL(rawUrl, 'https://cloud.invalid');
      req = { ...req, path: url.pathname, query: url.searchParams };
      const host = raw.headers.host;
      if (typeof host !== 'string' || !allowedHosts.has(host.toLowerCase())) throw new HttpError(421, 'HOST_NOT_ALLOWED', 'unknown host name');
      const { route, params } = router.resolve(method, req.path);
      if (route.access === 'session') {
        const found = await sessionOf(req);
        if (!found) throw new HttpError(isApi ? 401 : 303, 'AUTH_REQUIRED', 'log in first', isApi ? {} : { location: '/login' });
        ctx = found;
      }
      req = { ...req, params, ...(method === 'POST' ? { body: await parseBody(raw, config.limits) } : {}) };
      if (route.csrf && !ctx.bearer) {
        checkSameOrigin(req);
        const token = req.body.csrf ?? req.headers['x-csrf-token'];
        if (typeof token !== 'string' || !safeEqual(token, ctx.session!.csrfToken)) throw new HttpError(403, 'CSRF_TOKEN_INVALID', 'missing or wrong CSRF token');
      }
      writeResponse(res, await route.handler(req, ctx), head);
    } catch (err) {
      const status = statusOf(err);
      if (status === 500) log(`internal error on ${method} ${req.path}: ${err instanceof Error ? err.message : String(err)}`);
      if (err instanceof HttpError && err.status === 303) { writeResponse(res, { kind: 'redirect', location: err.headers.location ?? '/login' }, head); return; }
      if (err instanceof HttpError && err.code.startsWith('CSRF')) journalEvent(req, 'csrf', 'refused', `${method} ${req.path}`);
      const code = err instanceof BulwarkError ? err.code : 'INTERNAL';
      const text = status === 500 ? 'internal error' : (err as Error).message;
      const headers: Record<string, string> = err instanceof HttpError ? { ...err.headers } : {};
      if (err instanceof RateLimitedError) headers['retry-after'] = String(err.retryAfterSeconds);
      const reasons = err instanceof AccountError && Array.isArray(err.details.reasons) ? { reasons: err.details.reasons } : {};
      if (isApi) writeResponse(res, { kind: 'json', status, body: { error: { code, message: text, ...reasons } }, headers }, head);
      else writeResponse(res, { kind: 'html', status, body: pages.errorPage(status, text, ctx.session ? frameOf(ctx, 'Error') : { title: 'Error' }), headers }, head);
    }
  }

  const listener = await listenHttps({
    keyPem: o.keyPem, certPem: o.certPem, host: config.host, port: config.port,
    requestTimeoutMs: config.requestTimeoutMs, keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    admission: { ...config.admission, maxConnections: config.maxConnections },
    record: (r) => (o.journal
      ? o.journal.record({ surface: 'web', ...r })
      : log(`connection ${r.event} ${r.result} from ${r.source}${r.detail ? `: ${r.detail}` : ''}`)),
    handler: (req, res) => {
      handle(req, res).catch((err: unknown) => {
        log(`response failed: ${err instanceof Error ? err.message : String(err)}`);
        answerInternalError(res);
      });
    },
  });
  const { server, port } = listener;
  for (const name of new Set(['localhost', '127.0.0.1', '[::1]', config.host.includes(':') ? `[${config.host}]` : config.host, ...config.publicHosts])) {
    allowedHosts.add(`${name}:${port}`.toLowerCase());
    if (port === 443) allowedHosts.add(name.toLowerCase());
    if (name.includes(':') && !name.startsWith('[')) allowedHosts.add(name.toLowerCase()); // given with its port
  }
  const shown = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `https://${shown}:${port}`, port, server, routes: router.list(),
    async close() {
      await listener.close();
    },
  };
}

/** The HTTP status for an error, by code. */
export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (!(err instanceof BulwarkError)) return 500;
  switch (err.code) {
    case 'INVALID_INPUT': case 'PASSWORD_INPUT_INVALID': return 400;
    case 'LOGIN_FAILED': return 401;
    case 'CLAIM_REFUSED': return 403;
    case 'NOT_FOUND': return 404;
    case 'ACCOUNT_EXISTS': case 'CLAIM_WINDOW_CLOSED': case 'DEVICE_CLAIMED': return 409;
    case 'PASSWORD_POLICY': case 'COMMAND_NOT_ALLOWED': return 422;
    case 'RATE_LIMITED': return 429;
    case 'AUTH_BUSY': case 'DEVICE_UNREACHABLE': case 'DEVICE_OFFLINE': case 'STORE_FAILED': return 503;
    case 'DEVICE_TIMEOUT': return 504;
    default: return 400;
  }
}
