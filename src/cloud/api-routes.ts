/**
 * The owner API's JSON routes under `/v1`: accounts and sessions, then devices, claims, commands
 * and telemetry. An app may send its session token as `Authorization: Bearer` (not ambient, so
 * no CSRF token); a browser's cookie session needs the token and a same-origin Origin (the core).
 * The maker's routes under `/v1/maker/` take the maker's token as `Authorization: Bearer` instead,
 * and answer 404 when the cloud was given none.
 */
import { createHash } from 'node:crypto';
import { checkSameOrigin, constantTimeEqual, type Router, type WebRequest, type WebResponse } from '../web/index.ts';
import { codeOf } from '../errors/index.ts';
import { AccountError, NotFoundError } from './errors.ts';
import { clearedSessionCookie, field, normaliseEmail, type OwnerCtx } from './owner-accounts.ts';
import { commandView, deviceView, modelOf } from './owner-devices.ts';
import { roleMayUse, telemetryForRole, type DeviceRole } from './household.ts';
import type { DeviceRemovals } from './person-removals.ts';
import type { CommandRecord, DeviceRecord } from './store.ts';
import type { OwnerSite } from './owner-site.ts';

/** The one answer to a sign-up or a reset request, whatever the address. */
const MAIL_SENT = {
  ok: true,
  message: 'If the address can be used, a message is on its way to it. Open the link in it to go on.',
};

/** Sign-up, address confirmation, login, logout, password reset and change. */
export function addAccountApiRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  const { accounts } = site;
  const publicPost = (path: string, handler: (req: WebRequest) => Promise<WebResponse>): void =>
    void router.add({
      method: 'POST',
      path,
      access: 'public',
      csrf: false,
      handler: (req) => {
        checkSameOrigin(req, { allowNonBrowser: true });
        return handler(req);
      },
    });
  publicPost('/v1/accounts', async (req) => {
    await accounts.signUp(req, field(req.body, 'email', 254), field(req.body, 'password'));
    return { kind: 'json', status: 202, body: MAIL_SENT };
  });
  publicPost('/v1/accounts/verify', async (req) => {
    await accounts.confirmAddress(req.body.token);
    return { kind: 'json', body: { ok: true, verified: true } };
  });
  publicPost('/v1/sessions', async (req) => {
    const email = normaliseEmail(field(req.body, 'email', 254));
    const check = await accounts.checkPassword(req, email, field(req.body, 'password'));
    if (!check.account || !check.deviceCookie)
      throw new AccountError(
        'LOGIN_FAILED',
        'wrong e-mail address or password, or the address is not confirmed yet (open the link we mailed)',
      );
    accounts.signedIn(req, check);
    const s = await accounts.newSession(check.account.id);
    const headers = { 'set-cookie': [s.cookie, check.deviceCookie] };
    return { kind: 'json', body: { token: s.id, csrfToken: s.csrfToken }, headers };
  });
  publicPost('/v1/password-resets', async (req) => {
    await accounts.requestReset(req, field(req.body, 'email', 254));
    return { kind: 'json', status: 202, body: MAIL_SENT };
  });
  publicPost('/v1/password-resets/complete', async (req) => {
    await accounts.completeReset(req.body.token, field(req.body, 'email', 254), field(req.body, 'password'));
    return { kind: 'json', body: { ok: true } };
  });
  router.add({
    method: 'POST',
    path: '/v1/sessions/logout',
    access: 'session',
    csrf: true,
    handler: async (_req, ctx) => {
      const cleared = await accounts.endSession(ctx);
      return { kind: 'json', body: { ok: true }, headers: { 'set-cookie': cleared } };
    },
  });
  router.add({
    method: 'POST',
    path: '/v1/me/password',
    access: 'session',
    csrf: true,
    handler: async (req, ctx) => {
      await accounts.changePassword(req, ctx, field(req.body, 'current'), field(req.body, 'password'));
      return { kind: 'json', body: { ok: true } };
    },
  });
}

/** The caller's account, its export and its deletion. */
export function addMeApiRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  router.add({
    method: 'GET',
    path: '/v1/me',
    access: 'session',
    csrf: false,
    handler: (_req, ctx) => {
      const a = ctx.account!;
      const body = {
        email: a.email,
        createdAt: new Date(a.createdAt).toISOString(),
        verified: a.verifiedAt != null,
        csrfToken: ctx.session!.csrfToken,
      };
      return { kind: 'json', body };
    },
  });
  router.add({
    method: 'GET',
    path: '/v1/me/export',
    access: 'session',
    csrf: false,
    handler: async (_req, ctx) => {
      const body = await site.store.exportAccount(ctx.account!.id);
      const headers = { 'content-disposition': 'attachment; filename="bulwark-cloud-account.json"' };
      return { kind: 'json', body: { format: 'bulwark-cloud-account-export/1', ...body }, headers };
    },
  });
  router.add({
    method: 'POST',
    path: '/v1/me/delete',
    access: 'session',
    csrf: true,
    handler: async (req, ctx) => {
      const { account } = await site.accounts.checkPassword(req, ctx.account!.email, field(req.body, 'password'));
      if (!account) throw new AccountError('LOGIN_FAILED', 'wrong password');
      await site.accounts.deleteAccount(account);
      site.log('an account and its data were deleted');
      return { kind: 'json', body: { ok: true, deleted: true }, headers: { 'set-cookie': clearedSessionCookie() } };
    },
  });
}

