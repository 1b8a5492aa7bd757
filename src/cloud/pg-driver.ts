/**
 * PostgreSQL through `pg`: a bounded pool, int8 read back as numbers (every value we store fits
 * in 2^53), row locks for the claim, and telemetry inserted in one statement per batch.
 */
import pg from 'pg';
import { StoreError } from './errors.ts';
import type { SqlDriver, SqlRunner } from './sql-store.ts';
import type { TelemetryRow } from './store.ts';

/** Settings of the PostgreSQL driver. */
export interface PostgresOptions {
  /** `postgres://user@host:port/db` (credentials from the URL or the usual PG* environment). */
  readonly url: string;
  /** Most pooled connections. */
  readonly maxConnections?: number;
  /** A statement running longer is cancelled, ms. */
  readonly statementTimeoutMs?: number;
}

const INT8 = 20;

function typeParser(oid: number, format?: string): (value: string) => unknown {
  if (oid === INT8) return (v: string) => Number(v);
  return (pg.types.getTypeParser as (oid: number, format?: string) => (value: string) => unknown)(oid, format);
}

function wrap(err: unknown): never {
  throw new StoreError(
    'STORE_FAILED',
    `database error: ${(err as { code?: string }).code ?? (err as Error).message}`,
    {},
    { cause: err },
  );
}

function runner(q: pg.Pool | pg.PoolClient): SqlRunner {
  return {
    async all<T extends object>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      try {
        return (await q.query(sql, params as unknown[])).rows as T[];
      } catch (err) {
        return wrap(err);
      }
    },
    async run(sql: string, params: readonly unknown[] = []): Promise<number> {
      try {
        return (await q.query(sql, params as unknown[])).rowCount ?? 0;
      } catch (err) {
        return wrap(err);
      }
    },
  };
}

/** Schema creation from several instances at once: serialise it on an advisory lock. */
async function execLocked(pool: pg.Pool, sql: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(424242)');
    try {
      await client.query(sql);
    } finally {
      await client.query('SELECT pg_advisory_unlock(424242)');
    }
  } catch (err) {
    wrap(err);
  } finally {
    client.release();
  }
}

async function inTransaction<T>(pool: pg.Pool, fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
  const client = await pool.connect().catch(wrap);
  try {
    await client.query('BEGIN');
    const result = await fn(runner(client));
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function insertTelemetryRows(
  direct: SqlRunner,
  rows: readonly TelemetryRow[],
  storedAt: number,
): Promise<number> {
  const cols: [string[], number[], number[], number[], string[]] = [[], [], [], [], []];
  for (const r of rows) {
    cols[0].push(r.serial);
    cols[1].push(r.seq);
    cols[2].push(r.at);
    cols[3].push(r.receivedAt);
    cols[4].push(JSON.stringify(r.values));
  }
  await direct.run(
    `INSERT INTO telemetry (serial, seq, at, received_at, stored_at, values_json)
     SELECT s, q, a, r, $6, v
     FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[]) AS t(s, q, a, r, v)
     ON CONFLICT (serial, seq) DO NOTHING`,
    [...cols, storedAt],
  );
  return Date.now();
}

/** Connects to PostgreSQL as a store driver (the first query checks the connection). */
export async function openPostgresDriver(o: PostgresOptions): Promise<SqlDriver> {
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.maxConnections ?? 8,
    statement_timeout: o.statementTimeoutMs ?? 15_000,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    types: { getTypeParser: typeParser } as unknown as pg.CustomTypesConfig,
  });
  pool.on('error', () => undefined); // an idle client's error: the pool replaces it
  const direct = runner(pool);
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end();
    wrap(err);
  }
  return {
    dialect: 'postgres',
    ...direct,
    exec: (sql: string): Promise<void> => execLocked(pool, sql),
    transaction: <T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> => inTransaction(pool, fn),
    insertTelemetry: (rows: readonly TelemetryRow[], storedAt: number): Promise<number> =>
      insertTelemetryRows(direct, rows, storedAt),
    async close(): Promise<void> {
      await pool.end();
    },
  };
}
