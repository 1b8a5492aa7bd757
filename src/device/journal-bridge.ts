/** The device's connection journal, opened in its state dir. */
import type { JournalRow } from '../web/index.ts';

/** One thing to record. */
export interface DeviceJournalEntry {
  readonly surface: string;
  readonly source: string;
  readonly event: string;
  readonly identity?: string;
  readonly result: string;
  readonly detail?: string;
}

/** The journal as the agent uses it. */
export interface DeviceJournal {
  record(entry: DeviceJournalEntry): void;
  list(o: { limit: number }): Promise<readonly JournalRow[]>;
  erase(): Promise<void>;
  close(): Promise<void>;
}

/** TEMPORARY in-memory stand-in until src/journal lands (replaced in the next commit). */
export async function openJournal(_stateDir: string, _privacy: 'standard' | 'sensitive'): Promise<DeviceJournal> {
  let rows: JournalRow[] = [];
  return {
    record(e) { rows.unshift({ at: new Date().toISOString(), ...e }); rows = rows.slice(0, 5000); },
    async list(o) { return rows.slice(0, o.limit); },
    async erase() { rows = []; },
    async close() {},
  };
}
