/**
 * The hub's local HTTPS admin page, on the same pieces and rules as the device's: src/web's
 * route table (each route states its access and CSRF rule), bounded bodies and security
 * headers; src/auth's argon2id, lockout before any hash and sessions with CSRF tokens;
 * `__Host-` cookies, an Origin check on every state change and a Host allow-list. The owner
 * logs in, sees the paired devices, pairs a new one (setup code or push button), controls,
 * grants and revokes capabilities, and unpairs.
 *
 * The hub has no label, so its first password is made at first run, stored as argon2id, and
 * written once to `initial-admin-password` (0600) in the state dir: whoever can read the hub's
 * disk is its owner, as whoever holds a device is its. Changing the password (same strength
 * policy as the device's) deletes that file and ends every session.
 *
 * Logins go through src/auth's LoginGuard, as on the device: a browser that logged in before
 * carries a device cookie and is limited per cookie, never by a guesser's counters; the
 * account-wide ceiling holds back only new browsers, and `bulwark hub unlock` (the 0600 control
 * socket: a hand on the hub's own account) lifts it for 5 minutes.
 */
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Router, HttpError, parseBody, parseCookies, hostCookie, writeResponse, defaultHttpLimits, escapeHtml, APP_CSS, listenHttps,
  checkSameOrigin, answerInternalError,
  type WebRequest, type WebResponse,
} from '../web/index.ts';
import {
  SessionStore, checkPasswordStrength, emptyLockoutState, hashPassword, parseLockoutState, parseSessionState,
  serialiseLockoutState, sourceKeyFor, verifyPassword, LoginGuard, emptyDeviceCookieState, parseDeviceCookieState,
  serialiseDeviceCookieState, createDeviceCookieKey, parseDeviceCookieKey, serialiseDeviceCookieKey,
  defaultDeviceCookieConfig,
  type LockoutState, type SessionView, type DeviceCookieState, type LoginGuardState,
} from '../auth/index.ts';
import { BulwarkError, InvalidInputError } from '../errors/index.ts';
import { formatSource, type JournalRecordInput } from '../journal/index.ts';
import { validateAdmissionConfig, type AdmissionConfig } from '../admission/index.ts';
import { writeFileAtomic, SECRET_FILE_MODE } from '../storage/index.ts';
import { getModel } from '../models/index.ts';
import type { ChannelValue } from '../channel/index.ts';
import type { Hub, HubDeviceView } from './hub.ts';
import type { HubStore } from './store.ts';

/** The file the first password is written to, once. */
export const HUB_INITIAL_PASSWORD_FILE = 'initial-admin-password';

/** Settings of the hub's admin page. */
export interface HubWebConfig {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Most simultaneous connections. */
  readonly maxConnections: number;
  /** A request must arrive whole within this, ms. */
  readonly requestTimeoutMs: number;
  /** Per-source caps and the deadline to be past the headers (docs/connections.md). */
  readonly admission?: Partial<AdmissionConfig>;
}

/** Loopback on 8444 by default. */
export const defaultHubWebConfig: HubWebConfig = Object.freeze({ host: '127.0.0.1', port: 8444, maxConnections: 64, requestTimeoutMs: 10_000 });

/** Where the admin page records connection attempts, logins and refusals (the hub's connection journal). */
export interface HubWebJournal {
  record(entry: JournalRecordInput): void;
}

/** The running admin page. */
export interface HubWeb {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly routes: ReturnType<Router<Ctx>['list']>;
  close(): Promise<void>;
}

interface Ctx {
  session?: SessionView & { id: string };
}

/** How a check of the owner's password ended; `deviceCookie` (a Set-Cookie value) on success. */
interface OwnerPasswordCheck {
  readonly ok: boolean;
  readonly deviceCookie?: string;
}

const SESSION_COOKIE = '__Host-bulwark-hub-session';
const LOGIN_COOKIE = '__Host-bulwark-hub-login';
const OWNER = 'admin';
const OWNER_KEY = 'web.owner-hash';
const SESSIONS_KEY = 'web.sessions';
const LOCKOUT_KEY = 'web.lockout';
/** Marks a browser that has logged in before (OWASP device cookie); distinct from the device's. */
const DEVICE_COOKIE = '__Host-bulwark-hub-device';
const DEVICE_COOKIES_KEY = 'web.device-cookies';
const DEVICE_COOKIE_KEY_KEY = 'web.device-cookie-key';
/** Until when (ms) new browsers skip the account-wide ceiling; written by the control socket. */
const LOGIN_UNLOCK_KEY = 'web.login-unlocked-until';

