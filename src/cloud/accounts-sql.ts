/**
 * The store's part for owner accounts beyond the password: confirmed addresses, single-use tokens
 * (address confirmation, password reset, household invitations; only their SHA-256 is kept), the
 * log of notifications sent, household members with their roles, the export of everything about
 * an account and its erasure. Tables beside the others, created if missing, in the SQL both
 * databases share.
 */

/** The tables. */
export const ACCOUNTS_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS account_verified (account_id TEXT PRIMARY KEY, verified_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS account_tokens (
  id TEXT PRIMARY KEY, secret_sha256 TEXT NOT NULL, account_id TEXT NOT NULL, purpose TEXT NOT NULL,
  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT NULL, data_json TEXT NULL);
CREATE INDEX IF NOT EXISTS account_tokens_account ON account_tokens (account_id);
CREATE TABLE IF NOT EXISTS account_notifications (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL, kind TEXT NOT NULL, at BIGINT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS account_notifications_account ON account_notifications (account_id, at);
CREATE TABLE IF NOT EXISTS household_members (
  owner_id TEXT NOT NULL, member_id TEXT NOT NULL, role TEXT NOT NULL, until_at BIGINT NULL, added_at BIGINT NOT NULL,
  local_name TEXT NULL, PRIMARY KEY (owner_id, member_id));
CREATE INDEX IF NOT EXISTS household_members_member ON household_members (member_id);
CREATE TABLE IF NOT EXISTS person_removals_pending (
  serial TEXT NOT NULL, name TEXT NOT NULL, owner_id TEXT NOT NULL, created_at BIGINT NOT NULL,
  PRIMARY KEY (serial, name));
CREATE INDEX IF NOT EXISTS person_removals_pending_owner ON person_removals_pending (owner_id);
`;

/** One SQL connection or transaction (sql-store.ts's SqlRunner). */
interface Runner {
  all<T extends object>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** What a single-use token is for. */
export type AccountTokenPurpose = 'verify' | 'reset' | 'invite';

/** A single-use token as stored: its id and the SHA-256 of its secret, never the secret. */
export interface AccountTokenRecord {
  readonly id: string;
  readonly secretSha256: string;
  /** The account it was made for (an invitation: the inviting owner's). */
  readonly accountId: string;
  readonly purpose: AccountTokenPurpose;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly usedAt: number | null;
  /** An invitation's address, role and end date. */
  readonly data: Readonly<Record<string, unknown>> | null;
}

/** A household role on the cloud. */
export type HouseholdRole = 'member' | 'guest';

/** A person in an owner's household. */
export interface HouseholdMemberRecord {
  readonly ownerId: string;
  readonly memberId: string;
  readonly role: HouseholdRole;
  /** A guest's last moment, ms; null: no end. */
  readonly until: number | null;
  readonly addedAt: number;
  /** The person's name on the owner's devices' own pages, given with the invitation: a removal reaches it there. */
  readonly localName: string | null;
}

/** A notification sent to an account, as logged (never the link it carried). */
export interface NotificationRecord {
  readonly id: string;
  readonly accountId: string;
  readonly kind: string;
  readonly at: number;
  readonly detail: string;
}

type Num = number | string;

/** Marks the account's address confirmed (the first time counts). */
export async function markVerified(db: Runner, accountId: string, now: number): Promise<void> {
  await db.run(
    'INSERT INTO account_verified (account_id, verified_at) VALUES ($1, $2) ON CONFLICT (account_id) DO NOTHING',
    [accountId, now],
  );
}

/** Stores a new token. */
export async function createToken(db: Runner, t: AccountTokenRecord): Promise<void> {
  await db.run(
    `INSERT INTO account_tokens (id, secret_sha256, account_id, purpose, created_at, expires_at, used_at, data_json)
    VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)`,
    [t.id, t.secretSha256, t.accountId, t.purpose, t.createdAt, t.expiresAt, t.data ? JSON.stringify(t.data) : null],
  );
}

interface TokenRow {
  id: string;
  secret_sha256: string;
  account_id: string;
  purpose: string;
  created_at: Num;
  expires_at: Num;
  used_at: Num | null;
  data_json: string | null;
}

function toToken(r: TokenRow): AccountTokenRecord {
  return {
    id: r.id,
    secretSha256: r.secret_sha256,
    accountId: r.account_id,
    purpose: r.purpose as AccountTokenPurpose,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    usedAt: r.used_at === null ? null : Number(r.used_at),
    data: r.data_json === null ? null : (JSON.parse(r.data_json) as Record<string, unknown>),
  };
}

const TOKEN_COLUMNS = 'id, secret_sha256, account_id, purpose, created_at, expires_at, used_at, data_json';

/** The token with this id, or undefined. */
export async function token(db: Runner, id: string): Promise<AccountTokenRecord | undefined> {
  const [r] = await db.all<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM account_tokens WHERE id = $1`, [id]);
  return r ? toToken(r) : undefined;
}

