/**
 * The store's firmware part, in the SQL both databases share: what each device runs, its newest
 * update outcomes, and per release (model and version) which units installed, committed or rolled
 * it back. Tables beside the others (created if missing), so a database from before them opens
 * as it is, like the models' tables.
 */
import type { FirmwareMessage, FirmwareOutcome, RunningFirmware } from '../cloudprotocol/index.ts';
import type { DeviceFirmware, ReleaseCount } from './store.ts';

/** Update outcomes kept per device (the newest). */
export const FIRMWARE_HISTORY = 32;

/** The firmware tables; `report_at` is the device's time of its newest stored report, so an older one never wins. */
export const FIRMWARE_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS device_firmware (
  serial TEXT PRIMARY KEY, version TEXT NOT NULL, running_json TEXT NOT NULL, report_at BIGINT NOT NULL,
  reported_at BIGINT NOT NULL, last_n BIGINT NOT NULL DEFAULT 0, last_outcome_json TEXT NULL);
CREATE TABLE IF NOT EXISTS firmware_outcomes (
  serial TEXT NOT NULL, n BIGINT NOT NULL, at BIGINT NOT NULL, outcome TEXT NOT NULL, version TEXT NULL,
  code TEXT NULL, detail TEXT NULL, received_at BIGINT NOT NULL, PRIMARY KEY (serial, n));
CREATE TABLE IF NOT EXISTS firmware_units (
  serial TEXT NOT NULL, version TEXT NOT NULL, installed_at BIGINT NOT NULL DEFAULT 0,
  committed_at BIGINT NOT NULL DEFAULT 0, rolled_back_at BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (serial, version));