/**
 * The hub's physical act (`bulwark hub unlock`, through the 0600 control socket): for 5 minutes,
 * or until one new browser has logged in, the admin page's account-wide ceiling does not hold
 * new browsers back; the per-address back-off still does. Returns the end, ms since the epoch.
 */
export function unlockHubLogin(store: HubStore, now: number): number {
  const until = now + defaultDeviceCookieConfig.physicalUnlockMs;
  store.setMeta(LOGIN_UNLOCK_KEY, String(until));
  return until;
}

/** Reads a JSON meta value with `parse`, or `empty()` when it is missing or damaged. */
function metaOr<T>(store: HubStore, key: string, parse: (text: string) => T, empty: () => T): T {
  try { const t = store.getMeta(key); return t === undefined ? empty() : parse(t); } catch { return empty(); }
}

/** The device cookie key in the hub's store (0600 SQLite), made at first use. */
function deviceCookieKeyOf(store: HubStore): Buffer {
  const existing = metaOr<Buffer | undefined>(store, DEVICE_COOKIE_KEY_KEY, parseDeviceCookieKey, () => undefined);
  if (existing) return existing;
  const key = createDeviceCookieKey();
  store.setMeta(DEVICE_COOKIE_KEY_KEY, serialiseDeviceCookieKey(key));
  return key;
}

function field(value: unknown, name: string, max = 256): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw new InvalidInputError(`field ${name} is missing or too long`, { field: name });
  return value;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function layout(title: string, body: string, csrf?: string): string {
  const nav = csrf
    ? `<nav aria-label="Main"><a href="/">Devices</a><a href="/password">Password</a><form method="post" action="/logout"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}"><button class="linklike" type="submit">Log out</button></form></nav>`
    : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(title)} · Bulwark hub</title><link rel="stylesheet" href="/static/app.css"></head>` +
    `<body><header><strong>Bulwark hub</strong>${nav}</header><main>${body}</main></body></html>\n`;
}

function message(error?: string, notice?: string): string {
  return (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '') + (notice ? `<p class="notice" role="status">${escapeHtml(notice)}</p>` : '');
}

function shown(v: ChannelValue | undefined): string {
  return v === undefined || v === null ? '—' : typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
}

function postButton(action: string, csrf: string, label: string, aria?: string): string {
  return `<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">` +
    `<button type="submit" class="secondary"${aria ? ` aria-label="${escapeHtml(aria)}"` : ''}>${escapeHtml(label)}</button></form>`;
}

function deviceCard(d: HubDeviceView, csrf: string): string {
  const model = getModel(d.model);
  const base = `/devices/${encodeURIComponent(d.serial)}`;
  const rows = model.capabilities.map((c) => {
    const allowed = d.access.includes(c.id);
    const actions = allowed ? c.actions.filter((a) => a !== 'get' && a !== 'set').map((a) => postButton(`${base}/call/${c.id}/${a}`, csrf, a, `${d.serial} ${c.id}: ${a}`)).join(' ') : '';
    const access = allowed
      ? postButton(`${base}/revoke/${c.id}`, csrf, 'revoke', `revoke ${c.id} on ${d.serial}`)
      : postButton(`${base}/grant/${c.id}`, csrf, c.sensitive ? 'grant (sensitive)' : 'grant', `grant ${c.id} on ${d.serial}`);
    return `<div class="cap" data-capability="${escapeHtml(c.id)}"><div><strong>${escapeHtml(c.id)}</strong> <span class="muted">${escapeHtml(c.description)}</span><br>` +
      `<span class="value">${escapeHtml(shown(d.state[c.id]))}${c.unit && d.state[c.id] !== undefined ? ' ' + escapeHtml(c.unit) : ''}</span>` +
      `${allowed ? '' : ' <span class="muted">(not granted)</span>'}</div><div>${actions} ${access}</div></div>`;
  }).join('');
  return `<section class="card" data-serial="${escapeHtml(d.serial)}" aria-labelledby="d-${escapeHtml(d.serial)}"><h2 id="d-${escapeHtml(d.serial)}">${escapeHtml(model.name)} ${escapeHtml(d.serial)}</h2>` +
    `<dl><dt>Address</dt><dd>${escapeHtml(d.address)}</dd><dt>Link</dt><dd>${d.connected ? 'connected (mutual TLS 1.3, key pinned)' : 'not connected (reconnecting)'}</dd>` +
    `<dt>Paired</dt><dd>${escapeHtml(d.pairedAt)} by ${escapeHtml(d.mode)}</dd><dt>Device key</dt><dd>${escapeHtml(d.pin)}</dd></dl>${rows}` +
    postButton(`${base}/unpair`, csrf, 'Unpair', `unpair ${d.serial}`) + '</section>';
}

