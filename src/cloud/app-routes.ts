/**
 * The owner web app's routes: log in and register (pre-session form tokens), the owner's devices
 * with the claim form, one device's controls and chart, and the account page. Forms get redirects
 * and pages; the JSON API's twins are in api-routes.ts.
 */
import { BulwarkError, InvalidInputError, httpStatusOf } from '../errors/index.ts';
import { HttpError, type Router, type WebRequest, type WebResponse } from '../web/index.ts';
import { AccountError, CommandError, RateLimitedError } from './errors.ts';
import { clearedSessionCookie, field, normaliseEmail, type OwnerCtx } from './owner-accounts.ts';
import { modelOf, remoteControls } from './owner-devices.ts';
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

/** A query parameter cut to `max` characters, as a spreadable notice or error. */
function shown(req: WebRequest, name: string, key: 'notice' | 'error', max: number): Messages {
  const value = req.query.get(name) ?? undefined;
  return value ? { [key]: value.slice(0, max) } : {};
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
  const { account, deviceCookie } = await site.accounts.checkPassword(req, email, field(req.body, 'password'));
  if (!account) return loginHtml(site, 401, { error: 'Wrong e-mail address or password.', email });
  return startSession(site, account.id, deviceCookie);
}

async function register(site: OwnerSite, req: WebRequest): Promise<WebResponse> {
  site.forms.verify(req);
  const email = field(req.body, 'email', 254);
  try {
    const account = await site.accounts.register(req, email, field(req.body, 'password'));
    return await startSession(site, account.id);
  } catch (err) {
    if (err instanceof AccountError) {
      const reasons = (err.details.reasons as string[] | undefined) ?? [];
      const taken = err.code === 'ACCOUNT_EXISTS';
      const error = taken ? 'That e-mail address already has an account.' : 'Choose a stronger password:';
      return registerHtml(site, taken ? 409 : 422, { error, reasons, email });
    }
    if (err instanceof InvalidInputError) return registerHtml(site, 400, { error: err.message, email });
    throw err;
  }
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
    const d = await site.devices.claim(req, ctx.account!, req.body.serial, req.body.claimCode);
    const done = encodeURIComponent('Claimed: the device is yours.');
    return { kind: 'redirect', location: `/app/devices/${d.serial}?done=${done}` };
  } catch (err) {
    if (!(err instanceof BulwarkError) || err instanceof RateLimitedError || err instanceof HttpError) throw err;
    const serial = typeof req.body.serial === 'string' ? req.body.serial.slice(0, 32) : '';
    const devices = await site.devices.list(ctx.account!.id);
    const body = pages.devicesPage(frameOf(ctx, 'My devices'), { devices, error: err.message, serial });
    return { kind: 'html', status: httpStatusOf(err), body };
  }
}

async function command(site: OwnerSite, req: WebRequest, ctx: OwnerCtx): Promise<WebResponse> {
  const serial = req.params.serial!;
  const back = (key: 'done' | 'error', text: string): WebResponse => ({
    kind: 'redirect',
    location: `/app/devices/${serial}?${key}=${encodeURIComponent(text)}`,
  });
  try {
    const c = await site.devices.command(ctx.account!, serial, req.body.capability, req.body.action, req.body.value);
    if (c.status === 'done') return back('done', `${c.capability}: ${c.action} done`);
    return back('error', `the device refused: ${c.result?.error?.message ?? 'unknown reason'}`);
  } catch (err) {
    if (err instanceof CommandError) return back('error', err.message);
    throw err;
  }
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
      const o = { devices: await devices.list(ctx.account!.id), ...shown(req, 'done', 'notice', 120) };
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
      const device = await devices.owned(req.params.serial!, ctx.account!.id);
      const telemetry = await devices.telemetry(device);
      const o = {
        device,
        telemetry,
        controls: remoteControls(modelOf(device)),
        ...shown(req, 'done', 'notice', 120),
        ...shown(req, 'error', 'error', 160),
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
      await devices.release(req.params.serial!, ctx.account!.id);
      return { kind: 'redirect', location: `/app?done=${encodeURIComponent(`${req.params.serial} released`)}` };
    },
  });
}

/** The account page and the deletion of the account with its data. */
export function addAppAccountRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  router.add({
    method: 'GET',
    path: '/app/account',
    access: 'session',
    csrf: false,
    handler: (_req, ctx) => ({
      kind: 'html',
      body: pages.accountPage(frameOf(ctx, 'Account'), { email: ctx.account!.email }),
    }),
  });
  router.add({
    method: 'POST',
    path: '/app/account/delete',
    access: 'session',
    csrf: true,
    handler: async (req, ctx) => {
      const email = ctx.account!.email;
      const { account } = await site.accounts.checkPassword(req, email, field(req.body, 'password'));
      if (!account) {
        const body = pages.accountPage(frameOf(ctx, 'Account'), { email, error: 'Wrong password.' });
        return { kind: 'html', status: 401, body };
      }
      await site.store.deleteAccount(account.id);
      return { kind: 'redirect', location: '/login', headers: { 'set-cookie': clearedSessionCookie() } };
    },
  });
}
