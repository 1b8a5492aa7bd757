/**
 * The owner web app's routes: log in, register, confirm the address and reset the password
 * (pre-session form tokens), the owner's devices with the claim form, one device's controls and
 * chart, the household and the account page. Forms get redirects and pages; the JSON API's twins
 * are in api-routes.ts.
 */
import { BulwarkError, InvalidInputError, httpStatusOf } from '../errors/index.ts';
import { HttpError, type Router, type WebRequest, type WebResponse } from '../web/index.ts';
import { AccountError, AccountStateError, CommandError, RateLimitedError, RoleError } from './errors.ts';
import type { DeviceRecord } from './store.ts';
import { clearedSessionCookie, field, normaliseEmail, type OwnerCtx } from './owner-accounts.ts';
import { modelOf, remoteControls } from './owner-devices.ts';
import { afterAction, capabilityName } from '../models/index.ts';
import { householdCommand, householdRelease, householdRemove } from './api-routes.ts';
import { telemetryForRole } from './household.ts';
import type { DeviceRemovals } from './person-removals.ts';
import type { OwnerSite } from './owner-site.ts';
import * as pages from './app-pages.ts';

/** The frame of a logged-in page. */
export function frameOf(ctx: OwnerCtx, title: string): pages.AppFrame & { csrf: string } {
  return { title, csrf: ctx.session!.csrfToken, email: ctx.account!.email };
}

/** The notice and error lines of a page. */
interface Messages {
  notice?: string;
  error?: string;
}

/** What the session's last action left for this page (the web core keeps it; a URL never carries it). */
function shown(req: WebRequest): Messages {
  return {
    ...(req.notice !== undefined ? { notice: req.notice } : {}),
    ...(req.noticeError !== undefined ? { error: req.noticeError } : {}),
  };
}

function loginHtml(site: OwnerSite, status: number, o: Messages & { email?: string } = {}): WebResponse {
  const pre = site.forms.issue();
  const body = pages.loginPage({ csrf: pre.token, ...o });
  return { kind: 'html', status, body, headers: { 'set-cookie': pre.cookie } };
}

function registerHtml(
  site: OwnerSite,
  status: number,
  o: { error?: string; reasons?: readonly string[]; email?: string } = {},
): WebResponse {
  const pre = site.forms.issue();
  const body = pages.registerPage({ csrf: pre.token, ...o });
  return { kind: 'html', status, body, headers: { 'set-cookie': pre.cookie } };
}

async function startSession(site: OwnerSite, accountId: string, deviceCookie?: string): Promise<WebResponse> {
  const s = await site.accounts.newSession(accountId);
  const cookies = [s.cookie, site.forms.clear(), ...(deviceCookie ? [deviceCookie] : [])];
  return { kind: 'redirect', location: '/app', headers: { 'set-cookie': cookies } };
}

async function logIn(site: OwnerSite, req: WebRequest): Promise<WebResponse> {
  site.forms.verify(req);
  const emailRaw = field(req.body, 'email', 254);
  let email: string;
  try {
    email = normaliseEmail(emailRaw);
  } catch {
    return loginHtml(site, 400, { error: 'That is not an e-mail address.', email: emailRaw });
  }
  const check = await site.accounts.checkPassword(req, email, field(req.body, 'password'));
  if (!check.account) {
    const error = 'Wrong e-mail address or password, or the address is not confirmed yet: open the link we mailed you.';
    return loginHtml(site, 401, { error, email });
  }
  site.accounts.signedIn(req, check);
  return startSession(site, check.account.id, check.deviceCookie);
}

/** The answer to every sign-up that passed the policy: the same page whether the address had an account. */
const SIGNUP_SENT = {
  title: 'Check your mail',
  text: 'If the address can be used, a message is on its way to it. Open the link in it to confirm the address.',
};
const RESET_SENT = {
  title: 'Check your mail',
  text: 'If the address has an account, a link to choose a new password is on its way to it. It works a short time.',
};

function page(body: string, status = 200, cookie?: string): WebResponse {
  return { kind: 'html', status, body, ...(cookie ? { headers: { 'set-cookie': cookie } } : {}) };
}

async function register(site: OwnerSite, req: WebRequest): Promise<WebResponse> {
  site.forms.verify(req);
  const email = field(req.body, 'email', 254);
  try {
    await site.accounts.signUp(req, email, field(req.body, 'password'));
    return page(pages.mailSentPage(SIGNUP_SENT), 200, site.forms.clear());
  } catch (err) {
    if (err instanceof AccountError) {
      const reasons = (err.details.reasons as string[] | undefined) ?? [];
      return registerHtml(site, 422, { error: 'Choose a stronger password:', reasons, email });
    }
    if (err instanceof InvalidInputError) return registerHtml(site, 400, { error: err.message, email });
    throw err;
  }
}

