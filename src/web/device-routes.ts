/**
 * The device admin page's routes, by subject: the public ones (security.txt, login, first-use
 * setup), the dashboard and controls, the owner's password, and the owner's records (journal,
 * data export). Each route states its access and CSRF rule; the app core enforces both.
 */
import { checkPasswordStrength, hashPassword, verifyPassword, verifySetupCodeForOwner } from './auth-bridge.ts';
import { HttpError, hostCookie, requiredField, type Router, type WebRequest, type WebResponse } from './http.ts';
import type { OwnerRecord } from './owner-state.ts';
import { OWNER_NAME } from './owner-login.ts';
import {
  SESSION_COOKIE,
  frame,
  recordOwner,
  sessionOf,
  setupPending,
  startSession,
  type DeviceCtx,
  type DeviceSite,
} from './device-site.ts';
import * as pages from './pages.ts';
import type { DashboardFact } from './dashboard-page.ts';
import type { JournalView } from './journal-page.ts';
import { ownerDate, type WebCertificateView } from './web-certificate.ts';
import { deviceAccountOf, visibleCapabilities, type DeviceAccount } from './users.ts';
import { accessEnded, setUserPassword } from '../auth/index.ts';
import { afterAction } from '../models/index.ts';

/** Unknown user names share one lockout account, so they cannot fill the table. */
const UNKNOWN_ACCOUNT = '(unknown)';

function loginHtml(
  site: DeviceSite,
  status: number,
  o: { error?: string; notice?: string; username?: string } = {},
): WebResponse {
  const pre = site.forms.issue();
  const body = pages.loginPage(frame(site, 'Log in'), { csrf: pre.token, ...o });
  return { kind: 'html', status, body, headers: { 'set-cookie': pre.cookie } };
}

function setupHtml(
  site: DeviceSite,
  status: number,
  o: { error?: string; reasons?: readonly string[] } = {},
): WebResponse {
  const pre = site.forms.issue();
  const body = pages.setupPage(frame(site, 'Set up'), { csrf: pre.token, ...o });
  return { kind: 'html', status, body, headers: { 'set-cookie': pre.cookie } };
}

/** The unit's support end now: a later date signed through updates wins over its bundle's. */
function supportEnd(site: DeviceSite): string {
  return site.device.supportEndsOn?.() ?? site.bundle.unit.supportPeriodEnd;
}

/** Whether the support period is over: it lasts to the end of its last day, UTC. */
function supportOver(endsOn: string): boolean {
  return Date.now() >= Date.parse(`${endsOn}T00:00:00Z`) + 86_400_000;
}

function securityTxt(site: DeviceSite, req: WebRequest): WebResponse {
  const unit = site.bundle.unit;
  const end = supportEnd(site);
  const expires = new Date(Math.min(Date.now() + 180 * 86_400_000, Date.parse(end) + 86_400_000));
  const body =
    `Contact: ${unit.securityContact}\nExpires: ${expires.toISOString().replace(/\.\d+Z$/, '.000Z')}\n` +
    `Preferred-Languages: en\nCanonical: https://${req.headers.host ?? '127.0.0.1'}/.well-known/security.txt\n` +
    `# ${unit.maker} ${unit.modelName}: security updates until ${end}\n`;
  return { kind: 'text', body, contentType: 'text/plain; charset=utf-8' };
}

async function postLogin(site: DeviceSite, req: WebRequest): Promise<WebResponse> {
  site.forms.verify(req);
  if (setupPending(site)) return { kind: 'redirect', location: '/setup' };
  const username = requiredField(req.body.username, 'username', 64);
  const password = requiredField(req.body.password, 'password', 256);
  // Names are case-insensitive; anything that is not a name is nobody's (people type passwords there).
  const who = /^[A-Za-z0-9._-]{1,32}$/.test(username) ? deviceAccountOf(site.state, username) : undefined;
  const identity = who ? who.name : UNKNOWN_ACCOUNT;
  const account = who ? who.account : UNKNOWN_ACCOUNT;
  const r = await site.login.guarded(req, account, 'login', (p) => site.login.checkPassword(who, password, p));
  const ended = r.ok && who?.added !== undefined && accessEnded(who.added, Date.now());
  const result = ended ? 'refused' : r.ok ? 'success' : 'failure';
  const detail = ended ? 'guest access ended' : r.trusted ? 'trusted browser (device cookie)' : undefined;
  recordOwner(site, req, 'login', result, detail, identity);
  if (ended) return loginHtml(site, 403, { error: 'Your guest access to this device has ended. Ask the owner.' });
  if (!r.ok || !r.deviceCookie || !who) {
    return loginHtml(site, 401, { error: 'Wrong user name or password.', username: username.slice(0, 64) });
  }
  return startSession(site, r.deviceCookie, who.name);
}

