/**
 * OSV advisories (the OSV schema, as GitHub's advisory database and OSV.dev publish them): the
 * npm packages of `affected[]`, their SEMVER and ECOSYSTEM ranges and listed versions. Other
 * ecosystems and GIT ranges are left aside, not refused. Pure.
 */
import {
  ADVISORY_FORMAT,
  advisoryLimits as L,
  checkedId,
  checkedVersion,
  invalidAdvisory,
  type Advisory,
  type AffectedPackage,
  type RangeEvent,
  type VersionRange,
} from './advisory.ts';
import { npmPurl, parseNpmPurl } from './purl.ts';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when `doc` looks like an OSV advisory (an id and `affected`, or a `schema_version`). */
export function isOsvDocument(doc: unknown): boolean {
  return isObject(doc) && typeof doc.id === 'string' && (Array.isArray(doc.affected) || 'schema_version' in doc);
}

function list(v: unknown, where: string, max: number): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw invalidAdvisory(where, 'must be a list');
  if (v.length > max) throw invalidAdvisory(where, `more than ${max} entries`);
  return v;
}

function text(v: unknown, max: number): string | undefined {
  return typeof v === 'string' ? v.slice(0, max) : undefined;
}

const EVENT_KINDS = ['introduced', 'fixed', 'last_affected', 'limit'] as const;

function event(e: unknown, where: string): RangeEvent {
  if (!isObject(e)) throw invalidAdvisory(where, 'an event must be an object');
  const kinds = EVENT_KINDS.filter((k) => k in e);
  if (kinds.length !== 1)
    throw invalidAdvisory(where, 'an event has exactly one of introduced, fixed, last_affected, limit');
  const kind = kinds[0]!;
  const version = checkedVersion(e[kind], `${where}.${kind}`, kind === 'introduced');
  return { [kind]: version } as RangeEvent;
}

function range(r: unknown, where: string): VersionRange | undefined {
  if (!isObject(r)) throw invalidAdvisory(where, 'a range must be an object');
  if (r.type !== 'SEMVER' && r.type !== 'ECOSYSTEM' && r.type !== 'GIT')
    throw invalidAdvisory(`${where}.type`, 'must be SEMVER, ECOSYSTEM or GIT');
  if (r.type === 'GIT') return undefined;
  const events = list(r.events, `${where}.events`, L.maxEvents).map((e, i) => event(e, `${where}.events[${i}]`));
  if (!events.some((e) => 'introduced' in e)) throw invalidAdvisory(`${where}.events`, 'no introduced event');
  return { kind: 'events', events };
}

function npmPackageOf(a: Json, where: string): { name: string; purl: string } | undefined {
  const pkg = a.package;
  if (!isObject(pkg)) throw invalidAdvisory(`${where}.package`, 'must be an object');
  if (pkg.ecosystem !== 'npm') return undefined;
  const fromPurl = pkg.purl === undefined ? undefined : parseNpmPurl(pkg.purl);
  if (pkg.purl !== undefined && !fromPurl) throw invalidAdvisory(`${where}.package.purl`, 'not an npm purl');
  // A lone surrogate cannot be percent-encoded into a purl: refused here, as any malformed name is.
  if (typeof pkg.name !== 'string' || pkg.name.length === 0 || pkg.name.length > 214 || !pkg.name.isWellFormed())
    throw invalidAdvisory(`${where}.package.name`, 'an npm package name');
  if (fromPurl && fromPurl.name !== pkg.name)
    throw invalidAdvisory(`${where}.package`, `the purl names ${fromPurl.name}, the name ${pkg.name}`);
  return { name: pkg.name, purl: npmPurl(pkg.name) };
}

function affectedPackage(a: unknown, where: string): AffectedPackage | undefined {
  if (!isObject(a)) throw invalidAdvisory(where, 'must be an object');
  const pkg = npmPackageOf(a, where);
  if (!pkg) return undefined;
  const ranges = list(a.ranges, `${where}.ranges`, L.maxRanges)
    .map((r, i) => range(r, `${where}.ranges[${i}]`))
    .filter((r) => r !== undefined);
  const versions = list(a.versions, `${where}.versions`, L.maxVersions).map((v, i) =>
    checkedVersion(v, `${where}.versions[${i}]`),
  );
  if (ranges.length === 0 && versions.length === 0) throw invalidAdvisory(where, 'neither ranges nor versions');
  return { ...pkg, ranges, versions };
}

/**
 * Reads one OSV advisory; `where` names it in errors (a file name).
 * @throws VulnError 'VULN_ADVISORY_INVALID'
 * @example parseOsvAdvisory(JSON.parse(text), 'GHSA-xxxx.json').affected[0].name
 */
export function parseOsvAdvisory(doc: unknown, where = 'advisory'): Advisory {
  if (!isObject(doc)) throw invalidAdvisory(where, 'an OSV advisory is a JSON object');
  const id = checkedId(doc.id, `${where}: id`);
  const aliases = list(doc.aliases, `${where}: aliases`, L.maxAliases).map((x, i) =>
    checkedId(x, `${where}: aliases[${i}]`),
  );
  if (!Array.isArray(doc.affected)) throw invalidAdvisory(`${where}: affected`, 'must be a list');
  const affected = list(doc.affected, `${where}: affected`, L.maxAffected)
    .map((a, i) => affectedPackage(a, `${where}: affected[${i}]`))
    .filter((a) => a !== undefined);
  const references = list(doc.references, `${where}: references`, 10_000)
    .map((r) => (isObject(r) ? text(r.url, 2_000) : undefined))
    .filter((u) => u !== undefined)
    .slice(0, L.maxReferences);
  const details = text(doc.details, L.maxDetailsLength);
  const modified = text(doc.modified, 64);
  return {
    format: ADVISORY_FORMAT,
    id,
    aliases: [...aliases].sort((a, b) => Number(b.startsWith('CVE-')) - Number(a.startsWith('CVE-'))),
    summary: text(doc.summary, L.maxSummaryLength) ?? details?.slice(0, L.maxSummaryLength) ?? id,
    ...(details !== undefined ? { details } : {}),
    source: 'osv',
    ...(modified !== undefined ? { modified } : {}),
    references,
    affected,
  };
}