/** A page with a pre-session form (its cookie set). */
function preSessionPage(site: OwnerSite, render: (csrf: string) => string, status = 200): WebResponse {
  const pre = site.forms.issue();
  return page(render(pre.token), status, pre.cookie);
}

/** The token of a link, from the query (a page) or the body (its form). */
function tokenOf(req: WebRequest): string {
  const t = req.query.get('token') ?? (typeof req.body.token === 'string' ? req.body.token : '');
  return t.slice(0, 128);
}

/** Confirming the address, and the password reset, all before any session. */
export function addAppRecoveryRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  const get = (path: string, handler: (req: WebRequest) => WebResponse): void =>
    void router.add({ method: 'GET', path, access: 'public', csrf: false, handler: (req) => handler(req) });
  const post = (path: string, handler: (req: WebRequest) => Promise<WebResponse>): void =>
    void router.add({
      method: 'POST',
      path,
      access: 'public',
      csrf: false,
      handler: (req) => {
        site.forms.verify(req);
        return handler(req);
      },
    });
  get('/verify', (req) => preSessionPage(site, (csrf) => pages.verifyPage({ csrf, token: tokenOf(req) })));
  post('/verify', async (req) => {
    try {
      await site.accounts.confirmAddress(tokenOf(req));
    } catch (err) {
      if (!(err instanceof AccountStateError)) throw err;
      return preSessionPage(site, (csrf) => pages.verifyPage({ csrf, token: '', error: err.message }), 400);
    }
    return loginHtml(site, 200, { notice: 'Your address is confirmed. Log in to claim your devices.' });
  });
  get('/reset', (req) => {
    const token = tokenOf(req);
    if (!token) return preSessionPage(site, (csrf) => pages.resetRequestPage({ csrf }));
    return preSessionPage(site, (csrf) => pages.resetPage({ csrf, token }));
  });
  post('/reset/request', async (req) => {
    await site.accounts.requestReset(req, field(req.body, 'email', 254));
    return page(pages.mailSentPage(RESET_SENT), 200, site.forms.clear());
  });
  post('/reset', async (req) => {
    const token = tokenOf(req);
    try {
      await site.accounts.completeReset(token, field(req.body, 'email', 254), field(req.body, 'password'));
    } catch (err) {
      if (!(err instanceof BulwarkError) || err instanceof RateLimitedError) throw err;
      const reasons = (err.details.reasons as string[] | undefined) ?? [];
      const o = { token, error: err.message, reasons };
      return preSessionPage(site, (csrf) => pages.resetPage({ csrf, ...o }), httpStatusOf(err));
    }
    return loginHtml(site, 200, { notice: 'Your password is changed and every session ended. Log in again.' });
  });
}

/** The front page, log in, register and log out. */
export function addAppLoginRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  router.add({
    method: 'GET',
    path: '/',
    access: 'public',
    csrf: false,
    handler: async (req) => ({ kind: 'redirect', location: (await site.accounts.sessionOf(req)) ? '/app' : '/login' }),
  });
  router.add({
    method: 'GET',
    path: '/login',
    access: 'public',
    csrf: false,
    handler: async (req) =>
      (await site.accounts.sessionOf(req)) ? { kind: 'redirect', location: '/app' } : loginHtml(site, 200),
  });
  router.add({ method: 'POST', path: '/login', access: 'public', csrf: false, handler: (req) => logIn(site, req) });
  router.add({
    method: 'GET',
    path: '/register',
    access: 'public',
    csrf: false,
    handler: () => registerHtml(site, 200),
  });
  router.add({
    method: 'POST',
    path: '/register',
    access: 'public',
    csrf: false,
    handler: (req) => register(site, req),
  });
  router.add({
    method: 'POST',
    path: '/logout',
    access: 'session',
    csrf: true,
    handler: async (_req, ctx) => {
      const cleared = await site.accounts.endSession(ctx);
      return { kind: 'redirect', location: '/login', headers: { 'set-cookie': cleared } };
    },
  });
}

async function claim(site: OwnerSite, req: WebRequest, ctx: OwnerCtx): Promise<WebResponse> {
  try {
    site.accounts.requireConfirmed(ctx.account!);
    const d = await site.devices.claim(req, ctx.account!, req.body.serial, req.body.claimCode);
    site.accounts.notify(ctx.account!, 'claim', { serial: d.serial }, `claimed ${d.serial}`);
    return { kind: 'redirect', location: `/app/devices/${d.serial}`, notice: 'Claimed: the device is yours.' };
  } catch (err) {
    if (!(err instanceof BulwarkError) || err instanceof RateLimitedError || err instanceof HttpError) throw err;
    const serial = typeof req.body.serial === 'string' ? req.body.serial.slice(0, 32) : '';
    const devices = await devicesOf(site, ctx);
    const body = pages.devicesPage(frameOf(ctx, 'My devices'), { devices, error: err.message, serial });
    return { kind: 'html', status: httpStatusOf(err), body };
  }
}