async function postSetup(site: DeviceSite, req: WebRequest): Promise<WebResponse> {
  if (!setupPending(site)) throw new HttpError(404, 'SETUP_CLOSED', 'setup is already complete');
  site.forms.verify(req);
  const code = requiredField(req.body.setupCode, 'setupCode', 32);
  const next = requiredField(req.body.newPassword, 'newPassword', 256);
  const confirm = requiredField(req.body.confirmPassword, 'confirmPassword', 256);
  const checkCode = (): Promise<boolean> => verifySetupCodeForOwner(code, site.bundle.pairingVerifierJson);
  const { ok } = await site.login.guarded(req, 'setup', 'setup', checkCode);
  recordOwner(site, req, 'setup', ok ? 'success' : 'failure', undefined, 'setup');
  if (!ok) return setupHtml(site, 401, { error: "That setup code is not the one on this device's label." });
  if (next !== confirm) return setupHtml(site, 422, { error: 'The two passwords differ.' });
  const strength = await checkPasswordStrength(next, { userInputs: site.userInputs });
  if (!strength.ok) {
    return setupHtml(site, 422, {
      error: 'Choose a stronger password:',
      reasons: strength.reasons.map((r) => r.message),
    });
  }
  await site.state.saveOwner({
    version: 1,
    username: OWNER_NAME,
    passwordHash: await hashPassword(next),
    changedAt: new Date().toISOString(),
    source: 'owner',
  });
  recordOwner(site, req, 'password-change', 'success', 'initial password set at setup');
  // The code on the label proved the owner: this browser is theirs.
  return startSession(site, site.login.issueDeviceCookie());
}

async function strengthOf(site: DeviceSite, req: WebRequest): Promise<WebResponse> {
  const r = await checkPasswordStrength(requiredField(req.body.password, 'password', 512), {
    userInputs: site.userInputs,
  });
  return { kind: 'json', body: { ok: r.ok, score: r.score, reasons: r.reasons } };
}

/** security.txt, login and first-use setup: the only routes open without a session. */
export function addPublicRoutes(router: Router<DeviceCtx>, site: DeviceSite): void {
  router.add({
    method: 'GET',
    path: '/.well-known/security.txt',
    access: 'public',
    csrf: false,
    handler: (req) => securityTxt(site, req),
  });
  router.add({
    method: 'GET',
    path: '/login',
    access: 'public',
    csrf: false,
    handler: (req) => {
      if (setupPending(site)) return { kind: 'redirect', location: '/setup' };
      if (sessionOf(site, req)) return { kind: 'redirect', location: '/' };
      const changed = req.query.get('changed') === '1';
      return loginHtml(site, 200, changed ? { notice: 'Password changed. Log in with the new password.' } : {});
    },
  });
  router.add({ method: 'POST', path: '/login', access: 'public', csrf: false, handler: (req) => postLogin(site, req) });
  router.add({
    method: 'GET',
    path: '/setup',
    access: 'public',
    csrf: false,
    handler: () =>
      setupPending(site)
        ? setupHtml(site, 200)
        : {
            kind: 'html',
            status: 404,
            body: pages.errorPage(frame(site, 'Not found'), 404, 'Setup is already complete.'),
          },
  });
  router.add({
    method: 'POST',
    path: '/setup/strength',
    access: 'public',
    csrf: false,
    handler: (req) => {
      if (!setupPending(site)) throw new HttpError(404, 'SETUP_CLOSED', 'setup is already complete');
      site.forms.verify(req);
      return strengthOf(site, req);
    },
  });
  router.add({ method: 'POST', path: '/setup', access: 'public', csrf: false, handler: (req) => postSetup(site, req) });
}

