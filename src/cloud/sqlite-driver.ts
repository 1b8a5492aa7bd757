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
      if (m.ok) p?.resolve(m.committedAt!);
      else p?.reject(new StoreError('STORE_FAILED', `telemetry insert failed: ${m.error}`));
    });
    this.#worker.on('error', (err: Error) => this.#fail(err));
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
    const batch = {
      id,
      storedAt,
      serial: [] as string[],
      seq: [] as number[],
      at: [] as number[],
      receivedAt: [] as number[],
      values: [] as string[],
    };
    for (const r of rows) {
      batch.serial.push(r.serial);
      batch.seq.push(r.seq);
      batch.at.push(r.at);
      batch.receivedAt.push(r.receivedAt);
      batch.values.push(JSON.stringify(r.values));
    }
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage(batch);
    });
  }

  async close(): Promise<void> {
    if (this.#failed) return;
    const exited = new Promise((r) => this.#worker.once('exit', r));
    // Unref'd so an idle writer never holds a process open; while closing it must, or a process with nothing else
    // alive ends mid-close (exit code 13, the last commit and checkpoint unconfirmed).
    this.#worker.ref();
    this.#worker.postMessage('close');
    await exited;
  }
}

/** Runs `fn` now, as an async function would: its result resolves the promise, what it throws rejects it. */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}

function toSqlite(sql: string): string {
  return sql.replace(/\$(\d+)/g, '?$1');
}

type Param = null | number | bigint | string | Uint8Array;

function params(list: readonly unknown[]): Param[] {
  return list.map((v) => (v === undefined ? null : typeof v === 'boolean' ? (v ? 1 : 0) : (v as Param)));
}

/** Most prepared statements kept for reuse. */
const MAX_CACHED_STATEMENTS = 256;

const INSERT_TELEMETRY_SQL =
  'INSERT INTO telemetry (serial, seq, at, received_at, stored_at, values_json) ' +
  'VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (serial, seq) DO NOTHING';

/** One connection: statements, transactions queued one at a time, and telemetry inserts. */
class SqliteConnection {
  readonly #o: SqliteOptions;
  readonly #db: DatabaseSync;
  readonly #cache = new Map<string, StatementSync>();
  readonly #sync: 'FULL' | 'NORMAL';
  readonly #useWriter: boolean;
  #writer: TelemetryWriter | undefined;
  #closed = false;
  // The transaction in progress; statements from outside it wait for it.
  #current: Promise<unknown> | null = null;
  #queue: Promise<void> = Promise.resolve();
  /** Statements that run at once, whatever else is waiting: what a transaction's body uses. */
  readonly direct: SqlRunner = {
    all: <T extends object>(sql: string, p: readonly unknown[] = []): Promise<T[]> =>
      settle(() => this.#prepare(sql).all(...params(p)) as T[]),
    run: (sql: string, p: readonly unknown[] = []): Promise<number> =>
      settle(() => Number(this.#prepare(sql).run(...params(p)).changes)),
  };

  constructor(o: SqliteOptions) {
    this.#o = o;
    if (o.path !== ':memory:') mkdirSync(dirname(o.path), { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(o.path);
    this.#sync = o.synchronous === 'normal' ? 'NORMAL' : 'FULL';
    this.#db.exec('PRAGMA journal_mode = WAL');
    this.#db.exec(`PRAGMA synchronous = ${this.#sync}`); // see SqliteOptions
    this.#db.exec('PRAGMA busy_timeout = 5000');
    this.#db.exec('PRAGMA foreign_keys = ON');
    this.#useWriter = o.path !== ':memory:' && o.writerThread !== false;
  }

  #prepare(sql: string): StatementSync {
    let s = this.#cache.get(sql);
    if (!s) {
      s = this.#db.prepare(toSqlite(sql));
      if (this.#cache.size < MAX_CACHED_STATEMENTS) this.#cache.set(sql, s);
    }
    return s;
  }

  /** Waits for the transaction in progress (and any that follow); throws when the store is closed. */
  async idle(): Promise<void> {
    while (this.#current) await this.#current.catch(() => undefined);
    if (this.#closed) throw new StoreError('STORE_CLOSED', 'the store is closed');
  }

  /** Resolves at once unless a transaction is open or the store is closed. */
  async ready(): Promise<void> {
    if (this.#current || this.#closed) await this.idle();
  }

  async exec(sql: string): Promise<void> {
    await this.idle();
    this.#db.exec(sql);
  }

  async transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    // Transactions queue behind each other; `current` then holds plain statements back.
    const previous = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      await previous;
      if (this.#closed) throw new StoreError('STORE_CLOSED', 'the store is closed');
      const run = this.#runTransaction(fn);
      this.#current = run;
      try {
        return await run;
      } finally {
        this.#current = null;
      }
    } finally {
      release();
    }
  }

  async #runTransaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = await fn(this.direct);
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  async insertTelemetry(rows: readonly TelemetryRow[], storedAt: number): Promise<number> {
    if (this.#useWriter) {
      if (this.#closed) throw new StoreError('STORE_CLOSED', 'the store is closed');
      const every = this.#o.telemetryCheckpointMs ?? 1_000;
      this.#writer ??= new TelemetryWriter(this.#o.path, every > 0 ? 'NORMAL' : this.#sync, Math.max(every, 100));
      return this.#writer.insert(rows, storedAt);
    }
    await this.ready();
    const stmt = this.#prepare(INSERT_TELEMETRY_SQL);
    // Synchronous from BEGIN to COMMIT: nothing else can run in between.
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const r of rows) stmt.run(r.serial, r.seq, r.at, r.receivedAt, storedAt, JSON.stringify(r.values));
      this.#db.exec('COMMIT');
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
    return Date.now();
  }

  async close(): Promise<void> {
    await this.idle().catch(() => undefined);
    if (this.#closed) return;
    this.#closed = true;
    await this.#writer?.close();
    this.#db.close();
  }
}

/** Opens (creating) a SQLite database as a store driver. */
export function openSqliteDriver(o: SqliteOptions): SqlDriver {
  const connection = new SqliteConnection(o);
  return {
    dialect: 'sqlite',
    async all<T extends object>(sql: string, p: readonly unknown[] = []): Promise<T[]> {
      await connection.ready();
      return connection.direct.all<T>(sql, p);
    },
    async run(sql: string, p: readonly unknown[] = []): Promise<number> {
      await connection.ready();
      return connection.direct.run(sql, p);
    },
    exec: (sql) => connection.exec(sql),
    transaction: (fn) => connection.transaction(fn),
    insertTelemetry: (rows, storedAt) => connection.insertTelemetry(rows, storedAt),
    close: () => connection.close(),
  };
}
