/**
 * Software updates: the release side (TUF repository on @tufjs/models, signing with the
 * factory's update keys, CycloneDX SBOMs), the device side (tuf-js client, anti-rollback
 * counter, A/B slots, health-checked trial boots), and the boot decision the supervisor makes.
 *
 * The device agent and the supervisor import this folder on every boot, so what they do not
 * need stays out of its static graph: the release side is reached through the async wrappers
 * below, and tuf-js, @tufjs/models and tar load on first use.
 */
import type * as Repository from './repository.ts';
import type * as UpdateKeys from './update-keys.ts';
import type * as Server from './server.ts';
import type * as Archive from './archive.ts';
import type * as Demo from './demo.ts';

export { UpdateRefusedError, UpdateStateError, ReleaseError, UPDATE_REFUSAL_CODES } from './errors.ts';
export type { UpdateRefusalCode } from './errors.ts';
export { defaultDeviceUpdateConfig, validateDeviceUpdateConfig, validateRepositoryUrl, defaultExpiryConfig, validateExpiryConfig, parseDuration, isLoopbackHost } from './config.ts';
export type { DeviceUpdateConfig, ExpiryConfig } from './config.ts';
export { compareVersions, isVersion, parseVersion } from './semver.ts';
export { IMAGE_FORMAT, IMAGE_MANIFEST_FILE, REFERENCE_ENTRY_SOURCE, parseImageManifest, parseImageTargetCustom, imageTargetPath, sbomTargetPath } from './image.ts';
export type { ImageManifest, ImageTargetCustom, ReleaseNotes } from './image.ts';
export type { ReferenceImageOptions, ArchiveContents, ArchiveFile, ArchiveLimits } from './archive.ts';
export type { InitRepositoryOptions, PublishImageOptions, PublishResult, RefreshOptions, RotateOptions, RepositoryStatus, ReleaseProgress } from './repository.ts';
export type { RepositoryServer } from './server.ts';
export {
  FIRMWARE_DIR, REBOOT_EXIT_CODE, INITIAL_BOOT_STATE, prepareBoot, decideBoot, readBootState, readSecurityCounter, firmwarePaths,
} from './slots.ts';
export type { SlotName, BootState, BootPlan, SlotManifest, SecurityCounter } from './slots.ts';
export { startUpdater, runningImageOf, describeOutcome, verifyImageFile } from './device-updater.ts';
export type { DeviceUpdater, DeviceUpdateOptions, StartUpdaterOptions, UpdateEvent, UpdatePhase, UpdateStatus, CheckOutcome, RunningImage, UpdateJournal } from './device-updater.ts';
export { updateOptionsFromArgv, readUpdateConfigFile } from './agent-hooks.ts';
export type { DemoUpdatesOptions, DemoUpdatesResult, DemoSupervise } from './demo.ts';

/** Creates the factory's update-signing keys and root metadata v1 (see update-keys.ts). */
export async function createUpdateKeys(...a: Parameters<typeof UpdateKeys.createUpdateKeys>): ReturnType<typeof UpdateKeys.createUpdateKeys> {
  return (await import('./update-keys.ts')).createUpdateKeys(...a);
}

/** Creates a release repository from the factory's keys. @example await initRepository({ repoDir, factoryDir }) */
export async function initRepository(...a: Parameters<typeof Repository.initRepository>): ReturnType<typeof Repository.initRepository> {
  return (await import('./repository.ts')).initRepository(...a);
}

/** Publishes a firmware image with its SBOM and re-signs targets, snapshot and timestamp. */
export async function publishImage(...a: Parameters<typeof Repository.publishImage>): ReturnType<typeof Repository.publishImage> {
  return (await import('./repository.ts')).publishImage(...a);
}

/** Re-signs the timestamp (and snapshot or targets when asked or close to expiry). */
export async function refreshRepository(...a: Parameters<typeof Repository.refreshRepository>): ReturnType<typeof Repository.refreshRepository> {
  return (await import('./repository.ts')).refreshRepository(...a);
}

/** Replaces one role's keys through a new root version. */
export async function rotateKeys(...a: Parameters<typeof Repository.rotateKeys>): ReturnType<typeof Repository.rotateKeys> {
  return (await import('./repository.ts')).rotateKeys(...a);
}

/** A repository's versions, expiry dates and images. */
export async function repositoryStatus(...a: Parameters<typeof Repository.repositoryStatus>): ReturnType<typeof Repository.repositoryStatus> {
  return (await import('./repository.ts')).repositoryStatus(...a);
}

/** Serves a repository read-only over HTTP under /updates. */
export async function startRepositoryServer(...a: Parameters<typeof Server.startRepositoryServer>): ReturnType<typeof Server.startRepositoryServer> {
  return (await import('./server.ts')).startRepositoryServer(...a);
}

/** A request handler for a repository's static files, to mount beside other routes. */
export async function createRepositoryHandler(...a: Parameters<typeof Server.createRepositoryHandler>): Promise<ReturnType<typeof Server.createRepositoryHandler>> {
  return (await import('./server.ts')).createRepositoryHandler(...a);
}

/** Builds a reference firmware image (a deterministic tar archive). */
export async function buildReferenceImage(...a: Parameters<typeof Archive.buildReferenceImage>): ReturnType<typeof Archive.buildReferenceImage> {
  return (await import('./archive.ts')).buildReferenceImage(...a);
}

/** Reads (and with `into`, unpacks) an image archive under the archive rules. */
export async function readImageArchive(...a: Parameters<typeof Archive.readImageArchive>): ReturnType<typeof Archive.readImageArchive> {
  return (await import('./archive.ts')).readImageArchive(...a);
}

/** The updates part of `bulwark demo` (see demo.ts). */
export async function demoUpdates(...a: Parameters<typeof Demo.demoUpdates>): ReturnType<typeof Demo.demoUpdates> {
  return (await import('./demo.ts')).demoUpdates(...a);
}
