/**
 * The store's SQL, written once for both databases, over a thin driver per database. SQL uses
 * PostgreSQL's `$n` parameters; the SQLite driver rewrites them to `?n`. Times are integer
 * milliseconds, JSON is text, booleans are 0/1, ids are random text: nothing dialect-specific
 * beyond what each driver hides (row locks, bulk insert).
 */
import { timingSafeEqual, randomBytes } from 'node:crypto';
import type { FirmwareMessage, FirmwareOutcome, StateMessage } from '../cloudprotocol/index.ts';
import { MODEL_SCHEMA_ID, canonicalModel, modelFromDocument, type ModelSpec } from '../models/index.ts';
import { AccountError, StoreError } from './errors.ts';
import type {
  CloudStore,
  RegistryUnit,
  DeviceRecord,
  TelemetryRow,
  AccountRecord,
  SessionRecord,
  AttemptRecord,
  CommandRecord,
  ClaimOutcome,
  ClaimFloodRecord,
  ReleaseCount,
} from './store.ts';
import * as firmware from './firmware-sql.ts';
import * as revocation from './revocation-sql.ts';
import * as issuing from './issuing-sql.ts';
import * as security from './security-sql.ts';
import * as accounts from './accounts-sql.ts';
import type { CraCaseRecord, CraFacts, CraReportKind } from './cra-reporting.ts';
import type { RevocationReason, RevocationRecord, RevocationTarget } from './revocation.ts';

/** One SQL connection (or a transaction on one). */
export interface SqlRunner {
  /** Runs a query and resolves with its rows. */
  all<T extends object>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a statement and resolves with the number of rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** What each database provides. */
export interface SqlDriver extends SqlRunner {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs one or more statements without parameters (the schema). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` in a transaction; `lockRow` marks a SELECT that must lock its rows (PostgreSQL: FOR UPDATE). */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
  /** Inserts a batch (skipping stored ones); resolves with the commit time, ms. */
  insertTelemetry(rows: readonly TelemetryRow[], storedAt: number): Promise<number>;
  /** Closes the connection (or the pool). */
  close(): Promise<void>;
}

/**
 * The schema version this code writes. Still 1: the unit models (`models`, `device_models`) and the
 * firmware reports (firmware-sql.ts) are tables beside the others, so a database from before them
 * opens as it is (its units have no model of their own and fall back to the built-in of their id,
 * and no firmware until they report it).
 */
export const SCHEMA_VERSION = 1;

/** The schema; `BIGINT` is an integer in both databases. */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
  id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
  serial TEXT PRIMARY KEY, model TEXT NOT NULL, device_cert_fingerprint TEXT NOT NULL, claim_code_hash TEXT NOT NULL,
  created_at TEXT NOT NULL, imported_at BIGINT NOT NULL,
  owner_id TEXT NULL, claimed_at BIGINT NULL, claim_window_until BIGINT NOT NULL DEFAULT 0,
  release_seq BIGINT NOT NULL DEFAULT 0,
  online INTEGER NOT NULL DEFAULT 0, seen_at BIGINT NOT NULL DEFAULT 0, state_json TEXT NULL,
  state_at BIGINT NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS devices_owner ON devices (owner_id);
CREATE TABLE IF NOT EXISTS telemetry (
  serial TEXT NOT NULL, seq BIGINT NOT NULL, at BIGINT NOT NULL, received_at BIGINT NOT NULL, stored_at BIGINT NOT NULL,
  values_json TEXT NOT NULL, PRIMARY KEY (serial, seq));
CREATE INDEX IF NOT EXISTS telemetry_age ON telemetry (received_at);
CREATE TABLE IF NOT EXISTS device_events (
  serial TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (serial, seq));
CREATE TABLE IF NOT EXISTS sessions (
  id_hash TEXT PRIMARY KEY, account_id TEXT NOT NULL, csrf_token TEXT NOT NULL, created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_account ON sessions (account_id);
CREATE TABLE IF NOT EXISTS attempts (key TEXT PRIMARY KEY, failures BIGINT NOT NULL, last_failure_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS claim_floods (
  serial TEXT PRIMARY KEY, flagged_at BIGINT NOT NULL, last_at BIGINT NOT NULL, failures BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS commands (
  id TEXT PRIMARY KEY, serial TEXT NOT NULL, account_id TEXT NOT NULL, capability TEXT NOT NULL, action TEXT NOT NULL,
  value_json TEXT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, status TEXT NOT NULL,
  result_json TEXT NULL,
  completed_at BIGINT NULL);
CREATE INDEX IF NOT EXISTS commands_account ON commands (account_id);
CREATE TABLE IF NOT EXISTS models (digest TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS device_models (serial TEXT PRIMARY KEY, digest TEXT NOT NULL);
${firmware.FIRMWARE_SCHEMA_SQL}${revocation.REVOCATION_SCHEMA_SQL}${issuing.ISSUING_SCHEMA_SQL}
${security.SECURITY_SCHEMA_SQL}${accounts.ACCOUNTS_SCHEMA_SQL}`;

interface DeviceRow extends firmware.FirmwareColumns, revocation.RevocationColumns {
  serial: string;
  model: string;
  model_digest: string | null;
  owner_id: string | null;
  claimed_at: number | null;
  claim_window_until: number;
  online: number;
  seen_at: number;
  state_json: string | null;
}

function toDevice(r: DeviceRow): DeviceRecord {
  const fw = firmware.firmwareOfRow(r);
  let state: StateMessage | null = null;
  if (r.state_json) {
    try {
      state = JSON.parse(r.state_json) as StateMessage;
    } catch {
      state = null;
    }
  }
  return {
    serial: r.serial,
    model: r.model,
    ownerId: r.owner_id,
    claimedAt: r.claimed_at === null ? null : Number(r.claimed_at),
    claimWindowUntil: Number(r.claim_window_until),
    online: Number(r.online) === 1,
    seenAt: Number(r.seen_at),
    state,
    ...(fw ? { firmware: fw } : {}),
    ...revocation.revocationOfRow(r),
  };
}

const DEVICE_COLUMNS =
  'serial, model, owner_id, claimed_at, claim_window_until, online, seen_at, state_json, ' +
  '(SELECT dm.digest FROM device_models dm WHERE dm.serial = devices.serial) AS model_digest, ' +
  firmware.FIRMWARE_DEVICE_COLUMNS +
  ', ' +
  revocation.REVOCATION_DEVICE_COLUMNS;
/** Parsed models kept by digest (a digest names one model for ever); past this many the cache starts afresh. */
const MAX_CACHED_MODELS = 256;

interface AccountRow {
  id: string;
  email: string;
  password_hash: string;
  created_at: number | string;
  verified_at: number | string | null;
}

function toAccount(r: AccountRow): AccountRecord {
  return {
    id: r.id,
    email: r.email,
    passwordHash: r.password_hash,
    createdAt: Number(r.created_at),
    verifiedAt: r.verified_at === null ? null : Number(r.verified_at),
  };
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a),
    y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The store over a driver. */
export class SqlStore implements CloudStore {
  readonly kind: 'sqlite' | 'postgres';
  readonly #db: SqlDriver;
  readonly #lock: string;
  readonly #models = new Map<string, ModelSpec | null>();