/** The served certificate in the owner's words, so a browser's warning can be checked against it. */
function certificateFact(view: WebCertificateView): [string, string] {
  return [
    "This page's certificate",
    `sha256 ${view.fingerprint256}, valid until ${ownerDate(view.notAfter)}, renewed automatically`,
  ];
}

/** The first owner's password source (the label's or their own); nobody else's is a fact of the device. */
function passwordFact(site: DeviceSite, user: DeviceAccount): Array<[string, string]> {
  if (!user.first) return [];
  return [['Password', site.state.owner?.source === 'owner' ? 'set by you' : 'from the label (change it any time)']];
}

/** How long the device has run, in words: "5 seconds", "12 minutes", "3 hours 4 minutes", "2 days 1 hour". */
export function uptimeText(seconds: number): string {
  const unit = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;
  const [d, h, m] = [Math.floor(seconds / 86_400), Math.floor(seconds / 3600) % 24, Math.floor(seconds / 60) % 60];
  if (d > 0) return h > 0 ? `${unit(d, 'day')} ${unit(h, 'hour')}` : unit(d, 'day');
  if (h > 0) return m > 0 ? `${unit(h, 'hour')} ${unit(m, 'minute')}` : unit(h, 'hour');
  return m > 0 ? unit(m, 'minute') : unit(seconds, 'second');
}

/** The dashboard's facts: the unit's own, then the device's; a device fact replaces one of the same label. */
function dashboardFacts(site: DeviceSite, user: DeviceAccount): DashboardFact[] {
  const { unit } = site.bundle;
  const { device } = site;
  const end = supportEnd(site);
  const own: DashboardFact[] = [
    ['Model', `${unit.modelName} (${unit.model})`],
    ['Serial', unit.serial],
    ['Maker', unit.maker],
    ['Firmware', device.firmwareVersion],
    ['Running for', uptimeText(Math.floor((Date.now() - device.startedAt) / 1000))],
    ['Security updates until', supportOver(end) ? `${end} (ended)` : end],
    ...passwordFact(site, user),
    certificateFact(site.certificate()),
  ];
  const theirs = device.facts?.() ?? [];
  const replaced = new Set(theirs.map((f) => f[0]));
  return [...own.filter((f) => !replaced.has(f[0])), ...theirs];
}

async function dashboard(site: DeviceSite, req: WebRequest, csrf: string, user: DeviceAccount): Promise<WebResponse> {
  // Loaded with the first view, not at start: the plug's idle memory (issue 17's words cost 0.2 MiB).
  const { dashboardPage } = await import('./dashboard-page.ts');
  const { device } = site;
  const end = supportEnd(site);
  const ended = supportOver(end);
  const facts = dashboardFacts(site, user);
  const notice = req.notice;
  const owner = user.role === 'owner';
  const body = dashboardPage(
    { ...frame(site, 'Dashboard', csrf, user), csrf },
    {
      facts,
      capabilities: visibleCapabilities(user, device.capabilities(), site.bundle.model),
      // The owner's controls are offered to the owner only (the server refuses them to anyone else).
      ...(owner
        ? { actions: site.ownerActions.filter((a) => a.shown?.() ?? true), monitoring: site.state.monitoring }
        : {}),
      ...(ended ? { supportEnded: end } : {}),
      ...(notice ? { notice: notice.slice(0, 120) } : {}),
    },
  );
  return { kind: 'html', body };
}

