/**
 * Vulnerability handling on the release side: advisories imported into the repository and matched
 * against every published release's SBOM; the maker's VEX statements recorded and signed into the
 * TUF repository as `<model>/vex.cdx.json` beside each model's SBOM; the CSAF 2.0 advisory of a
 * vulnerability written from them.
 *
 * @example
 *   const report = await reportVulnerabilities({ repoDir: 'releases', advisories: 'osv/' });
 *   await recordVexStatement({ repoDir: 'releases', vuln: 'GHSA-...', status: 'affected' });
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { ConfigError } from '../errors/index.ts';
import { readJson, writeFileAtomic, writeJsonAtomic, PUBLIC_FILE_MODE } from '../storage/index.ts';
import { compareVersions, validateExpiryConfig } from '../update/index.ts';
import {
  VulnError,
  buildCsafAdvisory,
  buildVexDocument,
  checkStatement,
  matchAdvisories,
  readAdvisories,
  type Advisory,
  type AdvisoryMatch,
  type CsafPublisher,
  type ReleaseComponents,
  type StatedRelease,
  type VexStatement,
} from '../vulns/index.ts';
import { commit, keysDirOf, loadRepository, withLock, type Loaded } from './repository.ts';
import { loadUpdateKeys } from './update-keys.ts';
import { publishedReleases } from './release-sboms.ts';
import { runtimeInventory } from './sbom.ts';
import {
  VULNS_DIR,
  appendStatement,
  findAdvisory,
  latestStatements,
  loadAdvisories,
  loadStatements,
  saveAdvisories,
  saveLastCheck,
  LAST_CHECK_FORMAT,
  type VulnCheckRecord,
} from './vuln-records.ts';

/** The TUF target path of a model's VEX document. */
export function vexTargetPath(model: string): string {
  return `${model}/vex.cdx.json`;
}

/** One advisory that affects published releases, with the maker's latest statement about it. */
export interface VulnerabilityReport {
  readonly match: AdvisoryMatch;
  readonly statement?: VexStatement;
}

/**
 * Imports the advisories in `advisories` (a file or folder; optional) into the repository, then
 * matches every advisory the repository holds against every published release, and records when
 * it did (vulns/last-check.json, what an auditor reads).
 */
export async function reportVulnerabilities(o: {
  repoDir: string;
  advisories?: string;
  now?: Date;
}): Promise<{ imported: number; reports: VulnerabilityReport[] }> {
  const incoming = o.advisories === undefined ? [] : await readAdvisories(o.advisories);
  await loadRepository(o.repoDir);
  return withLock(o.repoDir, async () => {
    if (incoming.length) await saveAdvisories(o.repoDir, incoming);
    const l = await loadRepository(o.repoDir);
    const releases = await publishedReleases(o.repoDir, l.record.images);
    const latest = latestStatements(await loadStatements(o.repoDir));
    const advisories = await loadAdvisories(o.repoDir);
    const reports = matchAdvisories(advisories, releases).map((match) => {
      const statement = latest.get(match.advisory.id);
      return statement ? { match, statement } : { match };
    });
    await saveLastCheck(o.repoDir, lastCheckOf(o.now ?? new Date(), advisories, incoming.length, releases, reports));
    return { imported: incoming.length, reports };
  });
}

/** The record of one match of `advisories` against `releases`. */
function lastCheckOf(
  now: Date,
  advisories: readonly Advisory[],
  imported: number,
  releases: readonly ReleaseComponents[],
  reports: readonly VulnerabilityReport[],
): VulnCheckRecord {
  return {
    format: LAST_CHECK_FORMAT,
    at: now.toISOString(),
    advisories: {
      osv: advisories.filter((a) => a.source === 'osv').length,
      csaf: advisories.filter((a) => a.source === 'csaf').length,
    },
    imported,
    images: releases.map((r) => ({ model: r.model, version: r.version, sha256: r.sha256 })),
    matches: reports.map((r) => ({ vuln: r.match.advisory.id, images: r.match.releases.length })),
  };
}

