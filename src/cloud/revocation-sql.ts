/**
 * The store's revocation part, in the SQL both databases share. One row per revoked unit
 * (`unit:<serial>`) or certificate (`cert:<sha256:hex>`); rows are never removed, so their count
 * tells a polling instance whether anything changed. Beside it, the units suspected of being
 * cloned (clone-detection.ts). Tables beside the others, created if missing, so a database from
 * before them opens as it is.
 */
import type { RevocationReason, RevocationRecord, RevocationTarget } from './revocation.ts';
import { NotFoundError } from './errors.ts';

/** The revocation table. */
export const REVOCATION_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS revocations (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, serial TEXT NULL, fingerprint TEXT NULL, reason TEXT NOT NULL,
  revoked_by TEXT NOT NULL, revoked_at BIGINT NOT NULL, n BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS revocations_serial ON revocations (serial);
CREATE TABLE IF NOT EXISTS birth_certificates (serial TEXT PRIMARY KEY, serial_number TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clone_suspects (
  serial TEXT PRIMARY KEY, flagged_at BIGINT NOT NULL, last_at BIGINT NOT NULL, takeovers BIGINT NOT NULL,
  last_sources TEXT NOT NULL);
`;

/** The device columns that say whether (and why) a unit is revoked (subqueries on `devices`). */
export const REVOCATION_DEVICE_COLUMNS =
  '(SELECT r.reason FROM revocations r WHERE r.serial = devices.serial ORDER BY r.n LIMIT 1) AS revoked_reason, ' +
  '(SELECT r.revoked_at FROM revocations r WHERE r.serial = devices.serial ORDER BY r.n LIMIT 1) AS revoked_at';

/** The revocation columns of a device row. */
export interface RevocationColumns {
  revoked_reason?: string | null;
  revoked_at?: number | string | null;
}

/** A device row's revocation, as DeviceRecord's `revoked` (absent when the unit is not revoked). */
export function revocationOfRow(r: RevocationColumns): { revoked?: { reason: RevocationReason; at: number } } {
  if (!r.revoked_reason) return {};
  return { revoked: { reason: r.revoked_reason as RevocationReason, at: Number(r.revoked_at ?? 0) } };
}

/** One SQL connection or transaction (sql-store.ts's SqlRunner). */
interface Runner {
  all<T extends object>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

interface RevocationRow {
  kind: string;
  serial: string | null;
  fingerprint: string | null;
  reason: string;
  revoked_by: string;
  revoked_at: number | string;
}

/** What {@link revoke} did: 'revoked', or 'already' when the target was revoked before (the first reason stays). */
export type RevokeOutcome = { readonly outcome: 'revoked' | 'already'; readonly record: RevocationRecord };

function toRecord(r: RevocationRow): RevocationRecord {
  return {
    kind: r.kind === 'unit' ? 'unit' : 'certificate',
    serial: r.serial,
    fingerprint: r.fingerprint,
    reason: r.reason as RevocationReason,
    by: r.revoked_by,
    revokedAt: Number(r.revoked_at),
  };
}

const COLUMNS = 'kind, serial, fingerprint, reason, revoked_by, revoked_at';

/**
 * Records a revocation in `tx` (a transaction). A unit must be registered (NOT_FOUND otherwise,
 * nothing written); a certificate need not be, and is linked to the unit whose birth certificate it is.
 */
export async function revoke(
  tx: Runner,
  target: RevocationTarget,
  reason: RevocationReason,
  by: string,
  now: number,
): Promise<RevokeOutcome> {
  const id = target.kind === 'unit' ? `unit:${target.serial}` : `cert:${target.fingerprint}`;
  const existing = await tx.all<RevocationRow>(`SELECT ${COLUMNS} FROM revocations WHERE id = $1`, [id]);
  if (existing[0]) return { outcome: 'already', record: toRecord(existing[0]) };
  let serial: string | null;
  if (target.kind === 'unit') {
    const known = await tx.all<{ serial: string }>('SELECT serial FROM devices WHERE serial = $1', [target.serial]);
    if (!known[0]) throw new NotFoundError(`no unit ${target.serial} is registered`);
    serial = target.serial;
  } else {
    const owner = await tx.all<{ serial: string }>('SELECT serial FROM devices WHERE device_cert_fingerprint = $1', [
      target.fingerprint,
    ]);
    serial = owner[0]?.serial ?? null;
  }
  const fingerprint = target.kind === 'certificate' ? target.fingerprint : null;
  await tx.run(
    `INSERT INTO revocations (id, ${COLUMNS}, n)
    SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT), CAST($5 AS TEXT),
      CAST($6 AS TEXT), CAST($7 AS BIGINT), COALESCE(MAX(n), 0) + 1 FROM revocations`,
    [id, target.kind, serial, fingerprint, reason, by, now],
  );
  return { outcome: 'revoked', record: { kind: target.kind, serial, fingerprint, reason, by, revokedAt: now } };
}

/** Every revocation, oldest first. */
export async function revocations(db: Runner): Promise<RevocationRecord[]> {
  return (await db.all<RevocationRow>(`SELECT ${COLUMNS} FROM revocations ORDER BY n`)).map(toRecord);
}

/** How many revocations there are. */
export async function revocationCount(db: Runner): Promise<number> {
  const rows = await db.all<{ c: number | string }>('SELECT COUNT(*) AS c FROM revocations');
  return Number(rows[0]?.c ?? 0);
}

/** The revocation covering a unit (the unit itself, or its birth certificate), if any. */
export async function unitRevocation(db: Runner, serial: string): Promise<RevocationRecord | undefined> {
  const rows = await db.all<RevocationRow>(`SELECT ${COLUMNS} FROM revocations WHERE serial = $1 ORDER BY n LIMIT 1`, [
    serial,
  ]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/** A unit suspected of being cloned: its identity took its own session over from another connection. */
export interface CloneSuspect {
  readonly serial: string;
  readonly flaggedAt: number;
  readonly lastAt: number;
  /** Takeovers counted since it was flagged, the first burst included. */
  readonly takeovers: number;
  /** The two sources of the newest takeover, 'address:port -> address:port'. */
  readonly lastSources: string;
}

/** Flags `serial` (a registered unit) or counts more takeovers on its flag; true when the flag is new. */
export async function flagClone(
  tx: Runner,
  serial: string,
  takeovers: number,
  sources: string,
  now: number,
): Promise<boolean> {
  const bumped = await tx.run(
    'UPDATE clone_suspects SET last_at = $2, takeovers = takeovers + $3, last_sources = $4 WHERE serial = $1',
    [serial, now, takeovers, sources],
  );
  if (bumped > 0) return false;
  const added = await tx.run(
    `INSERT INTO clone_suspects (serial, flagged_at, last_at, takeovers, last_sources)
    SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($2 AS BIGINT), CAST($3 AS BIGINT), CAST($4 AS TEXT)
    WHERE EXISTS (SELECT 1 FROM devices WHERE serial = $1) ON CONFLICT (serial) DO NOTHING`,
    [serial, now, takeovers, sources],
  );
  return added === 1;
}

/** The suspects, newest takeover first; at most `limit`. */
export async function cloneSuspects(db: Runner, limit: number): Promise<CloneSuspect[]> {
  const rows = await db.all<{
    serial: string;
    flagged_at: number | string;
    last_at: number | string;
    takeovers: number | string;
    last_sources: string;
  }>('SELECT serial, flagged_at, last_at, takeovers, last_sources FROM clone_suspects ORDER BY last_at DESC LIMIT $1', [
    limit,
  ]);
  return rows.map((r) => ({
    serial: r.serial,
    flaggedAt: Number(r.flagged_at),
    lastAt: Number(r.last_at),
    takeovers: Number(r.takeovers),
    lastSources: r.last_sources,
  }));
}

/** Keeps a unit's birth certificate serial number (from its manifest), once. */
export async function recordBirthSerialNumber(tx: Runner, serial: string, serialNumber: string): Promise<void> {
  await tx.run(
    'INSERT INTO birth_certificates (serial, serial_number) VALUES ($1, $2) ON CONFLICT (serial) DO NOTHING',
    [serial, serialNumber],
  );
}

/** A certificate a revocation list must name: its issuer's serial number for it, and the revocation. */
export interface RevokedSerialNumber {
  readonly serialNumber: string;
  readonly revokedAt: number;
  readonly reason: RevocationReason;
  /** The issuing CA generation that signed it; null: a birth certificate (the manufacturer CA's). */
  readonly generation: number | null;
}

/**
 * The serial numbers of every revoked certificate the store knows, by issuer: the birth certificate
 * and every operational certificate of each revoked unit, and each revoked certificate that is a
 * unit's birth certificate or an operational certificate the cloud issued. A revoked certificate the
 * store never saw issued cannot be listed (the embedded broker still refuses it).
 */
export async function revokedSerialNumbers(db: Runner): Promise<RevokedSerialNumber[]> {
  const rows = await db.all<{
    serial_number: string;
    generation: number | string | null;
    revoked_at: number | string;
    reason: string;
  }>(
    `SELECT serial_number, generation, MIN(revoked_at) AS revoked_at, MIN(reason) AS reason FROM (
      SELECT b.serial_number, NULL AS generation, r.revoked_at, r.reason
      FROM revocations r JOIN birth_certificates b ON b.serial = r.serial
      LEFT JOIN devices d ON d.serial = r.serial
      WHERE r.kind = 'unit' OR r.fingerprint = d.device_cert_fingerprint
      UNION ALL
      SELECT o.serial_number, o.generation, r.revoked_at, r.reason
      FROM revocations r JOIN operational_certificates o
        ON (r.kind = 'unit' AND o.serial = r.serial) OR o.fingerprint = r.fingerprint
    ) listed GROUP BY serial_number, generation ORDER BY generation, serial_number`,
  );
  return rows.map((r) => ({
    serialNumber: r.serial_number,
    generation: r.generation === null ? null : Number(r.generation),
    revokedAt: Number(r.revoked_at),
    reason: r.reason as RevocationReason,
  }));
}
