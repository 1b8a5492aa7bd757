/**
 * The advisory as Bulwark keeps it, whichever format it came in (OSV or CSAF 2.0): the npm packages
 * it affects, each with version ranges and listed versions, and whether a version is affected.
 * Pure.
 */
import { compareSemVer, parseSemVer, type SemVer } from './semver.ts';
import { VulnError } from './errors.ts';

/** Format tag of a stored advisory. */
export const ADVISORY_FORMAT = 'bulwark.advisory/v1';

/** One event of an OSV range; `introduced: '0'` is before every version. */
export type RangeEvent =
  | { readonly introduced: string }
  | { readonly fixed: string }
  | { readonly last_affected: string }
  | { readonly limit: string };

/** One comparison of a `vers:` range (CSAF's product_version_range). */
export interface VersionConstraint {
  readonly op: '<' | '<=' | '>' | '>=' | '=' | '!=';
  readonly version: string;
}

/** A range of affected versions: OSV events, or `vers:` constraints. */
export type VersionRange =
  | { readonly kind: 'events'; readonly events: readonly RangeEvent[] }
  | { readonly kind: 'constraints'; readonly constraints: readonly VersionConstraint[] };

/** One npm package an advisory affects. */
export interface AffectedPackage {
  readonly name: string;
  /** The package's purl without a version. */
  readonly purl: string;
  readonly ranges: readonly VersionRange[];
  /** Versions listed one by one. */
  readonly versions: readonly string[];
}

/** An advisory, normalised. */
export interface Advisory {
  readonly format: typeof ADVISORY_FORMAT;
  /** The advisory's id (GHSA-..., CVE-..., a CSAF tracking id). */
  readonly id: string;
  /** Other ids of the same vulnerability (CVE ids first when known). */
  readonly aliases: readonly string[];
  readonly summary: string;
  readonly details?: string;
  readonly source: 'osv' | 'csaf';
  readonly modified?: string;
  readonly references: readonly string[];
  readonly affected: readonly AffectedPackage[];
}

/** Limits of one advisory, with their units. */
export const advisoryLimits = {
  /** Characters of an id. */
  maxIdLength: 128,
  /** Aliases of one advisory. */
  maxAliases: 64,
  /** Affected packages of one advisory. */
  maxAffected: 1_000,
  /** Ranges of one affected package, and events or constraints of one range. */
  maxRanges: 100,
  maxEvents: 1_000,
  /** Listed versions of one affected package. */
  maxVersions: 10_000,
  /** Characters of a summary and of details. */
  maxSummaryLength: 1_000,
  maxDetailsLength: 64_000,
  /** References kept. */
  maxReferences: 100,
} as const;

/** A vulnerability id as Bulwark accepts and files it (also a safe file name). */
export const VULN_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The error for a malformed advisory, naming where. */
export function invalidAdvisory(where: string, why: string): VulnError {
  return new VulnError('VULN_ADVISORY_INVALID', `${where}: ${why}`, { where });
}

/** Checks a version an advisory names; '0' is OSV's "before every version". */
export function checkedVersion(v: unknown, where: string, allowZero = false): string {
  if (allowZero && v === '0') return '0';
  if (parseSemVer(v) === undefined)
    throw invalidAdvisory(where, `${JSON.stringify(String(v).slice(0, 40))} is not a semantic version`);
  return v as string;
}

/** Checks an id; returns it. */
export function checkedId(id: unknown, where: string): string {
  if (typeof id !== 'string' || !VULN_ID.test(id))
    throw invalidAdvisory(where, 'an id of letters, digits and ._:- (at most 128)');
  return id;
}

const ZERO: SemVer = { core: [0, 0, 0], pre: ['0'] };

function semverOf(v: string): SemVer {
  return v === '0' ? ZERO : parseSemVer(v)!;
}

function eventVersion(e: RangeEvent): string {
  return 'introduced' in e ? e.introduced : 'fixed' in e ? e.fixed : 'last_affected' in e ? e.last_affected : e.limit;
}

