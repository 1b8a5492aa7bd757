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
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Router,
  PreSessionForms,
  requiredField,
  addStaticRoutes,
  createWebApp,
  hostCookie,
  journalRecorder,
  serveApp,
  type RunningSurface,
  type SurfaceJournal,
  type WebApp,
  type WebRequest,
  type WebResponse,
} from '../web/index.ts';
import {
  SessionStore,
  checkPasswordStrength,
  hashPassword,
  parseSessionState,
  type SessionView,
} from '../auth/index.ts';
import { BulwarkError, InvalidInputError } from '../errors/index.ts';
import { validateAdmissionConfig, type AdmissionConfig } from '../admission/index.ts';
import { writeFileAtomic, SECRET_FILE_MODE } from '../storage/index.ts';
import type { ChannelValue } from '../channel/index.ts';
import { afterAction, capabilityName } from '../models/index.ts';
import type { Hub, HubDeviceView, HubPairedView } from './hub.ts';
import { HUB_OWNER, HubOwnerLogin, OWNER_KEY } from './web-login.ts';
import { HubUsers, authorizeHubRoute, devicesFor, type HubAccount } from './users.ts';
import { JournalledRouter, addHubPeopleRoutes, removeHubPerson, requestInWords } from './users-routes.ts';
import { accessEnded, setUserPassword, UserError } from '../auth/index.ts';
import {
  HUB_INITIAL_PASSWORD_FILE,
  hubDashboard,
  hubErrorPage,
  hubLoginPage,
  hubPasswordPage,
  PAIRED_BY,
} from './web-pages.ts';

export { HUB_INITIAL_PASSWORD_FILE } from './web-pages.ts';
export { unlockHubLogin } from './web-login.ts';

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
export const defaultHubWebConfig: HubWebConfig = Object.freeze({
  host: '127.0.0.1',
  port: 8444,
  maxConnections: 64,
  requestTimeoutMs: 10_000,
});

/** Where the admin page records connection attempts, logins and refusals (the hub's connection journal). */
export type HubWebJournal = SurfaceJournal;

/** The running admin page. */
export type HubWeb = RunningSurface<HubCtx>;

/** What a hub route's handler gets besides the request. */
export interface HubCtx {
  session?: SessionView & { id: string };
  /** Who is signed in: their name, role and account. */
  user?: HubAccount;
}

/** What the hub's routes share. */
interface HubSite {
  readonly hub: Hub;
  readonly stateDir: string;
  readonly sessions: SessionStore;
  readonly login: HubOwnerLogin;
  readonly forms: PreSessionForms;
  /** The people the owner added (the first owner is the hub's own account). */
  readonly users: HubUsers;
  readonly record: (req: WebRequest, e: { event: string; result: 'refused'; identity: string; detail: string }) => void;
  saveSessions(): void;
  revokeOnDevices(name: string): Promise<{ removed: string[]; unreachable: string[] }>;
}

const SESSION_COOKIE = '__Host-bulwark-hub-session';
const LOGIN_COOKIE = '__Host-bulwark-hub-login';
const SESSIONS_KEY = 'web.sessions';

function loginPage(site: HubSite, status: number, error?: string): WebResponse {
  const pre = site.forms.issue();
  return { kind: 'html', status, headers: { 'set-cookie': pre.cookie }, body: hubLoginPage(pre.token, error) };
}

function back(notice: string): WebResponse {
  return { kind: 'redirect', location: '/', notice };
}

function addLoginRoutes(router: Router<HubCtx>, site: HubSite): void {
  router.add({ method: 'GET', path: '/login', access: 'public', csrf: false, handler: () => loginPage(site, 200) });
  router.add({
    method: 'POST',
    path: '/login',
    access: 'public',
    csrf: false,
    handler: async (req) => {
      site.forms.verify(req);
      // Without a name (older clients): the first owner, as before people could be added.
      const name = typeof req.body.username === 'string' && req.body.username !== '' ? req.body.username : HUB_OWNER;
      const who = /^[A-Za-z0-9._-]{1,32}$/.test(name) ? site.users.accountOf(name) : undefined;
      const checked = await site.login.check(req, requiredField(req.body.password, 'password'), who);
      if (checked.ok && who?.added && accessEnded(who.added, Date.now())) {
        site.record(req, { event: 'login', result: 'refused', identity: who.name, detail: 'guest access ended' });
        return loginPage(site, 403, 'Your guest access to this hub has ended. Ask the owner.');
      }
      if (!checked.ok || !checked.deviceCookie || !who) return loginPage(site, 401, 'Wrong name or password.');
      const s = site.sessions.create(who.name, Date.now());
      site.saveSessions();
      const cookies = [hostCookie(SESSION_COOKIE, s.id), site.forms.clear(), checked.deviceCookie];
      return { kind: 'redirect', location: '/', headers: { 'set-cookie': cookies } };
    },
  });
  router.add({
    method: 'POST',
    path: '/logout',
    access: 'session',
    csrf: true,
    handler: (_req, ctx) => {
      site.sessions.destroy(ctx.session!.id);
      site.saveSessions();
      return { kind: 'redirect', location: '/login', headers: { 'set-cookie': hostCookie(SESSION_COOKIE, '', 0) } };
    },
  });
}

