/**
 * The hub's durable state in SQLite (node:sqlite): paired devices with their key pins, the
 * access list of each device, automations, and the admin page's owner, sessions and lockout
 * counters. WAL with synchronous=FULL: a committed pairing survives a power cut. The state dir
 * is 0700 and the database files 0600.
 */
import { DatabaseSync } from 'node:sqlite';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { HubError } from './errors.ts';
import type { PairingMode } from '../pairing/index.ts';

/** A paired device as the hub keeps it. */
export interface HubDeviceRecord {
  readonly serial: string;
  readonly model: string;
  /**
   * The device's model document (canonical bulwark.model/v1 JSON) as it gave it while pairing;
   * absent for a device paired before hubs kept it (its model is then the built-in of that id).
   */
  readonly modelDocument?: string;
  readonly host: string;
  readonly port: number;
  /** SHA-256 of the device's SubjectPublicKeyInfo, confirmed by pairing or by the device's signed key rotation. */
  readonly pin: Buffer;
  /** The pin before the device's last key rotation, kept until the device is seen on the new key. */
  readonly previousPin?: Buffer;
  readonly mode: PairingMode;
  readonly pairedAt: string;
}

/**
 * "When `sensor`'s `capability` crosses `threshold` (going `above` or `below`), run `action` on `target`'s
 * capability."
 */
export interface AutomationRule {
  readonly id: number;
  readonly whenSerial: string;
  readonly whenCapability: string;
  readonly op: 'above' | 'below';
  readonly threshold: number;
  readonly thenSerial: string;
  readonly thenCapability: string;
  readonly thenAction: string;
}

// Version 1 throughout: device_models, device_previous_pins and automation_last_values were added beside
// the tables, so a store from before them opens as it is (its devices have no document, no previous pin, its
// rules no last reading) and an older hub reading a newer store ignores them.
const SCHEMA_VERSION = '1';
/** Largest model document kept for a device, bytes (pairing refuses a larger one). */
const MAX_MODEL_DOCUMENT_BYTES = 65_536;
const DEVICE_SELECT =
  'SELECT d.*, m.document AS model_document, p.pin AS previous_pin FROM devices d' +
  ' LEFT JOIN device_models m USING (serial) LEFT JOIN device_previous_pins p USING (serial)';
const DB_FILE = 'hub.db';

function row<T>(value: unknown): T {
  return value as T;
}

/**
 * The hub's store.
 *
 * @example
 * const store = HubStore.open(stateDir);
 * store.addDevice({ serial, model, host, port, pin, mode, pairedAt }, ['power', 'energy']);
 */
