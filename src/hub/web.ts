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
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Router, HttpError, parseBody, parseCookies, hostCookie, writeResponse, defaultHttpLimits, escapeHtml, APP_CSS,
  type WebRequest, type WebResponse,
} from '../web/index.ts';
import {
  LockoutPolicy, SessionStore, checkPasswordStrength, emptyLockoutState, hashPassword, parseLockoutState, parseSessionState, serialiseLockoutState, sourceKeyFor, verifyPassword,
  type LockoutState, type SessionView,
} from '../auth/index.ts';
import { BulwarkError, InvalidInputError } from '../errors/index.ts';
import { writeFileAtomic, SECRET_FILE_MODE } from '../storage/index.ts';
import { getModel } from '../models/index.ts';
import type { ChannelValue } from '../channel/index.ts';
import type { Hub, HubDeviceView } from './hub.ts';

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
}

/** Loopback on 8444 by default. */
export const defaultHubWebConfig: HubWebConfig = Object.freeze({ host: '127.0.0.1', port: 8444, maxConnections: 64, requestTimeoutMs: 10_000 });

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

const SESSION_COOKIE = '__Host-bulwark-hub-session';
const LOGIN_COOKIE = '__Host-bulwark-hub-login';
const OWNER = 'admin';
const OWNER_KEY = 'web.owner-hash';
const SESSIONS_KEY = 'web.sessions';
const LOCKOUT_KEY = 'web.lockout';

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
export async function startHubWeb(hub: Hub, stateDir: string, config: Partial<HubWebConfig> = {}, warn: (m: string) => void = () => undefined): Promise<HubWeb> {
  const c = { ...defaultHubWebConfig, ...config };
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) throw new InvalidInputError('webPort must be 0..65535');
  const store = hub.store;
  if (store.getMeta(OWNER_KEY) === undefined) {
    const password = randomBytes(15).toString('base64url'); // 120 bits
    await writeFileAtomic(join(stateDir, HUB_INITIAL_PASSWORD_FILE), password + '\n', SECRET_FILE_MODE);
    store.setMeta(OWNER_KEY, await hashPassword(password));
  }
  const sessions = new SessionStore({}, (() => {
    try { const t = store.getMeta(SESSIONS_KEY); return t === undefined ? undefined : parseSessionState(t); } catch { return undefined; }
  })());
  let lockoutState: LockoutState = (() => {
    try { const t = store.getMeta(LOCKOUT_KEY); return t === undefined ? emptyLockoutState() : parseLockoutState(t); } catch { return emptyLockoutState(); }
  })();
  const lockout = new LockoutPolicy();
  const saveSessions = (): void => store.setMeta(SESSIONS_KEY, sessions.serialise());
  const saveLockout = (): void => store.setMeta(LOCKOUT_KEY, serialiseLockoutState(lockoutState));
  const loginKey = randomBytes(32);
  const loginToken = (cookie: string): string => createHmac('sha256', loginKey).update(cookie).digest('base64url');
  const allowedHosts = new Set<string>();
  const router = new Router<Ctx>();

  function checkOrigin(req: WebRequest): void {
    const origin = req.headers.origin;
    const fetchSite = req.headers['sec-fetch-site'];
    if (fetchSite !== undefined && fetchSite !== 'same-origin') throw new HttpError(403, 'CSRF_ORIGIN_MISMATCH', 'cross-origin request refused');
    const same = origin === `https://${req.headers.host ?? ''}` || (origin === 'null' && fetchSite === 'same-origin');
    if (!same) throw new HttpError(403, 'CSRF_ORIGIN_MISMATCH', 'cross-origin request refused');
  }

  /** Checks a guess at the owner's password: lockout first (429 before any hash), then argon2id; a success clears the source's failures. */
  async function checkOwnerPassword(req: WebRequest, password: string): Promise<boolean> {
    const attempt = { source: sourceKeyFor(req.sourceAddress), account: OWNER };
    const { decision, state } = lockout.admit(lockoutState, attempt, Date.now());
    if (!decision.allowed) throw new HttpError(429, 'LOGIN_LOCKED_OUT', `too many failed attempts; try again in ${decision.retryAfterSeconds} s`, { 'retry-after': String(decision.retryAfterSeconds) });
    lockoutState = state;
    saveLockout();
    if (!(await verifyPassword(password, store.getMeta(OWNER_KEY)!)).ok) return false;
    lockoutState = lockout.recordSuccess(lockoutState, attempt, Date.now());
    saveLockout();
    return true;
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
      checkOrigin(req);
      const cookie = req.cookies.get(LOGIN_COOKIE);
      const token = req.body.csrf;
      if (!cookie || typeof token !== 'string' || !safeEqual(loginToken(cookie), token)) throw new HttpError(403, 'CSRF_TOKEN_INVALID', 'the form expired: reload it');
      const password = field(req.body.password, 'password');
      if (!(await checkOwnerPassword(req, password))) return loginPage(401, 'Wrong password.');
      const s = sessions.create(OWNER, Date.now());
      saveSessions();
      return { kind: 'redirect', location: '/', headers: { 'set-cookie': [hostCookie(SESSION_COOKIE, s.id), hostCookie(LOGIN_COOKIE, '', 0)] } };
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
      if (!(await checkOwnerPassword(req, current))) return passwordPage(csrf, 401, { error: 'The current password is wrong.' });
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
      const { route, params, pathKnown } = router.match(method, req.path);
      if (!route) throw pathKnown ? new HttpError(405, 'METHOD_NOT_ALLOWED', 'method not allowed') : new HttpError(404, 'NOT_FOUND', 'not found');
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
        checkOrigin(req);
        const token = req.body.csrf ?? req.headers['x-csrf-token'];
        if (typeof token !== 'string' || !sessions.verifyCsrf(ctx.session!.id, token, Date.now())) throw new HttpError(403, 'CSRF_TOKEN_INVALID', 'missing or wrong CSRF token');
      }
      writeResponse(res, await route.handler(req, ctx), head);
    } catch (err) {
      const status = statusOf(err);
      if (status === 500) warn(`internal error on ${method} ${req.path}: ${err instanceof Error ? err.message : String(err)}`);
      if (err instanceof HttpError && err.status === 303) { writeResponse(res, { kind: 'redirect', location: err.headers.location ?? '/login' }, head); return; }
      const code = err instanceof BulwarkError ? err.code : 'INTERNAL';
      const text = status === 500 ? 'internal error' : (err as Error).message;
      const headers = err instanceof HttpError ? err.headers : {};
      if (req.wantsJson) writeResponse(res, { kind: 'json', status, body: { error: { code, message: text } }, headers }, head);
      else writeResponse(res, { kind: 'html', status, body: layout('Error', `<h1>${status}</h1><div class="card"><p class="error">${escapeHtml(`${code}: ${text}`)}</p><p><a href="/">Back</a></p></div>`), headers }, head);
    }
  }

  const server = createServer({
    key: hub.identity.key, cert: hub.identity.cert, minVersion: 'TLSv1.3',
    requestTimeout: c.requestTimeoutMs, headersTimeout: Math.min(c.requestTimeoutMs, 10_000), keepAliveTimeout: 5_000, maxHeaderSize: 8_192,
  }, (req, res) => {
    handle(req, res).catch(() => { if (!res.headersSent) { res.writeHead(500); res.end(); } else res.destroy(); });
  });
  server.maxConnections = c.maxConnections;
  server.on('clientError', (_err, socket) => { socket.destroy(); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(c.port, c.host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  for (const n of new Set(['localhost', '127.0.0.1', '[::1]', c.host.includes(':') ? `[${c.host}]` : c.host])) allowedHosts.add(`${n}:${port}`.toLowerCase());
  const shownHost = c.host === '0.0.0.0' || c.host === '::' ? '127.0.0.1' : c.host;
  return {
    url: `https://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`, port, server, routes: router.list(),
    async close() {
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
    },
  };
}
