/**
 * Software updates, the maker's side: the factory's update-signing keys, a TUF repository of
 * static files on @tufjs/models (publish, refresh, rotate, status), delta images (zstd
 * patch-from), CycloneDX SBOMs, firmware image building (the device agent bundled by esbuild),
 * a static server, the updates part of `bulwark demo`, and vulnerability handling: advisories
 * matched against published SBOMs, the maker's VEX signed beside them, CSAF advisories out and
 * the publish gate (a known affected vulnerability, an ended support period). The device never
 * loads this folder; what both sides share (image format, versions, errors) is src/update's.
 * @tufjs/models, tar and esbuild load on first use.
 *
 * @example
 *   await initRepository({ repoDir, factoryDir });
 *   await publishImage({ repoDir, artifact, model: 'plug', version: '1.1.0' });
 *
 * @module bulwark/release
 */
export { createUpdateKeys } from './update-keys.ts';
export {
  initRepository,
  publishImage,
  refreshRepository,
  rotateKeys,
  repositoryStatus,
  extendSupportPeriod,
} from './repository.ts';
export type {
  InitRepositoryOptions,
  PublishImageOptions,
  PublishResult,
  RefreshOptions,
  ExtendSupportOptions,
  RotateOptions,
  RepositoryStatus,
  ReleaseProgress,
} from './repository.ts';
export { makeDelta, validateDeltaBases, DEFAULT_DELTA_BASES, MAX_DELTA_BASES } from './delta.ts';
export type { WrittenDelta } from './delta-targets.ts';
export { exportUpdateFile } from './export.ts';
export type { ExportOptions, ExportResult } from './export.ts';
export { startRepositoryServer, createRepositoryHandler } from './server.ts';
export type { RepositoryServer } from './server.ts';
export { buildReferenceImage } from './reference-image.ts';
export { buildDeviceImage, agentSourceEntry, imageBuildLimits, DEVICE_IMAGE_TARGET } from './image-build.ts';
export type { DeviceImageOptions, DeviceImageResult } from './image-build.ts';
export type { ReferenceImageOptions } from './reference-image.ts';
export { demoUpdates } from './demo.ts';
export { buildProjectSbom, runtimeInventory } from './sbom.ts';
export { publishedSbomFiles, MAX_PUBLISHED_SBOM_BYTES } from './release-sboms.ts';
export type { PublishedSbomFile } from './release-sboms.ts';
export type { RuntimeInventory, RuntimePackage } from './sbom.ts';
export {
  PublishRefusedError,
  checkSupportPeriod,
  supportEndsAt,
  decideSupportPeriod,
  MIN_SUPPORT_YEARS,
} from './publish-gate.ts';
export type { RecordedSupport, SupportInputs } from './publish-gate.ts';
export type { PublishRefusedCode } from './publish-gate.ts';
export { reportVulnerabilities, recordVexStatement, writeCsafAdvisory, vexTargetPath } from './vulns.ts';
export type { VulnerabilityReport, VexStatementOptions, VexStatementResult } from './vulns.ts';
export { VULNS_DIR } from './vuln-records.ts';
export type { DemoUpdatesOptions, DemoUpdatesResult, DemoSupervise } from './demo.ts';
export { ensureAuditKey, AUDIT_KEY_FILE, AUDIT_PUBLIC_KEY_FILE, AUDIT_KEY_TARGET } from './audit-key.ts';
export type { AuditSigningKey } from './audit-key.ts';
