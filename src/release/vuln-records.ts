/**
 * Where a release repository keeps what vulnerability handling decides, beside release.json and
 * never served (the static server publishes metadata/ and targets/ only):
 *
 *     <repo>/vulns/advisories/<id>.json   each imported advisory, normalised (bulwark.advisory/v1)
 *     <repo>/vulns/statements.json        the maker's VEX statements, every one kept, oldest first
 *     <repo>/vulns/last-check.json        when `release vulns` last matched the advisories, and against what
 *
 * Every write is atomic (temp file, fsync, rename); statements are written under the repository's lock.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from '../storage/index.ts';
import { ADVISORY_FORMAT, VULN_ID, VulnError, type Advisory, type VexStatement } from '../vulns/index.ts';

/** The folder of a repository's vulnerability records. */
export const VULNS_DIR = 'vulns';
const ADVISORIES_DIR = 'advisories';
const STATEMENTS_FILE = 'statements.json';
/** Format tag of statements.json. */
export const STATEMENTS_FORMAT = 'bulwark.vex-statements/v1';
/** The most statements a repository keeps, and advisories it reads. */
export const vulnRecordLimits = { maxStatements: 100_000, maxAdvisories: 100_000 } as const;

const stateInvalid = (why: string): VulnError => new VulnError('VULN_STATE_INVALID', why);

function advisoriesDir(repoDir: string): string {
  return join(repoDir, VULNS_DIR, ADVISORIES_DIR);
}

/** Files each advisory under its id (a later import of the same id replaces it). */
export async function saveAdvisories(repoDir: string, advisories: readonly Advisory[]): Promise<void> {
  const dir = advisoriesDir(repoDir);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const a of advisories) {
    if (!VULN_ID.test(a.id)) throw stateInvalid(`the advisory id ${JSON.stringify(a.id)} is not filed`);
    await writeJsonAtomic(join(dir, `${a.id}.json`), a);
  }
}

/** Every advisory the repository holds, sorted by id. @throws VulnError 'VULN_STATE_INVALID' */
export async function loadAdvisories(repoDir: string): Promise<Advisory[]> {
  const dir = advisoriesDir(repoDir);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
  if (names.length > vulnRecordLimits.maxAdvisories)
    throw stateInvalid(`more than ${vulnRecordLimits.maxAdvisories} advisories`);
  const out: Advisory[] = [];
  for (const name of names) {
    const raw = (await readJson(join(dir, name)).catch(() => undefined)) as Advisory | undefined;
    if (raw?.format !== ADVISORY_FORMAT) throw stateInvalid(`${name} is not a stored advisory`);
    out.push(raw);
  }
  return out;
}

/** The stored advisory whose id or alias is `vuln`. */
export function findAdvisory(advisories: readonly Advisory[], vuln: string): Advisory | undefined {
  return advisories.find((a) => a.id === vuln) ?? advisories.find((a) => a.aliases.includes(vuln));
}

/** Every statement, oldest first. @throws VulnError 'VULN_STATE_INVALID' */
export async function loadStatements(repoDir: string): Promise<VexStatement[]> {
  let raw: unknown;
  try {
    raw = await readJson(join(repoDir, VULNS_DIR, STATEMENTS_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw stateInvalid(`${STATEMENTS_FILE} cannot be read`);
  }
  const r = raw as { format?: unknown; statements?: unknown } | null;
  if (r?.format !== STATEMENTS_FORMAT || !Array.isArray(r.statements))
    throw stateInvalid(`${STATEMENTS_FILE} is not ${STATEMENTS_FORMAT}`);
  return r.statements as VexStatement[];
}

/** Appends `statement` (atomically rewriting the file); call under the repository's lock. */
export async function appendStatement(repoDir: string, statement: VexStatement): Promise<VexStatement[]> {
  const all = [...(await loadStatements(repoDir)), statement];
  if (all.length > vulnRecordLimits.maxStatements)
    throw stateInvalid(`more than ${vulnRecordLimits.maxStatements} statements`);
  await mkdir(join(repoDir, VULNS_DIR), { recursive: true, mode: 0o755 });
  await writeJsonAtomic(join(repoDir, VULNS_DIR, STATEMENTS_FILE), { format: STATEMENTS_FORMAT, statements: all });
  return all;
}

/** Format tag of last-check.json. */
export const LAST_CHECK_FORMAT = 'bulwark.vulns-check/v1';
const LAST_CHECK_FILE = 'last-check.json';

/** The record of the latest match of every advisory against every published image (what an auditor reads). */
export interface VulnCheckRecord {
  readonly format: typeof LAST_CHECK_FORMAT;
  /** When the match ran (ISO 8601). */
  readonly at: string;
  /** Advisories the repository held, by the format they came in. */
  readonly advisories: { readonly osv: number; readonly csaf: number };
  /** Advisories imported by this run. */
  readonly imported: number;
  /** The published images matched. */
  readonly images: ReadonlyArray<{ readonly model: string; readonly version: string; readonly sha256: string }>;
  /** The advisories that affect a published image, with how many images each. */
  readonly matches: ReadonlyArray<{ readonly vuln: string; readonly images: number }>;
}

/** Records the latest advisory match (atomically rewriting last-check.json); call under the repository's lock. */
export async function saveLastCheck(repoDir: string, record: VulnCheckRecord): Promise<void> {
  await mkdir(join(repoDir, VULNS_DIR), { recursive: true, mode: 0o755 });
  await writeJsonAtomic(join(repoDir, VULNS_DIR, LAST_CHECK_FILE), record);
}

/** The record of the latest advisory match, or undefined before the first. @throws VulnError 'VULN_STATE_INVALID' */
export async function loadLastCheck(repoDir: string): Promise<VulnCheckRecord | undefined> {
  let raw: unknown;
  try {
    raw = await readJson(join(repoDir, VULNS_DIR, LAST_CHECK_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw stateInvalid(`${LAST_CHECK_FILE} cannot be read`);
  }
  const r = raw as Partial<VulnCheckRecord> | null;
  if (r?.format !== LAST_CHECK_FORMAT || typeof r.at !== 'string' || !Array.isArray(r.images))
    throw stateInvalid(`${LAST_CHECK_FILE} is not ${LAST_CHECK_FORMAT}`);
  return r as VulnCheckRecord;
}

/** The latest statement per vulnerability. */
export function latestStatements(all: readonly VexStatement[]): Map<string, VexStatement> {
  const latest = new Map<string, VexStatement>();
  for (const s of all) latest.set(s.vuln, s);
  return latest;
}