  private constructor(db: SqlDriver) {
    this.#db = db;
    this.kind = db.dialect;
    this.#lock = db.dialect === 'postgres' ? ' FOR UPDATE' : '';
  }

  /** Creates the schema if needed and refuses a database written by a newer schema. */
  static async open(db: SqlDriver): Promise<SqlStore> {
    await db.exec(SCHEMA_SQL);
    await db.run(`INSERT INTO meta (key, value) VALUES ('schema', $1) ON CONFLICT (key) DO NOTHING`, [
      String(SCHEMA_VERSION),
    ]);
    const [row] = await db.all<{ value: string }>(`SELECT value FROM meta WHERE key = 'schema'`);
    if (Number(row?.value) !== SCHEMA_VERSION) {
      throw new StoreError(
        'STORE_SCHEMA',
        `the database has schema ${row?.value}; this cloud writes ${SCHEMA_VERSION}`,
      );
    }
    // A deleted account's rows are overwritten, not just unlinked, so its address is not left in free pages.
    if (db.dialect === 'sqlite') await db.exec('PRAGMA secure_delete = ON');
    return new SqlStore(db);
  }

  async sharedSecret(name: string): Promise<Buffer> {
    const key = `secret:${name}`;
    await this.#db.run('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [
      key,
      randomBytes(32).toString('base64url'),
    ]);
    const [row] = await this.#db.all<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key]);
    return Buffer.from(row!.value, 'base64url');
  }

