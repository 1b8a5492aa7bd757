/**
 * The store's part for the maker's security duties, in the SQL both databases share: the
 * disclosure reports received by the intake, the CRA reporting cases (Article 14 clocks) with
 * what was submitted, and the CSAF advisories the cloud publishes. Tables beside the others,
 * created if missing.
 */
import type { CraCaseRecord, CraFacts, CraReportKind } from './cra-reporting.ts';

/** The tables. */
export const SECURITY_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS disclosure_reports (
  id TEXT PRIMARY KEY, received_at BIGINT NOT NULL, summary TEXT NOT NULL, details TEXT NOT NULL,
  product TEXT NOT NULL, version TEXT NOT NULL, contact TEXT NULL);
CREATE INDEX IF NOT EXISTS disclosure_reports_received ON disclosure_reports (received_at);
CREATE TABLE IF NOT EXISTS cra_cases (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, ref TEXT NOT NULL, aware_at BIGINT NOT NULL, recorded_at BIGINT NOT NULL,
  fix_at BIGINT NULL, facts_json TEXT NOT NULL, UNIQUE (kind, ref));
CREATE TABLE IF NOT EXISTS cra_submissions (
  case_id TEXT NOT NULL, report TEXT NOT NULL, submitted_at BIGINT NOT NULL, submitted_by TEXT NOT NULL,
  PRIMARY KEY (case_id, report));
CREATE TABLE IF NOT EXISTS csaf_advisories (
  path TEXT PRIMARY KEY, tracking_id TEXT NOT NULL, current_release_at BIGINT NOT NULL, document TEXT NOT NULL,
  sha512 TEXT NOT NULL, published_at BIGINT NOT NULL);
`;

/** One SQL connection or transaction (sql-store.ts's SqlRunner). */
interface Runner {
  all<T extends object>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** A coordinated-disclosure report as stored: plain text, never markup. */
export interface DisclosureReportRecord {
  /** The tracking id the reporter was given. */
  readonly id: string;
  readonly receivedAt: number;
  readonly summary: string;
  readonly details: string;
  readonly product: string;
  readonly version: string;
  readonly contact: string | null;
}

/** A published CSAF advisory. */
export interface CsafAdvisoryRecord {
  /** Its place under the provider's directory: `<year>/<file name>.json`. */
  readonly path: string;
  readonly trackingId: string;
  /** `document.tracking.current_release_date`, ms since the epoch. */
  readonly currentReleaseAt: number;
  /** The document exactly as uploaded (UTF-8 JSON). */
  readonly document: string;
  /** SHA-512 of the document's bytes, hex. */
  readonly sha512: string;
  readonly publishedAt: number;
}

/** Stores a report. */
export async function addDisclosureReport(db: Runner, r: DisclosureReportRecord): Promise<void> {
  await db.run(
    `INSERT INTO disclosure_reports (id, received_at, summary, details, product, version, contact)
    VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [r.id, r.receivedAt, r.summary, r.details, r.product, r.version, r.contact],
  );
}