/** The owner's household: its people, invitations, acceptance and removal. */
export function addHouseholdApiRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  const { households } = site;
  const post = (path: string, handler: (req: WebRequest, ctx: OwnerCtx) => Promise<WebResponse>): void =>
    void router.add({ method: 'POST', path, access: 'session', csrf: true, handler });
  router.add({
    method: 'GET',
    path: '/v1/household',
    access: 'session',
    csrf: false,
    handler: async (_req, ctx) => {
      const people = (await households.people(ctx.account!.id)).map((p) => ({
        memberId: p.memberId,
        email: p.email,
        role: p.role,
        until: p.until === null ? null : new Date(p.until).toISOString(),
        name: p.localName,
      }));
      return { kind: 'json', body: { people } };
    },
  });
  post('/v1/household/invitations', async (req, ctx) => {
    await households.invite(ctx.account!, field(req.body, 'email', 254), req.body);
    return { kind: 'json', status: 202, body: { ok: true } };
  });
  post('/v1/household/accept', async (req, ctx) => {
    const m = await households.accept(ctx.account!, req.body.token);
    return { kind: 'json', body: { ok: true, role: m.role } };
  });
  post('/v1/household/remove', async (req, ctx) => {
    const devices = await householdRemove(site, req, ctx, req.body.memberId);
    return { kind: 'json', body: { ok: true, devices } };
  });
}

/**
 * A device as a person of `role` may see it, with the role: a guest gets no state of a capability its role may not
 * use (whether a lock is bolted is as sensitive as bolting it), as in the telemetry and on the page.
 */
function deviceViewFor(d: DeviceRecord, role: DeviceRole): Record<string, unknown> {
  const view = deviceView(d);
  if (role !== 'guest') return { ...view, role };
  const model = modelOf(d);
  return { ...view, role, state: (d.state?.capabilities ?? []).filter((c) => roleMayUse(role, model, c.id)) };
}

/**
 * A command from the owner or a person of the household, checked against their role here. It goes out under the
 * owner's account (the device's command history is the owner's); the journal names the account that sent it.
 */
export async function householdCommand(
  site: OwnerSite,
  req: WebRequest,
  ctx: OwnerCtx,
  serial: string,
  c: { capability: unknown; action: unknown; value: unknown },
): Promise<CommandRecord> {
  const a = await site.households.access(serial, ctx.account!);
  const said = `${serial} ${String(c.capability).slice(0, 32)} ${String(c.action).slice(0, 32)} as ${a.role}`;
  const journal = (result: 'success' | 'failure' | 'refused', why = ''): void =>
    site.record(req, { event: 'command', result, identity: ctx.account!.id, detail: `${said}${why}` });
  try {
    site.households.requireUse(a, c.capability);
  } catch (err) {
    journal('refused', ': not for this role');
    throw err;
  }
  const owner = a.role === 'owner' ? ctx.account! : { ...ctx.account!, id: a.ownerId };
  let done: CommandRecord;
  try {
    done = await site.devices.command(owner, serial, c.capability, c.action, c.value);
  } catch (err) {
    journal('failure', `: ${codeOf(err)}`);
    throw err;
  }
  journal(done.status === 'done' ? 'success' : 'failure');
  return done;
}

/** The owner removes a person from the household; the journal keeps who and what the devices did. */
export async function householdRemove(
  site: OwnerSite,
  req: WebRequest,
  ctx: OwnerCtx,
  memberId: unknown,
): Promise<DeviceRemovals> {
  const devices = await site.households.remove(ctx.account!.id, memberId);
  const reached = `removed on ${devices.removed.length} device(s), ${devices.unreachable.length} not reached`;
  const detail = `member ${String(memberId).slice(0, 64)}: ${reached}`;
  site.record(req, { event: 'household-remove', result: 'success', identity: ctx.account!.id, detail });
  return devices;
}

/** The owner lets a device go (a member or guest is refused, 403) and hears of it by mail. */
export async function householdRelease(site: OwnerSite, ctx: OwnerCtx, serial: string): Promise<void> {
  site.households.requireOwner(await site.households.access(serial, ctx.account!), 'release a device');
  await site.devices.release(serial, ctx.account!.id);
  site.accounts.notify(ctx.account!, 'release', { serial }, `released ${serial}`);
}

