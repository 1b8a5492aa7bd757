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
import { UpdaterCore } from './updater-core.ts';

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
export { MAX_KEPT_OUTCOMES } from './updater-types.ts';
export type { UpdateOutcomeRecord, UpdateOutcomeKind } from './updater-types.ts';
import type {
  CheckOutcome,
  RunningImage,
  StartUpdaterOptions,
  UpdateStatus,
  UpdateOutcomeRecord,
} from './updater-types.ts';
import { UPDATE_FILE_METADATA_BYTES, UPDATE_FILE_TAR_OVERHEAD } from './update-file-format.ts';
import type { CloudReach, DriverReach, HealthCheck } from './health-gate.ts';

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
  /**
   * The commit: ends a trial boot (the image stays, the way back goes), raises the security counter, starts
   * the schedule. Unconditional: an agent calls {@link DeviceUpdater.commitWhenProven}, which calls this.
   */
  reportHealthy(): Promise<void>;
  /** True while this boot is the running image's trial (until it commits). */
  readonly onTrial: boolean;
  /**
   * The agent is up. Not on trial: commits at once. On trial: commits only once the image has reached
   * what it needs to receive its next fix, within the trial window: the cloud (a session in this boot,
   * when `cloud` is given), the update repository (a verified metadata refresh, when one is configured)
   * and the product's own `checks`. Resolves true when committed; false when a check did not pass in
   * time (each failure journalled): the image stays on trial and the supervisor ends the boot.
   * @example
   * if (await updater.commitWhenProven({ cloud: agent.cloud })) emit({ event: 'healthy' });
   */
  commitWhenProven(o?: CommitOptions): Promise<boolean>;
  /** Owner controls: postpone automatic updates, turn them off or on. */
  postpone(): Promise<string>;
  setAutoUpdate(on: boolean): Promise<string>;
  /** Factory reset: the owner's choices go back to the manufacturer's defaults. */
  resetOwnerChoices(): Promise<void>;
  /** The admin page's controls and facts. */
  ownerActions(): Array<{ id: string; label: string; run(): Promise<string>; shown?(): boolean }>;
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

/** What a trial image must reach besides the update repository (see {@link DeviceUpdater.commitWhenProven}). */
export interface CommitOptions {
  /** The cloud link, when a cloud is configured. */
  readonly cloud?: CloudReach;
  /** The product's driver: its own health check (`health`, when it has one) must pass. */
  readonly driver?: DriverReach;
  /** More checks of the product's own. */
  readonly checks?: readonly HealthCheck[];
  /** When the supervisor started this boot's health clock, ms since the epoch (default: this process's start). */
  readonly startedAt?: number;
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
    get onTrial() {
      return core.trialPending;
    },
    commitWhenProven: (opts) => commitWhenProven(core, opts ?? {}),
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

/** A trial boot's checks end this long before the supervisor's health deadline, ms (a tenth of a shorter window). */
const HEALTH_REPORT_MARGIN_MS = 1_000;
/** First wait before a failed check is tried again, ms; it doubles up to {@link HEALTH_RETRY_MAX_MS}. */
const HEALTH_RETRY_MS = 500;
const HEALTH_RETRY_MAX_MS = 2_000;

/** The commit rule (health-gate.ts, loaded on trial boots only): prove the way home, then commit. */
async function commitWhenProven(core: UpdaterCore, o: CommitOptions): Promise<boolean> {
  if (!core.trialPending) {
    await core.reportHealthy();
    return true;
  }
  const { proveWayHome, cloudCheck, driverCheck } = await import('./health-gate.ts');
  const repository: HealthCheck = { name: 'update repository', attempt: () => core.verifyRepository() };
  const checks = [
    ...(o.cloud ? [cloudCheck(o.cloud)] : []),
    ...(core.config.repositoryUrl ? [repository] : []),
    ...(o.driver ? [driverCheck(o.driver)] : []),
    ...(o.checks ?? []),
  ];
  const window = core.config.healthTimeoutMs;
  const startedAt = o.startedAt ?? Date.now() - Math.round(process.uptime() * 1000);
  const deadline = startedAt + window - Math.min(HEALTH_REPORT_MARGIN_MS, window / 10);
  const version = core.running.version;
  const failed = await proveWayHome(
    checks,
    { deadline, retryMs: HEALTH_RETRY_MS, maxRetryMs: HEALTH_RETRY_MAX_MS },
    {
      passed: (_, proof) => core.record('health-check', 'success', proof),
      failed: (_, reason) => {
        core.record('health-check', 'failure', reason);
        core.log(`update: ${version} on trial: ${reason}`);
      },
    },
  );
  if (failed.length > 0) {
    const why = `${version} not committed: ${failed.join('; ')}; it stays on trial and the supervisor ends this boot`;
    core.record('not-committed', 'failure', why);
    core.log(`update: ${why}`);
    return false;
  }
  await core.reportHealthy();
  return true;
}

/** The admin page's update controls. */
function ownerActionsOf(
  updater: DeviceUpdater,
): Array<{ id: string; label: string; run(): Promise<string>; shown?(): boolean }> {
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
    // One control for the setting: the page offers the change from the state it is in.
    {
      id: 'update-auto-off',
      label: 'Turn automatic updates off',
      run: () => updater.setAutoUpdate(false),
      shown: () => updater.status().autoUpdate,
    },
    {
      id: 'update-auto-on',
      label: 'Turn automatic updates on',
      run: () => updater.setAutoUpdate(true),
      shown: () => !updater.status().autoUpdate,
    },
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
    ['Firmware', `${running.version} (${where}, security version ${running.securityVersion})`],
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
