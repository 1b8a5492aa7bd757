/**
 * The device's updater: checks the repository on a schedule (6 h with jitter by default),
 * verifies metadata with tuf-js (the bundle's root metadata is the trust anchor), refuses
 * downgrades against the security counter, downloads and verifies the image within its signed
 * length, unpacks it into the inactive slot, and switches to it by an atomic rename of
 * boot.json; then asks its process to restart. The owner may postpone or turn off automatic
 * updates. Every decision goes into the journal (surface 'update').
 *
 * @example
 *   const updater = await startUpdater({ stateDir, bundle, journal, slot: 'factory', config: { repositoryUrl } });
 *   await updater.reportHealthy(); // once the agent is up: ends a trial boot, raises the counter
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseImageManifest, IMAGE_MANIFEST_FILE, type ImageManifest } from './image.ts';
import { validateDeviceUpdateConfig } from './config.ts';
import { isVersion } from './semver.ts';
import { readSlotManifest, type SlotName } from './slots.ts';
import { UpdaterCore, type UpdateOutcomeRecord } from './updater-core.ts';

export type {
  RunningImage,
  UpdateEvent,
  UpdatePhase,
  CheckOutcome,
  UpdateStatus,
  DeviceUpdateOptions,
  UpdateJournal,
  StartUpdaterOptions,
} from './updater-types.ts';
export { MAX_KEPT_OUTCOMES } from './updater-core.ts';
export type { UpdateOutcomeRecord, UpdateOutcomeKind } from './updater-core.ts';
import type { CheckOutcome, RunningImage, StartUpdaterOptions, UpdateStatus } from './updater-types.ts';
import { UPDATE_FILE_METADATA_BYTES, UPDATE_FILE_TAR_OVERHEAD } from './update-file-format.ts';

/** A running updater. */
export interface DeviceUpdater {
  readonly running: RunningImage;
  status(): UpdateStatus;
  /** Checks now (manual: also when automatic updates are off or postponed). */
  checkNow(o?: { manual?: boolean }): Promise<CheckOutcome>;
  /**
   * Installs an update file (`bulwark release export`) with the checks of an online update, then
   * restarts into it under a supervisor. `file` is only read: the caller removes it.
   */
  installFile(file: string): Promise<CheckOutcome>;
  /** The largest update file this unit accepts, bytes (its image bound plus room for the metadata). */
  readonly maxUpdateFileBytes: number;
  /** The agent is up: ends a trial boot (the image stays), raises the security counter, starts the schedule. */
  reportHealthy(): Promise<void>;
  /** Owner controls: postpone automatic updates, turn them off or on. */
  postpone(): Promise<string>;
  setAutoUpdate(on: boolean): Promise<string>;
  /** Factory reset: the owner's choices go back to the manufacturer's defaults. */
  resetOwnerChoices(): Promise<void>;
  /** The admin page's controls and facts. */
  ownerActions(): Array<{ id: string; label: string; run(): Promise<string> }>;
  facts(): Array<[string, string]>;
  /**
   * The newest update outcomes (found, downloaded, installed, healthy, rolled back, refused, failed), oldest
   * first; kept in status.json, so a rollback found at boot waits here until the cloud link is up.
   */
  outcomes(): readonly UpdateOutcomeRecord[];
  /** Hears each new outcome as it is kept; returns the function that stops listening. */
  onOutcome(listener: (outcome: UpdateOutcomeRecord) => void): () => void;
  close(): Promise<void>;
}

/** Longest time an owner's "check now" waits for the result before answering, ms. */
const OWNER_CHECK_WAIT_MS = 20_000;