  async importUnits(units: readonly RegistryUnit[], now: number): Promise<{ added: number; existing: number }> {
    let added = 0;
    // In slices, so one huge manifest does not hold one huge transaction.
    for (let i = 0; i < units.length; i += 500) {
      const slice = units.slice(i, i + 500);
      added += await this.#db.transaction(async (tx) => {
        let n = 0;
        for (const u of slice) {
          n += await tx.run(
            `INSERT INTO devices (serial, model, device_cert_fingerprint, claim_code_hash, created_at, imported_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (serial) DO NOTHING`,
            [u.serial, u.model, u.deviceCertFingerprint, u.claimCodeHash, u.createdAt, now],
          );
          if (u.modelDigest !== undefined && u.modelSpec)
            await this.#importModel(tx, u.serial, u.modelDigest, u.modelSpec);
          if (u.deviceCertSerialNumber !== undefined)
            await revocation.recordBirthSerialNumber(tx, u.serial, u.deviceCertSerialNumber);
        }
        return n;
      });
    }
    return { added, existing: units.length - added };
  }

  /** Keeps a unit's model by digest (once per digest) and the unit's digest (its first import's). */
  async #importModel(tx: SqlRunner, serial: string, digest: string, model: ModelSpec): Promise<void> {
    await tx.run('INSERT INTO models (digest, document) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING', [
      digest,
      canonicalModel(model),
    ]);
    await tx.run('INSERT INTO device_models (serial, digest) VALUES ($1, $2) ON CONFLICT (serial) DO NOTHING', [
      serial,
      digest,
    ]);
  }

  /** The model stored under `digest`, parsed once; a document that no longer checks counts as none. */
  async #model(digest: string): Promise<ModelSpec | null> {
    const cached = this.#models.get(digest);
    if (cached !== undefined) return cached;
    const [row] = await this.#db.all<{ document: string }>('SELECT document FROM models WHERE digest = $1', [digest]);
    let model: ModelSpec | null = null;
    try {
      if (row) model = modelFromDocument({ schema: MODEL_SCHEMA_ID, ...(JSON.parse(row.document) as object) });
    } catch {
      model = null;
    }
    if (this.#models.size >= MAX_CACHED_MODELS) this.#models.clear();
    this.#models.set(digest, model);
    return model;
  }

  /** A device row with its unit's own model, when its manifest carried one. */
  async #toDevice(row: DeviceRow): Promise<DeviceRecord> {
    const model = row.model_digest ? await this.#model(row.model_digest) : null;
    return model ? { ...toDevice(row), modelSpec: model } : toDevice(row);
  }

  async getDevice(serial: string): Promise<DeviceRecord | undefined> {
    const [row] = await this.#db.all<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE serial = $1`, [serial]);
    return row ? this.#toDevice(row) : undefined;
  }

  async countDevices(): Promise<number> {
    const [row] = await this.#db.all<{ n: number }>('SELECT COUNT(*) AS n FROM devices');
    return Number(row?.n ?? 0);
  }

  async storeTelemetry(rows: readonly TelemetryRow[], storedAt: number): Promise<number> {
    return rows.length > 0 ? this.#db.insertTelemetry(rows, storedAt) : Date.now();
  }

  async storedSeqs(
    serial: string,
    ranges: ReadonlyArray<readonly [number, number]>,
    limit: number,
    storedBefore = Number.MAX_SAFE_INTEGER,
  ): Promise<number[]> {
    const out: number[] = [];
    for (const [a, b] of ranges) {
      if (out.length >= limit) break;
      const rows = await this.#db.all<{ seq: number }>(
        `SELECT seq FROM telemetry WHERE serial = $1 AND seq BETWEEN $2 AND $3 AND stored_at < $5
         UNION SELECT seq FROM device_events WHERE serial = $1 AND seq BETWEEN $2 AND $3 LIMIT $4`,
        [serial, a, b, limit - out.length, storedBefore],
      );
      for (const r of rows) out.push(Number(r.seq));
    }
    return out;
  }

  async setState(serial: string, state: StateMessage, now: number): Promise<void> {
    await this.#db.run(
      'UPDATE devices SET state_json = $2, state_at = $3, seen_at = $3, online = 1 WHERE serial = $1',
      [serial, JSON.stringify(state), now],
    );
  }

  async setPresence(serial: string, online: boolean, now: number): Promise<void> {
    await this.#db.run('UPDATE devices SET online = $2, seen_at = $3 WHERE serial = $1', [serial, online ? 1 : 0, now]);
  }

  async recordFirmware(serial: string, report: FirmwareMessage, now: number): Promise<void> {
    await this.#db.transaction((tx) => firmware.recordFirmware(tx, serial, report, now));
  }

  async firmwareOutcomes(serial: string, limit: number): Promise<FirmwareOutcome[]> {
    return firmware.firmwareOutcomes(this.#db, serial, limit);
  }

  async releaseCounts(): Promise<ReleaseCount[]> {
    return firmware.releaseCounts(this.#db);
  }

  async revoke(
    target: RevocationTarget,
    reason: RevocationReason,
    by: string,
    now: number,
  ): Promise<revocation.RevokeOutcome> {
    return this.#db.transaction((tx) => revocation.revoke(tx, target, reason, by, now));
  }

  async revocations(): Promise<RevocationRecord[]> {
    return revocation.revocations(this.#db);
  }

  async revocationCount(): Promise<number> {
    return revocation.revocationCount(this.#db);
  }

  async unitRevocation(serial: string): Promise<RevocationRecord | undefined> {
    return revocation.unitRevocation(this.#db, serial);
  }

  async issuingCas(): Promise<issuing.IssuingCaRecord[]> {
    return issuing.issuingCas(this.#db);
  }

  async addIssuingCa(ca: Omit<issuing.IssuingCaRecord, 'retiredAt'>): Promise<boolean> {
    return issuing.addIssuingCa(this.#db, ca);
  }

  async recordOperationalCertificate(c: issuing.OperationalCertificateRecord): Promise<void> {
    return issuing.recordOperationalCertificate(this.#db, c);
  }

  async operationalCertificates(serial: string, limit: number): Promise<issuing.OperationalCertificateRecord[]> {
    return issuing.operationalCertificates(this.#db, serial, limit);
  }

  async fleetRenewalBefore(): Promise<number> {
    return issuing.fleetRenewalBefore(this.#db);
  }

  async setFleetRenewalBefore(before: number): Promise<void> {
    return issuing.setFleetRenewalBefore(this.#db, before);
  }

  async serialsAfter(after: string, limit: number): Promise<string[]> {
    const rows = await this.#db.all<{ serial: string }>(
      'SELECT serial FROM devices WHERE serial > $1 ORDER BY serial LIMIT $2',
      [after, limit],
    );
    return rows.map((r) => r.serial);
  }

  async revokedSerialNumbers(): Promise<revocation.RevokedSerialNumber[]> {
    return revocation.revokedSerialNumbers(this.#db);
  }

  async flagClone(serial: string, takeovers: number, sources: string, now: number): Promise<boolean> {
    return revocation.flagClone(this.#db, serial, takeovers, sources, now);
  }

  async cloneSuspects(limit: number): Promise<revocation.CloneSuspect[]> {
    return revocation.cloneSuspects(this.#db, limit);
  }

  async addDisclosureReport(r: security.DisclosureReportRecord): Promise<void> {
    return security.addDisclosureReport(this.#db, r);
  }

  async disclosureReports(limit: number): Promise<security.DisclosureReportRecord[]> {
    return security.disclosureReports(this.#db, limit);
  }

  async openCraCase(
    c: Omit<CraCaseRecord, 'submitted' | 'fixAt'>,
  ): Promise<{ record: CraCaseRecord; created: boolean }> {
    return this.#db.transaction((tx) => security.openCraCase(tx, c));
  }

  async craCases(limit: number): Promise<CraCaseRecord[]> {
    return security.craCases(this.#db, limit);
  }

  async craCase(id: string): Promise<CraCaseRecord | undefined> {
    return security.craCase(this.#db, id);
  }

  async setCraFacts(id: string, facts: CraFacts): Promise<boolean> {
    return security.setCraFacts(this.#db, id, facts);
  }

  async setCraFix(id: string, at: number): Promise<boolean> {
    return security.setCraFix(this.#db, id, at);
  }

  async recordCraSubmission(id: string, report: CraReportKind, at: number, by: string): Promise<boolean> {
    return security.recordCraSubmission(this.#db, id, report, at, by);
  }

  async putCsafAdvisory(a: security.CsafAdvisoryRecord): Promise<void> {
    return security.putCsafAdvisory(this.#db, a);
  }

  async csafAdvisories(): Promise<security.CsafAdvisoryRecord[]> {
    return security.csafAdvisories(this.#db);
  }

  async csafAdvisory(path: string): Promise<security.CsafAdvisoryRecord | undefined> {
    return security.csafAdvisory(this.#db, path);
  }

  async openClaimWindow(serial: string, until: number, seq: number, now: number): Promise<number> {
    return this.#db.transaction(async (tx) => {
      const fresh = await tx.run(
        'INSERT INTO device_events (serial, seq, kind, at) VALUES ($1, $2, $3, $4) ON CONFLICT (serial, seq) DO ' +
          'NOTHING',
        [serial, seq, 'window-open', now],
      );
      if (fresh)
        await tx.run('UPDATE devices SET claim_window_until = $2, seen_at = $3 WHERE serial = $1', [
          serial,
          until,
          now,
        ]);
      const [row] = await tx.all<{ claim_window_until: number | string }>(
        'SELECT claim_window_until FROM devices WHERE serial = $1',
        [serial],
      );
      return Number(row?.claim_window_until ?? 0);
    });
  }

  async releaseByDevice(serial: string, seq: number, now: number): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      // A redelivered release (same seq) must not release a claim made after it.
      const fresh = await tx.run(
        'INSERT INTO device_events (serial, seq, kind, at) VALUES ($1, $2, $3, $4) ON CONFLICT (serial, seq) DO ' +
          'NOTHING',
        [serial, seq, 'release', now],
      );
      if (!fresh) return false;
      const changed = await tx.run(
        'UPDATE devices SET owner_id = NULL, claimed_at = NULL, claim_window_until = 0, release_seq = $2, ' +
          'state_json = NULL WHERE serial = $1 AND release_seq < $2',
        [serial, seq],
      );
      if (changed) await tx.run('DELETE FROM telemetry WHERE serial = $1 AND seq < $2', [serial, seq]);
      return changed > 0;
    });
  }

  async claimDevice(serial: string, accountId: string, codeHash: string, now: number): Promise<ClaimOutcome> {
    return this.#db.transaction(async (tx) => {
      const [row] = await tx.all<{ claim_code_hash: string; owner_id: string | null; claim_window_until: number }>(
        `SELECT claim_code_hash, owner_id, claim_window_until FROM devices WHERE serial = $1${this.#lock}`,
        [serial],
      );
      // Unknown serial and wrong code look the same from outside.
      if (!row || !sameHash(row.claim_code_hash, codeHash)) return 'refused';
      if (row.owner_id === accountId) return 'already-yours';
      if (row.owner_id !== null) return 'taken';
      if (Number(row.claim_window_until) < now) return 'window-closed';
      const changed = await tx.run(
        'UPDATE devices SET owner_id = $2, claimed_at = $3, claim_window_until = 0 WHERE serial = $1 AND ' +
          'owner_id IS NULL',
        [serial, accountId, now],
      );
      return changed === 1 ? 'claimed' : 'taken';
    });
  }

  async releaseByOwner(serial: string, accountId: string): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const changed = await tx.run(
        'UPDATE devices SET owner_id = NULL, claimed_at = NULL, claim_window_until = 0, state_json = NULL WHERE ' +
          'serial = $1 AND owner_id = $2',
        [serial, accountId],
      );
      if (changed) await tx.run('DELETE FROM telemetry WHERE serial = $1', [serial]);
      return changed > 0;
    });
  }

  async listDevices(accountId: string): Promise<DeviceRecord[]> {
    const rows = await this.#db.all<DeviceRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE owner_id = $1 ORDER BY claimed_at`,
      [accountId],
    );
    return Promise.all(rows.map((r) => this.#toDevice(r)));
  }

  async telemetry(serial: string, since: number, limit: number): Promise<TelemetryRow[]> {
    const rows = await this.#db.all<{ seq: number; at: number; received_at: number; values_json: string }>(
      // A device's sequence numbers rise with time: the primary key gives the order, no second index needed.
      'SELECT seq, at, received_at, values_json FROM telemetry WHERE serial = $1 AND received_at >= $2 ORDER BY ' +
        'seq DESC LIMIT $3',
      [serial, since, limit],
    );
    return rows.reverse().map((r) => ({
      serial,
      seq: Number(r.seq),
      at: Number(r.at),
      receivedAt: Number(r.received_at),
      values: JSON.parse(r.values_json) as TelemetryRow['values'],
    }));
  }

  async createAccount(a: AccountRecord): Promise<void> {
    const n = await this.#db.run(
      'INSERT INTO accounts (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (email) ' +
        'DO NOTHING',
      [a.id, a.email, a.passwordHash, a.createdAt],
    );
    if (n === 0) throw new AccountError('ACCOUNT_EXISTS', 'an account with this e-mail address exists');
  }

  async #account(where: 'email' | 'id', value: string): Promise<AccountRecord | undefined> {
    const [r] = await this.#db.all<AccountRow>(
      `SELECT a.id, a.email, a.password_hash, a.created_at, v.verified_at FROM accounts a
      LEFT JOIN account_verified v ON v.account_id = a.id WHERE a.${where} = $1`,
      [value],
    );
    return r ? toAccount(r) : undefined;
  }

  async accountByEmail(email: string): Promise<AccountRecord | undefined> {
    return this.#account('email', email);
  }

  async accountById(id: string): Promise<AccountRecord | undefined> {
    return this.#account('id', id);
  }

  async updatePasswordHash(id: string, hash: string): Promise<void> {
    await this.#db.run('UPDATE accounts SET password_hash = $2 WHERE id = $1', [id, hash]);
  }

  async deleteAccount(id: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const [a] = await tx.all<{ email: string }>('SELECT email FROM accounts WHERE id = $1', [id]);
      if (a) {
        // The mail budget per asker too (mail:<address>:<asker>); LIKE with the address's own wildcards escaped.
        const perAsker = `mail:${a.email.replace(/[\\%_]/g, (c) => `\\${c}`)}:%`;
        await tx.run("DELETE FROM attempts WHERE key = $1 OR key = $2 OR key LIKE $3 ESCAPE '\\'", [
          `login:acct:${a.email}`,
          `mail:${a.email}`,
          perAsker,
        ]);
      }
      await accounts.deleteAccountRows(tx, id);
      await tx.run('DELETE FROM telemetry WHERE serial IN (SELECT serial FROM devices WHERE owner_id = $1)', [id]);
      await tx.run('DELETE FROM device_events WHERE serial IN (SELECT serial FROM devices WHERE owner_id = $1)', [id]);
      await tx.run(
        'UPDATE devices SET owner_id = NULL, claimed_at = NULL, claim_window_until = 0, state_json = NULL WHERE ' +
          'owner_id = $1',
        [id],
      );
      await tx.run('DELETE FROM commands WHERE account_id = $1', [id]);
      await tx.run('DELETE FROM sessions WHERE account_id = $1', [id]);
      await tx.run('DELETE FROM accounts WHERE id = $1', [id]);
    });
    // The WAL still holds the pages as they were until a checkpoint rewrites them.
    if (this.#db.dialect === 'sqlite') await this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  }

  async markVerified(id: string, now: number): Promise<void> {
    return accounts.markVerified(this.#db, id, now);
  }

  async createAccountToken(t: accounts.AccountTokenRecord): Promise<void> {
    return accounts.createToken(this.#db, t);
  }

  async accountToken(id: string): Promise<accounts.AccountTokenRecord | undefined> {
    return accounts.token(this.#db, id);
  }

  async useAccountToken(id: string, now: number): Promise<boolean> {
    return accounts.useToken(this.#db, id, now);
  }

  async spendUnusedAccountTokens(
    accountId: string,
    purpose: accounts.AccountTokenPurpose,
    now: number,
    match?: (data: accounts.AccountTokenRecord['data']) => boolean,
  ): Promise<number> {
    return accounts.spendUnusedTokens(this.#db, accountId, purpose, now, match);
  }

  async deleteSessionsOf(accountId: string, keepIdHash?: string): Promise<number> {
    return accounts.deleteSessionsOf(this.#db, accountId, keepIdHash);
  }

  async addNotification(n: accounts.NotificationRecord): Promise<void> {
    return accounts.addNotification(this.#db, n);
  }

  async notifications(accountId: string, limit: number): Promise<accounts.NotificationRecord[]> {
    return accounts.notifications(this.#db, accountId, limit);
  }

  async putHouseholdMember(m: accounts.HouseholdMemberRecord): Promise<void> {
    return accounts.putMember(this.#db, m);
  }

  async householdMembers(ownerId: string): Promise<accounts.HouseholdMemberRecord[]> {
    return accounts.members(this.#db, ownerId);
  }

  async householdMemberships(memberId: string): Promise<accounts.HouseholdMemberRecord[]> {
    return accounts.memberships(this.#db, memberId);
  }

  async removeHouseholdMember(ownerId: string, memberId: string): Promise<boolean> {
    return accounts.removeMember(this.#db, ownerId, memberId);
  }

  async addPendingRemoval(r: accounts.PendingRemovalRecord): Promise<void> {
    await this.#db.transaction((tx) => accounts.addPendingRemoval(tx, r));
  }

  async pendingRemovals(serial: string): Promise<accounts.PendingRemovalRecord[]> {
    return accounts.pendingRemovals(this.#db, serial);
  }

  async dropPendingRemoval(serial: string, name: string): Promise<void> {
    return accounts.dropPendingRemoval(this.#db, serial, name);
  }

  async exportAccount(id: string): Promise<Record<string, unknown> | undefined> {
    const account = await this.accountById(id);
    if (!account) return undefined;
    const { passwordHash: _hash, ...record } = account;
    const sessions = await this.#db.all<{ created_at: number; last_seen_at: number }>(
      'SELECT created_at, last_seen_at FROM sessions WHERE account_id = $1 ORDER BY created_at',
      [id],
    );
    const devices = await Promise.all((await this.listDevices(id)).map((d) => this.#deviceExport(d)));
    const commands = await this.#db.all<{ id: string }>('SELECT id FROM commands WHERE account_id = $1', [id]);
    const counters = await this.attempts([`login:acct:${account.email}`, `mail:${account.email}`]);
    return {
      account: record,
      sessions: sessions.map((r) => ({ createdAt: Number(r.created_at), lastSeenAt: Number(r.last_seen_at) })),
      devices,
      commands: await Promise.all(commands.map((c) => this.command(c.id))),
      failureCounters: Object.fromEntries(counters),
      ...(await accounts.accountTablesExport(this.#db, id)),
    };
  }

  /** A claimed device with what the cloud keeps of it: telemetry since the claim, events, update outcomes. */
  async #deviceExport(d: DeviceRecord): Promise<Record<string, unknown>> {
    const events = await this.#db.all<{ seq: number; kind: string; at: number }>(
      'SELECT seq, kind, at FROM device_events WHERE serial = $1 AND at >= $2 ORDER BY seq',
      [d.serial, d.claimedAt ?? 0],
    );
    return {
      device: d,
      telemetry: await this.telemetry(d.serial, d.claimedAt ?? 0, 100_000),
      events: events.map((e) => ({ seq: Number(e.seq), kind: e.kind, at: Number(e.at) })),
      firmwareOutcomes: await this.firmwareOutcomes(d.serial, 1_000),
    };
  }

  async createSession(s: SessionRecord, maxPerAccount: number): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.run(
        'INSERT INTO sessions (id_hash, account_id, csrf_token, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5)',
        [s.idHash, s.accountId, s.csrfToken, s.createdAt, s.lastSeenAt],
      );
      await tx.run(
        `DELETE FROM sessions WHERE account_id = $1 AND id_hash NOT IN
        (SELECT id_hash FROM sessions WHERE account_id = $1 ORDER BY last_seen_at DESC, created_at DESC LIMIT $2)`,
        [s.accountId, maxPerAccount],
      );
    });
  }

  async session(idHash: string): Promise<SessionRecord | undefined> {
    const [r] = await this.#db.all<{
      id_hash: string;
      account_id: string;
      csrf_token: string;
      created_at: number;
      last_seen_at: number;
    }>('SELECT id_hash, account_id, csrf_token, created_at, last_seen_at FROM sessions WHERE id_hash = $1', [idHash]);
    return r
      ? {
          idHash: r.id_hash,
          accountId: r.account_id,
          csrfToken: r.csrf_token,
          createdAt: Number(r.created_at),
          lastSeenAt: Number(r.last_seen_at),
        }
      : undefined;
  }

  async touchSession(idHash: string, now: number): Promise<void> {
    await this.#db.run('UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1', [idHash, now]);
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.#db.run('DELETE FROM sessions WHERE id_hash = $1', [idHash]);
  }

  async pruneSessions(idleBefore: number, createdBefore: number): Promise<number> {
    return this.#db.run('DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2', [idleBefore, createdBefore]);
  }

  async attempts(keys: readonly string[]): Promise<Map<string, AttemptRecord>> {
    const out = new Map<string, AttemptRecord>();
    for (const key of keys) {
      const [r] = await this.#db.all<{ failures: number; last_failure_at: number }>(
        'SELECT failures, last_failure_at FROM attempts WHERE key = $1',
        [key],
      );
      if (r) out.set(key, { failures: Number(r.failures), lastFailureAt: Number(r.last_failure_at) });
    }
    return out;
  }

  async recordFailure(keys: readonly string[], now: number): Promise<void> {
    for (const key of keys) {
      await this.#db.run(
        `INSERT INTO attempts (key, failures, last_failure_at) VALUES ($1, 1, $2)
        ON CONFLICT (key) DO UPDATE SET failures = attempts.failures + 1, last_failure_at = $2`,
        [key, now],
      );
    }
  }

  async clearAttempts(key: string): Promise<void> {
    await this.#db.run('DELETE FROM attempts WHERE key = $1', [key]);
  }

  async pruneAttempts(before: number): Promise<number> {
    return this.#db.run('DELETE FROM attempts WHERE last_failure_at < $1', [before]);
  }

  async flagClaimFlood(serial: string, failures: number, now: number): Promise<boolean> {
    const bumped = await this.#db.run(
      'UPDATE claim_floods SET last_at = $2, failures = failures + 1 WHERE serial = $1',
      [serial, now],
    );
    if (bumped > 0) return false;
    // Only registered serials: made-up ones must not grow the maker's list.
    const added = await this.#db.run(
      `INSERT INTO claim_floods (serial, flagged_at, last_at, failures)
      SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($2 AS BIGINT), CAST($3 AS BIGINT)
      WHERE EXISTS (SELECT 1 FROM devices WHERE serial = $1) ON CONFLICT (serial) DO NOTHING`,
      [serial, now, failures],
    );
    return added === 1;
  }

  async claimFloods(limit: number): Promise<ClaimFloodRecord[]> {
    const rows = await this.#db.all<{ serial: string; flagged_at: number; last_at: number; failures: number }>(
      'SELECT serial, flagged_at, last_at, failures FROM claim_floods ORDER BY last_at DESC LIMIT $1',
      [limit],
    );
    return rows.map((r) => ({
      serial: r.serial,
      flaggedAt: Number(r.flagged_at),
      lastAt: Number(r.last_at),
      failures: Number(r.failures),
    }));
  }

  async createCommand(c: CommandRecord): Promise<void> {
    await this.#db.run(
      `INSERT INTO commands (id, serial, account_id, capability, action, value_json, created_at, expires_at,` +
        ` status, result_json)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)`,
      [
        c.id,
        c.serial,
        c.accountId,
        c.capability,
        c.action,
        c.value === undefined ? null : JSON.stringify(c.value),
        c.createdAt,
        c.expiresAt,
        c.status,
      ],
    );
  }

  async completeCommand(
    id: string,
    serial: string,
    status: 'done' | 'failed',
    result: CommandRecord['result'],
    now: number,
  ): Promise<boolean> {
    const n = await this.#db.run(
      `UPDATE commands SET status = $3, result_json = $4, completed_at = $5 WHERE id = $1 AND serial = $2 AND` +
        ` status = 'sent'`,
      [id, serial, status, JSON.stringify(result), now],
    );
    return n === 1;
  }

  async command(id: string): Promise<CommandRecord | undefined> {
    const [r] = await this.#db.all<{
      id: string;
      serial: string;
      account_id: string;
      capability: string;
      action: string;
      value_json: string | null;
      created_at: number;
      expires_at: number;
      status: string;
      result_json: string | null;
    }>(
      'SELECT id, serial, account_id, capability, action, value_json, created_at, expires_at, status, ' +
        'result_json FROM commands WHERE id = $1',
      [id],
    );
    if (!r) return undefined;
    return {
      id: r.id,
      serial: r.serial,
      accountId: r.account_id,
      capability: r.capability,
      action: r.action,
      value: r.value_json === null ? undefined : (JSON.parse(r.value_json) as CommandRecord['value']),
      createdAt: Number(r.created_at),
      expiresAt: Number(r.expires_at),
      status: r.status as CommandRecord['status'],
      result: r.result_json === null ? null : (JSON.parse(r.result_json) as CommandRecord['result']),
    };
  }

  async pruneTelemetry(before: number): Promise<number> {
    const n = await this.#db.run('DELETE FROM telemetry WHERE received_at < $1', [before]);
    await this.#db.run('DELETE FROM commands WHERE created_at < $1', [before]);
    return n;
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}