/** Newer releases of the matched models that the advisory does not match: where it is fixed. */
function fixedInOf(match: AdvisoryMatch, releases: readonly ReleaseComponents[]): StatedRelease[] {
  const out: StatedRelease[] = [];
  for (const model of new Set(match.releases.map((r) => r.model))) {
    const hit = match.releases.filter((r) => r.model === model);
    const newest = hit.reduce((a, b) => (compareVersions(a.version, b.version) >= 0 ? a : b)).version;
    for (const r of releases)
      if (r.model === model && compareVersions(r.version, newest) > 0 && !hit.some((h) => h.sha256 === r.sha256))
        out.push({
          model,
          version: r.version,
          sha256: r.sha256,
          ...(r.sbomSerial ? { sbomSerial: r.sbomSerial } : {}),
        });
  }
  return out.sort((a, b) => (a.model === b.model ? compareVersions(a.version, b.version) : a.model < b.model ? -1 : 1));
}

/** Options of {@link recordVexStatement}. */
export interface VexStatementOptions {
  readonly repoDir: string;
  readonly vuln: string;
  /** not_affected, affected, fixed or under_investigation. */
  readonly status: string;
  /** One of CycloneDX's justifications; required for not_affected. */
  readonly justification?: string;
  readonly detail?: string;
  readonly factoryDir?: string;
  readonly now?: Date;
}

/** What {@link recordVexStatement} recorded and signed. */
export interface VexStatementResult {
  readonly statement: VexStatement;
  /** The VEX targets signed, by path, with the files written. */
  readonly targets: ReadonlyArray<{ readonly path: string; readonly file: string }>;
  readonly metadata: { readonly targets: number; readonly snapshot: number; readonly timestamp: number };
}

/** The statement for `advisory` from its matches among `releases`. */
function statementOf(
  advisory: Advisory,
  releases: readonly ReleaseComponents[],
  stated: ReturnType<typeof checkStatement>,
  now: Date,
): VexStatement {
  const [match] = matchAdvisories([advisory], releases);
  if (!match) throw new VulnError('VULN_UNKNOWN', `${advisory.id} matches no published release`, { vuln: advisory.id });
  return {
    vuln: advisory.id,
    aliases: advisory.aliases,
    summary: advisory.summary,
    ...stated,
    at: now.toISOString(),
    releases: match.releases.map((r) => ({ ...r })),
    fixedIn: fixedInOf(match, releases),
  };
}

/**
 * Records the maker's statement about a vulnerability for the releases it matches, and signs each
 * affected model's CycloneDX VEX document into the repository (targets, snapshot, timestamp).
 * @throws VulnError 'VULN_STATEMENT_INVALID' ("not affected" without a justification), 'VULN_UNKNOWN'
 */
export async function recordVexStatement(o: VexStatementOptions): Promise<VexStatementResult> {
  const stated = checkStatement(o);
  return withLock(o.repoDir, async () => {
    const l = await loadRepository(o.repoDir);
    const advisory = findAdvisory(await loadAdvisories(o.repoDir), o.vuln);
    if (!advisory)
      throw new VulnError('VULN_UNKNOWN', `no imported advisory is ${o.vuln}: import it with release vulns`, {
        vuln: o.vuln,
      });
    const now = o.now ?? new Date();
    const releases = await publishedReleases(o.repoDir, l.record.images);
    const statement = statementOf(advisory, releases, stated, now);
    const all = await appendStatement(o.repoDir, statement);
    const models = [...new Set([...statement.releases, ...statement.fixedIn].map((r) => r.model))].sort();
    return { statement, ...(await signVexTargets(o, l, models, [...latestStatements(all).values()], now)) };
  });
}

