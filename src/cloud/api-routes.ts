/**
 * The owner API's JSON routes under `/v1`: accounts and sessions, then devices, claims, commands
 * and telemetry. An app may send its session token as `Authorization: Bearer` (not ambient, so
 * no CSRF token); a browser's cookie session needs the token and a same-origin Origin (the core).
 * The maker's routes under `/v1/maker/` take the maker's token as `Authorization: Bearer` instead,
 * and answer 404 when the cloud was given none.
 */
import { createHash } from 'node:crypto';
import { checkSameOrigin, constantTimeEqual, type Router, type WebRequest } from '../web/index.ts';
import { AccountError, NotFoundError } from './errors.ts';
import { clearedSessionCookie, field, normaliseEmail, type OwnerCtx } from './owner-accounts.ts';
import { commandView, deviceView } from './owner-devices.ts';
import type { OwnerSite } from './owner-site.ts';

/** Registration, login, logout, the caller's account and its deletion. */
export function addAccountApiRoutes(router: Router<OwnerCtx>, site: OwnerSite): void {
  const { accounts } = site;
  router.add({
    method: 'POST',
    path: '/v1/accounts',
    access: 'public',
    csrf: false,
    handler: async (req) => {
      checkSameOrigin(req, { allowNonBrowser: true });
      const account = await accounts.register(req, field(req.body, 'email', 254), field(req.body, 'password'));
      const s = await accounts.newSession(account.id);
      const body = { account: { email: account.email }, token: s.id, csrfToken: s.csrfToken };
      return { kind: 'json', status: 201, body, headers: { 'set-cookie': s.cookie } };
    },
  });
  router.add({
    method: 'POST',
    path: '/v1/sessions',
    access: 'public',
    csrf: false,
    handler: async (req) => {
      checkSameOrigin(req, { allowNonBrowser: true });
      const email = normaliseEmail(field(req.body, 'email', 254));
      const { account, deviceCookie } = await accounts.checkPassword(req, email, field(req.body, 'password'));
      if (!account || !deviceCookie) throw new AccountError('LOGIN_FAILED', 'wrong e-mail address or password');
      const s = await accounts.newSession(account.id);
      const headers = { 'set-cookie': [s.cookie, deviceCookie] };
      return { kind: 'json', body: { token: s.id, csrfToken: s.csrfToken }, headers };
    },
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
    method: 'GET',
    path: '/v1/me',
    access: 'session',
    csrf: false,
    handler: (_req, ctx) => {
      const createdAt = new Date(ctx.account!.createdAt).toISOString();
      return { kind: 'json', body: { email: ctx.account!.email, createdAt, csrfToken: ctx.session!.csrfToken } };
    },
  });
  router.add({
    method: 'POST',
    path: '/v1/me/delete',
    access: 'session',
    csrf: true,
    handler: async (req, ctx) => {
      const { account } = await accounts.checkPassword(req, ctx.account!.email, field(req.body, 'password'));
      if (!account) throw new AccountError('LOGIN_FAILED', 'wrong password');
      await site.store.deleteAccount(account.id);
      site.log('an account and its data were deleted');
      return { kind: 'json', body: { ok: true, deleted: true }, headers: { 'set-cookie': clearedSessionCookie() } };
    },
  });
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
      const device = await devices.claim(req, ctx.account!, req.body.serial, req.body.claimCode);
      return { kind: 'json', status: 201, body: { device: deviceView(device) } };
    },
  });
  router.add({
    method: 'GET',
    path: '/v1/devices',
    access: 'session',
    csrf: false,
    handler: async (_req, ctx) => {
      const mine = await devices.list(ctx.account!.id);
      return { kind: 'json', body: { devices: mine.map(deviceView) } };
    },
  });
  router.add({
    method: 'GET',
    path: '/v1/devices/:serial',
    access: 'session',
    csrf: false,
    handler: async (req, ctx) => {
      const device = await devices.owned(req.params.serial!, ctx.account!.id);
      return { kind: 'json', body: { device: deviceView(device) } };
    },
  });
  router.add({
    method: 'GET',
    path: '/v1/devices/:serial/telemetry',
    access: 'session',
    csrf: false,
    handler: async (req, ctx) => {
      const d = await devices.owned(req.params.serial!, ctx.account!.id);
      const rows = await devices.telemetry(d, Number(req.query.get('limit') ?? '100'));
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
      const c = await devices.command(ctx.account!, req.params.serial!, capability, action, value);
      return { kind: 'json', body: { command: commandView(c) } };
    },
  });
  router.add({
    method: 'POST',
    path: '/v1/devices/:serial/release',
    access: 'session',
    csrf: true,
    handler: async (req, ctx) => {
      await devices.release(req.params.serial!, ctx.account!.id);
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
