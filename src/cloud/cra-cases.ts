/**
 * The CRA reporting cases over the store: what the CLI, the maker API and the maker pages do to
 * a case (open one for an actively exploited vulnerability or a severe incident, add facts,
 * record the fix, mark a report submitted) and the view of every case with its deadlines and
 * drafts. The time is an argument, so the same calls run under a fake clock.
 */
import { randomBytes } from 'node:crypto';
import { CraError, NotFoundError } from './errors.ts';
import {
  CRA_REPORTS,
  deadlinesOf,
  dueReports,
  type CraCaseKind,
  type CraCaseRecord,
  type CraDeadline,
  type DueReport,
} from './cra-reporting.ts';
import {
  draftReport,
  mergeCraFacts,
  parseAwareTime,
  parseCaseRef,
  parseReportKind,
  type CraDraft,
} from './cra-drafts.ts';
import type { CloudStore } from './store.ts';

/** Most cases a view lists. */
export const MAX_CRA_CASES = 1_000;

/**
 * Opens a case: `input.ref` (a vulnerability id or an incident's title), `input.knownAt` (ISO time
 * the maker became aware) and any facts. The same (kind, ref) again returns the case already open.
 */
export async function openCase(
  store: CloudStore,
  kind: CraCaseKind,
  input: Readonly<Record<string, unknown>>,
  now: number,
): Promise<{ record: CraCaseRecord; created: boolean }> {
  const ref = parseCaseRef(input.ref, kind === 'vulnerability' ? 'vuln' : 'incident');
  const awareAt = parseAwareTime(input.knownAt, 'knownAt', now);
  const facts = mergeCraFacts({}, input);
  const id = `cra-${randomBytes(6).toString('hex')}`;
  return store.openCraCase({ id, kind, ref, awareAt, recordedAt: now, facts });
}

async function existing(store: CloudStore, id: string): Promise<CraCaseRecord> {
  const c = /^cra-[0-9a-f]{12}$/.test(id) ? await store.craCase(id) : undefined;
  if (!c) throw new NotFoundError('no such CRA case');
  return c;
}

/** Adds facts to a case (absent ones are kept). */
export async function addFacts(
  store: CloudStore,
  id: string,
  input: Readonly<Record<string, unknown>>,
): Promise<CraCaseRecord> {
  const c = await existing(store, id);
  await store.setCraFacts(id, mergeCraFacts(c.facts, input));
  return existing(store, id);
}

/** Records when a corrective or mitigating measure became available (vulnerabilities only). */
export async function recordFix(
  store: CloudStore,
  id: string,
  availableAt: unknown,
  now: number,
): Promise<CraCaseRecord> {
  const c = await existing(store, id);
  if (c.kind !== 'vulnerability') throw new CraError('CRA_CASE_INVALID', 'only a vulnerability case has a fix date');
  const at = parseAwareTime(availableAt, 'availableAt', now);
  if (at < c.awareAt) throw new CraError('CRA_CASE_INVALID', 'availableAt: before the case became known');
  await store.setCraFix(id, at);
  return existing(store, id);
}

/** Marks one report submitted by a person (`by` names who: 'cli', 'maker-api', 'maker-page'). */
export async function markSubmitted(
  store: CloudStore,
  id: string,
  report: unknown,
  by: string,
  now: number,
): Promise<CraCaseRecord> {
  const kind = parseReportKind(report);
  await existing(store, id);
  await store.recordCraSubmission(id, kind, now, by);
  return existing(store, id);
}

/** A case with its deadlines and the draft of each report. */
export interface CraCaseView extends CraCaseRecord {
  readonly deadlines: readonly CraDeadline[];
  readonly drafts: readonly CraDraft[];
}

/** Every case (newest first) with deadlines and drafts, and the reports due across them. */
export async function craOverview(store: CloudStore, now: number): Promise<{ cases: CraCaseView[]; due: DueReport[] }> {
  const cases = await store.craCases(MAX_CRA_CASES);
  const views = cases.map((c) => ({
    ...c,
    deadlines: deadlinesOf(c, now),
    drafts: CRA_REPORTS.map((r) => draftReport(c, r)),
  }));
  return { cases: views, due: dueReports(cases, now) };
}
