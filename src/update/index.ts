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
  IMAGE_MANIFEST_FILE,
  REFERENCE_ENTRY_SOURCE,
  checkImagePath,
  parseImageManifest,
  parseImageTargetCustom,
  imageTargetPath,
  sbomTargetPath,
} from './image.ts';
export type { ImageManifest, ImageTargetCustom, ReleaseNotes } from './image.ts';
export { readImageArchive, loadTar, invalidImageArchive } from './archive.ts';
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
export { startUpdater, runningImageOf, describeOutcome, verifyImageFile } from './device-updater.ts';
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
} from './device-updater.ts';
export { updateOptionsFromArgv, readUpdateConfigFile } from './agent-hooks.ts';
export type { UpdateErrorCode, UpdateStateErrorCode, ReleaseErrorCode } from './errors.ts';
