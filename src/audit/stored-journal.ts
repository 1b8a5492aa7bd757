/**
 * The device's connection journal as stored in its state folder (src/journal's JSON lines),
 * read with bounds: the white-box checks look in it for what the auditor's own probes caused.
 */
import { join } from 'node:path';
import { JOURNAL_FILE_NAME, type JournalEntry } from '../journal/index.ts';
import type { AuditContext } from './context.ts';
import { readBounded } from './files.ts';

/** A journal entry as stored (src/journal's own type). */
export type StoredJournalEntry = JournalEntry;

/** The journal of the state folder `stateDir`, oldest first; undefined when absent. Lines not entries are skipped. */
export async function readJournalFile(stateDir: string, maxBytes: number): Promise<StoredJournalEntry[] | undefined> {
  const f = await readBounded(join(stateDir, JOURNAL_FILE_NAME), maxBytes, { tail: true });
  if (!f.ok) return undefined;
  const out: StoredJournalEntry[] = [];
  for (const line of f.text.split('\n')) {
    if (line === '') continue;
    try {
      const e = JSON.parse(line) as StoredJournalEntry;
      if (isEntry(e)) out.push(e);
    } catch {
      /* a torn line */
    }
  }
  return out;
}

function isEntry(e: StoredJournalEntry): boolean {
  return (
    typeof e.at === 'string' &&
    typeof e.source === 'string' &&
    typeof e.event === 'string' &&
    typeof e.result === 'string' &&
    typeof e.surface === 'string'
  );
}

/** The journal in --state, oldest first; undefined when absent. */
export async function readJournal(ctx: AuditContext): Promise<StoredJournalEntry[] | undefined> {
  if (ctx.inputs.stateDir === undefined) return undefined;
  return readJournalFile(ctx.inputs.stateDir, ctx.inputs.limits.maxInputFileBytes);
}

/** Polls the journal until `ready` holds or the settle time is up (the device writes in batches). */
export async function settledJournal(
  ctx: AuditContext,
  ready: (entries: StoredJournalEntry[]) => boolean,
): Promise<StoredJournalEntry[] | undefined> {
  const until = Date.now() + ctx.inputs.limits.journalSettleMs;
  for (;;) {
    const entries = await readJournal(ctx);
    if (entries === undefined || ready(entries) || Date.now() >= until) return entries;
    await new Promise((r) => setTimeout(r, 100));
  }
}