async function command(site: OwnerSite, req: WebRequest, ctx: OwnerCtx): Promise<WebResponse> {
  const serial = req.params.serial!;
  const back = (key: 'notice' | 'error', text: string): WebResponse => ({
    kind: 'redirect',
    location: `/app/devices/${serial}`,
    [key]: text,
  });
  try {
    const { capability, action, value } = req.body;
    const c = await householdCommand(site, req, ctx, serial, { capability, action, value });
    // householdCommand checked the caller's access: the device is there and theirs to use.
    const device = await site.store.getDevice(serial);
    const model = device ? modelOf(device) : undefined;
    const words = model?.capabilities.find((x) => x.id === c.capability) ?? { id: c.capability };
    if (c.status === 'done') return back('notice', afterAction(words, c.action, c.result?.value));
    const why = c.result?.error?.message ?? 'it gave no reason';
    return back('error', `${capabilityName(words)}: the device did not do it (${why}).`);
  } catch (err) {
    if (err instanceof CommandError || err instanceof RoleError) return back('error', err.message);
    throw err;
  }
}

/** The account's own devices, then those shared with it, with the role. */
async function devicesOf(site: OwnerSite, ctx: OwnerCtx): Promise<Array<DeviceRecord & { role?: string }>> {
  const shared = (await site.households.shared(ctx.account!)).map((s) => ({ ...s.device, role: s.role }));
  return [...(await site.devices.list(ctx.account!.id)), ...shared];
}

/** The owner's devices, the claim form, one device's page, its commands and its release. */
export function addAppDeviceRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  const { devices } = site;
  router.add({
    method: 'GET',
    path: '/app',
    access: 'session',
    csrf: false,
    handler: async (req, ctx) => {
      const o = { devices: await devicesOf(site, ctx), ...shown(req) };
      return { kind: 'html', body: pages.devicesPage(frameOf(ctx, 'My devices'), o) };
    },
  });
  router.add({
    method: 'POST',
    path: '/app/claim',
    access: 'session',
    csrf: true,
    handler: (req, ctx) => claim(site, req, ctx),
  });
  router.add({
    method: 'GET',
    path: '/app/devices/:serial',
    access: 'session',
    csrf: false,
    handler: async (req, ctx) => {
      const { device, role } = await site.households.access(req.params.serial!, ctx.account!);
      const telemetry = telemetryForRole(await devices.telemetry(device), role, modelOf(device));
      const o = {
        device,
        role,
        telemetry,
        controls: remoteControls(modelOf(device)),
        ...shown(req),
      };
      return { kind: 'html', body: pages.devicePage(frameOf(ctx, device.serial), o) };
    },
  });
  router.add({
    method: 'POST',
    path: '/app/devices/:serial/command',
    access: 'session',
    csrf: true,
    handler: (req, ctx) => command(site, req, ctx),
  });
  router.add({
    method: 'POST',
    path: '/app/devices/:serial/release',
    access: 'session',
    csrf: true,
    handler: async (req, ctx) => {
      // The page's release cannot be undone: it asks for the password again (the JSON API's caller holds a session).
      const { account } = await site.accounts.checkPassword(req, ctx.account!.email, field(req.body, 'password'));
      const back = `/app/devices/${encodeURIComponent(req.params.serial!)}`;
      if (!account) return { kind: 'redirect', location: back, error: 'Wrong password: the device is still yours.' };
      await householdRelease(site, ctx, req.params.serial!);
      const done = `Released ${req.params.serial}: it and its telemetry are no longer on your account.`;
      return { kind: 'redirect', location: '/app', notice: done };
    },
  });
}

function accountHtml(ctx: OwnerCtx, status: number, o: { error?: string; notice?: string; reasons?: string[] }) {
  const a = ctx.account!;
  const body = pages.accountPage(frameOf(ctx, 'Account'), { email: a.email, verified: a.verifiedAt != null, ...o });
  return page(body, status);
}

async function changePassword(site: OwnerSite, req: WebRequest, ctx: OwnerCtx): Promise<WebResponse> {
  try {
    await site.accounts.changePassword(req, ctx, field(req.body, 'current'), field(req.body, 'password'));
  } catch (err) {
    if (!(err instanceof AccountError)) throw err;
    const reasons = (err.details.reasons as string[] | undefined) ?? [];
    const error = err.code === 'LOGIN_FAILED' ? 'The current password is wrong.' : 'Choose a stronger password:';
    return accountHtml(ctx, httpStatusOf(err), { error, reasons });
  }
  return accountHtml(ctx, 200, { notice: 'Password changed. Your other sessions have ended.' });
}

