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
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { mkdir, open, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TargetFile } from '@tufjs/models';
import { writeFileAtomicSync, writeJsonAtomic, writeFileAtomic, writeFileDurable, commitDirectory, SECRET_FILE_MODE } from '../storage/index.ts';
import { UpdateRefusedError, UpdateStateError } from './errors.ts';
import { validateDeviceUpdateConfig, type DeviceUpdateConfig } from './config.ts';
import { compareVersions, isVersion } from './semver.ts';
import { imageTargetPath, parseImageTargetCustom, type ImageTargetCustom, type ReleaseNotes } from './image.ts';
import type { BoundedFetcher } from './fetcher.ts';
import { classifyUpdateFailure, shortMessage } from './classify.ts';
import {
  readBootState, writeBootState, readSecurityCounter, raiseSecurityCounter, readRejectedImages, addRejectedImage,
  readSlotManifest, verifySlot, firmwarePaths, slotManifest, SLOT_MANIFEST_FILE, type SlotName, type BootState,
} from './slots.ts';

/** The image this agent runs. */
export interface RunningImage {
  readonly slot: SlotName;
  readonly version: string;
  readonly securityVersion: number;
  readonly targetSha256?: string;
}

/** What the updater tells its process (the agent prints these as JSON lines for the supervisor). */
export type UpdateEvent =
  | { readonly type: 'phase'; readonly phase: UpdatePhase; readonly version?: string }
  | { readonly type: 'decision'; readonly decision: 'up-to-date' | 'no-image' | 'found' | 'refused' | 'failed' | 'installed' | 'healthy' | 'rolled-back'; readonly version?: string; readonly code?: string; readonly detail?: string };

/** Where a check is. */
export type UpdatePhase = 'idle' | 'checking' | 'downloading' | 'unpacking' | 'switching' | 'restarting';

/** The result of one check. */
export interface CheckOutcome {
  readonly outcome: 'no-repository' | 'waiting-for-health' | 'up-to-date' | 'no-image' | 'refused' | 'failed' | 'installed' | 'busy';
  readonly version?: string;
  readonly code?: string;
  readonly detail?: string;
}

/** What the admin page and tools show. */
export interface UpdateStatus {
  readonly running: RunningImage;
  readonly repositoryUrl: string | null;
  readonly autoUpdate: boolean;
  readonly postponedUntil: string | null;
  readonly phase: UpdatePhase;
  readonly lastCheck: { readonly at: string; readonly outcome: CheckOutcome['outcome']; readonly code?: string; readonly detail?: string } | null;
  readonly latest: { readonly version: string; readonly securityVersion: number; readonly notes?: ReleaseNotes } | null;
  readonly nextCheckAt: string | null;
  readonly securityCounter: number;
}

/** Per-process hooks and settings (the supervisor passes the slot; the agent passes the hooks). */
export interface DeviceUpdateOptions {
  /** The slot this agent was booted from; 'factory' when unsupervised. */
  readonly slot?: SlotName;
  readonly config?: Partial<DeviceUpdateConfig>;
  /** Phases and decisions, as they happen. */
  readonly onEvent?: (event: UpdateEvent) => void;
  /** Called after an install: the process should close and exit so the supervisor boots the new slot. */
  readonly onRestart?: () => void;
  /** Download and unpack progress in bytes. */
  readonly onProgress?: (step: 'download' | 'unpack', done: number, total: number) => void;
}

/** The journal as the updater needs it. */
export interface UpdateJournal {
  record(entry: { readonly surface: 'update'; readonly source: string; readonly event: string; readonly identity?: string; readonly result: 'success' | 'failure' | 'refused' | 'info'; readonly detail?: string }): void;
}

/** Options of {@link startUpdater}. */
export interface StartUpdaterOptions extends DeviceUpdateOptions {
  readonly stateDir: string;
  /** The unit's model, manufacturer CA and update root (the TUF trust anchor) from its bundle. */
  readonly bundle: { readonly unit: { readonly model: string }; readonly caCertPem: string; readonly updateRootJson: string };
  readonly journal: UpdateJournal;
  readonly log?: (message: string) => void;
}