/** The dashboard, the status API, capability controls and the owner's extra actions. */
export function addControlRoutes(router: Router<DeviceCtx>, site: DeviceSite): void {
  const { unit } = site.bundle;
  router.add({
    method: 'GET',
    path: '/',
    access: 'session',
    csrf: false,
    handler: (req, ctx) => dashboard(site, req, ctx.session!.csrfToken, ctx.user!),
  });
  router.add({
    method: 'GET',
    path: '/api/status',
    access: 'session',
    csrf: false,
    handler: (_req, ctx) => ({
      kind: 'json',
      body: {
        serial: unit.serial,
        model: unit.model,
        firmware: site.device.firmwareVersion,
        uptimeSeconds: Math.floor((Date.now() - site.device.startedAt) / 1000),
        capabilities: visibleCapabilities(ctx.user!, site.device.capabilities(), site.bundle.model),
        user: { name: ctx.user!.name, role: ctx.user!.role },
      },
    }),
  });
  router.add({
    method: 'POST',
    path: '/api/capabilities/:capability/:action',
    access: 'session',
    csrf: true,
    handler: async (req) => {
      const { capability, action } = req.params as { capability: string; action: string };
      let value: unknown = req.body.value;
      if (typeof value === 'string' && /^-?\d{1,6}$/.test(value)) value = Number(value);
      const result = await site.device.invoke(capability, action, value);
      recordOwner(site, req, 'control', 'success', `${capability} ${action}`);
      if (req.wantsJson) return { kind: 'json', body: { ok: true, value: result } };
      const model = site.bundle.model.capabilities.find((c) => c.id === capability) ?? { id: capability };
      return { kind: 'redirect', location: '/', notice: afterAction(model, action, result) };
    },
  });
  addOwnerActionRoutes(router, site);
}

/** The owner's extra actions; one that cannot be undone from the page also gets its confirmation page. */
function addOwnerActionRoutes(router: Router<DeviceCtx>, site: DeviceSite): void {
  for (const action of site.ownerActions) {
    router.add({
      method: 'POST',
      path: `/api/actions/${action.id}`,
      access: 'session',
      csrf: true,
      handler: async (req, ctx) => {
        if (action.confirm && !(await passwordConfirmed(site, req, ctx.user!, action.id))) {
          const csrf = ctx.session!.csrfToken;
          const error = 'Your password is wrong: nothing was done.';
          const body = pages.confirmActionPage(
            { ...frame(site, action.label, csrf, ctx.user), csrf },
            {
              ...action,
              confirm: action.confirm,
              error,
            },
          );
          if (req.wantsJson) throw new HttpError(401, 'CONFIRMATION_FAILED', error);
          return { kind: 'html', status: 401, body };
        }
        const text = await action.run();
        recordOwner(site, req, 'control', 'success', action.id);
        if (req.wantsJson) return { kind: 'json', body: { ok: true, message: text } };
        return { kind: 'redirect', location: '/', notice: text };
      },
    });
    if (!action.confirm) continue;
    const confirm = action.confirm;
    router.add({
      method: 'GET',
      path: `/confirm/${action.id}`,
      access: 'session',
      csrf: false,
      handler: (_req, ctx) => {
        const csrf = ctx.session!.csrfToken;
        const page = { ...frame(site, action.label, csrf, ctx.user), csrf };
        return { kind: 'html', body: pages.confirmActionPage(page, { ...action, confirm }) };
      },
    });
  }
}

/** The owner's password again, through the same lockout as a login; false when it is wrong (journalled). */
async function passwordConfirmed(site: DeviceSite, req: WebRequest, user: DeviceAccount, what: string) {
  const password = requiredField(req.body.password, 'password', 256);
  const hash = user.added ? user.added.passwordHash : site.login.currentHash();
  const checked = await site.login.guarded(req, user.account, 'control', async (priority) =>
    hash ? (await verifyPassword(password, hash, { priority })).ok : false,
  );
  if (!checked.ok) recordOwner(site, req, 'control', 'failure', `${what}: the owner's password was wrong`);
  return checked.ok;
}

/** Records shown per journal page, and the newest records a filter looks through. */
const JOURNAL_PAGE_ROWS = 50;
const JOURNAL_FILTER_DEPTH = 1_000;

/** One page of one tier of the journal, as the query asks (tier, page, filter); bad values fall back to the first. */
async function journalView(site: DeviceSite, req: WebRequest): Promise<JournalView> {
  const tier = req.query.get('tier') === 'connection' ? 'connection' : 'security';
  const filter = (req.query.get('filter') ?? '').trim().slice(0, 64);
  const { journalMatches } = await import('./journal-page.ts');
  const all = await site.journal.list({ limit: JOURNAL_FILTER_DEPTH, tier });
  const rows = all.filter((r) => journalMatches(r, filter));
  const pageCount = Math.max(1, Math.ceil(rows.length / JOURNAL_PAGE_ROWS));
  const asked = Number(req.query.get('page') ?? '1');
  const page = Number.isInteger(asked) && asked >= 1 && asked <= pageCount ? asked : 1;
  const drop = (await site.journal.list({ limit: 200, tier: 'security' })).find((r) => r.event === 'journal-drop');
  return {
    tier,
    filter,
    page,
    pages: pageCount,
    rows: rows.slice((page - 1) * JOURNAL_PAGE_ROWS, page * JOURNAL_PAGE_ROWS),
    ...(drop ? { dropped: drop.detail ?? drop.at } : {}),
  };
}

