/**
 * What the owner's People routes do (users-routes.ts registers them; this module loads on their
 * first use, so the agent does not carry it at start): add someone, change their role, remove them
 * (behind the owner's password again; their sessions end at once and their device cookies are
 * void), and clear one person's login back-off (the lockout setting).
 */
import {
  FIRST_OWNER_NAME,
  PasswordPolicyError,
  UserError,
  addUser,
  changeUserRole,
  normaliseUserName,
  parseUserExpiry,
  parseUserRole,
  peopleOf,
} from '../auth/index.ts';
import { checkPasswordStrength, hashPassword, verifyPassword } from './auth-bridge.ts';
import { requiredField, type WebRequest, type WebResponse } from './http.ts';
import { frame, recordOwner, type DeviceCtx, type DeviceSite } from './device-site.ts';
import { deviceAccountOf, removePersonAndSessions, type DeviceAccount } from './users.ts';
import { peopleBody, removePersonBody, type PersonView } from './users-pages.ts';
import { layout } from './pages.ts';

/** Everyone who can sign in: the first owner, then the people added. */
export function people(site: DeviceSite): PersonView[] {
  return peopleOf(site.state.users);
}

/** Messages of the People page. */
type PageMessages = { error?: string; notice?: string; reasons?: readonly string[] };

export function peopleHtml(site: DeviceSite, ctx: DeviceCtx, status: number, o: PageMessages = {}): WebResponse {
  const csrf = ctx.session!.csrfToken;
  const body = layout(frame(site, 'People', csrf, ctx.user), peopleBody(csrf, people(site), o));
  return { kind: 'html', status, body };
}

function done(req: WebRequest, notice: string, body: Record<string, unknown> = {}): WebResponse {
  if (req.wantsJson) return { kind: 'json', body: { ok: true, ...body } };
  return { kind: 'redirect', location: '/people', notice };
}

/** A refusal of the user list (a taken name, a past date) as the People page shows it. */
export async function orPage(
  site: DeviceSite,
  req: WebRequest,
  ctx: DeviceCtx,
  work: () => Promise<WebResponse>,
): Promise<WebResponse> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof UserError) || req.wantsJson) throw err;
    return peopleHtml(site, ctx, err.code === 'USER_UNKNOWN' ? 404 : 422, { error: err.message });
  }
}

export async function addPerson(site: DeviceSite, req: WebRequest, ctx: DeviceCtx): Promise<WebResponse> {
  const name = normaliseUserName(requiredField(req.body.name, 'name', 32));
  const role = parseUserRole(req.body.role);
  const password = requiredField(req.body.password, 'password', 256);
  const expiresAt = parseUserExpiry(req.body.expiresOn, role, Date.now());
  const strength = await checkPasswordStrength(password, { userInputs: [...site.userInputs, name] });
  if (!strength.ok) {
    const reasons = strength.reasons.map((r) => r.message);
    if (req.wantsJson) throw new PasswordPolicyError(strength.reasons);
    return peopleHtml(site, ctx, 422, { error: `That password for ${name} is not accepted:`, reasons });
  }
  const passwordHash = await hashPassword(password);
  const added = { name, role, passwordHash, ...(expiresAt ? { expiresAt } : {}) };
  const next = addUser(site.state.users, added, [FIRST_OWNER_NAME], Date.now());
  await site.state.saveUsers(next);
  recordOwner(site, req, 'user-added', 'success', `${name} as ${role}${expiresAt ? ` until ${expiresAt}` : ''}`);
  return done(req, `${name} added as ${role}`, { name, role });
}

export async function changeRole(site: DeviceSite, req: WebRequest, name: string): Promise<WebResponse> {
  const role = parseUserRole(req.body.role);
  const expiresAt = parseUserExpiry(req.body.expiresOn, role, Date.now());
  if (name.toLowerCase() === FIRST_OWNER_NAME) {
    throw new UserError('USER_FIRST_OWNER', "the first owner's role cannot change: a factory reset replaces them");
  }
  await site.state.saveUsers(changeUserRole(site.state.users, name, role, expiresAt));
  recordOwner(site, req, 'user-role-changed', 'success', `${name} is now ${role}`);
  return done(req, `${name} is now ${role}`, { name, role });
}

/** Ends every session of `name` and forgets them: their next request is the login page. */
export async function removePerson(
  site: DeviceSite,
  req: WebRequest,
  ctx: DeviceCtx,
  name: string,
): Promise<WebResponse> {
  const who = deviceAccountOf(site.state, name);
  if (!who) throw new UserError('USER_UNKNOWN', `there is nobody called ${name.slice(0, 32)}`);
  if (who.first) throw new UserError('USER_FIRST_OWNER', 'the first owner cannot be removed: a factory reset does');
  const owner: DeviceAccount = ctx.user!;
  const password = requiredField(req.body.password, 'password', 256);
  const hash = owner.added ? owner.added.passwordHash : site.login.currentHash();
  const checked = await site.login.guarded(req, owner.account, 'user-removed', async (priority) =>
    hash ? (await verifyPassword(password, hash, { priority })).ok : false,
  );
  if (!checked.ok) {
    recordOwner(site, req, 'user-removed', 'failure', `${who.name}: the owner's password was wrong`);
    const csrf = ctx.session!.csrfToken;
    const body = layout(
      frame(site, 'Remove', csrf, owner),
      removePersonBody(csrf, who.name, 'Your password is wrong.'),
    );
    return { kind: 'html', status: 401, body };
  }
  const ended = await removePersonAndSessions(site.state, who.name);
  recordOwner(site, req, 'user-removed', 'success', `${who.name}: ${ended} session(s) ended`);
  site.device.personRemoved?.(who.name);
  return done(req, `${who.name} removed; signed out everywhere`, { name: who.name, sessionsEnded: ended });
}

/** Clears one person's login back-off (their account record); the per-address back-off stays. */
export function clearBackOff(site: DeviceSite, req: WebRequest): WebResponse {
  const who = deviceAccountOf(site.state, normaliseUserName(requiredField(req.body.name, 'name', 32)));
  if (!who) throw new UserError('USER_UNKNOWN', 'there is nobody of that name');
  const { lockout } = site.state;
  site.login.saveGuardState({
    lockout: { ...lockout, accounts: lockout.accounts.filter((a) => a.key !== who.account) },
    cookies: site.state.deviceCookies,
  });
  recordOwner(site, req, 'login-unlock', 'success', `login back-off of ${who.name} cleared`);
  return done(req, `login back-off of ${who.name} cleared`, { name: who.name });
}

/** The removal's confirmation page, which asks for the owner's password again. */
export function removeConfirmation(site: DeviceSite, req: WebRequest, ctx: DeviceCtx): WebResponse {
  const who = deviceAccountOf(site.state, req.params.name!);
  if (!who || who.first) return peopleHtml(site, ctx, 404, { error: 'Nobody of that name can be removed.' });
  const csrf = ctx.session!.csrfToken;
  return { kind: 'html', body: layout(frame(site, 'Remove', csrf, ctx.user), removePersonBody(csrf, who.name)) };
}
