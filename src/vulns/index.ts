/**
 * Vulnerability handling (CRA Annex I part II): advisories read offline in OSV and CSAF 2.0,
 * matched by purl and version range against the SBOMs of published releases; the maker's VEX
 * statements as CycloneDX 1.5 VEX; CSAF 2.0 security advisories out; field counts from the
 * cloud's maker API. Pure cores, file reading at the edge; the repository side (where advisories
 * and statements are kept and signed) is src/release's.
 *
 * @example
 *   const matches = matchAdvisories(await readAdvisories('osv/'), releases);
 *   checkStatement({ vuln: 'GHSA-...', status: 'not_affected', justification: 'code_not_reachable' });
 */
export { VulnError } from './errors.ts';
export type { VulnErrorCode } from './errors.ts';
export { compareSemVer, parseSemVer } from './semver.ts';
export type { SemVer } from './semver.ts';
export { npmPurl, parseNpmPurl } from './purl.ts';
export type { NpmPurl } from './purl.ts';
export { ADVISORY_FORMAT, VULN_ID, advisoryLimits, isAffectedVersion, fixedVersionsOf, parseVers } from './advisory.ts';
export type { Advisory, AffectedPackage, VersionRange, RangeEvent, VersionConstraint } from './advisory.ts';
export { parseOsvAdvisory, isOsvDocument } from './osv.ts';
export { parseCsafAdvisories, isCsafDocument, csafInputLimits } from './csaf-in.ts';
export { readAdvisories, parseAdvisoryDocument, advisoryInputLimits } from './load.ts';
export { matchAdvisories, packagesOfCycloneDx, MAX_SBOM_COMPONENTS } from './match.ts';
export type { SbomPackage, ReleaseComponents, AffectedRelease, AdvisoryMatch } from './match.ts';
export {
  VEX_STATUSES,
  VEX_JUSTIFICATIONS,
  CYCLONEDX_STATE,
  MAX_VEX_DETAIL,
  checkStatement,
  buildVexDocument,
  releaseRef,
} from './vex.ts';
export type { VexStatus, VexJustification, VexStatement, StatedRelease } from './vex.ts';
export { buildCsafAdvisory, csafProductId } from './csaf-out.ts';
export type { CsafPublisher, CsafAdvisoryInput } from './csaf-out.ts';
export { fetchFieldCounts, parseFieldCounts, fieldApiLimits } from './field.ts';
export type { FieldCount } from './field.ts';