async function changePassword(
  site: DeviceSite,
  req: WebRequest,
  csrf: string,
  user: DeviceAccount,
): Promise<WebResponse> {
  const current = requiredField(req.body.currentPassword, 'currentPassword');
  const next = requiredField(req.body.newPassword, 'newPassword');
  const confirm = requiredField(req.body.confirmPassword, 'confirmPassword');
  const page = (status: number, o: { error?: string; reasons?: readonly string[] }): WebResponse => ({
    kind: 'html',
    status,
    body: pages.passwordPage({ ...frame(site, 'Password', csrf, user), csrf }, o),
  });
  const hash = user.added ? user.added.passwordHash : site.login.currentHash();
  const { ok, deviceCookie } = await site.login.guarded(req, user.account, 'password-change', async (priority) =>
    hash ? (await verifyPassword(current, hash, { priority })).ok : false,
  );
  if (!ok) {
    recordOwner(site, req, 'password-change', 'failure', 'current password wrong');
    return page(401, { error: 'The current password is wrong.' });
  }
  if (next !== confirm) return page(422, { error: 'The two new passwords differ.' });
  const strength = await checkPasswordStrength(next, { userInputs: site.userInputs });
  if (!strength.ok) {
    recordOwner(site, req, 'password-change', 'refused', strength.reasons.map((r) => r.code).join(','));
    return page(422, { error: 'That password is not accepted:', reasons: strength.reasons.map((r) => r.message) });
  }
  await savePassword(site, user, await hashPassword(next));
  site.state.sessions.destroyAllFor(user.name);
  site.state.markDirty('sessions', 0);
  await site.state.flush();
  recordOwner(site, req, 'password-change', 'success', 'all sessions ended', user.name);
  if (deviceCookie) await site.state.saveDeviceCookieKey();
  const cookies = [hostCookie(SESSION_COOKIE, '', 0), ...(deviceCookie ? [deviceCookie] : [])];
  return { kind: 'redirect', location: '/login?changed=1', headers: { 'set-cookie': cookies } };
}

/** Stores `user`'s new password hash: the first owner's in owner.json, anyone else's in the people list. */
async function savePassword(site: DeviceSite, user: DeviceAccount, passwordHash: string): Promise<void> {
  if (user.added) {
    await site.state.saveUsers(setUserPassword(site.state.users, user.name, passwordHash, Date.now()));
    return;
  }
  const owner: OwnerRecord = {
    version: 1,
    username: OWNER_NAME,
    passwordHash,
    changedAt: new Date().toISOString(),
    source: 'owner',
  };
  await site.state.saveOwner(owner);
}

/** Each person's own password (with its live strength check) and logging out. */
export function addAccountRoutes(router: Router<DeviceCtx>, site: DeviceSite): void {
  router.add({
    method: 'POST',
    path: '/api/password-strength',
    access: 'session',
    csrf: true,
    handler: (req) => strengthOf(site, req),
  });
  router.add({
    method: 'GET',
    path: '/password',
    access: 'session',
    csrf: false,
    handler: (_req, ctx) => ({
      kind: 'html',
      body: pages.passwordPage(
        { ...frame(site, 'Password', ctx.session!.csrfToken, ctx.user), csrf: ctx.session!.csrfToken },
        {},
      ),
    }),
  });
  router.add({
    method: 'POST',
    path: '/password',
    access: 'session',
    csrf: true,
    handler: (req, ctx) => changePassword(site, req, ctx.session!.csrfToken, ctx.user!),
  });
  router.add({
    method: 'POST',
    path: '/logout',
    access: 'session',
    csrf: true,
    handler: (req, ctx) => {
      site.state.sessions.destroy(ctx.session!.id);
      site.state.markDirty('sessions', 0);
      recordOwner(site, req, 'logout', 'success', undefined, ctx.user!.name);
      return { kind: 'redirect', location: '/login', headers: { 'set-cookie': hostCookie(SESSION_COOKIE, '', 0) } };
    },
  });
}