export class HubStore {
  readonly path: string;
  readonly #db: DatabaseSync;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
  }

  /** Opens (or creates) `<stateDir>/hub.db`. */
  static open(stateDir: string): HubStore {
    const path = join(stateDir, DB_FILE);
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
      db.exec(
        `PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA` +
          ` busy_timeout = 2000;
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS devices (
          serial TEXT PRIMARY KEY, model TEXT NOT NULL, host TEXT NOT NULL,
          port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
          pin BLOB NOT NULL CHECK (length(pin) = 32), mode TEXT NOT NULL CHECK (mode IN ('setup-code',
          'push-button')), paired_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS device_models (
          serial TEXT PRIMARY KEY REFERENCES devices(serial) ON DELETE CASCADE,
          document TEXT NOT NULL CHECK (length(CAST(document AS BLOB)) <= ${MAX_MODEL_DOCUMENT_BYTES}));
        CREATE TABLE IF NOT EXISTS device_previous_pins (
          serial TEXT PRIMARY KEY REFERENCES devices(serial) ON DELETE CASCADE,
          pin BLOB NOT NULL CHECK (length(pin) = 32));
        CREATE TABLE IF NOT EXISTS access (
          serial TEXT NOT NULL REFERENCES devices(serial) ON DELETE CASCADE, capability TEXT NOT NULL,
          PRIMARY KEY (serial, capability));
        CREATE TABLE IF NOT EXISTS automations (
          id INTEGER PRIMARY KEY, when_serial TEXT NOT NULL, when_capability TEXT NOT NULL,
          op TEXT NOT NULL CHECK (op IN ('above', 'below')),
          threshold REAL NOT NULL, then_serial TEXT NOT NULL, then_capability TEXT NOT NULL,
          then_action TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS automation_last_values (
          id INTEGER PRIMARY KEY REFERENCES automations(id) ON DELETE CASCADE, value REAL NOT NULL);`,
      );
      const version = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema') as
        { value?: string } | undefined;
      if (version === undefined)
        db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema', SCHEMA_VERSION);
      else if (version.value !== SCHEMA_VERSION)
        throw new HubError(
          'HUB_STATE_CORRUPT',
          `hub.db has schema ${String(version.value)}; this hub reads ${SCHEMA_VERSION}`,
        );
    } catch (err) {
      if (err instanceof HubError) throw err;
      throw new HubError('HUB_STATE_CORRUPT', `cannot open ${path}: ${(err as Error).message.slice(0, 120)}`);
    }
    for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
    return new HubStore(path, db);
  }

  /** Closes the database; closing twice is harmless. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #device(r: Record<string, unknown>): HubDeviceRecord {
    return {
      serial: String(r.serial),
      model: String(r.model),
      ...(typeof r.model_document === 'string' ? { modelDocument: r.model_document } : {}),
      host: String(r.host),
      port: Number(r.port),
      pin: Buffer.from(r.pin as Uint8Array),
      ...(r.previous_pin instanceof Uint8Array ? { previousPin: Buffer.from(r.previous_pin) } : {}),
      mode: r.mode as PairingMode,
      pairedAt: String(r.paired_at),
    };
  }

  /** Every paired device, by serial. */
  devices(): HubDeviceRecord[] {
    return this.#db
      .prepare(`${DEVICE_SELECT} ORDER BY serial`)
      .all()
      .map((r) => this.#device(row(r)));
  }

  /** The paired device with this serial, or undefined. */
  device(serial: string): HubDeviceRecord | undefined {
    const r = this.#db.prepare(`${DEVICE_SELECT} WHERE serial = ?`).get(serial);
    return r ? this.#device(row(r)) : undefined;
  }

  /** Adds (or, for a serial paired again, replaces) a device with its initial access list, in one transaction. */
  addDevice(d: HubDeviceRecord, access: readonly string[]): void {
    this.#transaction(() => {
      this.#db.prepare('DELETE FROM devices WHERE serial = ?').run(d.serial);
      this.#db
        .prepare('INSERT INTO devices (serial, model, host, port, pin, mode, paired_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(d.serial, d.model, d.host, d.port, d.pin, d.mode, d.pairedAt);
      if (d.modelDocument !== undefined)
        this.#db.prepare('INSERT INTO device_models (serial, document) VALUES (?, ?)').run(d.serial, d.modelDocument);
      const grant = this.#db.prepare('INSERT INTO access (serial, capability) VALUES (?, ?)');
      for (const c of access) grant.run(d.serial, c);
    });
  }

  /**
   * Re-pins `serial` from `oldPin` to `newPin` in one transaction, keeping `oldPin` as its previous
   * pin; false (and nothing changed) when the device's pin is not `oldPin`.
   */
  rotatePin(serial: string, oldPin: Uint8Array, newPin: Uint8Array): boolean {
    let changed = false;
    this.#transaction(() => {
      const update = this.#db.prepare('UPDATE devices SET pin = ? WHERE serial = ? AND pin = ?');
      changed = Number(update.run(newPin, serial, oldPin).changes) === 1;
      if (changed)
        this.#db
          .prepare(
            'INSERT INTO device_previous_pins (serial, pin) VALUES (?, ?)' +
              ' ON CONFLICT (serial) DO UPDATE SET pin = excluded.pin',
          )
          .run(serial, oldPin);
    });
    return changed;
  }

  /** Records where `serial` is dialled now (it was found at a new address); one statement, so atomic. */
  moveDevice(serial: string, host: string, port: number): boolean {
    return (
      Number(
        this.#db.prepare('UPDATE devices SET host = ?, port = ? WHERE serial = ?').run(host, port, serial).changes,
      ) === 1
    );
  }

  /** Forgets the previous pin of `serial` (the device was seen on its new key). */
  forgetPreviousPin(serial: string): void {
    this.#db.prepare('DELETE FROM device_previous_pins WHERE serial = ?').run(serial);
  }

  /** Forgets a device: its pin, access list and the automations that name it. */
  removeDevice(serial: string): boolean {
    let removed = false;
    this.#transaction(() => {
      removed = Number(this.#db.prepare('DELETE FROM devices WHERE serial = ?').run(serial).changes) > 0;
      this.#db.prepare('DELETE FROM automations WHERE when_serial = ? OR then_serial = ?').run(serial, serial);
    });
    return removed;
  }

  /** The capabilities the hub may use on `serial`. */
  access(serial: string): string[] {
    return this.#db
      .prepare('SELECT capability FROM access WHERE serial = ? ORDER BY capability')
      .all(serial)
      .map((r) => String(row<{ capability: string }>(r).capability));
  }

  /** Grants (`allowed`) or revokes the hub's use of one capability on `serial`. */
  setAccess(serial: string, capability: string, allowed: boolean): void {
    if (allowed)
      this.#db.prepare('INSERT OR IGNORE INTO access (serial, capability) VALUES (?, ?)').run(serial, capability);
    else this.#db.prepare('DELETE FROM access WHERE serial = ? AND capability = ?').run(serial, capability);
  }

  /** Every automation, by id. */
  automations(): AutomationRule[] {
    return this.#db
      .prepare('SELECT * FROM automations ORDER BY id')
      .all()
      .map((raw) => {
        const r = row<Record<string, unknown>>(raw);
        return {
          id: Number(r.id),
          whenSerial: String(r.when_serial),
          whenCapability: String(r.when_capability),
          op: r.op as 'above' | 'below',
          threshold: Number(r.threshold),
          thenSerial: String(r.then_serial),
          thenCapability: String(r.then_capability),
          thenAction: String(r.then_action),
        };
      });
  }

  /** Stores an automation and returns it with its new id. */
  addAutomation(rule: Omit<AutomationRule, 'id'>): AutomationRule {
    const r = this.#db
      .prepare(
        'INSERT INTO automations (when_serial, when_capability, op, threshold, then_serial, then_capability, ' +
          'then_action) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        rule.whenSerial,
        rule.whenCapability,
        rule.op,
        rule.threshold,
        rule.thenSerial,
        rule.thenCapability,
        rule.thenAction,
      );
    return { ...rule, id: Number(r.lastInsertRowid) };
  }

  /** Deletes an automation; false when there was none with this id. */
  removeAutomation(id: number): boolean {
    return Number(this.#db.prepare('DELETE FROM automations WHERE id = ?').run(id).changes) > 0;
  }

  /** The last reading each automation saw (rule id -> value), so a crossing across a hub restart is not missed. */
  automationLastValues(): Map<number, number> {
    const rows = this.#db.prepare('SELECT id, value FROM automation_last_values').all();
    return new Map(rows.map((r) => [Number(row<{ id: number }>(r).id), Number(row<{ value: number }>(r).value)]));
  }

  /** Records the last reading of each rule in `values`, in one transaction; a rule gone meanwhile is skipped. */
  setAutomationLastValues(values: ReadonlyMap<number, number>): void {
    if (values.size === 0) return;
    this.#transaction(() => {
      const put = this.#db.prepare(
        'INSERT INTO automation_last_values (id, value) SELECT id, ? FROM automations WHERE id = ?' +
          ' ON CONFLICT (id) DO UPDATE SET value = excluded.value',
      );
      for (const [id, value] of values) put.run(value, id);
    });
  }

  /** A small named value (owner record, sessions, lockout counters). */
  getMeta(key: string): string | undefined {
    const r = this.#db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value?: string } | undefined;
    return r?.value;
  }

  /** Sets a small named value; `undefined` deletes it. */
  setMeta(key: string, value: string | undefined): void {
    if (value === undefined) this.#db.prepare('DELETE FROM meta WHERE key = ?').run(key);
    else
      this.#db
        .prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
        .run(key, value);
  }

  #transaction(work: () => void): void {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      work();
      this.#db.exec('COMMIT');
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
  }
}
