/**
 * The device's HTTPS admin service: TLS 1.2/1.3 with ECDHE-AEAD only on the unit's own
 * certificate, authentication on every route but the login page, its assets and security.txt,
 * device cookies and lockout before any hash is computed (src/auth's LoginGuard: the owner's
 * browser is limited per cookie, never by a guesser's counters), argon2id, `__Host-` session
 * cookies, a CSRF token plus an Origin check on every state change, strict security headers,
 * and a journal entry for every TLS connection and login attempt.
 */
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { BulwarkError, InvalidInputError } from '../errors/index.ts';
import type { DeviceBundle } from '../bundle/index.ts';
import {
  verifyPassword, hashPassword, checkPasswordStrength, sourceKeyFor, verifySetupCodeForOwner,
  type LockoutConfig, type SessionConfig, type SessionView,
} from './auth-bridge.ts';
import {
  LoginGuard,
  type DeviceCookieConfig, type HashPriority, type LoginGuardDecision, type LoginGuardState, type LoginTicket,
} from '../auth/index.ts';
import { Router, HttpError, checkSameOrigin, answerInternalError, parseBody, parseCookies, hostCookie, writeResponse, defaultHttpLimits, type WebRequest, type WebResponse, type HttpLimits } from './http.ts';
import { WebStateStore, type OwnerRecord } from './owner-state.ts';
import * as pages from './pages.ts';
import { APP_CSS, APP_JS } from './assets.ts';
import { listenHttps } from './https-server.ts';
import type { AdmissionConfig, AdmissionRecord } from '../admission/index.ts';

/** What the web service records in the connection journal. */
export interface WebJournalEntry {
  readonly surface: 'web';
  readonly source: string;
  readonly event:
    | AdmissionRecord['event'] | 'login' | 'login-unlock' | 'logout' | 'setup' | 'password-change' | 'csrf'
    | 'control';
  readonly identity?: string;
  readonly result: 'success' | 'failure' | 'refused' | 'locked-out' | 'info';
  readonly detail?: string;
}

/** The journal as the web service needs it. */
export interface WebJournal {
  record(entry: WebJournalEntry): void;
  list(options: { limit: number }): Promise<readonly pages.JournalRow[]> | readonly pages.JournalRow[];
}

/** The device as the web service controls it. */
export interface WebDeviceControl {
  readonly firmwareVersion: string;
  readonly startedAt: number;
  capabilities(): readonly pages.CapabilityView[];
  /** Runs an action; throws a BulwarkError with a code on bad input. */
  invoke(capability: string, action: string, value: unknown): Promise<unknown>;
  /** Extra controls the owner may use on the admin page (pairing window and the like), by name. */
  ownerActions?(): ReadonlyArray<{ id: string; label: string; run(): Promise<string> }>;
  /** Extra facts for the dashboard (e.g. the hub pairing window's state), read on every view. */
  facts?(): ReadonlyArray<[string, string]>;
  /** More of the owner's data for GET /api/export (paired hubs, update choices), never a secret. */
  exportData?(): Record<string, unknown> | Promise<Record<string, unknown>>;
}

/** Settings of the web service; every limit is named. */
export interface WebServiceConfig {
  readonly host: string;
  readonly port: number;
  readonly limits: HttpLimits;
  readonly lockout: Partial<LockoutConfig>;
  /** Device cookies: their life, the per-cookie lockout and the physical unlock (src/auth). */
  readonly deviceCookie: Partial<DeviceCookieConfig>;
  readonly sessions: Partial<SessionConfig>;
  /** Idle keep-alive sockets are closed after this, ms. */
  readonly keepAliveTimeoutMs: number;
  /** A request must arrive whole within this, ms (slowloris). */
  readonly requestTimeoutMs: number;
  /** Most simultaneous connections. */
  readonly maxConnections: number;
  /** Per-source caps and the deadline to be past the headers (docs/connections.md). */
  readonly admission?: Partial<AdmissionConfig>;
}

