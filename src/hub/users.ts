/**
 * Who may do what on the hub's admin page. The first owner (`admin`) is the hub's own account (its
 * first-run password, meta key `web.owner-hash`); the people the owner adds are a src/auth user list
 * in the meta key `web.users` (its own version, written in one SQLite statement). Every session
 * route passes {@link authorizeHubRoute}: a route not listed is the owner's alone, and a guest is
 * refused any capability the device's model marks sensitive (a lock's bolt).
 */
import {
  FIRST_OWNER_NAME,
  accessEnded,
  cookieAccountOf,
  emptyUserList,
  findUser,
  parseUserList,
  requireCapability,
  requireRole,
  serialiseUserList,
  type SignedInUser,
  type UserAccount,
  type UserList,
  type UserRole,
} from '../auth/index.ts';
import type { WebRequest } from '../web/index.ts';
import type { HubDeviceView } from './hub.ts';
import type { HubStore } from './store.ts';

/** The meta key of the people the owner added. */
export const USERS_KEY = 'web.users';

/** Someone who can sign in on the hub's page. */
export interface HubAccount extends SignedInUser {
  /** What their lockout record and device cookies are bound to ('admin' for the first owner). */
  readonly account: string;
  /** The added person's record; absent for the first owner. */
  readonly added?: UserAccount;
}

/** The people the owner added, kept in the hub's store. */
export class HubUsers {
  readonly #store: HubStore;
  #list: UserList;

  /** Loads the list; a damaged one counts as empty (only the first owner can sign in) and is told to `warn`. */
  constructor(store: HubStore, warn: (m: string) => void) {
    this.#store = store;
    const text = store.getMeta(USERS_KEY);
    try {
      this.#list = text === undefined ? emptyUserList() : parseUserList(text);
    } catch {
      warn('the hub page: the stored people list is damaged; only the first owner can sign in');
      this.#list = emptyUserList();
    }
  }

  /** The list as stored now. */
  get list(): UserList {
    return this.#list;
  }

  /** Stores `next` (one SQLite write, so a power cut leaves the old list or the new one). */
  save(next: UserList): void {
    this.#store.setMeta(USERS_KEY, serialiseUserList(next));
    this.#list = next;
  }

  /** The account named `name` (any case), whether or not its access has ended. */
  accountOf(name: string): HubAccount | undefined {
    const key = name.toLowerCase();
    if (key === FIRST_OWNER_NAME) return { name: key, role: 'owner', account: key };
    const added = findUser(this.#list, key);
    return added ? { name: added.name, role: added.role, account: cookieAccountOf(added), added } : undefined;
  }

  /** A live session's account: undefined once the person was removed or their guest access ended. */
  liveAccountOf(name: string, now: number): HubAccount | undefined {
    const a = this.accountOf(name);
    return a && !(a.added && accessEnded(a.added, now)) ? a : undefined;
  }
}

/** The least role each session route needs, by "METHOD path"; any other route is the owner's. */
const ROUTE_ROLES: Readonly<Record<string, UserRole>> = Object.freeze({
  'GET /': 'guest',
  'GET /api/devices': 'guest',
  'POST /devices/:serial/call/:capability/:action': 'guest',
  'GET /password': 'guest',
  'POST /password': 'guest',
  'POST /logout': 'guest',
});

function purposeOf(path: string): string {
  if (path.startsWith('/people')) return 'manage the people who use this hub';
  if (path.includes('/settings/lockout')) return 'change the login protection (lockout)';
  if (path.includes('pair')) return 'pair or unpair devices';
  if (path.includes('/grant/') || path.includes('/revoke/')) return 'change what the hub may use on a device';
  return 'do this';
}

/** Whether `capability` of the paired device `serial` is sensitive; unknown ones count as sensitive. */
export function hubCapabilitySensitive(devices: readonly HubDeviceView[], serial: string, capability: string): boolean {
  const c = devices.find((d) => d.serial === serial)?.capabilities.find((x) => x.id === capability);
  return c ? c.sensitive === true : true;
}

/** Refuses `user` this route (ROLE_REFUSED, 403) unless their role allows it. */
export function authorizeHubRoute(
  user: SignedInUser,
  req: Pick<WebRequest, 'params'>,
  route: { readonly method: string; readonly path: string },
  devices: () => readonly HubDeviceView[],
): void {
  requireRole(user, ROUTE_ROLES[`${route.method} ${route.path}`] ?? 'owner', purposeOf(route.path));
  const { serial, capability } = req.params;
  if (route.path.includes('/call/') && serial !== undefined && capability !== undefined) {
    requireCapability(user, capability, hubCapabilitySensitive(devices(), serial, capability));
  }
}

/** The devices as `user` may see them: a guest sees no sensitive capability (nor its state). */
export function devicesFor(user: SignedInUser, devices: readonly HubDeviceView[]): HubDeviceView[] {
  if (user.role !== 'guest') return [...devices];
  return devices.map((d) => {
    const shown = d.capabilities.filter((c) => c.sensitive !== true);
    const ids = new Set(shown.map((c) => c.id));
    const state = Object.fromEntries(Object.entries(d.state).filter(([k]) => ids.has(k)));
    return { ...d, capabilities: shown, access: d.access.filter((a) => ids.has(a)), notGranted: [], state };
  });
}