/** 'Smart Door Lock LCK-…': how the notices name a device. */
function deviceTitle(d: HubDeviceView): string {
  return `${d.modelName} ${d.serial}`;
}

/** The capabilities `ids` of `d` by the names its pages give them: 'Bolt, Door'. */
function namesOf(d: HubDeviceView, ids: readonly string[]): string {
  return ids.map((id) => capabilityName(d.capabilities.find((c) => c.id === id) ?? { id })).join(', ');
}

/** The notice after a pairing, with what a second pairing kept or dropped of the hub's access. */
function pairedNotice(d: HubPairedView): string {
  const kept = d.keptGrants?.length ? ` The hub may still use ${namesOf(d, d.keptGrants)}.` : '';
  const dropped = d.droppedGrants?.length
    ? ` The hub may no longer use ${namesOf(d, d.droppedGrants)}: allow it again below if you want.`
    : '';
  return `Paired ${deviceTitle(d)} ${PAIRED_BY[d.mode]}.${kept}${dropped}`;
}

async function pair(site: HubSite, req: WebRequest, csrf: string): Promise<WebResponse> {
  const address = requiredField(req.body.address, 'address', 270);
  const given = typeof req.body.setupCode === 'string' && req.body.setupCode.trim() !== '';
  const code = given ? requiredField(req.body.setupCode, 'setupCode', 32) : undefined;
  try {
    // The owner's tick: a device paired again with the key pinned for it keeps its grants.
    const keepGrants = req.body.keepGrants === 'on' || req.body.keepGrants === true;
    const d = await site.hub.pair({ address, ...(code !== undefined ? { setupCode: code } : {}), keepGrants });
    return req.wantsJson ? { kind: 'json', body: { ok: true, device: d } } : back(pairedNotice(d));
  } catch (err) {
    if (!(err instanceof BulwarkError)) throw err;
    const { code, message } = err as BulwarkError;
    if (req.wantsJson) return { kind: 'json', status: 409, body: { error: { code, message } } };
    const error = `Pairing failed (${code}): ${message}`;
    return { kind: 'html', status: 409, body: hubDashboard(site.hub.devices(), csrf, { error }) };
  }
}