/** The account page: password change, export, and the deletion of the account with its data. */
export function addAppAccountRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  router.add({
    method: 'GET',
    path: '/app/account',
    access: 'session',
    csrf: false,
    handler: (_req, ctx) => accountHtml(ctx, 200, {}),
  });
  router.add({
    method: 'POST',
    path: '/app/account/password',
    access: 'session',
    csrf: true,
    handler: (req, ctx) => changePassword(site, req, ctx),
  });
  router.add({
    method: 'GET',
    path: '/app/account/export',
    access: 'session',
    csrf: false,
    handler: async (_req, ctx) => {
      const body = { format: 'bulwark-cloud-account-export/1', ...(await site.store.exportAccount(ctx.account!.id)) };
      const headers = { 'content-disposition': 'attachment; filename="bulwark-cloud-account.json"' };
      return { kind: 'json', body, headers };
    },
  });
  router.add({
    method: 'POST',
    path: '/app/account/delete',
    access: 'session',
    csrf: true,
    handler: async (req, ctx) => {
      const email = ctx.account!.email;
      const { account } = await site.accounts.checkPassword(req, email, field(req.body, 'password'));
      if (!account) return accountHtml(ctx, 401, { error: 'Wrong password.' });
      await site.accounts.deleteAccount(account);
      return { kind: 'redirect', location: '/login', headers: { 'set-cookie': clearedSessionCookie() } };
    },
  });
}

async function householdHtml(site: OwnerSite, ctx: OwnerCtx, status: number, o: Messages): Promise<WebResponse> {
  const people = await site.households.people(ctx.account!.id);
  return page(pages.householdPage(frameOf(ctx, 'Household'), { people, ...o }), status);
}

/** Runs a household change; a refusal shows on the household page, a success redirects with a notice. */
async function householdChange(
  site: OwnerSite,
  ctx: OwnerCtx,
  change: () => Promise<unknown>,
  done: string | ((result: unknown) => string),
): Promise<WebResponse> {
  let result: unknown;
  try {
    result = await change();
  } catch (err) {
    if (!(err instanceof BulwarkError) || err instanceof RateLimitedError || err instanceof HttpError) throw err;
    return householdHtml(site, ctx, httpStatusOf(err), { error: err.message });
  }
  const said = typeof done === 'string' ? done : done(result);
  return { kind: 'redirect', location: '/app/household', notice: said };
}

/** The household page: its people, invitations, acceptance and removal. */
export function addAppHouseholdRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  const { households } = site;
  const post = (path: string, handler: (req: WebRequest, ctx: OwnerCtx) => Promise<WebResponse>): void =>
    void router.add({ method: 'POST', path, access: 'session', csrf: true, handler });
  router.add({
    method: 'GET',
    path: '/app/household',
    access: 'session',
    csrf: false,
    handler: (req, ctx) => householdHtml(site, ctx, 200, shown(req)),
  });
  // The mailed link: signed in, a form to accept; else the login page first.
  router.add({
    method: 'GET',
    path: '/invitations/accept',
    access: 'public',
    csrf: false,
    handler: async (req) => {
      // A public route: the session, when there is one, is looked up here.
      const ctx = await site.accounts.sessionOf(req);
      if (!ctx) {
        const notice = 'Log in (or create an account with the invited address), then open the link again.';
        return loginHtml(site, 200, { notice });
      }
      return page(pages.acceptInvitationPage(frameOf(ctx, 'Join a household'), { token: tokenOf(req) }));
    },
  });
  post('/app/household/invite', (req, ctx) =>
    householdChange(
      site,
      ctx,
      () => households.invite(ctx.account!, field(req.body, 'email', 254), req.body),
      'Invitation sent.',
    ),
  );
  post('/app/household/accept', async (req, ctx) => {
    try {
      await households.accept(ctx.account!, tokenOf(req));
    } catch (err) {
      if (!(err instanceof AccountStateError)) throw err;
      return page(pages.errorPage(httpStatusOf(err), err.message, frameOf(ctx, 'Error')), httpStatusOf(err));
    }
    return { kind: 'redirect', location: '/app', notice: 'You joined the household.' };
  });
  post('/app/household/remove', (req, ctx) =>
    householdChange(
      site,
      ctx,
      () => householdRemove(site, req, ctx, req.body.memberId),
      (r) => {
        const { removed, unreachable } = r as DeviceRemovals;
        const off = unreachable.length ? ` Not reached (offline): ${unreachable.join(', ')}.` : '';
        return `Removed; signed out here and on ${removed.length} device(s) and their hubs.${off}`;
      },
    ),
  );
}