/** The newest reports first; at most `limit`. */
export async function disclosureReports(db: Runner, limit: number): Promise<DisclosureReportRecord[]> {
  const rows = await db.all<{
    id: string;
    received_at: number | string;
    summary: string;
    details: string;
    product: string;
    version: string;
    contact: string | null;
  }>(
    `SELECT id, received_at, summary, details, product, version, contact FROM disclosure_reports
    ORDER BY received_at DESC, id LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    id: r.id,
    receivedAt: Number(r.received_at),
    summary: r.summary,
    details: r.details,
    product: r.product,
    version: r.version,
    contact: r.contact,
  }));
}

interface CaseRow {
  id: string;
  kind: string;
  ref: string;
  aware_at: number | string;
  recorded_at: number | string;
  fix_at: number | string | null;
  facts_json: string;
}

async function submissionsOf(db: Runner, ids: readonly string[]): Promise<Map<string, CraCaseRecord['submitted']>> {
  const out = new Map<string, Record<string, { at: number; by: string }>>();
  if (ids.length === 0) return out;
  const marks = ids.map((_, i) => `$${i + 1}`).join(', ');
  const rows = await db.all<{ case_id: string; report: string; submitted_at: number | string; submitted_by: string }>(
    `SELECT case_id, report, submitted_at, submitted_by FROM cra_submissions WHERE case_id IN (${marks})`,
    ids,
  );
  for (const r of rows) {
    const m = out.get(r.case_id) ?? {};
    m[r.report] = { at: Number(r.submitted_at), by: r.submitted_by };
    out.set(r.case_id, m);
  }
  return out;
}

function caseOf(r: CaseRow, submitted: CraCaseRecord['submitted']): CraCaseRecord {
  return {
    id: r.id,
    kind: r.kind as CraCaseRecord['kind'],
    ref: r.ref,
    awareAt: Number(r.aware_at),
    recordedAt: Number(r.recorded_at),
    fixAt: r.fix_at === null ? null : Number(r.fix_at),
    facts: JSON.parse(r.facts_json) as CraFacts,
    submitted,
  };
}

const CASE_COLUMNS = 'id, kind, ref, aware_at, recorded_at, fix_at, facts_json';

/** Every case, the one that became known last first; at most `limit`. */
export async function craCases(db: Runner, limit: number): Promise<CraCaseRecord[]> {
  const rows = await db.all<CaseRow>(`SELECT ${CASE_COLUMNS} FROM cra_cases ORDER BY aware_at DESC, id LIMIT $1`, [
    limit,
  ]);
  const subs = await submissionsOf(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => caseOf(r, subs.get(r.id) ?? {}));
}

/** The case with this id, or undefined. */
export async function craCase(db: Runner, id: string): Promise<CraCaseRecord | undefined> {
  const [row] = await db.all<CaseRow>(`SELECT ${CASE_COLUMNS} FROM cra_cases WHERE id = $1`, [id]);
  if (!row) return undefined;
  return caseOf(row, (await submissionsOf(db, [id])).get(id) ?? {});
}

/**
 * Opens a case; a second one for the same (kind, ref) keeps the first (its clocks started
 * first). Resolves with the case as stored and whether it is new.
 */
export async function openCraCase(
  db: Runner,
  c: Omit<CraCaseRecord, 'submitted' | 'fixAt'>,
): Promise<{ record: CraCaseRecord; created: boolean }> {
  const created = await db.run(
    `INSERT INTO cra_cases (id, kind, ref, aware_at, recorded_at, fix_at, facts_json)
    VALUES ($1, $2, $3, $4, $5, NULL, $6) ON CONFLICT (kind, ref) DO NOTHING`,
    [c.id, c.kind, c.ref, c.awareAt, c.recordedAt, JSON.stringify(c.facts)],
  );
  const [row] = await db.all<{ id: string }>('SELECT id FROM cra_cases WHERE kind = $1 AND ref = $2', [c.kind, c.ref]);
  return { record: (await craCase(db, row!.id))!, created: created === 1 };
}

/** Replaces a case's facts; false when there is no such case. */
export async function setCraFacts(db: Runner, id: string, facts: CraFacts): Promise<boolean> {
  return (await db.run('UPDATE cra_cases SET facts_json = $2 WHERE id = $1', [id, JSON.stringify(facts)])) === 1;
}

/** Records when a corrective or mitigating measure became available; false when there is no such case. */
export async function setCraFix(db: Runner, id: string, at: number): Promise<boolean> {
  return (await db.run('UPDATE cra_cases SET fix_at = $2 WHERE id = $1', [id, at])) === 1;
}

/** Records that a person submitted one report; the first record of it is kept. False: no such case. */
export async function recordCraSubmission(
  db: Runner,
  id: string,
  report: CraReportKind,
  at: number,
  by: string,
): Promise<boolean> {
  if (!(await craCase(db, id))) return false;
  await db.run(
    `INSERT INTO cra_submissions (case_id, report, submitted_at, submitted_by) VALUES ($1, $2, $3, $4)
    ON CONFLICT (case_id, report) DO NOTHING`,
    [id, report, at, by],
  );
  return true;
}

interface AdvisoryRow {
  path: string;
  tracking_id: string;
  current_release_at: number | string;
  document?: string;
  sha512: string;
  published_at: number | string;
}

function advisoryOf(r: AdvisoryRow): CsafAdvisoryRecord {
  return {
    path: r.path,
    trackingId: r.tracking_id,
    currentReleaseAt: Number(r.current_release_at),
    document: r.document ?? '',
    sha512: r.sha512,
    publishedAt: Number(r.published_at),
  };
}

/** Adds or replaces (same path) an advisory. */
export async function putCsafAdvisory(db: Runner, a: CsafAdvisoryRecord): Promise<void> {
  await db.run(
    `INSERT INTO csaf_advisories (path, tracking_id, current_release_at, document, sha512, published_at)
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (path) DO UPDATE SET tracking_id = $2, current_release_at = $3,
    document = $4, sha512 = $5, published_at = $6`,
    [a.path, a.trackingId, a.currentReleaseAt, a.document, a.sha512, a.publishedAt],
  );
}

/** Every advisory without its document, the most recently changed first. */
export async function csafAdvisories(db: Runner): Promise<CsafAdvisoryRecord[]> {
  const rows = await db.all<AdvisoryRow>(
    `SELECT path, tracking_id, current_release_at, sha512, published_at FROM csaf_advisories
    ORDER BY current_release_at DESC, path`,
  );
  return rows.map(advisoryOf);
}

/** The advisory at `path` with its document, or undefined. */
export async function csafAdvisory(db: Runner, path: string): Promise<CsafAdvisoryRecord | undefined> {
  const [row] = await db.all<AdvisoryRow>(
    'SELECT path, tracking_id, current_release_at, document, sha512, published_at FROM csaf_advisories WHERE path = $1',
    [path],
  );
  return row ? advisoryOf(row) : undefined;
}