function addDeviceRoutes(router: Router<HubCtx>, site: HubSite): void {
  const { hub } = site;
  router.add({
    method: 'GET',
    path: '/',
    access: 'session',
    csrf: false,
    handler: (req, ctx) => {
      const notice = req.notice;
      const devices = devicesFor(ctx.user!, hub.devices());
      const user = { name: ctx.user!.name, role: ctx.user!.role };
      return {
        kind: 'html',
        body: hubDashboard(devices, ctx.session!.csrfToken, { user, ...(notice ? { notice } : {}) }),
      };
    },
  });
  router.add({
    method: 'GET',
    path: '/api/devices',
    access: 'session',
    csrf: false,
    handler: (_req, ctx) => ({ kind: 'json', body: { devices: devicesFor(ctx.user!, hub.devices()) } }),
  });
  router.add({
    method: 'POST',
    path: '/devices/pair',
    access: 'session',
    csrf: true,
    handler: (req, ctx) => pair(site, req, ctx.session!.csrfToken),
  });
  router.add({
    method: 'POST',
    path: '/devices/:serial/call/:capability/:action',
    access: 'session',
    csrf: true,
    handler: async (req) => {
      const { serial, capability, action } = req.params as { serial: string; capability: string; action: string };
      let value: ChannelValue | undefined = typeof req.body.value === 'string' ? req.body.value : undefined;
      if (typeof value === 'string' && /^-?\d{1,6}$/.test(value)) value = Number(value);
      const result = await hub.call(serial, capability, action, value);
      if (req.wantsJson) return { kind: 'json', body: { ok: true, value: result } };
      // Looked up again after the call: an unpairing meanwhile leaves the serial and the id to name them.
      const d = hub.devices().find((x) => x.serial === serial);
      const c = d?.capabilities.find((x) => x.id === capability) ?? { id: capability };
      return back(`${d ? deviceTitle(d) : serial} — ${afterAction(c, action, result)}`);
    },
  });
  for (const verb of ['grant', 'revoke'] as const) {
    router.add({
      method: 'POST',
      path: `/devices/:serial/${verb}/:capability`,
      access: 'session',
      csrf: true,
      handler: (req) => {
        const { serial, capability } = req.params as { serial: string; capability: string };
        const d = verb === 'grant' ? hub.grant(serial, capability) : hub.revoke(serial, capability);
        if (req.wantsJson) return { kind: 'json', body: { ok: true, device: d } };
        const what = `${namesOf(d, [capability])} on ${deviceTitle(d)}`;
        return back(verb === 'grant' ? `The hub may now use ${what}.` : `The hub may no longer use ${what}.`);
      },
    });
  }
  router.add({
    method: 'POST',
    path: '/devices/:serial/unpair',
    access: 'session',
    csrf: true,
    handler: async (req) => {
      const { serial } = req.params as { serial: string };
      const before = hub.devices().find((x) => x.serial === serial);
      const r = await hub.unpair(serial);
      if (req.wantsJson) return { kind: 'json', body: { ok: true, ...r } };
      const offline =
        " The device was offline, so it still knows this hub's key: unpair the hub on the device's own page too.";
      return back(`Unpaired ${before ? deviceTitle(before) : serial}.${r.toldDevice ? '' : offline}`);
    },
  });
}

async function changePassword(site: HubSite, req: WebRequest, csrf: string, user: HubAccount): Promise<WebResponse> {
  const page = (status: number, o: { error?: string; reasons?: readonly string[] }): WebResponse => ({
    kind: 'html',
    status,
    body: hubPasswordPage(csrf, { ...o, user: { name: user.name, role: user.role } }),
  });
  const current = requiredField(req.body.currentPassword, 'currentPassword');
  const next = requiredField(req.body.newPassword, 'newPassword');
  const confirm = requiredField(req.body.confirmPassword, 'confirmPassword');
  // The current password is a guess like any login's: same lockout, counted before the hash.
  const checked = await site.login.check(req, current, user);
  if (!checked.ok) return page(401, { error: 'The current password is wrong.' });
  if (next !== confirm) return page(422, { error: 'The two new passwords differ.' });
  const strength = await checkPasswordStrength(next, { userInputs: ['bulwark', 'hub', user.name] });
  if (!strength.ok)
    return page(422, { error: 'That password is not accepted:', reasons: strength.reasons.map((r) => r.message) });
  const hash = await hashPassword(next);
  site.sessions.destroyAllFor(user.name);
  site.saveSessions();
  if (user.added) {
    site.users.save(setUserPassword(site.users.list, user.name, hash, Date.now()));
  } else {
    site.hub.store.setMeta(OWNER_KEY, hash);
    await rm(join(site.stateDir, HUB_INITIAL_PASSWORD_FILE), { force: true });
  }
  return { kind: 'redirect', location: '/login', headers: { 'set-cookie': hostCookie(SESSION_COOKIE, '', 0) } };
}

function addPasswordRoutes(router: Router<HubCtx>, site: HubSite): void {
  router.add({
    method: 'GET',
    path: '/password',
    access: 'session',
    csrf: false,
    handler: (_req, ctx) => ({
      kind: 'html',
      body: hubPasswordPage(ctx.session!.csrfToken, { user: { name: ctx.user!.name, role: ctx.user!.role } }),
    }),
  });
  router.add({
    method: 'POST',
    path: '/password',
    access: 'session',
    csrf: true,
    handler: (req, ctx) => changePassword(site, req, ctx.session!.csrfToken, ctx.user!),
  });
}