`;

/** The device columns that carry its firmware (subqueries on `devices`, see sql-store.ts's DEVICE_COLUMNS). */
export const FIRMWARE_DEVICE_COLUMNS =
  '(SELECT f.running_json FROM device_firmware f WHERE f.serial = devices.serial) AS firmware_json, ' +
  '(SELECT f.reported_at FROM device_firmware f WHERE f.serial = devices.serial) AS firmware_at, ' +
  '(SELECT f.last_outcome_json FROM device_firmware f WHERE f.serial = devices.serial) AS last_outcome_json';

/** One SQL connection or transaction (sql-store.ts's SqlRunner). */
interface Runner {
  all<T extends object>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** The firmware columns of a device row. */
export interface FirmwareColumns {
  firmware_json?: string | null;
  firmware_at?: number | string | null;
  last_outcome_json?: string | null;
}

/** A device row's firmware, or undefined before its first report (or for a row that no longer parses). */
export function firmwareOfRow(r: FirmwareColumns): DeviceFirmware | undefined {
  if (!r.firmware_json) return undefined;
  try {
    const running = JSON.parse(r.firmware_json) as RunningFirmware;
    const lastOutcome = r.last_outcome_json ? (JSON.parse(r.last_outcome_json) as FirmwareOutcome) : null;
    return { running, reportedAt: Number(r.firmware_at ?? 0), lastOutcome };
  } catch {
    return undefined;
  }
}

/** Which per-release column an outcome sets. */
const UNIT_COLUMN: Partial<Record<FirmwareOutcome['outcome'], string>> = {
  installed: 'installed_at',
  healthy: 'committed_at',
  'rolled-back': 'rolled_back_at',
};

async function storeOutcome(tx: Runner, serial: string, o: FirmwareOutcome, now: number): Promise<void> {
  await tx.run(
    `INSERT INTO firmware_outcomes (serial, n, at, outcome, version, code, detail, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (serial, n) DO UPDATE SET at = excluded.at,
     outcome = excluded.outcome, version = excluded.version, code = excluded.code, detail = excluded.detail`,
    [serial, o.n, o.at, o.outcome, o.version ?? null, o.code ?? null, o.detail ?? null, now],
  );
  const column = UNIT_COLUMN[o.outcome];
  if (column && o.version !== undefined)
    await tx.run(
      `INSERT INTO firmware_units (serial, version, ${column}) VALUES ($1, $2, $3)
       ON CONFLICT (serial, version) DO UPDATE SET ${column} = excluded.${column}`,
      [serial, o.version, o.at],
    );
}

/** Stores one report (see CloudStore.recordFirmware); runs inside the caller's transaction. */
export async function recordFirmware(tx: Runner, serial: string, report: FirmwareMessage, now: number): Promise<void> {
  await tx.run(
    `INSERT INTO device_firmware (serial, version, running_json, report_at, reported_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (serial) DO UPDATE SET version = excluded.version, running_json = excluded.running_json,
     report_at = excluded.report_at, reported_at = excluded.reported_at
     WHERE device_firmware.report_at <= excluded.report_at`,
    [serial, report.running.version, JSON.stringify(report.running), report.at, now],
  );
  for (const o of report.outcomes) await storeOutcome(tx, serial, o, now);
  const newest = report.outcomes.reduce<FirmwareOutcome | undefined>((a, o) => (a && a.n > o.n ? a : o), undefined);
  if (newest)
    await tx.run('UPDATE device_firmware SET last_n = $2, last_outcome_json = $3 WHERE serial = $1 AND last_n <= $2', [
      serial,
      newest.n,
      JSON.stringify(newest),
    ]);
  await tx.run(
    `DELETE FROM firmware_outcomes WHERE serial = $1 AND n NOT IN
     (SELECT n FROM firmware_outcomes WHERE serial = $1 ORDER BY n DESC LIMIT $2)`,
    [serial, FIRMWARE_HISTORY],
  );
}

/** The device's stored outcomes, newest first. */
export async function firmwareOutcomes(db: Runner, serial: string, limit: number): Promise<FirmwareOutcome[]> {
  const rows = await db.all<{
    n: number;
    at: number;
    outcome: FirmwareOutcome['outcome'];
    version: string | null;
    code: string | null;
    detail: string | null;
  }>('SELECT n, at, outcome, version, code, detail FROM firmware_outcomes WHERE serial = $1 ORDER BY n DESC LIMIT $2', [
    serial,
    limit,
  ]);
  return rows.map((r) => ({
    n: Number(r.n),
    at: Number(r.at),
    outcome: r.outcome,
    ...(r.version !== null ? { version: r.version } : {}),
    ...(r.code !== null ? { code: r.code } : {}),
    ...(r.detail !== null ? { detail: r.detail } : {}),
  }));
}

const countOf = (v: unknown): number => Number(v ?? 0);

/** Units per release: running it (from the latest reports), installed, committed and rolled back (from outcomes). */
export async function releaseCounts(db: Runner): Promise<ReleaseCount[]> {
  const running = await db.all<{ model: string; version: string; n: number | string }>(
    `SELECT d.model AS model, f.version AS version, COUNT(*) AS n FROM device_firmware f
     JOIN devices d ON d.serial = f.serial GROUP BY d.model, f.version`,
  );
  const units = await db.all<{ model: string; version: string; i: unknown; c: unknown; r: unknown }>(
    `SELECT d.model AS model, u.version AS version,
       SUM(CASE WHEN u.installed_at > 0 THEN 1 ELSE 0 END) AS i,
       SUM(CASE WHEN u.committed_at > 0 THEN 1 ELSE 0 END) AS c,
       SUM(CASE WHEN u.rolled_back_at > 0 THEN 1 ELSE 0 END) AS r
     FROM firmware_units u JOIN devices d ON d.serial = u.serial GROUP BY d.model, u.version`,
  );
  const byRelease = new Map<string, { -readonly [K in keyof ReleaseCount]: ReleaseCount[K] }>();
  const entry = (model: string, version: string): { -readonly [K in keyof ReleaseCount]: ReleaseCount[K] } => {
    const key = `${model}\u0000${version}`;
    let e = byRelease.get(key);
    if (!e) byRelease.set(key, (e = { model, version, running: 0, installed: 0, committed: 0, rolledBack: 0 }));
    return e;
  };
  for (const r of running) entry(r.model, r.version).running = countOf(r.n);
  for (const u of units) {
    const e = entry(u.model, u.version);
    e.installed = countOf(u.i);
    e.committed = countOf(u.c);
    e.rolledBack = countOf(u.r);
  }
  const order = (a: ReleaseCount, b: ReleaseCount): number =>
    a.model.localeCompare(b.model) || a.version.localeCompare(b.version, 'en', { numeric: true });
  return [...byRelease.values()].sort(order);
}