/** Starts the admin page for `hub`; `stateDir` holds the first password's file. */
export async function startHubWeb(
  hub: Hub, stateDir: string, config: Partial<HubWebConfig> = {}, warn: (m: string) => void = () => undefined,
  journal?: HubWebJournal,
): Promise<HubWeb> {
  const c = { ...defaultHubWebConfig, ...config };
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) throw new InvalidInputError('webPort must be 0..65535');
  validateAdmissionConfig({ ...c.admission, maxConnections: c.maxConnections });
  const store = hub.store;
  if (store.getMeta(OWNER_KEY) === undefined) {
    const password = randomBytes(15).toString('base64url'); // 120 bits
    await writeFileAtomic(join(stateDir, HUB_INITIAL_PASSWORD_FILE), password + '\n', SECRET_FILE_MODE);
    store.setMeta(OWNER_KEY, await hashPassword(password));
  }
  const sessions = new SessionStore({}, (() => {
    try { const t = store.getMeta(SESSIONS_KEY); return t === undefined ? undefined : parseSessionState(t); } catch { return undefined; }
  })());
  let lockoutState: LockoutState = metaOr(store, LOCKOUT_KEY, parseLockoutState, emptyLockoutState);
  let cookieState = metaOr<DeviceCookieState>(store, DEVICE_COOKIES_KEY, parseDeviceCookieState,
    emptyDeviceCookieState);
  const cookieKey = deviceCookieKeyOf(store);
  const guard = new LoginGuard();
  const saveSessions = (): void => store.setMeta(SESSIONS_KEY, sessions.serialise());
  const saveGuard = (next: LoginGuardState): void => {
    if (next.lockout !== lockoutState) store.setMeta(LOCKOUT_KEY, serialiseLockoutState(lockoutState = next.lockout));
    if (next.cookies === cookieState) return;
    cookieState = next.cookies;
    store.setMeta(DEVICE_COOKIES_KEY, serialiseDeviceCookieState(cookieState));
  };
  const loginKey = randomBytes(32);
  const loginToken = (cookie: string): string => createHmac('sha256', loginKey).update(cookie).digest('base64url');
  const allowedHosts = new Set<string>();
  const router = new Router<Ctx>();
  const journalEvent = (req: WebRequest, event: string, result: JournalRecordInput['result'], detail?: string): void => {
    journal?.record({ surface: 'web', source: formatSource(req.sourceAddress, req.sourcePort), event, result,
      identity: OWNER, ...(detail ? { detail } : {}) });
  };

  /** The guard's state with the control socket's unlock (if any) applied; journals a new unlock once. */
  let loggedUnlock = 0;
  function guardState(now: number): LoginGuardState {
    const until = Number(store.getMeta(LOGIN_UNLOCK_KEY) ?? 0);
    if (!Number.isSafeInteger(until) || until <= now) return { lockout: lockoutState, cookies: cookieState };
    if (until !== loggedUnlock) {
      loggedUnlock = until;
      const when = new Date(until).toISOString();
      warn(`login: a new browser may log in until ${when} (hub unlock); per-address back-off still applies`);
    }
    return { lockout: lockoutState, cookies: { ...cookieState, untrustedUnlockedUntil: until } };
  }

  /**
   * Checks a guess at the owner's password: device cookie and lockout first (429 before any
   * hash), then argon2id, a trusted browser's ahead of a guessing flood. A success refunds the
   * charge and yields a fresh device cookie (a Set-Cookie value).
   */
  async function checkOwnerPassword(req: WebRequest, password: string): Promise<OwnerPasswordCheck> {
    const source = sourceKeyFor(req.sourceAddress);
    const attempt = { source, account: OWNER, deviceCookie: req.cookies.get(DEVICE_COOKIE) };
    const given = guardState(Date.now());
    const r = guard.admit(given, cookieKey, attempt, Date.now());
    // The unlock lives in its own meta key (the control socket writes it), never in the stored list.
    const cookies = r.state.cookies === given.cookies ? cookieState : { ...r.state.cookies, untrustedUnlockedUntil: 0 };
    saveGuard({ lockout: r.state.lockout, cookies });
    if (!r.decision.allowed) {
      if (r.decision.scope === 'cookie') warn('login: a device cookie is locked out after repeated failures');
      const wait = String(r.decision.retryAfterSeconds);
      const text = `too many failed attempts; try again in ${wait} s`;
      journalEvent(req, 'login', 'locked-out', `retry in ${wait} s (${r.decision.scope})`);
      throw new HttpError(429, 'LOGIN_LOCKED_OUT', text, { 'retry-after': wait });
    }
    const priority = r.ticket.trusted ? 'trusted' : 'normal';
    if (!(await verifyPassword(password, store.getMeta(OWNER_KEY)!, { priority })).ok) {
      journalEvent(req, 'login', 'failure');
      return { ok: false };
    }
    journalEvent(req, 'login', 'success', r.ticket.trusted ? 'trusted browser' : undefined);
    const done = guard.recordSuccess({ lockout: lockoutState, cookies: cookieState }, cookieKey, r.ticket, Date.now());
    saveGuard(done.state);
    // The unlock was for one new browser: it has its cookie now.
    if (!r.ticket.trusted && r.ticket.unlocked) store.setMeta(LOGIN_UNLOCK_KEY, undefined);
    if (r.ticket.trusted) warn('login: the owner logged in from a trusted browser (device cookie)');
    return { ok: true, deviceCookie: hostCookie(DEVICE_COOKIE, done.deviceCookie, guard.cookies.maxAgeSeconds) };
  }

  const loginPage = (status: number, error?: string): WebResponse => {
    const value = randomBytes(32).toString('base64url');
    return {
      kind: 'html', status, headers: { 'set-cookie': hostCookie(LOGIN_COOKIE, value, 1800) },
      body: layout('Log in', `<h1>Log in</h1><div class="card">${message(error)}<form method="post" action="/login">` +
        `<input type="hidden" name="csrf" value="${escapeHtml(loginToken(value))}">` +
        `<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256" autofocus>` +
        `<p class="muted">First time? The password is in the file ${escapeHtml(HUB_INITIAL_PASSWORD_FILE)} in the hub's state folder.</p>` +
        `<button type="submit">Log in</button></form></div>`),
    };
  };

  const dashboard = (csrf: string, o: { error?: string; notice?: string } = {}): string => {
    const devices = hub.devices();
    return layout('Devices', `<h1>Devices</h1>${message(o.error, o.notice)}` +
      `<section class="card" aria-labelledby="pair-h"><h2 id="pair-h">Pair a device</h2>` +
      `<p class="muted">Press the device's button (or open its pairing window on its admin page) first. With the setup code from its label the pairing is safe against anyone on the network; without one only devices that allow push-button pairing accept.</p>` +
      `<form method="post" action="/devices/pair"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">` +
      `<label for="address">Device address (host:port)</label><input id="address" name="address" required maxlength="270" placeholder="192.0.2.10:5541">` +
      `<label for="setup-code">Setup code (optional)</label><input id="setup-code" name="setupCode" inputmode="numeric" autocomplete="off" maxlength="20" placeholder="1234-5678-9012">` +
      `<button type="submit">Pair</button></form></section>` +
      (devices.length ? devices.map((d) => deviceCard(d, csrf)).join('') : '<p>No paired devices yet.</p>'), csrf);
  };

  const back = (notice: string): WebResponse => ({ kind: 'redirect', location: '/?done=' + encodeURIComponent(notice.slice(0, 200)) });

  router.add({ method: 'GET', path: '/static/app.css', access: 'public', csrf: false, handler: () => ({ kind: 'text', body: APP_CSS, contentType: 'text/css; charset=utf-8', headers: { 'cache-control': 'public, max-age=3600' } }) });
  router.add({ method: 'GET', path: '/login', access: 'public', csrf: false, handler: () => loginPage(200) });
  router.add({
    method: 'POST', path: '/login', access: 'public', csrf: false,
    handler: async (req) => {
      checkSameOrigin(req);
      const cookie = req.cookies.get(LOGIN_COOKIE);
      const token = req.body.csrf;
      if (!cookie || typeof token !== 'string' || !safeEqual(loginToken(cookie), token)) throw new HttpError(403, 'CSRF_TOKEN_INVALID', 'the form expired: reload it');
      const password = field(req.body.password, 'password');
      const checked = await checkOwnerPassword(req, password);
      if (!checked.ok || !checked.deviceCookie) return loginPage(401, 'Wrong password.');
      const s = sessions.create(OWNER, Date.now());
      saveSessions();
      const cookies = [hostCookie(SESSION_COOKIE, s.id), hostCookie(LOGIN_COOKIE, '', 0), checked.deviceCookie];
      return { kind: 'redirect', location: '/', headers: { 'set-cookie': cookies } };
    },
  });
  router.add({
    method: 'POST', path: '/logout', access: 'session', csrf: true,
    handler: (_req, ctx) => {
      sessions.destroy(ctx.session!.id);
      saveSessions();
      return { kind: 'redirect', location: '/login', headers: { 'set-cookie': hostCookie(SESSION_COOKIE, '', 0) } };
    },
  });
  router.add({
    method: 'GET', path: '/', access: 'session', csrf: false,
    handler: (req, ctx) => ({ kind: 'html', body: dashboard(ctx.session!.csrfToken, { notice: req.query.get('done')?.slice(0, 200) ?? undefined }) }),
  });
  router.add({ method: 'GET', path: '/api/devices', access: 'session', csrf: false, handler: () => ({ kind: 'json', body: { devices: hub.devices() } }) });
  router.add({
    method: 'POST', path: '/devices/pair', access: 'session', csrf: true,
    handler: async (req, ctx) => {
      const address = field(req.body.address, 'address', 270);
      const code = typeof req.body.setupCode === 'string' && req.body.setupCode.trim() !== '' ? field(req.body.setupCode, 'setupCode', 32) : undefined;
      try {
        const d = await hub.pair({ address, ...(code !== undefined ? { setupCode: code } : {}) });
        return req.wantsJson ? { kind: 'json', body: { ok: true, device: d } } : back(`paired ${d.serial} by ${d.mode}`);
      } catch (err) {
        if (!(err instanceof BulwarkError)) throw err;
        if (req.wantsJson) return { kind: 'json', status: 409, body: { error: { code: err.code, message: err.message } } };
        return { kind: 'html', status: 409, body: dashboard(ctx.session!.csrfToken, { error: `Pairing failed (${err.code}): ${err.message}` }) };
      }
    },
  });
  router.add({
    method: 'POST', path: '/devices/:serial/call/:capability/:action', access: 'session', csrf: true,
    handler: async (req) => {
      const { serial, capability, action } = req.params as { serial: string; capability: string; action: string };
      let value: ChannelValue | undefined = typeof req.body.value === 'string' ? req.body.value : undefined;
      if (typeof value === 'string' && /^-?\d{1,6}$/.test(value)) value = Number(value);
      const result = await hub.call(serial, capability, action, value);
      return req.wantsJson ? { kind: 'json', body: { ok: true, value: result } } : back(`${serial} ${capability}: ${action} -> ${shown(result)}`);
    },
  });
  for (const verb of ['grant', 'revoke'] as const) {
    router.add({
      method: 'POST', path: `/devices/:serial/${verb}/:capability`, access: 'session', csrf: true,
      handler: (req) => {
        const { serial, capability } = req.params as { serial: string; capability: string };
        const d = verb === 'grant' ? hub.grant(serial, capability) : hub.revoke(serial, capability);
        return req.wantsJson ? { kind: 'json', body: { ok: true, device: d } } : back(`${verb === 'grant' ? 'granted' : 'revoked'} ${capability} on ${serial}`);
      },
    });
  }
  router.add({
    method: 'POST', path: '/devices/:serial/unpair', access: 'session', csrf: true,
    handler: async (req) => {
      const { serial } = req.params as { serial: string };
      const r = await hub.unpair(serial);
      return req.wantsJson ? { kind: 'json', body: { ok: true, ...r } } : back(`unpaired ${serial}${r.toldDevice ? '' : ' (the device was offline and still holds this hub\'s key: unpair it on the device too)'}`);
    },
  });

  const passwordPage = (csrf: string, status = 200, o: { error?: string; reasons?: readonly string[] } = {}): WebResponse => ({
    kind: 'html', status,
    body: layout('Password', `<h1>Change the hub's password</h1><div class="card">${message(o.error)}` +
      (o.reasons?.length ? `<ul class="error">${o.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>` : '') +
      `<form method="post" action="/password"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">` +
      `<label for="current">Current password</label><input id="current" name="currentPassword" type="password" autocomplete="current-password" required maxlength="256">` +
      `<label for="new">New password</label><input id="new" name="newPassword" type="password" autocomplete="new-password" required minlength="12" maxlength="128">` +
      `<label for="confirm">New password again</label><input id="confirm" name="confirmPassword" type="password" autocomplete="new-password" required minlength="12" maxlength="128">` +
      `<p class="muted">At least 12 characters and hard to guess; a passphrase of several words works well. Every session ends, and the file ${escapeHtml(HUB_INITIAL_PASSWORD_FILE)} is deleted.</p>` +
      `<button type="submit">Change password</button></form></div>`, csrf),
  });
  router.add({ method: 'GET', path: '/password', access: 'session', csrf: false, handler: (_req, ctx) => passwordPage(ctx.session!.csrfToken) });
  router.add({
    method: 'POST', path: '/password', access: 'session', csrf: true,
    handler: async (req, ctx) => {
      const csrf = ctx.session!.csrfToken;
      const current = field(req.body.currentPassword, 'currentPassword');
      const next = field(req.body.newPassword, 'newPassword');
      const confirm = field(req.body.confirmPassword, 'confirmPassword');
      // The current password is a guess like any login's: same lockout, counted before the hash.
      const checked = await checkOwnerPassword(req, current);
      if (!checked.ok) return passwordPage(csrf, 401, { error: 'The current password is wrong.' });
      if (next !== confirm) return passwordPage(csrf, 422, { error: 'The two new passwords differ.' });
      const strength = await checkPasswordStrength(next, { userInputs: ['bulwark', 'hub', OWNER] });
      if (!strength.ok) return passwordPage(csrf, 422, { error: 'That password is not accepted:', reasons: strength.reasons.map((r) => r.message) });
      store.setMeta(OWNER_KEY, await hashPassword(next));
      sessions.destroyAllFor(OWNER);
      saveSessions();
      await rm(join(stateDir, HUB_INITIAL_PASSWORD_FILE), { force: true });
      return { kind: 'redirect', location: '/login', headers: { 'set-cookie': hostCookie(SESSION_COOKIE, '', 0) } };
    },
  });

  const statusOf = (err: unknown): number => {
    if (err instanceof HttpError) return err.status;
    if (!(err instanceof BulwarkError)) return 500;
    switch (err.code) {
      case 'HUB_DEVICE_UNKNOWN': case 'HUB_CAPABILITY_UNKNOWN': case 'HUB_ACTION_UNKNOWN': return 404;
      case 'HUB_CAPABILITY_NOT_GRANTED': return 403;
      case 'HUB_DEVICE_OFFLINE': return 503;
      case 'AUTH_BUSY': return 503;
      default: return 400;
    }
  };

  async function handle(raw: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = raw.method ?? 'GET';
    const head = method === 'HEAD';
    const rawUrl = raw.url ?? '/';
    if (rawUrl.length > defaultHttpLimits.maxPathBytes || !rawUrl.startsWith('/')) { writeResponse(res, { kind: 'json', status: 414, body: { error: { code: 'URI_INVALID' } } }, head); return; }
    const url = new URL(rawUrl, 'https://hub.invalid');
    const accept = String(raw.headers.accept ?? '');
    let req: WebRequest = {
      method, path: url.pathname, query: url.searchParams, headers: raw.headers, params: {}, body: {},
      cookies: parseCookies(raw.headers.cookie), sourceAddress: (raw.socket.remoteAddress ?? '0.0.0.0').replace(/^::ffff:/, ''), sourcePort: raw.socket.remotePort ?? 0,
      wantsJson: accept.includes('application/json') || String(raw.headers['content-type'] ?? '').startsWith('application/json') || (url.pathname.startsWith('/api/') && method !== 'POST'),
    };
    try {
      const host = raw.headers.host;
      if (typeof host !== 'string' || !allowedHosts.has(host.toLowerCase())) throw new HttpError(421, 'HOST_NOT_ALLOWED', 'unknown host name');
      const { route, params } = router.resolve(method, req.path);
      const ctx: Ctx = {};
      if (route.access === 'session') {
        const id = req.cookies.get(SESSION_COOKIE);
        const touched = id ? sessions.touch(id, Date.now()) : undefined;
        if (touched?.changed) saveSessions();
        if (!id || !touched?.session) throw new HttpError(req.wantsJson ? 401 : 303, 'AUTH_REQUIRED', 'log in first', req.wantsJson ? {} : { location: '/login' });
        ctx.session = { ...touched.session, id };
      }
      req = { ...req, params, ...(method === 'POST' ? { body: await parseBody(raw) } : {}) };
      if (route.csrf) {
        checkSameOrigin(req);
        const token = req.body.csrf ?? req.headers['x-csrf-token'];
        if (typeof token !== 'string' || !sessions.verifyCsrf(ctx.session!.id, token, Date.now())) throw new HttpError(403, 'CSRF_TOKEN_INVALID', 'missing or wrong CSRF token');
      }
      writeResponse(res, await route.handler(req, ctx), head);
    } catch (err) {
      const status = statusOf(err);
      if (status === 500) warn(`internal error on ${method} ${req.path}: ${err instanceof Error ? err.message : String(err)}`);
      if (err instanceof HttpError && err.code.startsWith('CSRF')) journalEvent(req, 'csrf', 'refused', `${method} ${req.path}`);
      if (err instanceof HttpError && err.status === 303) { writeResponse(res, { kind: 'redirect', location: err.headers.location ?? '/login' }, head); return; }
      const code = err instanceof BulwarkError ? err.code : 'INTERNAL';
      const text = status === 500 ? 'internal error' : (err as Error).message;
      const headers = err instanceof HttpError ? err.headers : {};
      if (req.wantsJson) writeResponse(res, { kind: 'json', status, body: { error: { code, message: text } }, headers }, head);
      else writeResponse(res, { kind: 'html', status, body: layout('Error', `<h1>${status}</h1><div class="card"><p class="error">${escapeHtml(`${code}: ${text}`)}</p><p><a href="/">Back</a></p></div>`), headers }, head);
    }
  }

  const listener = await listenHttps({
    keyPem: hub.identity.key, certPem: hub.identity.cert, host: c.host, port: c.port, minVersion: 'TLSv1.3',
    requestTimeoutMs: c.requestTimeoutMs, keepAliveTimeoutMs: 5_000,
    admission: { ...c.admission, maxConnections: c.maxConnections },
    record: (r) => (journal ? journal.record({ surface: 'web', ...r }) : warn(`connection ${r.event} ${r.result} from ${r.source}`)),
    handler: (req, res) => {
      handle(req, res).catch((err: unknown) => {
        warn(`response failed: ${err instanceof Error ? err.message : String(err)}`);
        answerInternalError(res);
      });
    },
  });
  const { server, port } = listener;
  for (const n of new Set(['localhost', '127.0.0.1', '[::1]', c.host.includes(':') ? `[${c.host}]` : c.host])) allowedHosts.add(`${n}:${port}`.toLowerCase());
  const shownHost = c.host === '0.0.0.0' || c.host === '::' ? '127.0.0.1' : c.host;
  return {
    url: `https://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`, port, server, routes: router.list(),
    async close() {
      await listener.close();
    },
  };
}
