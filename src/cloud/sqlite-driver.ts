/**
 * The embedded database: node:sqlite in WAL mode. node:sqlite is synchronous, so each statement
 * runs whole within one turn of the event loop; only a transaction spans turns, and while one
 * is open every other statement waits for it (one connection, one writer).
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from './errors.ts';
import type { SqlDriver, SqlRunner } from './sql-store.ts';
import type { TelemetryRow } from './store.ts';

/** Settings of the SQLite driver. */
export interface SqliteOptions {
  /** The database file (':memory:' for tests that need no file). */
  readonly path: string;
  /**
   * 'full' fsyncs every commit (survives power loss); 'normal' fsyncs at checkpoints only
   * (survives a crash of the process, SQLite's recommendation for WAL).
   */
  readonly synchronous?: 'full' | 'normal';
  /**
   * Insert telemetry from a worker thread with its own connection (default for a file), so a
   * commit waiting for the disk does not stop the event loop.
   */
  readonly writerThread?: boolean;
  /**
   * The writer thread commits telemetry without waiting for the disk and makes it durable with
   * a WAL checkpoint this often, ms (see sqlite-writer.ts); 0 waits for the disk on every commit.
   */
  readonly telemetryCheckpointMs?: number;
}

/** The writer thread's entry, beside this file (.ts in a checkout, .js when built). */
function writerEntry(): URL {
  return new URL(`./sqlite-writer.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
}

/** Telemetry inserts through a worker thread; resolves each batch with its commit time. */
class TelemetryWriter {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(at: number): void; reject(err: Error): void }>();
  #next = 1;
  #failed: Error | undefined;

  constructor(path: string, synchronous: 'FULL' | 'NORMAL', checkpointMs: number) {
    this.#worker = new Worker(writerEntry(), { workerData: { path, synchronous, checkpointMs } });
    this.#worker.unref();
    this.#worker.on('message', (m: { id: number; ok: boolean; committedAt?: number; error?: string }) => {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.ok) p?.resolve(m.committedAt!); else p?.reject(new StoreError('STORE_FAILED', `telemetry insert failed: ${m.error}`));
    });
    this.#worker.on('error', (err) => this.#fail(err));
    this.#worker.on('exit', () => this.#fail(new StoreError('STORE_CLOSED', 'the telemetry writer stopped')));
  }

  #fail(err: Error): void {
    this.#failed ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  insert(rows: readonly TelemetryRow[], storedAt: number): Promise<number> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    const batch = { id, storedAt, serial: [] as string[], seq: [] as number[], at: [] as number[], receivedAt: [] as number[], values: [] as string[] };
    for (const r of rows) { batch.serial.push(r.serial); batch.seq.push(r.seq); batch.at.push(r.at); batch.receivedAt.push(r.receivedAt); batch.values.push(JSON.stringify(r.values)); }
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage(batch);
    });
  }

  async close(): Promise<void> {
    if (this.#failed) return;
    const exited = new Promise((r) => this.#worker.once('exit', r));
    this.#worker.postMessage('close');
    await exited;
  }
}

function toSqlite(sql: string): string {
  return sql.replace(/\$(\d+)/g, '?$1');
}

type Param = null | number | bigint | string | Uint8Array;

function params(list: readonly unknown[]): Param[] {
  return list.map((v) => (v === undefined ? null : typeof v === 'boolean' ? (v ? 1 : 0) : v as Param));
}

/** Opens (creating) a SQLite database as a store driver. */
export function openSqliteDriver(o: SqliteOptions): SqlDriver {
  if (o.path !== ':memory:') mkdirSync(dirname(o.path), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(o.path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${o.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`); // see SqliteOptions
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA foreign_keys = ON');
  const cache = new Map<string, StatementSync>();
  const prepare = (sql: string): StatementSync => {
    let s = cache.get(sql);
    if (!s) {
      s = db.prepare(toSqlite(sql));
      if (cache.size < 256) cache.set(sql, s);
    }
    return s;
  };
  let closed = false;
  const sync = o.synchronous === 'normal' ? 'NORMAL' : 'FULL';
  let writer: TelemetryWriter | undefined;
  const useWriter = o.path !== ':memory:' && o.writerThread !== false;
  // The transaction in progress; statements from outside it wait for it.
  let current: Promise<unknown> | null = null;
  let queue: Promise<void> = Promise.resolve();

  const direct: SqlRunner = {
    async all<T extends object>(sql: string, p: readonly unknown[] = []): Promise<T[]> {
      return prepare(sql).all(...params(p)) as T[];
    },
    async run(sql: string, p: readonly unknown[] = []): Promise<number> {
      return Number(prepare(sql).run(...params(p)).changes);
    },
  };

  async function idle(): Promise<void> {
    while (current) await current.catch(() => undefined);
    if (closed) throw new StoreError('STORE_CLOSED', 'the store is closed');
  }

  const insert = (): StatementSync => prepare('INSERT INTO telemetry (serial, seq, at, received_at, stored_at, values_json) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (serial, seq) DO NOTHING');

  return {
    dialect: 'sqlite',
    async all<T extends object>(sql: string, p: readonly unknown[] = []): Promise<T[]> {
      if (current || closed) await idle();
      return direct.all<T>(sql, p);
    },
    async run(sql: string, p: readonly unknown[] = []): Promise<number> {
      if (current || closed) await idle();
      return direct.run(sql, p);
    },
    async exec(sql: string): Promise<void> {
      await idle();
      db.exec(sql);
    },
    async transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
      // Transactions queue behind each other; `current` then holds plain statements back.
      const previous = queue;
      let release!: () => void;
      queue = new Promise<void>((resolve) => { release = resolve; });
      try {
        await previous;
        if (closed) throw new StoreError('STORE_CLOSED', 'the store is closed');
        const run = (async () => {
          db.exec('BEGIN IMMEDIATE');
          try {
            const result = await fn(direct);
            db.exec('COMMIT');
            return result;
          } catch (err) {
            db.exec('ROLLBACK');
            throw err;
          }
        })();
        current = run;
        try { return await run; } finally { current = null; }
      } finally {
        release();
      }
    },
    async insertTelemetry(rows: readonly TelemetryRow[], storedAt: number): Promise<number> {
      if (useWriter) {
        if (closed) throw new StoreError('STORE_CLOSED', 'the store is closed');
        const every = o.telemetryCheckpointMs ?? 1_000;
        writer ??= new TelemetryWriter(o.path, every > 0 ? 'NORMAL' : sync, Math.max(every, 100));
        return writer.insert(rows, storedAt);
      }
      if (current || closed) await idle();
      const stmt = insert();
      // Synchronous from BEGIN to COMMIT: nothing else can run in between.
      db.exec('BEGIN IMMEDIATE');
      try {
        for (const r of rows) stmt.run(r.serial, r.seq, r.at, r.receivedAt, storedAt, JSON.stringify(r.values));
        db.exec('COMMIT');
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      }
      return Date.now();
    },
    async close(): Promise<void> {
      await idle().catch(() => undefined);
      if (closed) return;
      closed = true;
      await writer?.close();
      db.close();
    },
  };
}