/** OSV's evaluation: events sorted by version, the last one at or below `v` decides. */
function inEvents(events: readonly RangeEvent[], v: SemVer): boolean {
  const sorted = [...events].sort((a, b) => compareSemVer(semverOf(eventVersion(a)), semverOf(eventVersion(b))));
  let affected = false;
  for (const e of sorted) {
    const at = compareSemVer(v, semverOf(eventVersion(e)));
    if ('introduced' in e && at >= 0) affected = true;
    else if ('fixed' in e && at >= 0) affected = false;
    else if ('last_affected' in e && at > 0) affected = false;
    else if ('limit' in e && at >= 0) return false;
  }
  return affected;
}

/** VERS: `=` and `!=` decide alone; the other constraints, sorted, form intervals (a lower bound opens one). */
function inConstraints(constraints: readonly VersionConstraint[], v: SemVer): boolean {
  const cmp = (c: VersionConstraint): number => compareSemVer(v, semverOf(c.version));
  if (constraints.some((c) => c.op === '=' && cmp(c) === 0)) return true;
  if (constraints.some((c) => c.op === '!=' && cmp(c) === 0)) return false;
  const bounds = constraints
    .filter((c) => c.op !== '=' && c.op !== '!=')
    .sort((a, b) => compareSemVer(semverOf(a.version), semverOf(b.version)));
  let open: VersionConstraint | undefined;
  let seenLower = false;
  for (const c of bounds) {
    if (c.op === '>' || c.op === '>=') {
      open = c;
      seenLower = true;
      continue;
    }
    const aboveLower = open ? (open.op === '>' ? cmp(open) > 0 : cmp(open) >= 0) : !seenLower;
    const belowUpper = c.op === '<' ? cmp(c) < 0 : cmp(c) <= 0;
    if (aboveLower && belowUpper) return true;
    open = undefined;
  }
  return open !== undefined && (open.op === '>' ? cmp(open) > 0 : cmp(open) >= 0);
}

/** True when `version` of the package is affected; a version that is not semver never is. */
export function isAffectedVersion(p: AffectedPackage, version: string): boolean {
  const v = parseSemVer(version);
  if (!v) return false;
  if (p.versions.some((x) => x === version || (parseSemVer(x) && compareSemVer(parseSemVer(x)!, v) === 0))) return true;
  return p.ranges.some((r) => (r.kind === 'events' ? inEvents(r.events, v) : inConstraints(r.constraints, v)));
}

/** The versions an advisory names as fixing the package (OSV `fixed` events), oldest first. */
export function fixedVersionsOf(p: AffectedPackage): string[] {
  const fixed = p.ranges.flatMap((r) =>
    r.kind === 'events' ? r.events.flatMap((e) => ('fixed' in e ? [e.fixed] : [])) : [],
  );
  return [...new Set(fixed)].sort((a, b) => compareSemVer(semverOf(a), semverOf(b)));
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Parses a `vers:npm/...` range (the VERS spec CSAF's product_version_range uses): `|`-separated
 * constraints read as the VERS spec reads them (`*` for every version).
 */
export function parseVers(text: string, where: string): VersionRange {
  const m = /^vers:(npm|semver)\/(.+)$/.exec(text);
  if (!m) throw invalidAdvisory(where, 'a version range must be vers:npm/... or vers:semver/...');
  if (m[2] === '*') return { kind: 'events', events: [{ introduced: '0' }] };
  const parts = m[2]!.split('|');
  if (parts.length > advisoryLimits.maxEvents) throw invalidAdvisory(where, 'too many constraints');
  const constraints = parts.map((part): VersionConstraint => {
    const c = /^(<=|>=|!=|<|>|=)?(.+)$/.exec(part.trim());
    if (!c) throw invalidAdvisory(where, 'an empty constraint in a version range');
    return { op: (c[1] ?? '=') as VersionConstraint['op'], version: checkedVersion(safeDecode(c[2]!), where) };
  });
  return { kind: 'constraints', constraints };
}