/** Writes and signs the VEX document of each of `models` from the latest statements. */
async function signVexTargets(
  o: VexStatementOptions,
  l: Loaded,
  models: readonly string[],
  latest: readonly VexStatement[],
  now: Date,
): Promise<Omit<VexStatementResult, 'statement'>> {
  const runtime = await runtimeInventory();
  const targets = { ...l.targets.signed.targets };
  const written: Array<{ path: string; file: string }> = [];
  for (const model of models) {
    const about = latest.filter((s) => [...s.releases, ...s.fixedIn].some((r) => r.model === model));
    const doc = buildVexDocument({
      statements: about,
      subject: model,
      tool: { name: runtime.name, version: runtime.version },
    });
    const bytes = Buffer.from(JSON.stringify(doc, null, 2) + '\n');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const file = join(o.repoDir, 'targets', model, `${sha256}.vex.cdx.json`);
    await mkdir(dirname(file), { recursive: true, mode: 0o755 });
    await writeFileAtomic(file, bytes, PUBLIC_FILE_MODE);
    const path = vexTargetPath(model);
    targets[path] = new l.m.TargetFile({
      path,
      length: bytes.length,
      hashes: { sha256 },
      unrecognizedFields: { custom: { format: 'CycloneDX-1.5-VEX', model } },
    });
    written.push({ path, file });
  }
  const keys = await loadUpdateKeys(keysDirOf(o.factoryDir ? resolve(o.factoryDir) : l.record.factoryDir));
  const expiry = validateExpiryConfig(l.record.expiry);
  const metadata = await commit(o.repoDir, l, keys, { targets, expiry, now });
  return { targets: written, metadata };
}

const PUBLISHER_FILE = 'publisher.json';

/** The publisher given, saved in the repository for the next advisory; else the one saved before. */
async function publisherOf(repoDir: string, given?: Partial<CsafPublisher>): Promise<CsafPublisher> {
  const path = join(repoDir, VULNS_DIR, PUBLISHER_FILE);
  const saved = (await readJson(path).catch(() => ({}))) as Partial<CsafPublisher>;
  const p = { ...saved, ...Object.fromEntries(Object.entries(given ?? {}).filter(([, v]) => v !== undefined)) };
  if (typeof p.name !== 'string' || !p.name.trim() || p.name.length > 200)
    throw new ConfigError('RELEASE_CONFIG_INVALID', 'publisherName', 'the advisory needs its publisher (given once)');
  if (typeof p.namespace !== 'string' || !/^https:\/\/[^\s]{1,500}$/.test(p.namespace))
    throw new ConfigError('RELEASE_CONFIG_INVALID', 'publisherNamespace', "the publisher's namespace, an https URL");
  const publisher = {
    name: p.name,
    namespace: p.namespace,
    ...(p.contactDetails ? { contactDetails: p.contactDetails } : {}),
  };
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await writeJsonAtomic(path, publisher);
  return publisher;
}

/**
 * Writes the CSAF 2.0 security advisory of `vuln` to `out` (atomically): the releases its
 * statements name, their product status, the remediation naming the fixed version.
 * @throws VulnError 'VULN_UNKNOWN' or 'VULN_STATEMENT_MISSING'
 */
export async function writeCsafAdvisory(o: {
  repoDir: string;
  vuln: string;
  out: string;
  publisher?: Partial<CsafPublisher>;
  trackingId?: string;
}): Promise<{ file: string; document: Record<string, unknown> }> {
  await loadRepository(o.repoDir);
  const advisory = findAdvisory(await loadAdvisories(o.repoDir), o.vuln);
  if (!advisory) throw new VulnError('VULN_UNKNOWN', `no imported advisory is ${o.vuln}`, { vuln: o.vuln });
  const history = (await loadStatements(o.repoDir)).filter((s) => s.vuln === advisory.id);
  if (history.length === 0)
    throw new VulnError('VULN_STATEMENT_MISSING', `no statement about ${advisory.id}: record one with release vex`);
  const runtime = await runtimeInventory();
  const document = buildCsafAdvisory({
    advisory,
    history,
    publisher: await publisherOf(o.repoDir, o.publisher),
    ...(o.trackingId ? { trackingId: o.trackingId } : {}),
    tool: { name: runtime.name, version: runtime.version },
  });
  await writeFileAtomic(o.out, Buffer.from(JSON.stringify(document, null, 2) + '\n'), PUBLIC_FILE_MODE);
  return { file: o.out, document };
}