/** Claims, the owner's devices, their telemetry, commands and release. */
export function addDeviceApiRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  const { devices } = site;
  router.add({
    method: 'POST',
    path: '/v1/claims',
    access: 'session',
    csrf: true,
    handler: async (req, ctx) => {
      site.accounts.requireConfirmed(ctx.account!);
      const device = await devices.claim(req, ctx.account!, req.body.serial, req.body.claimCode);
      site.accounts.notify(ctx.account!, 'claim', { serial: device.serial }, `claimed ${device.serial}`);
      return { kind: 'json', status: 201, body: { device: deviceView(device) } };
    },
  });
  router.add({
    method: 'GET',
    path: '/v1/devices',
    access: 'session',
    csrf: false,
    handler: async (_req, ctx) => {
      const mine = (await devices.list(ctx.account!.id)).map((d) => deviceViewFor(d, 'owner'));
      const shared = (await site.households.shared(ctx.account!)).map((s) => deviceViewFor(s.device, s.role));
      return { kind: 'json', body: { devices: [...mine, ...shared] } };
    },
  });
  router.add({
    method: 'GET',
    path: '/v1/devices/:serial',
    access: 'session',
    csrf: false,
    handler: async (req, ctx) => {
      const a = await site.households.access(req.params.serial!, ctx.account!);
      return { kind: 'json', body: { device: deviceViewFor(a.device, a.role) } };
    },
  });
  router.add({
    method: 'GET',
    path: '/v1/devices/:serial/telemetry',
    access: 'session',
    csrf: false,
    handler: async (req, ctx) => {
      const { device, role } = await site.households.access(req.params.serial!, ctx.account!);
      const all = await devices.telemetry(device, Number(req.query.get('limit') ?? '100'));
      const rows = telemetryForRole(all, role, modelOf(device));
      const telemetry = rows.map((r) => ({
        seq: r.seq,
        at: new Date(r.at).toISOString(),
        receivedAt: new Date(r.receivedAt).toISOString(),
        values: r.values,
      }));
      return { kind: 'json', body: { telemetry } };
    },
  });
  router.add({
    method: 'POST',
    path: '/v1/devices/:serial/commands',
    access: 'session',
    csrf: true,
    handler: async (req, ctx) => {
      const { capability, action, value } = req.body;
      const c = await householdCommand(site, req, ctx, req.params.serial!, { capability, action, value });
      return { kind: 'json', body: { command: commandView(c) } };
    },
  });
  router.add({
    method: 'POST',
    path: '/v1/devices/:serial/release',
    access: 'session',
    csrf: true,
    handler: async (req, ctx) => {
      await householdRelease(site, ctx, req.params.serial!);
      return { kind: 'json', body: { ok: true } };
    },
  });
}

/** The maker's token, as `Authorization: Bearer`, checked against the configured hash; no token configured: 404. */
export function requireMaker(req: WebRequest, expected: string | null | undefined): void {
  if (!expected) throw new NotFoundError();
  const auth = req.headers.authorization;
  const token = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
  const given = createHash('sha256').update(token).digest('hex');
  if (!token || !constantTimeEqual(given, expected))
    throw new AccountError('LOGIN_FAILED', 'the maker token is missing or wrong');
}

/**
 * The maker's read-only views: per release (model and version) the units that run, installed,
 * committed and rolled it back; the revocations; the clone suspects.
 */
const MAKER_VIEWS: ReadonlyArray<readonly [path: string, view: (store: OwnerSite['store']) => Promise<object>]> = [
  ['/v1/maker/releases', async (store) => ({ releases: await store.releaseCounts() })],
  ['/v1/maker/revocations', async (store) => ({ revocations: await store.revocations() })],
  ['/v1/maker/clone-suspects', async (store) => ({ suspects: await store.cloneSuspects(1_000) })],
];

/** The maker's routes: its views, and revocation. */
export function addMakerApiRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  for (const [path, view] of MAKER_VIEWS)
    router.add({
      method: 'GET',
      path,
      access: 'public',
      csrf: false,
      handler: async (req) => {
        requireMaker(req, site.makerTokenSha256);
        return { kind: 'json', body: await view(site.store) };
      },
    });
  // Revokes a unit ({serial, reason}) or a certificate ({certificate: 'sha256:<hex>', reason}):
  // enforced on this instance's broker before the answer, on the others within their poll.
  router.add({
    method: 'POST',
    path: '/v1/maker/revocations',
    access: 'public',
    csrf: false,
    handler: async (req) => {
      requireMaker(req, site.makerTokenSha256);
      const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, unknown>;
      const done = await site.revoke(body, 'maker-api');
      return { kind: 'json', status: done.outcome === 'revoked' ? 201 : 200, body: done };
    },
  });
}
