/**
 * The telemetry writer thread of the SQLite store: its own connection to the same database
 * file, inserting each batch in one transaction. On a disk where a commit waits for the device
 * (fsync), that wait is here and not on the event loop that reads the broker and answers owners.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DatabaseSync } from 'node:sqlite';

interface Batch {
  readonly id: number;
  readonly storedAt: number;
  /** Columns: serial, seq, at, receivedAt, valuesJson (parallel arrays, cheap to transfer). */
  readonly serial: string[];
  readonly seq: number[];
  readonly at: number[];
  readonly receivedAt: number[];
  readonly values: string[];
}

const { path, synchronous } = workerData as { path: string; synchronous: 'FULL' | 'NORMAL' };
const db = new DatabaseSync(path);
db.exec('PRAGMA journal_mode = WAL');
db.exec(`PRAGMA synchronous = ${synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
db.exec('PRAGMA busy_timeout = 10000');
const insert = db.prepare('INSERT INTO telemetry (serial, seq, at, received_at, stored_at, values_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (serial, seq) DO NOTHING');

parentPort!.on('message', (b: Batch | 'close') => {
  if (b === 'close') { db.close(); parentPort!.close(); return; }
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      for (let i = 0; i < b.serial.length; i++) insert.run(b.serial[i]!, b.seq[i]!, b.at[i]!, b.receivedAt[i]!, b.storedAt, b.values[i]!);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
    parentPort!.postMessage({ id: b.id, ok: true, committedAt: Date.now() });
  } catch (err) {
    parentPort!.postMessage({ id: b.id, ok: false, error: (err as Error).message });
  }
});
