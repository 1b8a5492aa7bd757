/**
 * The agent's view of the connection journal (src/journal): recording never throws into a
 * request path (a refused entry is reported, the request goes on), and the owner's page reads
 * rows newest first.
 */
import { join } from 'node:path';
import {
  ConnectionJournal,
  JOURNAL_FILE_NAME,
  type JournalClock,
  type JournalConfig,
  type JournalEntry,
  type JournalRecordInput,
} from '../journal/index.ts';
import { moveStateAside, type DamagedStateSink } from '../storage/index.ts';
import type { PrivacyClass } from '../journal/index.ts';
import type { JournalListOptions, JournalRow } from '../web/index.ts';

/** One thing to record (the journal validates and redacts it). */
export type DeviceJournalEntry = JournalRecordInput;

/** The journal as the agent uses it. */
export interface DeviceJournal {
  /** Records an entry (the row's fields but its time, which the journal sets). */
  record(entry: Omit<JournalRow, 'at'>): void;
  list(o: JournalListOptions): Promise<readonly JournalRow[]>;
  erase(): Promise<void>;
  close(): Promise<void>;
  /** Turns the journal's non-essential monitoring on or off (the owner's choice; src/journal keeps the rest). */
  setMonitoring(on: boolean): void;
  /** Whether the non-essential monitoring is on. */
  readonly monitoring: boolean;
}

/** An entry as the owner's page shows it. */
function journalRow(e: JournalEntry): JournalRow {
  return {
    at: e.at,
    surface: e.surface,
    source: e.source,
    event: e.event,
    result: e.result,
    ...(e.identity ? { identity: e.identity } : {}),
    ...(e.detail ? { detail: e.detail } : {}),
  };
}

/**
 * Opens the journal in `stateDir` with the model's privacy class. A journal file that cannot be
 * opened (unreadable, a folder or a link in its place) is moved aside to `damaged` and a new one
 * begins: the unit keeps recording rather than refusing to start.
 */
export async function openJournal(
  stateDir: string,
  privacyClass: PrivacyClass,
  warn: (msg: string) => void = () => undefined,
  config?: Partial<JournalConfig>,
  damaged?: DamagedStateSink,
  clock?: JournalClock,
): Promise<DeviceJournal> {
  const open = (): Promise<ConnectionJournal> =>
    ConnectionJournal.open({
      stateDir,
      privacyClass,
      ...(config ? { config } : {}),
      ...(clock ? { clock } : {}),
      onError: (err) => warn(`journal: ${err.code}`),
    });
  const journal = await open().catch(async (err: unknown) => {
    const code = (err as { code?: string }).code ?? 'error';
    if (!damaged || code === 'JOURNAL_CONFIG_INVALID') throw err;
    await moveStateAside(join(stateDir, JOURNAL_FILE_NAME), `cannot be opened (${code})`, damaged);
    return open();
  });
  return {
    record(entry) {
      try {
        journal.record(entry as JournalRecordInput);
      } catch (err) {
        warn(`journal entry refused: ${(err as { code?: string }).code ?? 'error'}`);
      }
    },
    // A promise for the web side's interface; a throw from the journal becomes its rejection.
    list: (o) =>
      Promise.resolve().then(() =>
        journal
          .list({ limit: Math.min(Math.max(1, o.limit), 1000), ...(o.tier ? { tier: o.tier } : {}) })
          .map(journalRow),
      ),
    erase: () => journal.erase(),
    close: () => journal.close(),
    setMonitoring: (on) => journal.setMonitoring(on),
    get monitoring() {
      return journal.monitoring;
    },
  };
}
