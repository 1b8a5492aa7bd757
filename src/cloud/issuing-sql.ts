/**
 * The store's part for operational identities, in the SQL both databases share: the cloud's
 * issuing CAs by generation (shared by every instance, so any of them can issue and every broker
 * trusts the same set), the operational certificates issued to units, and the fleet-renewal mark.
 * Tables beside the others, created if missing.
 */

/** The tables. */
export const ISSUING_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS issuing_cas (
  generation BIGINT PRIMARY KEY, cert_pem TEXT NOT NULL, key_pem TEXT NOT NULL, created_at BIGINT NOT NULL,
  retired_at BIGINT NULL);
CREATE TABLE IF NOT EXISTS operational_certificates (
  fingerprint TEXT PRIMARY KEY, serial TEXT NOT NULL, serial_number TEXT NOT NULL, generation BIGINT NOT NULL,
  issued_at BIGINT NOT NULL, not_after BIGINT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS operational_certificates_serial ON operational_certificates (serial);
`;

/** One SQL connection or transaction (sql-store.ts's SqlRunner). */
interface Runner {
  all<T extends object>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** An issuing CA as stored. `keyPem` is a secret. */
export interface IssuingCaRecord {
  readonly generation: number;
  readonly certPem: string;
  readonly keyPem: string;
  readonly createdAt: number;
  /** Set once its certificates are no longer trusted (ms since the epoch). */
  readonly retiredAt: number | null;
}

/** An operational certificate the cloud issued. */
export interface OperationalCertificateRecord {
  readonly fingerprint: string;
  readonly serial: string;
  /** Lower-case hex: what a revocation list names. */
  readonly serialNumber: string;
  readonly generation: number;
  readonly issuedAt: number;
  readonly notAfter: number;
  /** The unit's reason for asking: 'first', 'renewal' or 'forced'. */
  readonly reason: string;
}

/** Every issuing CA, oldest first. */
export async function issuingCas(db: Runner): Promise<IssuingCaRecord[]> {
  const rows = await db.all<{
    generation: number | string;
    cert_pem: string;
    key_pem: string;
    created_at: number | string;
    retired_at: number | string | null;
  }>('SELECT generation, cert_pem, key_pem, created_at, retired_at FROM issuing_cas ORDER BY generation');
  return rows.map((r) => ({
    generation: Number(r.generation),
    certPem: r.cert_pem,
    keyPem: r.key_pem,
    createdAt: Number(r.created_at),
    retiredAt: r.retired_at === null ? null : Number(r.retired_at),
  }));
}

/** Adds an issuing CA as `generation`; false when another instance added that generation first. */
export async function addIssuingCa(db: Runner, ca: Omit<IssuingCaRecord, 'retiredAt'>): Promise<boolean> {
  const added = await db.run(
    `INSERT INTO issuing_cas (generation, cert_pem, key_pem, created_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (generation) DO NOTHING`,
    [ca.generation, ca.certPem, ca.keyPem, ca.createdAt],
  );
  return added === 1;
}

/** Records a certificate just issued. */
export async function recordOperationalCertificate(db: Runner, c: OperationalCertificateRecord): Promise<void> {
  await db.run(
    `INSERT INTO operational_certificates (fingerprint, serial, serial_number, generation, issued_at, not_after, reason)
    VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (fingerprint) DO NOTHING`,
    [c.fingerprint, c.serial, c.serialNumber, c.generation, c.issuedAt, c.notAfter, c.reason],
  );
}

/** A unit's operational certificates, newest first; at most `limit`. */
export async function operationalCertificates(
  db: Runner,
  serial: string,
  limit: number,
): Promise<OperationalCertificateRecord[]> {
  const rows = await db.all<{
    fingerprint: string;
    serial: string;
    serial_number: string;
    generation: number | string;
    issued_at: number | string;
    not_after: number | string;
    reason: string;
  }>(
    `SELECT fingerprint, serial, serial_number, generation, issued_at, not_after, reason
    FROM operational_certificates WHERE serial = $1 ORDER BY issued_at DESC LIMIT $2`,
    [serial, limit],
  );
  return rows.map((r) => ({
    fingerprint: r.fingerprint,
    serial: r.serial,
    serialNumber: r.serial_number,
    generation: Number(r.generation),
    issuedAt: Number(r.issued_at),
    notAfter: Number(r.not_after),
    reason: r.reason,
  }));
}

/** The fleet-renewal mark: units whose certificate was issued before it are asked to renew (0: none). */
export async function fleetRenewalBefore(db: Runner): Promise<number> {
  const rows = await db.all<{ value: string }>("SELECT value FROM meta WHERE key = 'fleet_renewal_before'");
  return rows[0] ? Number(rows[0].value) : 0;
}

/** Sets the fleet-renewal mark. */
export async function setFleetRenewalBefore(db: Runner, before: number): Promise<void> {
  await db.run(
    `INSERT INTO meta (key, value) VALUES ('fleet_renewal_before', $1)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    [String(before)],
  );
}