/** Builds the hub's admin application: its routes, session port and pages. */
export function createHubApp(
  site: HubSite,
  journal: SurfaceJournal | undefined,
  warn: (m: string) => void,
): WebApp<HubCtx> {
  // Every state change a signed-in person makes is journalled with their name.
  const router = new JournalledRouter<HubCtx>(journalRecorder(journal));
  addStaticRoutes(router);
  addLoginRoutes(router, site);
  addDeviceRoutes(router, site);
  addPasswordRoutes(router, site);
  addHubPeopleRoutes(router, site);
  return createWebApp<HubCtx>({
    router,
    log: warn,
    errorPage: hubErrorPage,
    ...(journal ? { journal } : {}),
    sessions: {
      anonymous: () => ({}),
      find: (req) => {
        const id = req.cookies.get(SESSION_COOKIE);
        const touched = id ? site.sessions.touch(id, Date.now()) : undefined;
        if (touched?.changed) site.saveSessions();
        if (!id || !touched?.session) return undefined;
        // A removed person, or a guest whose access ended, is signed out at their next request.
        const user = site.users.liveAccountOf(touched.session.user, Date.now());
        if (user) return { session: { ...touched.session, id }, user };
        site.sessions.destroyAllFor(touched.session.user);
        site.saveSessions();
        return undefined;
      },
      verifyCsrf: (ctx, token) => site.sessions.verifyCsrf(ctx.session!.id, token, Date.now()),
      noticeKey: (ctx) => ctx.session?.id,
      identityOf: (ctx) => ctx.user?.name,
      authorize: (ctx, req, route) => {
        try {
          authorizeHubRoute(ctx.user!, req, route, () => site.hub.devices());
        } catch (err) {
          if (err instanceof UserError) {
            const detail = requestInWords(req);
            site.record(req, { event: 'role-refused', result: 'refused', identity: ctx.user!.name, detail });
          }
          throw err;
        }
      },
    },
  });
}

/** Makes the first password (written once, 0600, to the state dir) when the hub has none. */
async function ensureOwnerPassword(hub: Hub, stateDir: string): Promise<void> {
  if (hub.store.getMeta(OWNER_KEY) !== undefined) return;
  const password = randomBytes(15).toString('base64url'); // 120 bits
  await writeFileAtomic(join(stateDir, HUB_INITIAL_PASSWORD_FILE), password + '\n', SECRET_FILE_MODE);
  hub.store.setMeta(OWNER_KEY, await hashPassword(password));
}

function loadSessions(hub: Hub): SessionStore {
  let saved;
  try {
    const t = hub.store.getMeta(SESSIONS_KEY);
    saved = t === undefined ? undefined : parseSessionState(t);
  } catch {
    saved = undefined;
  }
  return new SessionStore({}, saved);
}

/** Starts the admin page for `hub`; `stateDir` holds the first password's file. */
export async function startHubWeb(
  hub: Hub,
  stateDir: string,
  config: Partial<HubWebConfig> = {},
  warn: (m: string) => void = () => undefined,
  journal?: HubWebJournal,
): Promise<HubWeb> {
  const c = { ...defaultHubWebConfig, ...config };
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535)
    throw new InvalidInputError('webPort must be 0..65535');
  validateAdmissionConfig({ ...c.admission, maxConnections: c.maxConnections });
  await ensureOwnerPassword(hub, stateDir);
  const sessions = loadSessions(hub);
  const site: HubSite = {
    hub,
    stateDir,
    sessions,
    login: new HubOwnerLogin(hub.store, journalRecorder(journal), warn),
    forms: new PreSessionForms(LOGIN_COOKIE),
    users: new HubUsers(hub.store, warn),
    record: journalRecorder(journal),
    saveSessions: () => hub.store.setMeta(SESSIONS_KEY, sessions.serialise()),
    revokeOnDevices: (name) => hub.revokePersonOnDevices(name),
  };
  hub.onPersonRemovedByDevice((name, by) => {
    const who = site.users.accountOf(name);
    if (!who?.added) return Promise.resolve(undefined);
    const ended = removeHubPerson(site, who.name);
    const detail = `${who.name}: removed by ${by}; ${ended} session(s) ended`;
    journal?.record({
      surface: 'web',
      source: 'local',
      event: 'user-removed',
      result: 'success',
      identity: who.name,
      detail,
    });
    return Promise.resolve(ended);
  });
  const app = createHubApp(site, journal, warn);
  return serveApp(
    app,
    {
      keyPem: hub.identity.key,
      certPem: hub.identity.cert,
      host: c.host,
      port: c.port,
      minVersion: 'TLSv1.3',
      requestTimeoutMs: c.requestTimeoutMs,
      keepAliveTimeoutMs: 5_000,
      admission: { ...c.admission, maxConnections: c.maxConnections },
    },
    () => [],
  );
}