/** A running updater. */
export interface DeviceUpdater {
  readonly running: RunningImage;
  status(): UpdateStatus;
  /** Checks now (manual: also when automatic updates are off or postponed). */
  checkNow(o?: { manual?: boolean }): Promise<CheckOutcome>;
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
  close(): Promise<void>;
}

interface Prefs { autoUpdate: boolean | null; postponedUntil: string | null }
interface SavedStatus { lastCheck: UpdateStatus['lastCheck']; latest: UpdateStatus['latest'] }

/** Longest time an owner's "check now" waits for the result before answering, ms. */
const OWNER_CHECK_WAIT_MS = 20_000;
/** tuf-js's bounds on metadata sizes, bytes. */
const METADATA_LIMITS = { timestampMaxLength: 16_384, snapshotMaxLength: 2_000_000, targetsMaxLength: 5_000_000, rootMaxLength: 512_000 } as const;

async function factoryImage(): Promise<RunningImage> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown; bulwark?: { securityVersion?: unknown } };
  const sv = pkg.bulwark?.securityVersion;
  return { slot: 'factory', version: isVersion(pkg.version) ? pkg.version : '0.0.0', securityVersion: typeof sv === 'number' && Number.isSafeInteger(sv) && sv >= 0 ? sv : 0 };
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

