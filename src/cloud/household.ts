/**
 * A household on the cloud: the owner invites a person by e-mail as a member (uses the devices,
 * changes nothing about security: no claim, no release) or a guest (only capabilities the model
 * does not mark sensitive, optionally until a date). The invitee accepts the single-use link while
 * signed in to a confirmed account with the invited address. Removing a person ends all their
 * sessions at once and their access with it. Every check is here, on the server.
 */
import { InvalidInputError } from '../errors/index.ts';
import { isUserName } from '../auth/index.ts';
import { SERIAL } from '../cloudprotocol/index.ts';
import type { ModelSpec } from '../models/index.ts';
import { NotFoundError, RoleError } from './errors.ts';
import { checkLink, issueLink, spendLink, invalidLink } from './account-links.ts';
import { normaliseEmail, type OwnerAccounts } from './owner-accounts.ts';
import type { AccountRecord, CloudStore, DeviceRecord, TelemetryRow } from './store.ts';
import type { HouseholdMemberRecord, HouseholdRole } from './accounts-sql.ts';
import { modelOf } from './owner-devices.ts';
import type { DeviceRemovals, PersonRemovals } from './person-removals.ts';

/** Who the caller is to a device: its owner, or a person of the owner's household. */
export type DeviceRole = 'owner' | HouseholdRole;

/** A device the caller may use, with the caller's role and the owner's account id. */
export interface DeviceAccess {
  readonly device: DeviceRecord;
  readonly role: DeviceRole;
  readonly ownerId: string;
}

/** A person of the household as the owner's page shows them. */
export interface HouseholdPerson extends HouseholdMemberRecord {
  readonly email: string;
}

/**
 * An invitation's role, optional end date (a guest's) and optional name on the devices' own pages, from a form or
 * JSON. The name is how a removal in the cloud reaches the person on each device (and, through it, on the hubs).
 */
export function parseInvitation(body: Readonly<Record<string, unknown>>): {
  role: HouseholdRole;
  until: number | null;
  localName: string | null;
} {
  const role = body.role;
  if (role !== 'member' && role !== 'guest') throw new InvalidInputError('role must be member or guest');
  const name = typeof body.name === 'string' ? body.name.trim().toLowerCase() : '';
  if (name !== '' && !isUserName(name))
    throw new InvalidInputError('the name on your devices is 1 to 32 letters, digits, dots, dashes or underscores', {
      field: 'name',
    });
  const localName = name === '' ? null : name;
  const raw = typeof body.until === 'string' ? body.until.trim() : '';
  if (raw === '') return { role, until: null, localName };
  if (role !== 'guest') throw new InvalidInputError('only a guest has an end date', { field: 'until' });
  const until = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(raw) ? `${raw}T23:59:59Z` : raw);
  if (!Number.isFinite(until) || until <= Date.now()) throw new InvalidInputError('until must be a future date');
  return { role, until, localName };
}

/** True when `role` may use `capability` of `model` (the owner and members: any; guests: none marked sensitive). */
export function roleMayUse(role: DeviceRole, model: ModelSpec | undefined, capability: string): boolean {
  if (role !== 'guest') return true;
  const cap = model?.capabilities.find((c) => c.id === capability);
  return cap !== undefined && cap.sensitive !== true;
}

/**
 * Telemetry as `role` may see it: a guest gets no reading or state of a capability it may not use (whether a lock is
 * bolted is as sensitive as bolting it); the owner and members get every value.
 */
export function telemetryForRole(
  rows: readonly TelemetryRow[],
  role: DeviceRole,
  model: ModelSpec | undefined,
): TelemetryRow[] {
  if (role !== 'guest') return [...rows];
  return rows.map((r) => ({
    ...r,
    values: Object.fromEntries(Object.entries(r.values).filter(([id]) => roleMayUse(role, model, id))),
  }));
}

/** The household operations, shared by the JSON API and the web app. */
export class Households {
  readonly #store: CloudStore;
  readonly #accounts: OwnerAccounts;
  readonly #inviteMs: number;
  readonly #removals: PersonRemovals | undefined;

  constructor(o: {
    store: CloudStore;
    accounts: OwnerAccounts;
    inviteMs: number;
    /** Sends a removal to the owner's devices, now or when they are back; without it a removal stays in the cloud. */
    removals?: PersonRemovals;
  }) {
    this.#store = o.store;
    this.#accounts = o.accounts;
    this.#inviteMs = o.inviteMs;
    this.#removals = o.removals;
  }