/** Marks the token used, once: false when it was used already or expired at `now`. */
export async function useToken(db: Runner, id: string, now: number): Promise<boolean> {
  const n = await db.run(
    'UPDATE account_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > $2',
    [id, now],
  );
  return n === 1;
}

/**
 * Spends every unused token of the account for `purpose` (those whose data `match` accepts, when given): a reset
 * or a password change voids older reset links, a removal voids the person's pending invitations. Resolves with how
 * many were spent.
 */
export async function spendUnusedTokens(
  db: Runner,
  accountId: string,
  purpose: AccountTokenPurpose,
  now: number,
  match?: (data: Readonly<Record<string, unknown>> | null) => boolean,
): Promise<number> {
  const rows = await db.all<TokenRow>(
    `SELECT ${TOKEN_COLUMNS} FROM account_tokens WHERE account_id = $1 AND purpose = $2 AND used_at IS NULL`,
    [accountId, purpose],
  );
  let spent = 0;
  for (const t of rows.map(toToken))
    if (!match || match(t.data))
      spent += await db.run('UPDATE account_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL', [t.id, now]);
  return spent;
}

/** Ends the account's sessions except `keepIdHash`; resolves with how many ended. */
export async function deleteSessionsOf(db: Runner, accountId: string, keepIdHash?: string): Promise<number> {
  return db.run('DELETE FROM sessions WHERE account_id = $1 AND id_hash <> $2', [accountId, keepIdHash ?? '']);
}

/** Logs a notification. */
export async function addNotification(db: Runner, n: NotificationRecord): Promise<void> {
  await db.run('INSERT INTO account_notifications (id, account_id, kind, at, detail) VALUES ($1, $2, $3, $4, $5)', [
    n.id,
    n.accountId,
    n.kind,
    n.at,
    n.detail,
  ]);
}

/** The account's notifications, newest first; at most `limit`. */
export async function notifications(db: Runner, accountId: string, limit: number): Promise<NotificationRecord[]> {
  const rows = await db.all<{ id: string; account_id: string; kind: string; at: Num; detail: string }>(
    `SELECT id, account_id, kind, at, detail FROM account_notifications WHERE account_id = $1
    ORDER BY at DESC, id LIMIT $2`,
    [accountId, limit],
  );
  return rows.map((r) => ({ id: r.id, accountId: r.account_id, kind: r.kind, at: Number(r.at), detail: r.detail }));
}

/** Adds (or replaces the role of) a person in an owner's household. */
export async function putMember(db: Runner, m: HouseholdMemberRecord): Promise<void> {
  await db.run(
    `INSERT INTO household_members (owner_id, member_id, role, until_at, added_at, local_name)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (owner_id, member_id) DO UPDATE SET role = $3, until_at = $4, local_name = $6`,
    [m.ownerId, m.memberId, m.role, m.until, m.addedAt, m.localName],
  );
}

interface MemberRow {
  owner_id: string;
  member_id: string;
  role: string;
  until_at: Num | null;
  added_at: Num;
  local_name: string | null;
}

function toMember(r: MemberRow): HouseholdMemberRecord {
  return {
    ownerId: r.owner_id,
    memberId: r.member_id,
    role: r.role as HouseholdRole,
    until: r.until_at === null ? null : Number(r.until_at),
    addedAt: Number(r.added_at),
    localName: r.local_name,
  };
}

const MEMBER_COLUMNS = 'owner_id, member_id, role, until_at, added_at, local_name';

/** The people of `ownerId`'s household, oldest first. */
export async function members(db: Runner, ownerId: string): Promise<HouseholdMemberRecord[]> {
  const rows = await db.all<MemberRow>(
    `SELECT ${MEMBER_COLUMNS} FROM household_members WHERE owner_id = $1 ORDER BY added_at, member_id`,
    [ownerId],
  );
  return rows.map(toMember);
}

