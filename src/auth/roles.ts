/**
 * Named users with roles on a local admin page (the device's and the hub's). The first owner is
 * the surface's own account (`admin`: the label's password on a device, the first-run password on
 * a hub) and lives where it always did; everyone the owner adds lives in a {@link UserList}.
 *
 * - owner: everything, people included.
 * - member: uses the product (switches capabilities, reads state); changes nothing about security.
 * - guest: only capabilities the model does not mark sensitive, optionally until an end date.
 *
 * A pure core: lists in, lists out, `now` passed in; the surfaces store the list atomically.
 *
 * @example
 * let list = emptyUserList();
 * const expiresAt = parseUserExpiry('2030-01-31', 'guest', now);
 * list = addUser(list, { name: 'Sam', role: 'guest', passwordHash, expiresAt }, [FIRST_OWNER_NAME], now);
 * requireRole(findUser(list, 'sam')!, 'member', 'change the pairing window'); // throws ROLE_REFUSED
 */
import { randomBytes } from 'node:crypto';
import { UserError } from './errors.ts';
import { parsePasswordHash } from './password-hash.ts';

/** The three roles, from most to least rights. */
export type UserRole = 'owner' | 'member' | 'guest';

/** Every role, most rights first. */
export const USER_ROLES: readonly UserRole[] = Object.freeze(['owner', 'member', 'guest']);

/** The first owner's name on every device and hub. */
export const FIRST_OWNER_NAME = 'admin';

/** Someone the owner added. */
export interface UserAccount {
  /** Lower case, 1-32 of a-z 0-9 . _ - (starting with a letter or digit); unique ignoring case. */
  readonly name: string;
  readonly role: UserRole;
  /** Random, made when the user is added: their device cookies are bound to it, so a removed user's are void. */
  readonly id: string;
  readonly passwordHash: string;
  readonly createdAt: string;
  /** When the password was last set (ISO 8601). */
  readonly changedAt: string;
  /** Guests only: from this instant (ISO 8601) their login is refused and their sessions end. */
  readonly expiresAt?: string;
}

/** The stored list of added users (JSON, version 1). */
export interface UserList {
  readonly version: 1;
  readonly users: readonly UserAccount[];
}

/** Bounds of a user list. */
export const USER_LIST_BOUNDS = Object.freeze({
  /** Most added users. */
  maxUsers: 32,
  /** Longest name, characters. */
  maxNameLength: 32,
});

/** A signed-in person as the role checks see them. */
export interface SignedInUser {
  readonly name: string;
  readonly role: UserRole;
}

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,31}$/;
const ID_PATTERN = /^[A-Za-z0-9_-]{16}$/;
const RANK: Readonly<Record<UserRole, number>> = { guest: 0, member: 1, owner: 2 };
const DAY_MS = 86_400_000;

/** A list with nobody added. */
export function emptyUserList(): UserList {
  return { version: 1, users: [] };
}

/**
 * Whether `name` is a person's name in its canonical (lower-case) form: the one rule for every place that carries
 * one (the pages, the channel's and the cloud's removals, the lists kept of them).
 */
export function isUserName(name: unknown): name is string {
  return typeof name === 'string' && NAME_PATTERN.test(name);
}

/** The canonical form of a user name as typed (names are case-insensitive); throws USER_NAME_INVALID. */
export function normaliseUserName(input: string): string {
  const name = input.toLowerCase();
  if (!NAME_PATTERN.test(name)) {
    throw new UserError(
      'USER_NAME_INVALID',
      'a name is 1 to 32 characters: letters, digits, dot, dash or underscore, starting with a letter or digit',
    );
  }
  return name;
}

/** Whether `value` is a role. */
export function isUserRole(value: unknown): value is UserRole {
  return value === 'owner' || value === 'member' || value === 'guest';
}

/** The role named by `value`; throws USER_ROLE_INVALID. */
export function parseUserRole(value: unknown): UserRole {
  if (!isUserRole(value)) throw new UserError('USER_ROLE_INVALID', 'a role is owner, member or guest');
  return value;
}

/** True when `role` has at least the rights of `needed`. */
export function roleAtLeast(role: UserRole, needed: UserRole): boolean {
  return RANK[role] >= RANK[needed];
}