/** image.json beside the process's entry point, when the process runs from an image; else undefined. */
async function entryImage(): Promise<ImageManifest | undefined> {
  const entry = process.argv[1];
  if (!entry) return undefined;
  try {
    return parseImageManifest(JSON.parse(await readFile(join(dirname(entry), IMAGE_MANIFEST_FILE), 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * The version and security version of the code this process runs: the image.json of the image its
 * entry point belongs to, or else the installed package's package.json (a checkout or the package
 * installed on the unit, which is the factory image).
 */
export async function runningCodeVersion(): Promise<{ version: string; securityVersion: number }> {
  const image = await entryImage();
  if (image) return { version: image.version, securityVersion: image.securityVersion };
  const text = await readFile(new URL('../../package.json', import.meta.url), 'utf8');
  const pkg = JSON.parse(text) as { version?: unknown; bulwark?: { securityVersion?: unknown } };
  const sv = pkg.bulwark?.securityVersion;
  const securityVersion = typeof sv === 'number' && Number.isSafeInteger(sv) && sv >= 0 ? sv : 0;
  return { version: isVersion(pkg.version) ? pkg.version : '0.0.0', securityVersion };
}

async function factoryImage(): Promise<RunningImage> {
  return { slot: 'factory', ...(await runningCodeVersion()) };
}

/** The image in `slot` as the agent sees it (the supervisor has verified it before the boot). */
export async function runningImageOf(stateDir: string, slot: SlotName): Promise<RunningImage> {
  if (slot === 'factory') return factoryImage();
  const m = await readSlotManifest(stateDir, slot);
  return { slot, version: m.image.version, securityVersion: m.image.securityVersion, targetSha256: m.target.sha256 };
}

function journalSource(url: string | undefined): string {
  if (!url) return 'local';
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return /^[0-9.]+$/.test(host) ? `${host}:${port}` : host.includes(':') ? `[${host}]:${port}` : 'local';
}

/** The largest update file a unit whose images may be `maxImageBytes` accepts: the image, metadata and tar headers. */
export function updateFileBound(maxImageBytes: number): number {
  return maxImageBytes + UPDATE_FILE_METADATA_BYTES + UPDATE_FILE_TAR_OVERHEAD;
}

/** Starts the updater of an agent. Nothing is fetched when no repository is configured. */
export async function startUpdater(o: StartUpdaterOptions): Promise<DeviceUpdater> {
  const config = validateDeviceUpdateConfig(o.config);
  const running = await runningImageOf(o.stateDir, o.slot ?? 'factory');
  const core = new UpdaterCore(o, config, running, journalSource(config.repositoryUrl));
  await core.load();
  await core.takeBootState();
  if (!core.trialPending) core.schedule(config.firstCheckDelayMs);
  const updater: DeviceUpdater = {
    running,
    status: () => core.status(),
    checkNow: (opts) => core.checkNow(opts),
    installFile: (file) => core.installFile(file),
    maxUpdateFileBytes: updateFileBound(config.maxImageBytes),
    reportHealthy: () => core.reportHealthy(),
    postpone: () => core.postpone(),
    setAutoUpdate: (on) => core.setAutoUpdate(on),
    resetOwnerChoices: () => core.resetOwnerChoices(),
    ownerActions: () => ownerActionsOf(updater),
    facts: () => describeFacts(core.status()),
    outcomes: () => core.outcomes(),
    onOutcome: (listener) => {
      core.outcomeListeners.add(listener);
      return () => core.outcomeListeners.delete(listener);
    },
    close: () => core.close(),
  };
  return updater;
}

/** The admin page's update controls. */
function ownerActionsOf(updater: DeviceUpdater): Array<{ id: string; label: string; run(): Promise<string> }> {
  return [
    {
      id: 'update-check',
      label: 'Check for updates now',
      run: async () => {
        const timeout = new Promise<undefined>((res) => {
          setTimeout(() => res(undefined), OWNER_CHECK_WAIT_MS).unref();
        });
        const r = await Promise.race([updater.checkNow({ manual: true }), timeout]);
        if (!r) return 'the check is still running; its result will be in the journal';
        return describeOutcome(r);
      },
    },
    { id: 'update-postpone', label: 'Postpone automatic updates', run: () => updater.postpone() },
    { id: 'update-auto-off', label: 'Turn automatic updates off', run: () => updater.setAutoUpdate(false) },
    { id: 'update-auto-on', label: 'Turn automatic updates on', run: () => updater.setAutoUpdate(true) },
  ];
}

const whenText = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

/** The admin page's update facts, from a status. */
export function describeFacts(s: UpdateStatus): Array<[string, string]> {
  const running = s.running;
  const postponed =
    s.postponedUntil && Date.parse(s.postponedUntil) > Date.now()
      ? `postponed until ${whenText(s.postponedUntil)}`
      : undefined;
  const where = running.slot === 'factory' ? 'factory image' : `slot ${running.slot}`;
  const notes = s.latest?.notes ? `: ${s.latest.notes.risk}; installing: ${s.latest.notes.interruption}` : '';
  const latest = s.latest
    ? `${s.latest.version} (security version ${s.latest.securityVersion})${notes}`
    : s.repositoryUrl
      ? 'not known yet'
      : 'no update repository configured';
  const lastChecked = s.lastCheck
    ? `${whenText(s.lastCheck.at)}: ${s.lastCheck.outcome}${s.lastCheck.code ? ` (${s.lastCheck.code})` : ''}`
    : 'never';
  const auto = !s.autoUpdate
    ? 'off (turned off by you)'
    : (postponed ?? (s.nextCheckAt ? `on; next check around ${whenText(s.nextCheckAt)}` : 'on'));
  return [
    ['Installed firmware', `${running.version} (${where}, security version ${running.securityVersion})`],
    ['Latest available', latest],
    ['Last checked', lastChecked],
    ['Automatic updates', auto],
  ];
}

/** A one-line account of a check for the owner. */
export function describeOutcome(r: CheckOutcome): string {
  switch (r.outcome) {
    case 'installed':
      return `firmware ${r.version} installed; the device restarts into it now`;
    case 'up-to-date':
      return r.detail ?? `up to date (${r.version})`;
    case 'no-image':
      return 'no firmware is published for this model yet';
    case 'no-repository':
      return 'no update repository is configured';
    case 'waiting-for-health':
      return 'the new firmware is still starting; try again in a minute';
    case 'refused':
      return `update refused (${r.code}): ${r.detail ?? ''}`;
    case 'busy':
      return 'the updater is stopping';
    default:
      return `the check failed (${r.code ?? 'error'}): ${r.detail ?? ''}`;
  }
}

export { verifyImageFile } from './updater-files.ts';