/** Safe defaults. */
export const defaultWebServiceConfig: WebServiceConfig = {
  host: '127.0.0.1',
  port: 8443,
  limits: defaultHttpLimits,
  lockout: {},
  deviceCookie: {},
  sessions: {},
  keepAliveTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  maxConnections: 128,
};


const SESSION_COOKIE = '__Host-bulwark-session';
const LOGIN_COOKIE = '__Host-bulwark-login';
/** Marks a browser that has logged in before (OWASP device cookie); signed, bound to the account. */
const DEVICE_COOKIE = '__Host-bulwark-device';
const OWNER_NAME = 'admin';
/** Unknown user names share one lockout account, so they cannot fill the table. */
const UNKNOWN_ACCOUNT = '(unknown)';

interface Ctx {
  session?: SessionView & { id: string };
}

/** How a guarded secret check ended; `deviceCookie` (a Set-Cookie value) on success. */
interface GuardedCheck {
  readonly ok: boolean;
  readonly trusted: boolean;
  readonly deviceCookie?: string;
}

/** A running web service. */
export interface WebService {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly routes: ReturnType<Router<Ctx>['list']>;
  readonly state: WebStateStore;
  close(): Promise<void>;
  /** Factory reset of the web side: sticker password back, sessions and counters gone. */
  reset(): Promise<void>;
  /**
   * A physical act on the unit (the button): for `physicalUnlockMs` (5 min), new browsers are not
   * held back by the account-wide ceiling, so the owner can log in from one; returns what to tell.
   */
  unlockLogin(): string;
}

/** Options of {@link startWebService}. */
export interface WebServiceOptions {
  readonly bundle: DeviceBundle;
  readonly stateDir: string;
  readonly device: WebDeviceControl;
  readonly journal: WebJournal;
  readonly config?: Partial<WebServiceConfig>;
  readonly warn?: (message: string) => void;
}