/** Refuses (ROLE_REFUSED) a user whose role is below `needed`; `what` completes "Only ... can <what>". */
export function requireRole(user: SignedInUser, needed: UserRole, what: string): void {
  if (roleAtLeast(user.role, needed)) return;
  const who = needed === 'owner' ? 'the owner' : 'members and the owner';
  throw new UserError('ROLE_REFUSED', `Only ${who} can ${what}. Signed in as ${user.name} (${user.role}).`, {
    role: user.role,
    needed,
  });
}

/** Whether `role` may use a capability; an unknown capability counts as sensitive. */
export function mayUseCapability(role: UserRole, sensitive: boolean | undefined): boolean {
  return role !== 'guest' || sensitive === false;
}

/** Refuses (ROLE_REFUSED) a guest a sensitive (or unknown) capability. */
export function requireCapability(user: SignedInUser, capability: string, sensitive: boolean | undefined): void {
  if (mayUseCapability(user.role, sensitive)) return;
  throw new UserError(
    'ROLE_REFUSED',
    `Guests cannot use ${capability}: it is a sensitive control. Ask the owner. Signed in as ${user.name} (guest).`,
    { role: user.role, capability },
  );
}

/** True once a guest's end date has come. */
export function accessEnded(user: Pick<UserAccount, 'expiresAt'>, now: number): boolean {
  return user.expiresAt !== undefined && now >= Date.parse(user.expiresAt);
}

/**
 * A guest's end as the owner gives it: a day (YYYY-MM-DD, access through its end, UTC) or an ISO
 * 8601 instant; empty or absent: none. Refused (USER_EXPIRY_INVALID) when past or not for a guest.
 */
export function parseUserExpiry(input: unknown, role: UserRole, now: number): string | undefined {
  if (input === undefined || input === '') return undefined;
  if (role !== 'guest') throw new UserError('USER_EXPIRY_INVALID', 'only a guest has an end date');
  const text = typeof input === 'string' ? input.trim() : '';
  const at = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) + DAY_MS : Date.parse(text);
  if (text.length > 40 || !Number.isFinite(at)) {
    throw new UserError('USER_EXPIRY_INVALID', 'the end date is a day, YYYY-MM-DD');
  }
  if (at <= now) throw new UserError('USER_EXPIRY_INVALID', 'the end date has already passed');
  return new Date(at).toISOString();
}

/** The account a user's device cookies are bound to: their name and the id made when they were added. */
export function cookieAccountOf(user: Pick<UserAccount, 'name' | 'id'>): string {
  return `${user.name}#${user.id}`;
}

/** The user called `name` (any case), if any. */
export function findUser(list: UserList, name: string): UserAccount | undefined {
  const key = name.toLowerCase();
  return list.users.find((u) => u.name === key);
}

/** What the owner gives to add someone. */
export interface NewUser {
  readonly name: string;
  readonly role: UserRole;
  readonly passwordHash: string;
  readonly expiresAt?: string;
}

/** Adds a user; `reserved` are names taken outside the list (the first owner's). */
export function addUser(list: UserList, user: NewUser, reserved: readonly string[], now: number): UserList {
  const name = normaliseUserName(user.name);
  if (findUser(list, name) || reserved.includes(name)) throw new UserError('USER_EXISTS', `${name} already exists`);
  if (list.users.length >= USER_LIST_BOUNDS.maxUsers) {
    throw new UserError('USER_LIMIT', `at most ${USER_LIST_BOUNDS.maxUsers} people can be added`);
  }
  if (user.expiresAt !== undefined && user.role !== 'guest') {
    throw new UserError('USER_EXPIRY_INVALID', 'only a guest has an end date');
  }
  const at = new Date(now).toISOString();
  const added: UserAccount = {
    name,
    role: parseUserRole(user.role),
    id: randomBytes(12).toString('base64url'),
    passwordHash: user.passwordHash,
    createdAt: at,
    changedAt: at,
    ...(user.expiresAt !== undefined ? { expiresAt: user.expiresAt } : {}),
  };
  return { version: 1, users: [...list.users, added] };
}

function replaceUser(list: UserList, name: string, change: (u: UserAccount) => UserAccount): UserList {
  const found = findUser(list, name);
  if (!found) throw new UserError('USER_UNKNOWN', `there is nobody called ${name.slice(0, 32)}`);
  return { version: 1, users: list.users.map((u) => (u === found ? change(u) : u)) };
}