  /** Invites `emailRaw` to the owner's household; the link goes by mail only. */
  async invite(owner: AccountRecord, emailRaw: string, body: Readonly<Record<string, unknown>>): Promise<void> {
    this.#accounts.requireConfirmed(owner);
    const email = normaliseEmail(emailRaw);
    if (email === owner.email) throw new InvalidInputError('you are the owner already', { field: 'email' });
    const { role, until, localName } = parseInvitation(body);
    // The answer is the same either way; past the day's budget for this address the mail is not sent.
    if (!(await this.#accounts.withinMailBudget(email, `owner:${owner.id}`))) return;
    const token = await issueLink(this.#store, {
      accountId: owner.id,
      purpose: 'invite',
      lifetimeMs: this.#inviteMs,
      data: { email, role, until, localName },
    });
    this.#accounts.notify(
      { id: owner.id, email },
      'invite',
      { who: owner.email, role, link: this.#accounts.linkTo('/invitations/accept', token) },
      `invited as ${role}`,
    );
  }

  /** Accepts an invitation for the signed-in account, which must be confirmed and have the invited address. */
  async accept(account: AccountRecord, tokenText: unknown): Promise<HouseholdMemberRecord> {
    this.#accounts.requireConfirmed(account);
    const t = await checkLink(this.#store, tokenText, 'invite');
    const data = t.data as { email?: string; role?: HouseholdRole; until?: number | null; localName?: unknown } | null;
    if (!data || data.email !== account.email || t.accountId === account.id) throw invalidLink();
    const owner = await this.#store.accountById(t.accountId);
    if (!owner) throw invalidLink();
    await spendLink(this.#store, t);
    // Other invitations of this owner to this address end here: none can later reset the role the person has now.
    await this.#store.spendUnusedAccountTokens(owner.id, 'invite', Date.now(), (d) => d?.email === account.email);
    const member: HouseholdMemberRecord = {
      ownerId: owner.id,
      memberId: account.id,
      role: data.role === 'member' ? 'member' : 'guest',
      until: typeof data.until === 'number' ? data.until : null,
      addedAt: Date.now(),
      localName: isUserName(data.localName) ? data.localName : null,
    };
    await this.#store.putHouseholdMember(member);
    this.#accounts.notify(owner, 'member-added', { who: account.email, role: member.role }, `${member.role} added`);
    return member;
  }

  /** The people of the owner's household with their addresses. */
  async people(ownerId: string): Promise<HouseholdPerson[]> {
    const list = await this.#store.householdMembers(ownerId);
    const out: HouseholdPerson[] = [];
    for (const m of list) {
      const a = await this.#store.accountById(m.memberId);
      if (a) out.push({ ...m, email: a.email });
    }
    return out;
  }

  /**
   * Removes a person: their access ends and so does every session of theirs, at once; then, when they have a name on
   * the devices' own pages, each of the owner's online devices removes them there too (and tells its hubs).
   */
  async remove(ownerId: string, memberId: unknown): Promise<DeviceRemovals> {
    const person =
      typeof memberId === 'string'
        ? (await this.#store.householdMembers(ownerId)).find((m) => m.memberId === memberId)
        : undefined;
    if (!person || !(await this.#store.removeHouseholdMember(ownerId, person.memberId)))
      throw new NotFoundError('no such person in your household');
    await this.#store.deleteSessionsOf(person.memberId);
    // A removed person cannot come back with an invitation mailed earlier.
    const email = (await this.#store.accountById(person.memberId))?.email;
    await this.#store.spendUnusedAccountTokens(ownerId, 'invite', Date.now(), (d) => d?.email === email);
    if (!person.localName || !this.#removals) return { removed: [], unreachable: [] };
    return this.#removals.send(ownerId, person.localName);
  }

  /** The caller's access to `serial`: owner, or a current household place; otherwise 404 like an unknown device. */
  async access(serial: string, account: AccountRecord): Promise<DeviceAccess> {
    const device = SERIAL.test(serial) ? await this.#store.getDevice(serial) : undefined;
    if (!device || device.ownerId === null) throw new NotFoundError('no such device');
    if (device.ownerId === account.id) return { device, role: 'owner', ownerId: account.id };
    const place = (await this.#store.householdMemberships(account.id)).find((m) => m.ownerId === device.ownerId);
    if (!place || (place.until !== null && place.until <= Date.now())) throw new NotFoundError('no such device');
    return { device, role: place.role, ownerId: device.ownerId };
  }

  /** Refuses (403) anything but the owner: claims, releases, the household itself. */
  requireOwner(a: DeviceAccess, what: string): void {
    if (a.role !== 'owner') throw new RoleError(`only the owner can ${what}; you are a ${a.role} here`);
  }

  /** Refuses (403) a command the caller's role does not allow. */
  requireUse(a: DeviceAccess, capability: unknown): void {
    if (typeof capability === 'string' && !roleMayUse(a.role, modelOf(a.device), capability))
      throw new RoleError(`a guest cannot use ${capability.slice(0, 32)}`);
  }

  /** The devices the account may use as a household member (not its own), with the role. */
  async shared(account: AccountRecord): Promise<Array<{ device: DeviceRecord; role: HouseholdRole }>> {
    const out: Array<{ device: DeviceRecord; role: HouseholdRole }> = [];
    const now = Date.now();
    for (const m of await this.#store.householdMemberships(account.id)) {
      if (m.until !== null && m.until <= now) continue;
      for (const device of await this.#store.listDevices(m.ownerId)) out.push({ device, role: m.role });
    }
    return out;
  }
}
