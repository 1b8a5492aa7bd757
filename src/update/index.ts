/**
 * Software updates, the device's side: the tuf-js client (anti-rollback counter, bounded
 * downloads, A/B install), image archives and their checks, the boot decision the supervisor
 * makes, and what the release side shares with it (the image manifest format, versions, errors).
 * The release side (repository, signing keys, SBOMs, serving) is src/release.
 *
 * The device agent and the supervisor import this folder on every boot: tuf-js, @tufjs/models
 * and tar load on first use.
 */
export { UpdateRefusedError, UpdateStateError, ReleaseError, UPDATE_REFUSAL_CODES } from './errors.ts';
export type { UpdateRefusalCode } from './errors.ts';
export {
  defaultDeviceUpdateConfig,
  validateDeviceUpdateConfig,
  validateRepositoryUrl,
  defaultExpiryConfig,
  validateExpiryConfig,
  parseDuration,
  isLoopbackHost,
} from './config.ts';
export type { DeviceUpdateConfig, ExpiryConfig } from './config.ts';
export { compareVersions, isVersion, parseVersion } from './semver.ts';
export {
  IMAGE_FORMAT,
  IMAGE_FORMAT_V1,
  IMAGE_MANIFEST_FILE,
  checkImagePath,
  parseImageManifest,
  parseImageTargetCustom,
  isCalendarDate,
  imageTargetPath,
  sbomTargetPath,
  DELTA_FORMAT,
  parseDeltaTargetCustom,
  deltaTargetPath,
  deltaTargetFolder,
} from './image.ts';
export type { ImageManifest, ImageTargetCustom, ReleaseNotes, DeltaTargetCustom, ImageDigest } from './image.ts';
export { DEFAULT_NODE_RANGE, isNodeRange, satisfiesNodeRange, nodeRangeOfTarget } from './node-range.ts';
export {
  applyDelta,
  deltaApplies,
  deltaWindowLog,
  isRawContentBase,
  defaultDeltaLimits,
  DELTA_MIN_WINDOW_LOG,
  DELTA_MAX_WINDOW_LOG,
} from './delta.ts';
export type { DeltaLimits, DeltaExpectation } from './delta.ts';
export { readImageArchive, readPlainArchive, loadTar, invalidImageArchive } from './archive.ts';
export { ensureFactorySlot, FACTORY_TARGET_PATH, type FactorySlot } from './factory-slot.ts';
export {
  UPDATE_FILE_FORMAT,
  UPDATE_FILE_INFO,
  UPDATE_FILE_METADATA_BYTES,
  MAX_UPDATE_FILE_ENTRIES,
  parseUpdateFileInfo,
  type UpdateFileInfo,
} from './update-file-format.ts';
export type { ArchiveContents, ArchiveFile, ArchiveLimits } from './archive.ts';
export {
  FIRMWARE_DIR,
  REBOOT_EXIT_CODE,
  INITIAL_BOOT_STATE,
  prepareBoot,
  decideBoot,
  readBootState,
  readSecurityCounter,
  firmwarePaths,
} from './slots.ts';
export type { SlotName, BootState, BootPlan, SlotManifest, SecurityCounter } from './slots.ts';
export {
  startUpdater,
  runningImageOf,
  runningCodeVersion,
  describeOutcome,
  verifyImageFile,
  MAX_KEPT_OUTCOMES,
} from './device-updater.ts';
export type {
  DeviceUpdater,
  DeviceUpdateOptions,
  StartUpdaterOptions,
  UpdateEvent,
  UpdatePhase,
  UpdateStatus,
  CheckOutcome,
  RunningImage,
  UpdateJournal,
  UpdateOutcomeRecord,
  UpdateOutcomeKind,
  CommitOptions,
} from './device-updater.ts';
export type { HealthCheck, CloudReach, DriverReach } from './health-gate.ts';
export { TIMESTAMP_SIGNED_AT_FIELD } from './update-clock.ts';
export type { UpdateClock } from './update-clock.ts';
export { updateOptionsFromArgv, readUpdateConfigFile } from './agent-hooks.ts';
export { runningSoftware, componentsOfSbom } from './running-software.ts';
export type { RunningSoftware, RunningComponent } from './running-software.ts';
export type { UpdateErrorCode, UpdateStateErrorCode, ReleaseErrorCode } from './errors.ts';
