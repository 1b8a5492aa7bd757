/**
 * The telemetry writer thread of the SQLite store: its own connection to the same database
 * file, inserting each batch in one transaction, off the event loop that reads the broker and
 * answers owners.
 *
 * Durability without a disk wait per batch: this connection commits with synchronous=NORMAL
 * (in WAL mode a commit survives a crash of the process, not yet of the machine) and makes the
 * WAL durable with a checkpoint every `checkpointMs`. A device asks whether its messages are
 * stored only about those acknowledged at least 5 s earlier (cloudlink's syncAgeMs), by which
 * time a checkpoint has synced them, so a receipt never covers a message a power cut could
 * still take away; measured, this kept a busy neighbour's fsyncs from stalling ingestion.
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

const { path, synchronous, checkpointMs } = workerData as {
  path: string;
  synchronous: 'FULL' | 'NORMAL';
  checkpointMs: number;
};
const db = new DatabaseSync(path);
db.exec('PRAGMA journal_mode = WAL');
db.exec(`PRAGMA synchronous = ${synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
db.exec('PRAGMA busy_timeout = 10000');
let unsynced = false;
const checkpoint = setInterval(() => {
  if (!unsynced) return;
  unsynced = false;
  try {
    db.exec('PRAGMA wal_checkpoint(PASSIVE)');
  } catch {
    unsynced = true;
  }
}, checkpointMs);
const insert = db.prepare(
  'INSERT INTO telemetry (serial, seq, at, received_at, stored_at, values_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ' +
    'ON CONFLICT (serial, seq) DO NOTHING',
);

parentPort!.on('message', (b: Batch | 'close') => {
  if (b === 'close') {
    clearInterval(checkpoint);
    try {
      db.exec('PRAGMA wal_checkpoint(PASSIVE)');
    } catch {
      /* closing anyway */
    }
    db.close();
    parentPort!.close();
    return;
  }
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      for (let i = 0; i < b.serial.length; i++)
        insert.run(b.serial[i]!, b.seq[i]!, b.at[i]!, b.receivedAt[i]!, b.storedAt, b.values[i]!);
      db.exec('COMMIT');
      unsynced = true;
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
    parentPort!.postMessage({ id: b.id, ok: true, committedAt: Date.now() });
  } catch (err) {
    parentPort!.postMessage({ id: b.id, ok: false, error: (err as Error).message });
  }
});