/** The households `memberId` belongs to. */
export async function memberships(db: Runner, memberId: string): Promise<HouseholdMemberRecord[]> {
  const rows = await db.all<MemberRow>(
    `SELECT ${MEMBER_COLUMNS} FROM household_members WHERE member_id = $1 ORDER BY added_at, owner_id`,
    [memberId],
  );
  return rows.map(toMember);
}

/** Removes a person from a household; false when they were not in it. */
export async function removeMember(db: Runner, ownerId: string, memberId: string): Promise<boolean> {
  return (
    (await db.run('DELETE FROM household_members WHERE owner_id = $1 AND member_id = $2', [ownerId, memberId])) > 0
  );
}

/** A household removal an owner's device has not heard yet (it was offline): sent when it is back. */
export interface PendingRemovalRecord {
  readonly serial: string;
  /** The person's name on the device's own page. */
  readonly name: string;
  /** The owner who removed them: dropped unsent if the device has another owner by then. */
  readonly ownerId: string;
  readonly createdAt: number;
}

/** Most removals kept for one device; past it the oldest go. */
export const MAX_PENDING_REMOVALS_PER_DEVICE = 32;

/** Keeps a removal for a device that was not reached (once per device and name). */
export async function addPendingRemoval(db: Runner, r: PendingRemovalRecord): Promise<void> {
  await db.run(
    `INSERT INTO person_removals_pending (serial, name, owner_id, created_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (serial, name) DO UPDATE SET owner_id = $3, created_at = $4`,
    [r.serial, r.name, r.ownerId, r.createdAt],
  );
  await db.run(
    `DELETE FROM person_removals_pending WHERE serial = $1 AND name NOT IN
    (SELECT name FROM person_removals_pending WHERE serial = $1 ORDER BY created_at DESC, name LIMIT $2)`,
    [r.serial, MAX_PENDING_REMOVALS_PER_DEVICE],
  );
}

/** The removals `serial` has not heard yet, oldest first. */
export async function pendingRemovals(db: Runner, serial: string): Promise<PendingRemovalRecord[]> {
  const rows = await db.all<{ serial: string; name: string; owner_id: string; created_at: Num }>(
    `SELECT serial, name, owner_id, created_at FROM person_removals_pending WHERE serial = $1
    ORDER BY created_at, name`,
    [serial],
  );
  return rows.map((r) => ({ serial: r.serial, name: r.name, ownerId: r.owner_id, createdAt: Number(r.created_at) }));
}

/** Forgets one kept removal (heard, or no longer the owner's to send). */
export async function dropPendingRemoval(db: Runner, serial: string, name: string): Promise<void> {
  await db.run('DELETE FROM person_removals_pending WHERE serial = $1 AND name = $2', [serial, name]);
}

/** Everything these tables hold about the account, for its export (token secrets' hashes left out). */
export async function accountTablesExport(db: Runner, accountId: string): Promise<Record<string, unknown>> {
  const tokens = await db.all<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM account_tokens WHERE account_id = $1`, [
    accountId,
  ]);
  return {
    pendingLinks: tokens.map(toToken).map((t) => ({
      purpose: t.purpose,
      createdAt: t.createdAt,
      expiresAt: t.expiresAt,
      usedAt: t.usedAt,
      ...(t.data ? { invitation: t.data } : {}),
    })),
    notifications: await notifications(db, accountId, 10_000),
    household: await members(db, accountId),
    memberOf: await memberships(db, accountId),
    removalsNotYetDelivered: (
      await db.all<{ serial: string; name: string; created_at: Num }>(
        'SELECT serial, name, created_at FROM person_removals_pending WHERE owner_id = $1 ORDER BY created_at',
        [accountId],
      )
    ).map((r) => ({ serial: r.serial, name: r.name, createdAt: Number(r.created_at) })),
  };
}

/** Erases the account's rows in these tables (inside the store's account deletion). */
export async function deleteAccountRows(db: Runner, accountId: string): Promise<void> {
  await db.run('DELETE FROM account_verified WHERE account_id = $1', [accountId]);
  await db.run('DELETE FROM account_tokens WHERE account_id = $1', [accountId]);
  await db.run('DELETE FROM account_notifications WHERE account_id = $1', [accountId]);
  await db.run('DELETE FROM household_members WHERE owner_id = $1 OR member_id = $1', [accountId]);
  await db.run('DELETE FROM person_removals_pending WHERE owner_id = $1', [accountId]);
}
