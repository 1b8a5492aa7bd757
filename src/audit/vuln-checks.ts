/**
 * build.known-vulnerabilities, white-box (--update-repo): the maker matched the advisories it keeps
 * against its published images recently (the release side's record of its last `release vulns`,
 * vulns/last-check.json), that match covered the current image of each model, and no current image
 * holds a package version an advisory affects while the maker's latest statement about it is
 * "affected" or missing (untriaged). The auditor matches again itself, with src/vulns, on the
 * advisories and statements the repository keeps and the SBOMs whose signed hashes it verified.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ADVISORY_FORMAT,
  matchAdvisories,
  packagesOfCycloneDx,
  type Advisory,
  type AdvisoryMatch,
  type ReleaseComponents,
} from '../vulns/index.ts';
import type { AuditContext } from './context.ts';
import { notTested, verdict, type CheckOutcome } from './context.ts';
import { readJsonBounded } from './files.ts';
import { auditedModel } from './device-info.ts';
import { repositoryView, type RepositoryImage } from './update-checks.ts';
import type { Evidence } from './types.ts';

/** Where the release side keeps its vulnerability records in an update repository (docs/vulnerabilities.md). */
const VULNS_DIR = 'vulns';
/** Format tag of the record of the last match. */
export const LAST_CHECK_FORMAT = 'bulwark.vulns-check/v1';
const DAY_MS = 86_400_000;
/** A record dated this far ahead of the auditor's clock is not believed, ms. */
const CLOCK_SKEW_MS = 300_000;
/** Matches named in the evidence, at most. */
const MAX_NAMED = 10;

/** The parts of the record of the last match the auditor reads. */
interface LastCheck {
  readonly at: string;
  readonly images: ReadonlyArray<{ readonly sha256?: unknown }>;
}

/** The parts of a VEX statement the auditor reads. */
interface Statement {
  readonly vuln: string;
  readonly status: string;
  readonly justification?: string;
  readonly at?: string;
}

/** The record of the last `release vulns`, judged: its age, and whether it covered each current image. */
async function lastCheckEvidence(
  ctx: AuditContext,
  dir: string,
  images: readonly RepositoryImage[],
): Promise<Evidence[]> {
  const path = join(dir, VULNS_DIR, 'last-check.json');
  const sent = `the record of the last match of advisories against the images (${VULNS_DIR}/last-check.json)`;
  const { value, reason } = await readJsonBounded(path, 4 * 1_048_576);
  const r = value as Partial<LastCheck> & { format?: unknown };
  if (value === undefined || r.format !== LAST_CHECK_FORMAT || typeof r.at !== 'string' || !Array.isArray(r.images))
    return [
      {
        sent,
        received:
          reason === 'missing'
            ? 'none: `bulwark release vulns` has never run on this repository'
            : `not a ${LAST_CHECK_FORMAT} record (${reason ?? 'malformed'})`,
        finding: true,
      },
    ];
  const at = Date.parse(r.at);
  const age = Date.now() - at;
  const bound = ctx.inputs.limits.maxVulnCheckAgeMs;
  const days = (ms: number): string => `${(ms / DAY_MS).toFixed(1)} days`;
  const covered = new Set((r.images as ReadonlyArray<{ sha256?: unknown } | null>).map((i) => i?.sha256));
  const missed = images.filter((i) => !covered.has(i.sha256));
  return [
    {
      sent,
      received: !Number.isFinite(at)
        ? `dated ${r.at.slice(0, 40)} (not a time)`
        : age < -CLOCK_SKEW_MS
          ? `dated ${r.at}, in the future`
          : `ran ${r.at}, ${days(Math.max(0, age))} ago (at most ${days(bound)} allowed)`,
      finding: !Number.isFinite(at) || age < -CLOCK_SKEW_MS || age > bound,
    },
    {
      sent: 'the current images that match covered',
      received: missed.length
        ? `not ${missed.map((i) => `${i.path} (${String(i.custom.version)})`).join(', ')}: published after it`
        : `all ${images.length}`,
      finding: missed.length > 0,
    },
  ];
}

