/**
 * Software updates: the release side (TUF repository on @tufjs/models, signing with the
 * factory's update keys, CycloneDX SBOMs), the device side (tuf-js client, anti-rollback
 * counter, A/B slots, health-checked trial boots), and the boot decision the supervisor makes.
 * Third-party code (tuf-js, @tufjs/models, tar) loads on first use, so importing this folder
 * costs the device agent and the supervisor almost nothing.
 */
export { UpdateRefusedError, UpdateStateError, ReleaseError, UPDATE_REFUSAL_CODES } from './errors.ts';
export type { UpdateRefusalCode } from './errors.ts';
export { defaultDeviceUpdateConfig, validateDeviceUpdateConfig, validateRepositoryUrl, defaultExpiryConfig, validateExpiryConfig, parseDuration, isLoopbackHost } from './config.ts';
export type { DeviceUpdateConfig, ExpiryConfig } from './config.ts';
export { compareVersions, isVersion, parseVersion } from './semver.ts';
export { IMAGE_FORMAT, IMAGE_MANIFEST_FILE, REFERENCE_ENTRY_SOURCE, parseImageManifest, imageTargetPath, sbomTargetPath } from './image.ts';
export type { ImageManifest, ImageTargetCustom } from './image.ts';
export { buildReferenceImage, readImageArchive } from './archive.ts';
export type { ReferenceImageOptions, ArchiveContents, ArchiveFile, ArchiveLimits } from './archive.ts';
export { createUpdateKeys, loadUpdateKeys, ROOT_METADATA_FILE, ROOT_KEY_COUNT, ROOT_THRESHOLD, UPDATE_KEY_FILES } from './update-keys.ts';
export { initRepository, publishImage, refreshRepository, rotateKeys, repositoryStatus, repositoryFolders } from './repository.ts';
export type { InitRepositoryOptions, PublishImageOptions, PublishResult, RefreshOptions, RotateOptions, RepositoryStatus, ReleaseProgress } from './repository.ts';
export { startRepositoryServer, createRepositoryHandler } from './server.ts';
export type { RepositoryServer } from './server.ts';
export {
  FIRMWARE_DIR, REBOOT_EXIT_CODE, INITIAL_BOOT_STATE, prepareBoot, decideBoot, readBootState, readSecurityCounter, firmwarePaths,
} from './slots.ts';
export type { SlotName, BootState, BootPlan, SlotManifest, SecurityCounter } from './slots.ts';
export { startUpdater, runningImageOf, describeOutcome, verifyImageFile } from './device-updater.ts';
export type { DeviceUpdater, DeviceUpdateOptions, StartUpdaterOptions, UpdateEvent, UpdatePhase, UpdateStatus, CheckOutcome, RunningImage, UpdateJournal } from './device-updater.ts';
export { updateOptionsFromArgv, readUpdateConfigFile } from './agent-hooks.ts';
export { demoUpdates } from './demo.ts';
export type { DemoUpdatesOptions, DemoUpdatesResult, DemoSupervise } from './demo.ts';
