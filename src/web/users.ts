/**
 * Who may do what on the device's admin page. The first owner (`admin`) is the label's account in
 * owner.json; everyone else is in the added people's list (src/auth's roles). Every session route
 * passes {@link authorizeDeviceRoute} (the app core calls it before reading the body): a route not
 * listed here is the owner's alone, so a new route is safe by default.
 */
import {
  FIRST_OWNER_NAME,
  UserError,
  accessEnded,
  cookieAccountOf,
  findUser,
  requireCapability,
  removeUser,
  requireRole,
  type SignedInUser,
  type UserAccount,
  type UserRole,
} from '../auth/index.ts';
import type { DeviceBundle } from '../bundle/index.ts';
import type { WebRequest } from './http.ts';
import type { WebStateStore } from './owner-state.ts';

/** The unit's model (src/models), as its bundle carries it. */
type ModelSpec = DeviceBundle['model'];

/** Someone who can sign in on the device's page. */
export interface DeviceAccount extends SignedInUser {
  /** What their lockout record and device cookies are bound to ('admin' for the first owner). */
  readonly account: string;
  /** True for the label's account (owner.json). */
  readonly first: boolean;
  /** The added person's record; absent for the first owner. */
  readonly added?: UserAccount;
}

/** The first owner's device cookie, as before people could be added (their browsers stay trusted). */
export const DEVICE_COOKIE = '__Host-bulwark-device';

/** The device cookie of `account`: each person has their own, so a shared browser keeps both. */
export function deviceCookieNameOf(account: string): string {
  return account === FIRST_OWNER_NAME ? DEVICE_COOKIE : `${DEVICE_COOKIE}-${account.split('#')[0]!}`;
}

/** The account named `name` (any case), whether or not its access has ended. */
export function deviceAccountOf(state: WebStateStore, name: string): DeviceAccount | undefined {
  const key = name.toLowerCase();
  if (key === FIRST_OWNER_NAME) return { name: key, role: 'owner', account: key, first: true };
  const added = findUser(state.users, key);
  if (!added) return undefined;
  return { name: added.name, role: added.role, account: cookieAccountOf(added), first: false, added };
}

/** The account of a live session's user: undefined once they were removed or their guest access ended. */
export function liveAccountOf(state: WebStateStore, name: string, now: number): DeviceAccount | undefined {
  const a = deviceAccountOf(state, name);
  return a && !(a.added && accessEnded(a.added, now)) ? a : undefined;
}

/** The least role each session route needs, by "METHOD path"; any other route is the owner's. */
const ROUTE_ROLES: Readonly<Record<string, UserRole>> = Object.freeze({
  'GET /': 'guest',
  'GET /api/status': 'guest',
  'GET /api/me': 'guest',
  'POST /api/capabilities/:capability/:action': 'guest',
  'GET /password': 'guest',
  'POST /password': 'guest',
  'POST /api/password-strength': 'guest',
  'POST /logout': 'guest',
  'GET /software': 'member',
  'GET /api/software': 'member',
});

/** What a route does, in the owner's words, for a refusal ("Only the owner can ..."). */
function purposeOf(method: string, path: string): string {
  if (path.startsWith('/api/actions/')) return `use "${path.slice('/api/actions/'.length)}" (pairing, hubs, updates)`;
  if (path.startsWith('/people')) return 'manage the people who use this device';
  if (path.includes('/settings/lockout')) return 'change the login protection (lockout)';
  if (path.includes('/settings/')) return 'change the settings';
  if (path.startsWith('/update')) return 'install updates';
  if (path.includes('journal') || path.includes('export')) return "read the device's journal and records";
  return method === 'GET' ? 'open this page' : 'do this';
}

/** Whether a capability of `model` is sensitive; one the model does not list counts as sensitive. */
export function capabilitySensitive(model: ModelSpec, id: string): boolean {
  const c = model.capabilities.find((x) => x.id === id);
  return c ? c.sensitive === true : true;
}

/**
 * Refuses `user` this route (ROLE_REFUSED, 403) unless their role allows it; a guest is refused a
 * sensitive capability. An ended guest never gets here: their session ends when it is looked up.
 */
export function authorizeDeviceRoute(
  user: SignedInUser,
  req: Pick<WebRequest, 'params'>,
  route: { readonly method: string; readonly path: string },
  model: ModelSpec,
): void {
  const needed = ROUTE_ROLES[`${route.method} ${route.path}`] ?? 'owner';
  requireRole(user, needed, purposeOf(route.method, route.path));
  const capability = route.path.startsWith('/api/capabilities/') ? req.params.capability : undefined;
  if (capability !== undefined) requireCapability(user, capability, capabilitySensitive(model, capability));
}

/** The capabilities `user` may see and use, from a list of capability views. */
export function visibleCapabilities<C extends { readonly id: string }>(
  user: SignedInUser,
  all: readonly C[],
  model: ModelSpec,
): C[] {
  return all.filter((c) => user.role !== 'guest' || !capabilitySensitive(model, c.id));
}

/** True when `err` is a role refusal (the journal records it as refused). */
export function isRoleRefusal(err: unknown): boolean {
  return err instanceof UserError && err.code === 'ROLE_REFUSED';
}

/**
 * Removes the added person `name` and ends every session of theirs at once (their device cookies die with the record:
 * each is bound to the id made when they were added). Resolves with the sessions ended.
 */
export async function removePersonAndSessions(state: WebStateStore, name: string): Promise<number> {
  await state.saveUsers(removeUser(state.users, name));
  const ended = state.sessions.destroyAllFor(name);
  state.markDirty('sessions', 0);
  await state.flush();
  return ended;
}