/** The advisories the repository keeps, bounded; `unreadable` counts the files that are not stored advisories. */
async function keptAdvisories(ctx: AuditContext, dir: string): Promise<{ advisories: Advisory[]; unreadable: number }> {
  const folder = join(dir, VULNS_DIR, 'advisories');
  const names = (await readdir(folder).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
  const advisories: Advisory[] = [];
  let unreadable = 0;
  for (const name of names.slice(0, ctx.inputs.limits.maxAdvisoriesRead)) {
    const { value } = await readJsonBounded(join(folder, name), ctx.inputs.limits.maxInputFileBytes);
    const a = value as Partial<Advisory> | undefined;
    if (a?.format === ADVISORY_FORMAT && typeof a.id === 'string' && Array.isArray(a.affected))
      advisories.push(a as Advisory);
    else unreadable++;
  }
  return { advisories, unreadable: unreadable + Math.max(0, names.length - ctx.inputs.limits.maxAdvisoriesRead) };
}

/** The maker's latest statement per vulnerability (statements.json keeps them oldest first). */
async function latestStatements(ctx: AuditContext, dir: string): Promise<Map<string, Statement>> {
  const path = join(dir, VULNS_DIR, 'statements.json');
  const { value } = await readJsonBounded(path, ctx.inputs.limits.maxInputFileBytes);
  const list = (value as { statements?: unknown } | undefined)?.statements;
  const latest = new Map<string, Statement>();
  for (const s of Array.isArray(list) ? (list as Array<Partial<Statement> | null>) : [])
    if (typeof s?.vuln === 'string' && typeof s.status === 'string') latest.set(s.vuln, s as Statement);
  return latest;
}

/** The current images with the npm packages their verified SBOMs list; the others by name. */
async function currentReleases(
  ctx: AuditContext,
  images: readonly RepositoryImage[],
): Promise<{ releases: ReleaseComponents[]; unread: string[] }> {
  const releases: ReleaseComponents[] = [];
  const unread: string[] = [];
  for (const i of images) {
    const { value } = i.sbom.file
      ? await readJsonBounded(i.sbom.file, ctx.inputs.limits.maxInputFileBytes)
      : { value: undefined };
    try {
      const packages = packagesOfCycloneDx(value);
      releases.push({ model: i.model, version: String(i.custom.version), sha256: i.sha256, packages });
    } catch {
      unread.push(`${i.path} (${String(i.custom.version)})`);
    }
  }
  return { releases, unread };
}

/** One match as evidence: the images, the package, the maker's latest statement; a finding when affected or none. */
function matchEvidence(m: AdvisoryMatch, statement: Statement | undefined): Evidence {
  const where = m.releases.map((r) => `${r.model} ${r.version} (${r.package.name} ${r.package.version})`);
  const stated =
    statement === undefined
      ? 'no statement: untriaged'
      : `stated ${statement.status}${statement.justification ? ` (${statement.justification})` : ''}` +
        `${statement.at ? ` on ${statement.at.slice(0, 10)}` : ''}`;
  return {
    sent: `${m.advisory.id}${m.advisory.aliases.length ? ` (${m.advisory.aliases.slice(0, 3).join(', ')})` : ''}`,
    received: `affects ${where.join(', ')}; ${stated}`,
    finding: statement === undefined || statement.status === 'affected',
  };
}

/** build.known-vulnerabilities: advisories matched recently, and no current image holds an affected, unfixed one. */
export async function checkKnownVulnerabilities(ctx: AuditContext): Promise<CheckOutcome> {
  const view = await repositoryView(ctx);
  if (view === undefined)
    return notTested('needs --update-repo: the advisories, the statements and the record of the last match live there');
  const { model } = await auditedModel(ctx);
  const images = view.images.filter((i) => model === undefined || i.model === model.id);
  if (images.length === 0) return notTested(`${view.dir} publishes no image${model ? ` for ${model.id}` : ''}`);
  const evidence = await lastCheckEvidence(ctx, view.dir, images);
  const { advisories, unreadable } = await keptAdvisories(ctx, view.dir);
  const sources = ['osv', 'csaf'].map((s) => `${advisories.filter((a) => a.source === s).length} ${s.toUpperCase()}`);
  evidence.push({
    sent: `the advisories kept in ${VULNS_DIR}/advisories`,
    received:
      `${advisories.length} (${sources.join(', ')})` + (unreadable ? `; ${unreadable} not read or malformed` : ''),
    finding: unreadable > 0,
  });
  const { releases, unread } = await currentReleases(ctx, images);
  const latest = await latestStatements(ctx, view.dir);
  const matches = matchAdvisories(advisories, releases);
  const named = matches.map((m) => matchEvidence(m, latest.get(m.advisory.id)));
  const findings = named.filter((e) => e.finding);
  evidence.push(...[...findings, ...named.filter((e) => !e.finding)].slice(0, MAX_NAMED));
  if (matches.length === 0)
    evidence.push({ sent: `match against ${releases.length} current image(s)`, received: 'no advisory affects them' });
  if (findings.length > MAX_NAMED)
    evidence.push({ sent: 'further matches', received: `${findings.length - MAX_NAMED} more untriaged or affected` });
  const outcome = verdict(
    evidence,
    `advisories were matched recently and no current image holds a known vulnerability left affected or untriaged`,
    (f) =>
      `known vulnerabilities are not handled: ${f.map((e) => `${e.sent} -> ${e.received}`.slice(0, 160)).join('; ')}`,
  );
  if (outcome.status === 'pass' && unread.length)
    return notTested(`the SBOM of ${unread.join(', ')} could not be read, so it was not matched`, evidence);
  return outcome;
}
