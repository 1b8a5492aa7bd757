/**
 * Matching advisories against the SBOMs of published releases: a release is affected when one of
 * its npm components (by purl, else by name) has a version inside an affected range. Pure.
 */
import { fixedVersionsOf, isAffectedVersion, type Advisory } from './advisory.ts';
import { npmPurl, parseNpmPurl } from './purl.ts';
import { VulnError } from './errors.ts';

/** One npm package an SBOM lists. */
export interface SbomPackage {
  readonly name: string;
  readonly version: string;
  readonly purl: string;
}

/** A published release and what its SBOM lists. */
export interface ReleaseComponents {
  readonly model: string;
  readonly version: string;
  /** The image's SHA-256. */
  readonly sha256: string;
  /** The SBOM's serial number (`urn:uuid:...`), for BOM-Links to it. */
  readonly sbomSerial?: string;
  readonly packages: readonly SbomPackage[];
}

/** A release an advisory affects, through which of its packages. */
export interface AffectedRelease {
  readonly model: string;
  readonly version: string;
  readonly sha256: string;
  readonly sbomSerial?: string;
  readonly package: SbomPackage;
}

/** An advisory with the releases it affects (none left out: only advisories that affect one are listed). */
export interface AdvisoryMatch {
  readonly advisory: Advisory;
  readonly releases: readonly AffectedRelease[];
  /** The package versions the advisory names as fixed, by package. */
  readonly fixedVersions: Readonly<Record<string, readonly string[]>>;
}

/** The most components read from one SBOM. */
export const MAX_SBOM_COMPONENTS = 20_000;

/**
 * The npm packages of a CycloneDX document: its library and framework components with an npm
 * purl, or a name and version. @throws VulnError 'VULN_STATE_INVALID' when it is no such SBOM
 */
export function packagesOfCycloneDx(doc: unknown, max = MAX_SBOM_COMPONENTS): SbomPackage[] {
  const d = doc as { bomFormat?: unknown; components?: unknown } | null;
  if (d?.bomFormat !== 'CycloneDX' || !Array.isArray(d.components))
    throw new VulnError('VULN_STATE_INVALID', 'not a CycloneDX SBOM');
  if (d.components.length > max) throw new VulnError('VULN_STATE_INVALID', `an SBOM with over ${max} components`);
  const out: SbomPackage[] = [];
  for (const c of d.components as Array<Record<string, unknown> | null>) {
    if (c?.type !== 'library' && c?.type !== 'framework') continue;
    const p = parseNpmPurl(c.purl);
    const name = p?.name ?? (typeof c.name === 'string' ? c.name : undefined);
    const version = p?.version ?? (typeof c.version === 'string' ? c.version : undefined);
    if (name && version) out.push({ name, version, purl: npmPurl(name, version) });
  }
  return out;
}

/** The releases `advisory` affects. */
function affectedReleases(advisory: Advisory, releases: readonly ReleaseComponents[]): AffectedRelease[] {
  const out: AffectedRelease[] = [];
  for (const r of releases)
    for (const pkg of r.packages)
      if (advisory.affected.some((a) => a.name === pkg.name && isAffectedVersion(a, pkg.version)))
        out.push({
          model: r.model,
          version: r.version,
          sha256: r.sha256,
          ...(r.sbomSerial ? { sbomSerial: r.sbomSerial } : {}),
          package: pkg,
        });
  return out;
}

/**
 * Matches every advisory against every release; returns the advisories that affect at least one,
 * in the order given.
 * @example matchAdvisories(await readAdvisories('osv/'), releases).map((m) => m.advisory.id)
 */
export function matchAdvisories(
  advisories: readonly Advisory[],
  releases: readonly ReleaseComponents[],
): AdvisoryMatch[] {
  const out: AdvisoryMatch[] = [];
  for (const advisory of advisories) {
    const hit = affectedReleases(advisory, releases);
    if (hit.length === 0) continue;
    const fixedVersions = Object.fromEntries(advisory.affected.map((a) => [a.name, fixedVersionsOf(a)]));
    out.push({ advisory, releases: hit, fixedVersions });
  }
  return out;
}