/** Starts the updater of an agent. Nothing is fetched when no repository is configured. */
export async function startUpdater(o: StartUpdaterOptions): Promise<DeviceUpdater> {
  const config = validateDeviceUpdateConfig(o.config);
  const log = o.log ?? (() => undefined);
  const slot: SlotName = o.slot ?? 'factory';
  const running = await runningImageOf(o.stateDir, slot);
  const model = o.bundle.unit.model;
  const updateDir = join(o.stateDir, 'update');
  const paths = {
    metadata: join(updateDir, 'metadata'), download: join(updateDir, 'download'),
    prefs: join(updateDir, 'prefs.json'), status: join(updateDir, 'status.json'),
  };
  const fw = firmwarePaths(o.stateDir);
  const source = journalSource(config.repositoryUrl);
  const emit = (e: UpdateEvent): void => { try { o.onEvent?.(e); } catch { /* a hook must not break the updater */ } };
  const record = (event: string, result: 'success' | 'failure' | 'refused' | 'info', detail?: string): void =>
    o.journal.record({ surface: 'update', source, event, result, ...(detail ? { detail: detail.slice(0, 200) } : {}) });

  let prefs: Prefs = { autoUpdate: null, postponedUntil: null };
  try {
    const p = JSON.parse(await readFile(paths.prefs, 'utf8')) as Partial<Prefs>;
    prefs = { autoUpdate: typeof p.autoUpdate === 'boolean' ? p.autoUpdate : null, postponedUntil: typeof p.postponedUntil === 'string' && !Number.isNaN(Date.parse(p.postponedUntil)) ? p.postponedUntil : null };
  } catch { /* defaults */ }
  let saved: SavedStatus = { lastCheck: null, latest: null };
  try {
    const s = JSON.parse(await readFile(paths.status, 'utf8')) as Partial<SavedStatus>;
    saved = { lastCheck: s.lastCheck ?? null, latest: s.latest ?? null };
  } catch { /* none yet */ }
  let counter = 0;
  try { counter = (await readSecurityCounter(o.stateDir)).securityVersion; } catch { /* reported at check time */ }
  let phase: UpdatePhase = 'idle';
  let timer: NodeJS.Timeout | undefined;
  let nextCheckAt: number | null = null;
  let inflight: Promise<CheckOutcome> | undefined;
  let closed = false;
  let trialPending = false;
  let currentFetcher: BoundedFetcher | undefined;

  const setPhase = (p: UpdatePhase, version?: string): void => { phase = p; emit({ type: 'phase', phase: p, ...(version ? { version } : {}) }); };
  const autoOn = (): boolean => prefs.autoUpdate ?? config.autoUpdate;
  const savePrefs = async (): Promise<void> => { await mkdir(updateDir, { recursive: true, mode: 0o700 }); await writeJsonAtomic(paths.prefs, prefs, SECRET_FILE_MODE); };
  const saveStatus = async (): Promise<void> => { await mkdir(updateDir, { recursive: true, mode: 0o700 }); await writeJsonAtomic(paths.status, saved, SECRET_FILE_MODE); };

  // What the supervisor did before this boot: a trial to finish, a fallback to report.
  const boot = await readBootState(o.stateDir);
  if (boot.state.active === slot) {
    trialPending = boot.state.trial !== null;
    const f = boot.state.fallback;
    if (f && !f.reported) {
      const what = f.version ? `firmware ${f.version}` : `slot ${f.from}`;
      record('rolled-back', 'failure', `${what} abandoned: ${f.reason}; running ${running.version} from ${f.to === 'factory' ? 'the factory image' : `slot ${f.to}`}`);
      if (f.targetSha256 && f.version) await addRejectedImage(o.stateDir, { sha256: f.targetSha256, version: f.version, reason: f.reason, at: f.at });
      await writeBootState(o.stateDir, { ...boot.state, fallback: { ...f, reported: true } });
      emit({ type: 'decision', decision: 'rolled-back', ...(f.version ? { version: f.version } : {}), detail: f.reason });
      log(`update: ${what} was rolled back: ${f.reason}`);
    }
  }

  /** Copies the bundle's root into the metadata cache when there is none, or when the bundle's is newer. */
  async function prepareMetadataDir(): Promise<void> {
    await mkdir(paths.metadata, { recursive: true, mode: 0o700 });
    const cached = join(paths.metadata, 'root.json');
    const versionOf = (text: string): number => {
      const v = (JSON.parse(text) as { signed?: { version?: unknown } }).signed?.version;
      return typeof v === 'number' ? v : 0;
    };
    let cachedVersion = -1;
    try { cachedVersion = versionOf(await readFile(cached, 'utf8')); } catch { cachedVersion = -1; }
    if (cachedVersion < versionOf(o.bundle.updateRootJson)) await writeFileAtomic(cached, o.bundle.updateRootJson, SECRET_FILE_MODE);
  }

  async function cleanDownloads(keep?: string): Promise<void> {
    let names: string[] = [];
    try { names = await readdir(paths.download); } catch { return; }
    for (const n of names.slice(0, 1_000)) if (n !== keep) await rm(join(paths.download, n), { force: true, recursive: true });
  }

  const refuse = (err: UpdateRefusedError, version?: string): CheckOutcome => {
    // The code goes in parentheses: a 'NAME_WITH_HASH:' prefix would look like a secret field to the journal's redactor.
    record('refused', 'refused', `${version ? `${version} ` : ''}(${err.code}) ${shortMessage(err.message)}`);
    emit({ type: 'decision', decision: 'refused', code: err.code, detail: shortMessage(err.message), ...(version ? { version } : {}) });
    log(`update refused${version ? ` (${version})` : ''}: ${err.code}: ${err.message}`);
    return { outcome: 'refused', code: err.code, detail: shortMessage(err.message), ...(version ? { version } : {}) };
  };

  /** Unpacks into the inactive slot and switches boot.json to it. */
  async function install(tarPath: string, target: TargetFile, custom: ImageTargetCustom): Promise<'a' | 'b'> {
    let state: BootState = (await readBootState(o.stateDir)).state;
    if (state.trial) throw new UpdateStateError('UPDATE_BUSY', 'the running image has not reported healthy yet');
    const inactive: 'a' | 'b' = state.active === 'a' ? 'b' : 'a';
    const sha = target.hashes.sha256!;
    let reuse = false;
    try { reuse = (await verifySlot(o.stateDir, inactive, config)).target.sha256 === sha; } catch { reuse = false; }
    if (!reuse) {
      setPhase('unpacking', custom.version);
      if (state.previous === inactive) {
        // The slot about to be replaced stops being a way back before it is touched.
        state = { ...state, previous: null };
        await writeBootState(o.stateDir, state);
      }
      await mkdir(fw.slots, { recursive: true, mode: 0o700 });
      const staging = fw.staging(inactive);
      // Staging folders left by a power cut, for either slot.
      await rm(fw.staging('a'), { recursive: true, force: true });
      await rm(fw.staging('b'), { recursive: true, force: true });
      const { readImageArchive } = await import('./archive.ts');
      const contents = await readImageArchive(tarPath, { maxEntries: config.maxImageEntries, maxUnpackedBytes: config.maxUnpackedBytes }, {
        into: staging, ...(o.onProgress ? { onProgress: (d: number) => o.onProgress!('unpack', d, target.length) } : {}),
      });
      const img = contents.manifest;
      if (img.model !== custom.model || img.version !== custom.version || img.securityVersion !== custom.securityVersion) {
        await rm(staging, { recursive: true, force: true });
        throw new UpdateRefusedError('UPDATE_IMAGE_INVALID', `image.json says ${img.model} ${img.version} (security ${img.securityVersion}) but the signed metadata says ${custom.model} ${custom.version} (security ${custom.securityVersion})`);
      }
      await writeFileDurable(join(staging, SLOT_MANIFEST_FILE), JSON.stringify(slotManifest({ path: target.path, sha256: sha, length: target.length }, img, contents.files), null, 1) + '\n', SECRET_FILE_MODE);
      await rm(fw.slot(inactive), { recursive: true, force: true });
      await commitDirectory(staging, fw.slot(inactive));
    }
    setPhase('switching', custom.version);
    // The switch: one atomic rename of boot.json. Before it the old image boots, after it the new one (on trial).
    await writeBootState(o.stateDir, { format: state.format, active: inactive, previous: state.active, trial: { boots: 0, version: custom.version, targetSha256: sha } });
    return inactive;
  }

  async function runCheck(manual: boolean): Promise<CheckOutcome> {
    if (!config.repositoryUrl) return { outcome: 'no-repository' };
    if (trialPending) return { outcome: 'waiting-for-health' };
    const at = new Date().toISOString();
    const finish = async (outcome: CheckOutcome): Promise<CheckOutcome> => {
      saved = { ...saved, lastCheck: { at, outcome: outcome.outcome, ...(outcome.code ? { code: outcome.code } : {}), ...(outcome.detail ? { detail: outcome.detail } : {}) } };
      await saveStatus().catch(() => undefined);
      if (phase !== 'restarting') setPhase('idle');
      return outcome;
    };
    setPhase('checking');
    // Loaded at the first check, not at boot: most of an agent's life is not spent updating.
    const { BoundedFetcher: Fetcher } = await import('./fetcher.ts');
    const fetcher: BoundedFetcher = new Fetcher({ baseUrl: config.repositoryUrl, tmpDir: paths.download, config, caCertPem: o.bundle.caCertPem });
    currentFetcher = fetcher;
    let target: TargetFile | undefined;
    try {
      await prepareMetadataDir();
      await mkdir(paths.download, { recursive: true, mode: 0o700 });
      const { Updater } = await import('tuf-js');
      const tuf = new Updater({
        metadataDir: paths.metadata, metadataBaseUrl: `${config.repositoryUrl}/metadata`, targetBaseUrl: `${config.repositoryUrl}/targets`, targetDir: paths.download,
        fetcher, config: { ...METADATA_LIMITS, maxRootRotations: config.maxRootRotations, prefixTargetsWithHash: true },
      });
      makeMetadataWritesAtomic(tuf);
      await tuf.refresh();
      target = await tuf.getTargetInfo(imageTargetPath(model));
    } catch (err) {
      return finish(refuse(classifyUpdateFailure(err, fetcher.lastFailure, fetcher.lastRole)));
    }
    if (!target) {
      record('check', 'info', `no image is published for ${model}`);
      emit({ type: 'decision', decision: 'no-image' });
      return finish({ outcome: 'no-image' });
    }
    let custom: ImageTargetCustom;
    try { custom = parseImageTargetCustom(target.custom); } catch (err) { return finish(refuse(err as UpdateRefusedError)); }
    saved = { ...saved, latest: { version: custom.version, securityVersion: custom.securityVersion, ...(custom.notes ? { notes: custom.notes } : {}) } };
    const sha = target.hashes.sha256;
    try {
      if (custom.model !== model) throw new UpdateRefusedError('UPDATE_WRONG_MODEL', `the image is for ${custom.model}, this device is a ${model}`);
      if (!sha || !/^[0-9a-f]{64}$/.test(sha)) throw new UpdateRefusedError('UPDATE_METADATA_INVALID', 'the image has no SHA-256 in its metadata');
      const cmp = compareVersions(custom.version, running.version);
      if (cmp === 0) {
        record('check', 'info', `up to date: ${running.version}`);
        emit({ type: 'decision', decision: 'up-to-date', version: running.version });
        return finish({ outcome: 'up-to-date', version: running.version });
      }
      if (cmp < 0) throw new UpdateRefusedError('UPDATE_DOWNGRADE', `${custom.version} is older than the running ${running.version}`);
      let sec;
      try { sec = await readSecurityCounter(o.stateDir); } catch (err) { throw new UpdateStateError('SECURITY_COUNTER_UNREADABLE', (err as Error).message); }
      counter = sec.securityVersion;
      if (custom.securityVersion < sec.securityVersion) throw new UpdateRefusedError('UPDATE_DOWNGRADE', `security version ${custom.securityVersion} is below this device's ${sec.securityVersion}`);
      if (sec.version && compareVersions(custom.version, sec.version) < 0) throw new UpdateRefusedError('UPDATE_DOWNGRADE', `${custom.version} is older than ${sec.version}, which has run on this device`);
      if ((await readRejectedImages(o.stateDir)).some((r) => r.sha256 === sha)) throw new UpdateRefusedError('UPDATE_PREVIOUSLY_FAILED', `${custom.version} failed its health check on this device before`);
      if (target.length > config.maxImageBytes) throw new UpdateRefusedError('UPDATE_TOO_LARGE', `the image is ${target.length} bytes, more than the ${config.maxImageBytes} allowed`);
    } catch (err) {
      if (err instanceof UpdateRefusedError) return finish(refuse(err, custom.version));
      throw err;
    }
    if (!manual && !autoOn()) return finish({ outcome: 'up-to-date', version: running.version, detail: `${custom.version} is available; automatic updates are off` });
    if (!o.onRestart) return finish({ outcome: 'up-to-date', version: running.version, detail: `${custom.version} is available; this agent runs without a supervisor and cannot switch images` });
    record('found', 'info', `${custom.version} (security version ${custom.securityVersion}, ${target.length} bytes)${custom.notes ? `: ${custom.notes.risk}` : ''}`);
    emit({ type: 'decision', decision: 'found', version: custom.version });

    const file = join(paths.download, `${sha}.image.tar`);
    try {
      await cleanDownloads(`${sha}.image.tar`);
      let verified = false;
      if (existsSync(file)) {
        try { await verifyImageFile(target, file); verified = true; } catch { await unlink(file).catch(() => undefined); }
      }
      if (!verified) {
        setPhase('downloading', custom.version);
        const url = `${config.repositoryUrl}/targets/${model}/${sha}.image.tar`;
        try {
          await fetcher.downloadTo(url, target.length, file, o.onProgress ? (d, t) => o.onProgress!('download', d, t) : undefined);
        } catch (err) {
          throw classifyUpdateFailure(err, fetcher.lastFailure, 'image');
        }
        try {
          await verifyImageFile(target, file);
        } catch (err) {
          await unlink(file).catch(() => undefined);
          throw new UpdateRefusedError('UPDATE_IMAGE_HASH_MISMATCH', `the downloaded image does not match its signed length and hash (${shortMessage((err as Error).message)})`);
        }
      }
      const into = await install(file, target, custom);
      await unlink(file).catch(() => undefined);
      record('installed', 'success', `${custom.version} installed in slot ${into}; restarting into it (on trial for ${config.maxTrialBoots} boots)`);
      emit({ type: 'decision', decision: 'installed', version: custom.version });
      log(`update: ${custom.version} installed in slot ${into}; restarting`);
      setPhase('restarting', custom.version);
      const restart = setTimeout(() => o.onRestart?.(), config.restartDelayMs);
      restart.unref();
      return finish({ outcome: 'installed', version: custom.version });
    } catch (err) {
      if (err instanceof UpdateRefusedError) return finish(refuse(err, custom.version));
      const text = err instanceof Error ? shortMessage(err.message) : 'error';
      record('install', 'failure', `${custom.version} (${(err as { code?: string }).code ?? 'ERROR'}) ${text}`);
      emit({ type: 'decision', decision: 'failed', version: custom.version, detail: text });
      log(`update failed: ${text}`);
      return finish({ outcome: 'failed', version: custom.version, code: (err as { code?: string }).code ?? 'UPDATE_FAILED', detail: text });
    }
  }

  function checkNow(opts: { manual?: boolean } = {}): Promise<CheckOutcome> {
    if (closed) return Promise.resolve({ outcome: 'busy' });
    if (inflight) return inflight;
    inflight = runCheck(opts.manual ?? false).catch((err: unknown): CheckOutcome => {
      const text = err instanceof Error ? shortMessage(err.message) : 'error';
      record('check', 'failure', text);
      setPhase('idle');
      return { outcome: 'failed', detail: text, code: (err as { code?: string }).code ?? 'UPDATE_FAILED' };
    }).finally(() => { inflight = undefined; });
    return inflight;
  }

  function schedule(delayMs: number): void {
    if (closed || !config.repositoryUrl) return;
    clearTimeout(timer);
    const wait = delayMs + Math.floor(Math.random() * (config.checkJitterMs + 1));
    nextCheckAt = Date.now() + wait;
    timer = setTimeout(() => {
      timer = undefined;
      const postponed = prefs.postponedUntil !== null && Date.parse(prefs.postponedUntil) > Date.now();
      const run = autoOn() && !postponed ? checkNow() : Promise.resolve<CheckOutcome>({ outcome: 'up-to-date' });
      void run.then((r) => { if (r.outcome !== 'installed') schedule(config.checkIntervalMs); });
    }, wait);
    timer.unref();
  }

  if (!trialPending) schedule(config.firstCheckDelayMs);

  const status = (): UpdateStatus => ({
    running, repositoryUrl: config.repositoryUrl ?? null, autoUpdate: autoOn(), postponedUntil: prefs.postponedUntil,
    phase, lastCheck: saved.lastCheck, latest: saved.latest, nextCheckAt: nextCheckAt ? new Date(nextCheckAt).toISOString() : null, securityCounter: counter,
  });

  const updater: DeviceUpdater = {
    running,
    status,
    checkNow,
    async reportHealthy() {
      const { state } = await readBootState(o.stateDir);
      if (state.active === slot && state.trial) {
        await writeBootState(o.stateDir, { ...state, trial: null, previous: null });
        record('healthy', 'success', `${running.version} reported healthy on boot ${state.trial.boots}; it is now the image this device runs`);
        emit({ type: 'decision', decision: 'healthy', version: running.version });
      }
      if (state.active === slot) {
        try { counter = (await raiseSecurityCounter(o.stateDir, running.securityVersion, running.version)).securityVersion; } catch (err) {
          log(`update: security counter not raised: ${(err as Error).message}`);
        }
      }
      if (trialPending) { trialPending = false; schedule(config.firstCheckDelayMs); }
    },
    async postpone() {
      prefs = { ...prefs, postponedUntil: new Date(Date.now() + config.postponeMs).toISOString() };
      await savePrefs();
      record('postponed', 'info', `automatic updates postponed until ${prefs.postponedUntil}`);
      return `automatic updates postponed until ${prefs.postponedUntil!.slice(0, 16).replace('T', ' ')} UTC`;
    },
    async setAutoUpdate(on) {
      prefs = { autoUpdate: on, postponedUntil: on ? null : prefs.postponedUntil };
      await savePrefs();
      record(on ? 'auto-update-on' : 'auto-update-off', 'info', on ? 'automatic updates turned on by the owner' : 'automatic updates turned off by the owner');
      return on ? 'automatic updates are on' : 'automatic updates are off; use "Check for updates now" to update by hand';
    },
    async resetOwnerChoices() {
      prefs = { autoUpdate: null, postponedUntil: null };
      await rm(paths.prefs, { force: true });
    },
    ownerActions() {
      return [
        {
          id: 'update-check', label: 'Check for updates now', run: async () => {
            const r = await Promise.race([checkNow({ manual: true }), new Promise<undefined>((res) => { setTimeout(() => res(undefined), OWNER_CHECK_WAIT_MS).unref(); })]);
            if (!r) return 'the check is still running; its result will be in the journal';
            return describeOutcome(r);
          },
        },
        { id: 'update-postpone', label: 'Postpone automatic updates', run: () => updater.postpone() },
        { id: 'update-auto-off', label: 'Turn automatic updates off', run: () => updater.setAutoUpdate(false) },
        { id: 'update-auto-on', label: 'Turn automatic updates on', run: () => updater.setAutoUpdate(true) },
      ];
    },
    facts() {
      const s = status();
      const when = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')} UTC`;
      const postponed = s.postponedUntil && Date.parse(s.postponedUntil) > Date.now() ? `postponed until ${when(s.postponedUntil)}` : undefined;
      return [
        ['Installed firmware', `${running.version} (${running.slot === 'factory' ? 'factory image' : `slot ${running.slot}`}, security version ${running.securityVersion})`],
        ['Latest available', s.latest ? `${s.latest.version} (security version ${s.latest.securityVersion})${s.latest.notes ? `: ${s.latest.notes.risk}; installing: ${s.latest.notes.interruption}` : ''}` : s.repositoryUrl ? 'not known yet' : 'no update repository configured'],
        ['Last checked', s.lastCheck ? `${when(s.lastCheck.at)}: ${s.lastCheck.outcome}${s.lastCheck.code ? ` (${s.lastCheck.code})` : ''}` : 'never'],
        ['Automatic updates', !s.autoUpdate ? 'off (turned off by you)' : postponed ?? (s.nextCheckAt ? `on; next check around ${when(s.nextCheckAt)}` : 'on')],
      ];
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      currentFetcher?.abort();
      // An unpack in progress finishes (it is bounded); a download stops at once.
      await inflight?.catch(() => undefined);
    },
  };
  return updater;
}