function form(value: unknown, name: string, max = 256): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw new InvalidInputError(`field ${name} is missing or too long`, { field: name });
  return value;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function formatSource(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Starts the HTTPS admin service; resolves when it listens. */
export async function startWebService(options: WebServiceOptions): Promise<WebService> {
  const config: WebServiceConfig = { ...defaultWebServiceConfig, ...options.config };
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) throw new InvalidInputError('port must be 0..65535');
  const { bundle, device, journal } = options;
  const unit = bundle.unit;
  const warn = options.warn ?? (() => undefined);
  const webDir = join(options.stateDir, 'web');
  await mkdir(webDir, { recursive: true, mode: 0o700 });
  const state = await WebStateStore.load(webDir, config.sessions, warn);
  const guard = new LoginGuard({ lockout: config.lockout, deviceCookie: config.deviceCookie });
  const loginKey = randomBytes(32); // binds pre-session CSRF tokens to this process
  const userInputs = [unit.model, unit.modelName, unit.serial, OWNER_NAME, unit.maker];
  const frameBase = { deviceName: `${unit.modelName} ${unit.serial}` };
  let dummyHash: Promise<string> | undefined;

  const setupPending = (): boolean => unit.initialPasswordMode === 'setup' && state.owner === undefined;
  const currentHash = (): string | undefined => state.owner?.passwordHash ?? (unit.initialPasswordMode === 'sticker' ? bundle.adminPasswordHash : undefined);

  const loginToken = (cookie: string): string => createHmac('sha256', loginKey).update(cookie).digest('base64url');
  const newLoginCookie = (): { cookie: string; token: string } => {
    const value = randomBytes(32).toString('base64url');
    return { cookie: hostCookie(LOGIN_COOKIE, value, 1800), token: loginToken(value) };
  };

  const router = new Router<Ctx>();
  const allowedHosts = new Set<string>();
  let port = 0;

  /**
   * Same-origin proof for a state change. Our pages send `Referrer-Policy: no-referrer`, under
   * which browsers send `Origin: null` on form posts; they still send `Sec-Fetch-Site`, which a
   * page cannot forge, so 'null' counts only together with `Sec-Fetch-Site: same-origin`.
   * A request with neither (curl, scripts) is refused.
   */
  function requirePreSessionToken(req: WebRequest): void {
    checkSameOrigin(req);
    const cookie = req.cookies.get(LOGIN_COOKIE);
    const token = req.body.csrf ?? req.headers['x-csrf-token'];
    if (!cookie || typeof token !== 'string' || !safeEqual(loginToken(cookie), token)) {
      throw new HttpError(403, 'CSRF_TOKEN_INVALID', 'the form expired or did not come from this device: reload it');
    }
  }

  function sessionOf(req: WebRequest): (SessionView & { id: string }) | undefined {
    const id = req.cookies.get(SESSION_COOKIE);
    if (!id) return undefined;
    const { session, changed } = state.sessions.touch(id, Date.now());
    if (changed) state.markDirty('sessions', 5_000);
    return session ? { ...session, id } : undefined;
  }

  const record = (req: WebRequest, event: WebJournalEntry['event'], result: WebJournalEntry['result'], identity?: string, detail?: string): void => {
    journal.record({ surface: 'web', source: formatSource(req.sourceAddress, req.sourcePort), event, result, ...(identity ? { identity } : {}), ...(detail ? { detail } : {}) });
  };

  const deviceCookieHeader = (value: string): string => hostCookie(DEVICE_COOKIE, value, guard.cookies.maxAgeSeconds);
  const LOCKED_OUT_DETAIL = {
    cookie: 'device cookie locked out', account: 'account-wide ceiling (new browsers)', source: 'source backing off',
  } as const;
  const lockedOutDetail = (d: LoginGuardDecision): string => (d.allowed ? '' : LOCKED_OUT_DETAIL[d.scope]);
  const guardState = (): LoginGuardState => ({ lockout: state.lockout, cookies: state.deviceCookies });

  /** Charges the attempt before any hash; answers 429 (journalled under `event`) while it must wait. */
  function admitAttempt(req: WebRequest, account: string, event: WebJournalEntry['event']): LoginTicket {
    const attempt = { source: sourceKeyFor(req.sourceAddress), account, deviceCookie: req.cookies.get(DEVICE_COOKIE) };
    const r = guard.admit(guardState(), state.deviceCookieKey, attempt, Date.now());
    saveGuardState(r.state);
    if (!r.decision.allowed) {
      record(req, event, 'locked-out', account, lockedOutDetail(r.decision));
      const wait = String(r.decision.retryAfterSeconds);
      const text = `too many failed attempts; try again in ${wait} s`;
      throw new HttpError(429, 'LOGIN_LOCKED_OUT', text, { 'retry-after': wait });
    }
    return r.ticket;
  }

  function saveGuardState(next: LoginGuardState): void {
    if (next.lockout !== state.lockout) { state.lockout = next.lockout; state.markDirty('lockout'); }
    if (next.cookies !== state.deviceCookies) { state.deviceCookies = next.cookies; state.markDirty('cookies'); }
  }

  /**
   * Runs a guarded secret check for `account`: device cookie first, then lockout, both before any
   * hash (429 while waiting). A trusted browser's hash waits ahead of a guessing flood. On success
   * the answer carries a fresh device cookie (`deviceCookie`, a Set-Cookie value).
   */
  async function guarded(req: WebRequest, account: string, event: WebJournalEntry['event'],
    check: (priority: HashPriority) => Promise<boolean>): Promise<GuardedCheck> {
    const ticket = admitAttempt(req, account, event);
    const ok = await check(ticket.trusted ? 'trusted' : 'normal');
    if (!ok) return { ok, trusted: ticket.trusted };
    const r = guard.recordSuccess(guardState(), state.deviceCookieKey, ticket, Date.now());
    saveGuardState(r.state);
    return { ok, trusted: ticket.trusted, deviceCookie: deviceCookieHeader(r.deviceCookie) };
  }

  /** Checks the owner's password (rehashing an outdated hash); an unknown user costs the same work. */
  async function checkLogin(known: boolean, password: string, priority: HashPriority): Promise<boolean> {
    const hash = currentHash();
    if (!known || !hash) {
      // Same work as a real check, so timing does not reveal whether a user exists.
      dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await dummyHash, { priority });
      return false;
    }
    const result = await verifyPassword(password, hash, { priority });
    if (result.ok && result.needsRehash) {
      const passwordHash = await hashPassword(password, undefined, { priority });
      const source = state.owner?.source ?? 'sticker';
      const changedAt = new Date().toISOString();
      await state.saveOwner({ version: 1, username: OWNER_NAME, passwordHash, changedAt, source });
    }
    return result.ok;
  }

  const frame = (title: string, csrf?: string): pages.PageFrame => ({ ...frameBase, title, ...(csrf ? { csrf } : {}) });
  const loginHtml = (status: number, o: { error?: string; notice?: string; username?: string } = {}): WebResponse => {
    const pre = newLoginCookie();
    return { kind: 'html', status, body: pages.loginPage(frame('Log in'), { csrf: pre.token, ...o }), headers: { 'set-cookie': pre.cookie } };
  };
  const setupHtml = (status: number, o: { error?: string; reasons?: readonly string[] } = {}): WebResponse => {
    const pre = newLoginCookie();
    return { kind: 'html', status, body: pages.setupPage(frame('Set up'), { csrf: pre.token, ...o }), headers: { 'set-cookie': pre.cookie } };
  };

  async function startSession(deviceCookie: string): Promise<WebResponse> {
    await state.saveDeviceCookieKey();
    const s = state.sessions.create(OWNER_NAME, Date.now());
    await state.flush().catch(() => undefined);
    state.markDirty('sessions', 0);
    const cookies = [hostCookie(SESSION_COOKIE, s.id), hostCookie(LOGIN_COOKIE, '', 0), deviceCookie];
    return { kind: 'redirect', location: '/', headers: { 'set-cookie': cookies } };
  }

  // ---- public routes -------------------------------------------------------------------
  router.add({ method: 'GET', path: '/static/app.css', access: 'public', csrf: false, handler: () => ({ kind: 'text', body: APP_CSS, contentType: 'text/css; charset=utf-8', headers: { 'cache-control': 'public, max-age=3600' } }) });
  router.add({ method: 'GET', path: '/static/app.js', access: 'public', csrf: false, handler: () => ({ kind: 'text', body: APP_JS, contentType: 'text/javascript; charset=utf-8', headers: { 'cache-control': 'public, max-age=3600' } }) });
  router.add({
    method: 'GET', path: '/.well-known/security.txt', access: 'public', csrf: false,
    handler: (req) => {
      const expires = new Date(Math.min(Date.now() + 180 * 86_400_000, Date.parse(unit.supportPeriodEnd) + 86_400_000));
      const body = `Contact: ${unit.securityContact}\nExpires: ${expires.toISOString().replace(/\.\d+Z$/, '.000Z')}\nPreferred-Languages: en\n` +
        `Canonical: https://${req.headers.host ?? '127.0.0.1'}/.well-known/security.txt\n` +
        `# ${unit.maker} ${unit.modelName}: security updates until ${unit.supportPeriodEnd}\n`;
      return { kind: 'text', body, contentType: 'text/plain; charset=utf-8' };
    },
  });

  router.add({
    method: 'GET', path: '/login', access: 'public', csrf: false,
    handler: (req) => {
      if (setupPending()) return { kind: 'redirect', location: '/setup' };
      if (sessionOf(req)) return { kind: 'redirect', location: '/' };
      return loginHtml(200, req.query.get('changed') === '1' ? { notice: 'Password changed. Log in with the new password.' } : {});
    },
  });

  router.add({
    method: 'POST', path: '/login', access: 'public', csrf: false,
    handler: async (req) => {
      requirePreSessionToken(req);
      if (setupPending()) return { kind: 'redirect', location: '/setup' };
      const username = form(req.body.username, 'username', 64);
      const password = form(req.body.password, 'password', 256);
      const known = username === (state.owner?.username ?? OWNER_NAME);
      const identity = known ? username : UNKNOWN_ACCOUNT;
      const r = await guarded(req, identity, 'login', (priority) => checkLogin(known, password, priority));
      const detail = r.trusted ? 'trusted browser (device cookie)' : undefined;
      record(req, 'login', r.ok ? 'success' : 'failure', identity, detail);
      if (!r.ok || !r.deviceCookie) {
        return loginHtml(401, { error: 'Wrong user name or password.', username: username.slice(0, 64) });
      }
      return startSession(r.deviceCookie);
    },
  });

  router.add({
    method: 'GET', path: '/setup', access: 'public', csrf: false,
    handler: () => (setupPending() ? setupHtml(200) : { kind: 'html', status: 404, body: pages.errorPage(frame('Not found'), 404, 'Setup is already complete.') }),
  });

  router.add({
    method: 'POST', path: '/setup/strength', access: 'public', csrf: false,
    handler: async (req) => {
      if (!setupPending()) throw new HttpError(404, 'SETUP_CLOSED', 'setup is already complete');
      requirePreSessionToken(req);
      const r = await checkPasswordStrength(form(req.body.password, 'password', 512), { userInputs });
      return { kind: 'json', body: { ok: r.ok, score: r.score, reasons: r.reasons } };
    },
  });

  router.add({
    method: 'POST', path: '/setup', access: 'public', csrf: false,
    handler: async (req) => {
      if (!setupPending()) throw new HttpError(404, 'SETUP_CLOSED', 'setup is already complete');
      requirePreSessionToken(req);
      const code = form(req.body.setupCode, 'setupCode', 32);
      const next = form(req.body.newPassword, 'newPassword', 256);
      const confirm = form(req.body.confirmPassword, 'confirmPassword', 256);
      const checkCode = (): Promise<boolean> => verifySetupCodeForOwner(code, bundle.pairingVerifierJson);
      const { ok } = await guarded(req, 'setup', 'setup', checkCode);
      record(req, 'setup', ok ? 'success' : 'failure', 'setup');
      if (!ok) return setupHtml(401, { error: 'That setup code is not the one on this device\'s label.' });
      if (next !== confirm) return setupHtml(422, { error: 'The two passwords differ.' });
      const strength = await checkPasswordStrength(next, { userInputs });
      if (!strength.ok) return setupHtml(422, { error: 'Choose a stronger password:', reasons: strength.reasons.map((r) => r.message) });
      await state.saveOwner({ version: 1, username: OWNER_NAME, passwordHash: await hashPassword(next), changedAt: new Date().toISOString(), source: 'owner' });
      record(req, 'password-change', 'success', OWNER_NAME, 'initial password set at setup');
      // The code on the label proved the owner: this browser is theirs.
      return startSession(deviceCookieHeader(guard.cookies.issue(state.deviceCookieKey, OWNER_NAME, Date.now())));
    },
  });

  // ---- owner routes --------------------------------------------------------------------
  router.add({
    method: 'GET', path: '/', access: 'session', csrf: false,
    handler: (req, ctx) => {
      const s = ctx.session!;
      const uptime = Math.floor((Date.now() - device.startedAt) / 1000);
      const facts: Array<[string, string]> = [
        ['Model', `${unit.modelName} (${unit.model})`], ['Serial', unit.serial], ['Maker', unit.maker],
        ['Firmware', device.firmwareVersion], ['Uptime', `${Math.floor(uptime / 3600)} h ${Math.floor((uptime % 3600) / 60)} min ${uptime % 60} s`],
        ['Security updates until', unit.supportPeriodEnd],
        ['Password', state.owner?.source === 'owner' ? 'set by you' : 'from the label (change it any time)'],
        ...(device.facts?.() ?? []),
      ];
      const notice = req.query.get('done') ?? undefined;
      return { kind: 'html', body: pages.dashboardPage({ ...frame('Dashboard'), csrf: s.csrfToken }, { facts, capabilities: device.capabilities(), actions: ownerActions, ...(notice ? { notice: notice.slice(0, 120) } : {}) }) };
    },
  });

  router.add({
    method: 'GET', path: '/api/status', access: 'session', csrf: false,
    handler: () => ({ kind: 'json', body: { serial: unit.serial, model: unit.model, firmware: device.firmwareVersion, uptimeSeconds: Math.floor((Date.now() - device.startedAt) / 1000), capabilities: device.capabilities() } }),
  });

  router.add({
    method: 'POST', path: '/api/capabilities/:capability/:action', access: 'session', csrf: true,
    handler: async (req) => {
      const { capability, action } = req.params as { capability: string; action: string };
      let value: unknown = req.body.value;
      if (typeof value === 'string' && /^-?\d{1,6}$/.test(value)) value = Number(value);
      const result = await device.invoke(capability, action, value);
      record(req, 'control', 'success', OWNER_NAME, `${capability} ${action}`);
      if (req.wantsJson) return { kind: 'json', body: { ok: true, value: result } };
      return { kind: 'redirect', location: '/?done=' + encodeURIComponent(`${capability}: ${action}`) };
    },
  });

  router.add({
    method: 'POST', path: '/api/password-strength', access: 'session', csrf: true,
    handler: async (req) => {
      const r = await checkPasswordStrength(form(req.body.password, 'password', 512), { userInputs });
      return { kind: 'json', body: { ok: r.ok, score: r.score, reasons: r.reasons } };
    },
  });

  router.add({
    method: 'GET', path: '/password', access: 'session', csrf: false,
    handler: (_req, ctx) => ({ kind: 'html', body: pages.passwordPage({ ...frame('Password'), csrf: ctx.session!.csrfToken }, {}) }),
  });

  router.add({
    method: 'POST', path: '/password', access: 'session', csrf: true,
    handler: async (req, ctx) => {
      const csrf = ctx.session!.csrfToken;
      const current = form(req.body.currentPassword, 'currentPassword');
      const next = form(req.body.newPassword, 'newPassword');
      const confirm = form(req.body.confirmPassword, 'confirmPassword');
      const page = (status: number, o: { error?: string; reasons?: readonly string[] }): WebResponse =>
        ({ kind: 'html', status, body: pages.passwordPage({ ...frame('Password'), csrf }, o) });
      const hash = currentHash();
      const { ok, deviceCookie } = await guarded(req, OWNER_NAME, 'password-change',
        async (priority) => (hash ? (await verifyPassword(current, hash, { priority })).ok : false));
      if (!ok) { record(req, 'password-change', 'failure', OWNER_NAME, 'current password wrong'); return page(401, { error: 'The current password is wrong.' }); }
      if (next !== confirm) return page(422, { error: 'The two new passwords differ.' });
      const strength = await checkPasswordStrength(next, { userInputs });
      if (!strength.ok) {
        record(req, 'password-change', 'refused', OWNER_NAME, strength.reasons.map((r) => r.code).join(','));
        return page(422, { error: 'That password is not accepted:', reasons: strength.reasons.map((r) => r.message) });
      }
      const owner: OwnerRecord = { version: 1, username: OWNER_NAME, passwordHash: await hashPassword(next), changedAt: new Date().toISOString(), source: 'owner' };
      await state.saveOwner(owner);
      state.sessions.destroyAllFor(OWNER_NAME);
      state.markDirty('sessions', 0);
      await state.flush();
      record(req, 'password-change', 'success', OWNER_NAME, 'all sessions ended');
      if (deviceCookie) await state.saveDeviceCookieKey();
      const cookies = [hostCookie(SESSION_COOKIE, '', 0), ...(deviceCookie ? [deviceCookie] : [])];
      return { kind: 'redirect', location: '/login?changed=1', headers: { 'set-cookie': cookies } };
    },
  });

  router.add({
    method: 'GET', path: '/journal', access: 'session', csrf: false,
    handler: async (_req, ctx) => ({ kind: 'html', body: pages.journalPage({ ...frame('Journal'), csrf: ctx.session!.csrfToken }, await journal.list({ limit: 200 })) }),
  });

  router.add({
    method: 'GET', path: '/api/journal', access: 'session', csrf: false,
    handler: async (req) => {
      const n = Number(req.query.get('limit') ?? '100');
      return { kind: 'json', body: { entries: await journal.list({ limit: Number.isInteger(n) && n > 0 && n <= 1000 ? n : 100 }) } };
    },
  });

  // The owner's data, for the owner to keep: what the device holds about them and their home. No secret
  // (no hash, key or code); deleting it all is the factory reset (hold the button).
  router.add({
    method: 'GET', path: '/api/export', access: 'session', csrf: false,
    handler: async (req) => {
      record(req, 'control', 'success', OWNER_NAME, 'data export');
      const body = {
        format: 'bulwark-export/1', exportedAt: new Date().toISOString(),
        device: { serial: unit.serial, model: unit.model, modelName: unit.modelName, firmware: device.firmwareVersion, supportPeriodEnd: unit.supportPeriodEnd },
        owner: { username: OWNER_NAME, password: state.owner?.source === 'owner' ? 'set by the owner' : 'the label\'s', ...(state.owner?.changedAt ? { changedAt: state.owner.changedAt } : {}) },
        capabilities: device.capabilities(),
        ...(await device.exportData?.() ?? {}),
        journal: await journal.list({ limit: 1_000 }),
        erase: 'hold the device\'s button (factory reset): the owner password, sessions, pairings, journal and cloud claim are erased',
      };
      return { kind: 'json', body, headers: { 'content-disposition': 'attachment; filename="bulwark-export.json"', 'cache-control': 'no-store' } };
    },
  });

  router.add({
    method: 'POST', path: '/logout', access: 'session', csrf: true,
    handler: (req, ctx) => {
      state.sessions.destroy(ctx.session!.id);
      state.markDirty('sessions', 0);
      record(req, 'logout', 'success', OWNER_NAME);
      return { kind: 'redirect', location: '/login', headers: { 'set-cookie': hostCookie(SESSION_COOKIE, '', 0) } };
    },
  });

  const ownerActions = device.ownerActions?.() ?? [];
  for (const action of ownerActions) {
    router.add({
      method: 'POST', path: `/api/actions/${action.id}`, access: 'session', csrf: true,
      handler: async (req) => {
        const text = await action.run();
        record(req, 'control', 'success', OWNER_NAME, action.id);
        return req.wantsJson ? { kind: 'json', body: { ok: true, message: text } } : { kind: 'redirect', location: '/?done=' + encodeURIComponent(text) };
      },
    });
  }

  // ---- dispatch ------------------------------------------------------------------------
  const statusOf = (err: unknown): number => {
    if (err instanceof HttpError) return err.status;
    if (!(err instanceof BulwarkError)) return 500;
    switch (err.code) {
      case 'INVALID_INPUT': case 'PASSWORD_INPUT_INVALID': return 400;
      case 'AUTH_BUSY': return 503;
      case 'UNKNOWN_CAPABILITY': case 'UNKNOWN_ACTION': return 404;
      case 'CAPABILITY_VALUE_INVALID': return 422;
      default: return 400;
    }
  };

  async function handle(rawReq: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = rawReq.method ?? 'GET';
    const head = method === 'HEAD';
    const socket = rawReq.socket;
    const sourceAddress = (socket.remoteAddress ?? '0.0.0.0').replace(/^::ffff:/, '');
    const base: Omit<WebRequest, 'body' | 'params'> = (() => {
      const rawUrl = rawReq.url ?? '/';
      if (rawUrl.length > config.limits.maxPathBytes || !rawUrl.startsWith('/')) throw new HttpError(414, 'URI_INVALID', 'bad request target');
      const url = new URL(rawUrl, 'https://device.invalid');
      const accept = String(rawReq.headers.accept ?? '');
      return {
        method, path: url.pathname, query: url.searchParams, headers: rawReq.headers,
        cookies: parseCookies(rawReq.headers.cookie, config.limits), sourceAddress, sourcePort: socket.remotePort ?? 0,
        // Forms posted by the page get redirects; fetch() and API clients get JSON.
        wantsJson: accept.includes('application/json') || String(rawReq.headers['content-type'] ?? '').startsWith('application/json') ||
          (url.pathname.startsWith('/api/') && method !== 'POST'),
      };
    })();
    let req: WebRequest = { ...base, body: {}, params: {} };
    try {
      const host = rawReq.headers.host;
      if (typeof host !== 'string' || !allowedHosts.has(host.toLowerCase())) {
        throw new HttpError(421, 'HOST_NOT_ALLOWED', 'unknown host name');
      }
      const { route, params } = router.resolve(method, base.path);
      const ctx: Ctx = {};
      if (route.access === 'session') {
        if (setupPending()) {
          throw new HttpError(req.wantsJson ? 401 : 303, 'SETUP_REQUIRED', 'set the owner password first', req.wantsJson ? {} : { location: '/setup' });
        }
        const session = sessionOf(req);
        if (!session) throw new HttpError(req.wantsJson ? 401 : 303, 'AUTH_REQUIRED', 'log in first', req.wantsJson ? {} : { location: '/login' });
        ctx.session = session;
      }
      if (method === 'POST') req = { ...req, params, body: await parseBody(rawReq, config.limits) };
      else req = { ...req, params };
      if (route.csrf) {
        checkSameOrigin(req);
        const token = req.body.csrf ?? req.headers['x-csrf-token'];
        if (typeof token !== 'string' || !state.sessions.verifyCsrf(ctx.session!.id, token, Date.now())) {
          record(req, 'csrf', 'refused', OWNER_NAME, `${method} ${base.path}`);
          throw new HttpError(403, 'CSRF_TOKEN_INVALID', 'missing or wrong CSRF token');
        }
      }
      writeResponse(res, await route.handler(req, ctx), head);
    } catch (err) {
      const status = statusOf(err);
      if (status === 500) warn(`internal error on ${method} ${base.path}: ${err instanceof Error ? err.message : String(err)}`);
      if (err instanceof HttpError && err.status === 303) { writeResponse(res, { kind: 'redirect', location: err.headers.location ?? '/login' }, head); return; }
      if (err instanceof HttpError && err.code.startsWith('CSRF')) record(req, 'csrf', 'refused', undefined, `${method} ${base.path}`);
      const code = err instanceof BulwarkError ? err.code : 'INTERNAL';
      const text = status === 500 ? 'internal error' : (err as Error).message;
      const headers = err instanceof HttpError ? err.headers : {};
      if (req.wantsJson) writeResponse(res, { kind: 'json', status, body: { error: { code, message: text } }, headers }, head);
      else writeResponse(res, { kind: 'html', status, body: pages.errorPage(frame('Error'), status, text), headers }, head);
    }
  }

  const listener = await listenHttps({
    keyPem: bundle.webKeyPem,
    certPem: bundle.webCertPem,
    host: config.host,
    port: config.port,
    requestTimeoutMs: config.requestTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    admission: { maxConnections: config.maxConnections, ...config.admission },
    record: (r) => journal.record({ surface: 'web', ...r }),
    handler: (req, res) => {
      handle(req, res).catch((err: unknown) => {
        warn(`response failed: ${err instanceof Error ? err.message : String(err)}`);
        answerInternalError(res);
      });
    },
  });
  const server = listener.server;
  port = listener.port;
  const names = new Set(['localhost', `${unit.serial.toLowerCase()}.local`, config.host]);
  if (config.host === '0.0.0.0' || config.host === '::') {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(a.address);
  }
  names.add('127.0.0.1');
  names.add('::1');
  for (const n of names) {
    const h = n.includes(':') ? `[${n}]` : n;
    allowedHosts.add(`${h}:${port}`.toLowerCase());
    if (port === 443) allowedHosts.add(h.toLowerCase());
  }
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `https://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;

  return {
    url, port, server, routes: router.list(), state,
    async close() {
      await listener.close();
      await state.flush();
    },
    async reset() { await state.erase(); },
    unlockLogin() {
      const now = Date.now();
      saveGuardState(guard.unlock(guardState(), now));
      state.markDirty('cookies', 0);
      const minutes = Math.round(guard.cookies.config.physicalUnlockMs / 60_000);
      journal.record({ surface: 'web', source: 'local', event: 'login-unlock', result: 'info',
        detail: `physical act: a new browser may log in for ${minutes} min; per-address back-off still applies` });
      return `login from a new browser allowed for ${minutes} minutes`;
    },
  };
}