/** Gives `name` another role (a guest's end date with it; any other role has none). */
export function changeUserRole(list: UserList, name: string, role: UserRole, expiresAt?: string): UserList {
  parseUserRole(role);
  if (expiresAt !== undefined && role !== 'guest') {
    throw new UserError('USER_EXPIRY_INVALID', 'only a guest has an end date');
  }
  return replaceUser(list, name, ({ expiresAt: _old, ...u }) => ({
    ...u,
    role,
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  }));
}

/** Sets `name`'s password hash. */
export function setUserPassword(list: UserList, name: string, passwordHash: string, now: number): UserList {
  return replaceUser(list, name, (u) => ({ ...u, passwordHash, changedAt: new Date(now).toISOString() }));
}

/** Removes `name`; the caller ends their sessions. */
export function removeUser(list: UserList, name: string): UserList {
  const found = findUser(list, name);
  if (!found) throw new UserError('USER_UNKNOWN', `there is nobody called ${name.slice(0, 32)}`);
  return { version: 1, users: list.users.filter((u) => u !== found) };
}

const RECORD_KEYS = new Set(['name', 'role', 'id', 'passwordHash', 'createdAt', 'changedAt', 'expiresAt']);

function isIsoTime(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 40 && Number.isFinite(Date.parse(v));
}

function wellFormedHash(text: string): boolean {
  try {
    parsePasswordHash(text);
    return true;
  } catch {
    return false;
  }
}

function validateUser(v: unknown, seen: Set<string>): UserAccount {
  const bad = (why: string): never => {
    throw new UserError('USER_STATE_INVALID', `user list: ${why}`);
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('an entry is not an object');
  if (Object.keys(v).some((k) => !RECORD_KEYS.has(k))) return bad('an entry has an unknown field');
  const u = v as Partial<UserAccount>;
  if (typeof u.name !== 'string' || !NAME_PATTERN.test(u.name) || u.name === FIRST_OWNER_NAME) return bad('a name');
  if (seen.has(u.name)) return bad('a name twice');
  seen.add(u.name);
  if (!isUserRole(u.role) || typeof u.id !== 'string' || !ID_PATTERN.test(u.id)) return bad('a role or id');
  if (typeof u.passwordHash !== 'string' || !wellFormedHash(u.passwordHash)) return bad('a password hash');
  if (!isIsoTime(u.createdAt) || !isIsoTime(u.changedAt)) return bad('a date');
  if (u.expiresAt !== undefined && (!isIsoTime(u.expiresAt) || u.role !== 'guest')) return bad('an end date');
  return u as UserAccount;
}

/** Checks a parsed user list; throws USER_STATE_INVALID on anything but its exact schema. */
export function validateUserList(value: unknown): UserList {
  const o = value as Partial<UserList> | null;
  const keys = typeof o === 'object' && o !== null ? Object.keys(o).sort().join(',') : '';
  if (keys !== 'users,version' || o!.version !== 1 || !Array.isArray(o!.users)) {
    throw new UserError('USER_STATE_INVALID', 'user list does not match its schema');
  }
  if (o!.users.length > USER_LIST_BOUNDS.maxUsers) throw new UserError('USER_STATE_INVALID', 'user list too long');
  const seen = new Set<string>();
  return { version: 1, users: o!.users.map((u) => validateUser(u, seen)) };
}

/** Parses a stored user list (JSON). */
export function parseUserList(text: string): UserList {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UserError('USER_STATE_INVALID', 'user list is not valid JSON');
  }
  return validateUserList(v);
}

/** One person as the People pages and `/api/people` list them. */
export interface PersonListing {
  readonly name: string;
  readonly role: UserRole;
  /** True for the first owner (the label's account): neither removed nor demoted. */
  readonly first: boolean;
  readonly expiresAt?: string;
}

/** Everyone who can sign in on a page: the first owner, then the people `list` holds, as the pages show them. */
export function peopleOf(list: UserList): PersonListing[] {
  const added = list.users.map((u) => ({
    name: u.name,
    role: u.role,
    first: false,
    ...(u.expiresAt ? { expiresAt: u.expiresAt } : {}),
  }));
  return [{ name: FIRST_OWNER_NAME, role: 'owner', first: true }, ...added];
}

/** The stored form of a user list. */
export function serialiseUserList(list: UserList): string {
  return JSON.stringify(list, null, 2) + '\n';
}