/** A one-line account of a check for the owner. */
export function describeOutcome(r: CheckOutcome): string {
  switch (r.outcome) {
    case 'installed': return `firmware ${r.version} installed; the device restarts into it now`;
    case 'up-to-date': return r.detail ?? `up to date (${r.version})`;
    case 'no-image': return 'no firmware is published for this model yet';
    case 'no-repository': return 'no update repository is configured';
    case 'waiting-for-health': return 'the new firmware is still starting; try again in a minute';
    case 'refused': return `update refused (${r.code}): ${r.detail ?? ''}`;
    case 'busy': return 'the updater is stopping';
    default: return `the check failed (${r.code ?? 'error'}): ${r.detail ?? ''}`;
  }
}

/** Size of the one buffer an image is read through, bytes. */
const VERIFY_CHUNK_BYTES = 1 << 20;

/** The file's bytes through one reused buffer: each chunk is handed out only after the previous one was consumed. */
async function* fileChunks(file: string): AsyncGenerator<Buffer> {
  const handle = await open(file, 'r');
  const buffer = Buffer.allocUnsafe(VERIFY_CHUNK_BYTES);
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Verifies a downloaded image against its signed target info with @tufjs/models (length and
 * every listed hash). TargetFile.verify only iterates its input and hashes each chunk before
 * asking for the next, so the file is fed through a single reused 1 MiB buffer: memory stays
 * flat whatever the image's size, and no garbage piles up for the collector.
 */
export async function verifyImageFile(target: TargetFile, file: string): Promise<void> {
  await target.verify(fileChunks(file) as unknown as Readable);
}

/**
 * tuf-js writes its metadata cache with a plain writeFileSync, which a power cut can leave
 * empty; this replaces that one method on the instance with an atomic write (temp file, fsync,
 * rename, fsync folder). Fails loudly if a tuf-js upgrade renames it.
 */
function makeMetadataWritesAtomic(updater: object): void {
  const u = updater as { persistMetadata?: unknown; dir?: unknown };
  if (typeof u.persistMetadata !== 'function' || typeof u.dir !== 'string') {
    throw new UpdateStateError('UPDATE_TUF_INCOMPATIBLE', 'this tuf-js version does not persist metadata the way Bulwark expects');
  }
  const dir = u.dir;
  u.persistMetadata = (name: string, bytes: Buffer): void => {
    writeFileAtomicSync(join(dir, `${encodeURIComponent(name)}.json`), bytes, SECRET_FILE_MODE);
  };
}