async function exportData(site: DeviceSite, req: WebRequest): Promise<WebResponse> {
  const { unit } = site.bundle;
  recordOwner(site, req, 'control', 'success', 'data export');
  const password = site.state.owner?.source === 'owner' ? 'set by the owner' : "the label's";
  const body = {
    format: 'bulwark-export/1',
    exportedAt: new Date().toISOString(),
    device: {
      serial: unit.serial,
      model: unit.model,
      modelName: unit.modelName,
      firmware: site.device.firmwareVersion,
      supportPeriodEnd: supportEnd(site),
    },
    owner: {
      username: OWNER_NAME,
      password,
      ...(site.state.owner?.changedAt ? { changedAt: site.state.owner.changedAt } : {}),
    },
    // The people the owner added: names, roles and dates, never a password hash.
    people: site.state.users.users.map(({ name, role, createdAt, expiresAt }) => ({
      name,
      role,
      createdAt,
      ...(expiresAt ? { expiresAt } : {}),
    })),
    capabilities: site.device.capabilities(),
    ...((await site.device.exportData?.()) ?? {}),
    // Every security event kept and the newest connections: a flood cannot push the evidence out.
    journal: [
      ...(await site.journal.list({ limit: 1_000, tier: 'security' })),
      ...(await site.journal.list({ limit: 1_000, tier: 'connection' })),
    ].sort((a, b) => b.at.localeCompare(a.at)),
    erase:
      "hold the device's button (factory reset): the owner password, sessions, pairings, journal and cloud " +
      'claim are erased',
  };
  const headers = { 'content-disposition': 'attachment; filename="bulwark-export.json"', 'cache-control': 'no-store' };
  return { kind: 'json', body, headers };
}

/** The connection journal (page and API) and the owner's data export. */
export function addRecordRoutes(router: Router<DeviceCtx>, site: DeviceSite): void {
  router.add({
    method: 'GET',
    path: '/software',
    access: 'session',
    csrf: false,
    handler: async (_req, ctx) => {
      const view = site.device.software ? await site.device.software() : ({ kind: 'factory' } as const);
      const frameOf = { ...frame(site, 'Software', ctx.session!.csrfToken, ctx.user), csrf: ctx.session!.csrfToken };
      const fromFile = site.device.updateFile ? { maxBytes: site.device.updateFile.maxBytes } : undefined;
      return { kind: 'html', body: pages.softwarePage(frameOf, view, site.device.firmwareVersion, fromFile) };
    },
  });
  router.add({
    method: 'GET',
    path: '/api/software',
    access: 'session',
    csrf: false,
    handler: async () => ({
      kind: 'json',
      body: site.device.software ? await site.device.software() : { kind: 'factory' },
    }),
  });
  router.add({
    method: 'GET',
    path: '/journal',
    access: 'session',
    csrf: false,
    handler: async (req, ctx) => {
      const { journalPage } = await import('./journal-page.ts');
      const page = { ...frame(site, 'Journal', ctx.session!.csrfToken, ctx.user), csrf: ctx.session!.csrfToken };
      return { kind: 'html', body: journalPage(page, await journalView(site, req)) };
    },
  });
  router.add({
    method: 'GET',
    path: '/api/journal',
    access: 'session',
    csrf: false,
    handler: async (req) => {
      const n = Number(req.query.get('limit') ?? '100');
      const limit = Number.isInteger(n) && n > 0 && n <= 1000 ? n : 100;
      const t = req.query.get('tier');
      const tier = t === 'security' || t === 'connection' ? t : undefined;
      return { kind: 'json', body: { entries: await site.journal.list({ limit, ...(tier ? { tier } : {}) }) } };
    },
  });
  // The owner's data, for the owner to keep: what the device holds about them and their home. No secret
  // (no hash, key or code); deleting it all is the factory reset (hold the button).
  router.add({
    method: 'GET',
    path: '/api/export',
    access: 'session',
    csrf: false,
    handler: (req) => exportData(site, req),
  });
}
