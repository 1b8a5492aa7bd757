/**
 * The state and steps behind {@link startUpdater}: one check (metadata, vetting, download,
 * install), the schedule, the owner's choices and what the admin page shows. device-updater.ts
 * builds one of these and hands out its public face.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TargetFile } from '@tufjs/models';
import {
  writeJsonAtomic,
  writeFileDurable,
  commitDirectory,
  readStateFile,
  SECRET_FILE_MODE,
  type StateFormat,
} from '../storage/index.ts';
import { UpdateRefusedError, UpdateStateError } from './errors.ts';
import type { DeviceUpdateConfig } from './config.ts';
import { compareVersions } from './semver.ts';
import { satisfiesNodeRange } from './node-range.ts';
import {
  deltaTargetPath,
  imageTargetPath,
  isCalendarDate,
  parseImageTargetCustom,
  type ImageTargetCustom,
} from './image.ts';
import type { DeltaSource } from './delta-download.ts';
import type { BoundedFetcher } from './fetcher.ts';
import type { FolderFetcher } from './update-file.ts';
import { classifyUpdateFailure, shortMessage } from './classify.ts';
import {
  readBootState,
  writeBootState,
  readSecurityCounter,
  raiseSecurityCounter,
  readRejectedImages,
  addRejectedImage,
  verifySlot,
  firmwarePaths,
  slotManifest,
  SLOT_MANIFEST_FILE,
  SLOT_IMAGE_FILE,
  type SlotName,
  type BootState,
} from './slots.ts';
import {
  cleanDownloads,
  makeMetadataWritesAtomic,
  prepareMetadataDir,
  setExpiryReferenceTime,
  verifiedSignedOf,
  verifyImageFile,
} from './updater-files.ts';
import {
  belowFloorText,
  expiredText,
  expiryReference,
  floorRaiseOf,
  timeText,
  type ExpiryReference,
} from './update-clock.ts';
import type {
  CheckOutcome,
  RunningImage,
  StartUpdaterOptions,
  UpdateEvent,
  UpdatePhase,
  UpdateStatus,
  UpdateOutcomeKind,
  UpdateOutcomeRecord,
} from './updater-types.ts';
import { MAX_KEPT_OUTCOMES } from './updater-types.ts';

interface Prefs {
  autoUpdate: boolean | null;
  postponedUntil: string | null;
}
interface SavedStatus {
  lastCheck: UpdateStatus['lastCheck'];
  latest: UpdateStatus['latest'];
  /** The latest support end signed for this model that the unit has seen (never moves earlier). */
  supportEndsOn: string | null;
  /** The newest update outcomes, oldest first (kept for the cloud, which may be away when they happen). */
  outcomes: UpdateOutcomeRecord[];
}

/** Longest detail kept with an outcome, characters. */
const MAX_OUTCOME_DETAIL = 200;
const OUTCOME_KINDS: ReadonlySet<string> = new Set<UpdateOutcomeKind>([
  'found',
  'downloaded',
  'installed',
  'healthy',
  'rolled-back',
  'refused',
  'failed',
]);

/** The kept outcomes of a status file, each checked (the file is the unit's own, but may be damaged). */
function keptOutcomes(value: unknown): UpdateOutcomeRecord[] {
  if (!Array.isArray(value)) return [];
  const str = (x: unknown): x is string => typeof x === 'string' && x.length <= MAX_OUTCOME_DETAIL;
  return (value as Array<Partial<Record<keyof UpdateOutcomeRecord, unknown>>>)
    .filter((o) => typeof o === 'object' && o !== null)
    .filter((o) => Number.isSafeInteger(o.n) && Number.isSafeInteger(o.at) && OUTCOME_KINDS.has(o.outcome as string))
    .filter((o) => [o.version, o.code, o.detail].every((x) => x === undefined || str(x)))
    .map((o) => o as unknown as UpdateOutcomeRecord)
    .slice(-MAX_KEPT_OUTCOMES);
}
type JournalResult = 'success' | 'failure' | 'refused' | 'info';

/** tuf-js's bounds on metadata sizes, bytes. */
const METADATA_LIMITS = {
  timestampMaxLength: 16_384,
  snapshotMaxLength: 2_000_000,
  targetsMaxLength: 5_000_000,
  rootMaxLength: 512_000,
} as const;

/** Where the updater keeps its files, under the state folder. */
export interface UpdaterPaths {
  readonly dir: string;
  readonly metadata: string;
  readonly download: string;
  readonly prefs: string;
  readonly status: string;
}

/** The updater's folder layout under `stateDir`. */
export function updaterPaths(stateDir: string): UpdaterPaths {
  const dir = join(stateDir, 'update');
  return {
    dir,
    metadata: join(dir, 'metadata'),
    download: join(dir, 'download'),
    prefs: join(dir, 'prefs.json'),
    status: join(dir, 'status.json'),
  };
}

/** A JSON object, or a throw: what the two unversioned update state files must at least be. */
function jsonObject(text: string): Record<string, unknown> {
  const v = JSON.parse(text) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
  return v as Record<string, unknown>;
}

/** update/prefs.json: the owner's choices; a field of the wrong type reads as unset. */
const PREFS_FORMAT: StateFormat<Prefs> = {
  name: 'prefs.json',
  parse: (text) => {
    const p = jsonObject(text);
    const postponed = typeof p.postponedUntil === 'string' && !Number.isNaN(Date.parse(p.postponedUntil));
    return {
      autoUpdate: typeof p.autoUpdate === 'boolean' ? p.autoUpdate : null,
      postponedUntil: postponed ? (p.postponedUntil as string) : null,
    };
  },
};

/** update/status.json: the last check, the latest release seen, the kept outcomes. */
const STATUS_FORMAT: StateFormat<SavedStatus> = {
  name: 'status.json',
  parse: (text) => {
    const s = jsonObject(text) as Partial<SavedStatus>;
    return {
      lastCheck: s.lastCheck ?? null,
      latest: s.latest ?? null,
      supportEndsOn: isCalendarDate(s.supportEndsOn) ? s.supportEndsOn : null,
      outcomes: keptOutcomes(s.outcomes),
    };
  },
};

function errorCode(err: unknown, fallback: string): string {
  return (err as { code?: string }).code ?? fallback;
}

/** A size for people: KiB under a MiB, else MiB with one decimal. */
function sizeText(bytes: number): string {
  return bytes < 1_048_576 ? `${Math.max(1, Math.round(bytes / 1024))} KiB` : `${(bytes / 1_048_576).toFixed(1)} MiB`;
}

/** What one refresh of the metadata found: the image's target and a delta from the running image, if signed. */
interface FoundTargets {
  readonly image: TargetFile | undefined;
  readonly delta: DeltaSource | undefined;
}

/** Where an image comes from: the repository over the network, or an unpacked update file. */
interface ImageSource {
  readonly baseUrl: string;
  readonly fetcher: BoundedFetcher | FolderFetcher;
  /** Set for an update file: no deltas, and the owner's own action (not held back by automatic-update choices). */
  readonly file?: {
    /**
     * The time expiry is checked against, when earlier than now: the latest moment the unit knows it
     * trusted (its stored timestamp's expiry, or when it was made). Never read from the file.
     */
    readonly referenceTime?: Date;
  };
}

/**
 * A refresh refused for expired metadata, as a refusal whose message names the clock's part (the floor,
 * a likely fast clock); undefined for any other failure. The metadata stays refused.
 */
function expiryRefusal(err: unknown, tuf: object, ref: ExpiryReference): UpdateRefusedError | undefined {
  const refused = classifyUpdateFailure(err);
  if (refused.code !== 'UPDATE_METADATA_EXPIRED') return undefined;
  const role = /\b(root|timestamp|snapshot|targets)\.json\b/.exec(refused.message)?.[1] ?? 'metadata';
  const signed = role === 'metadata' ? undefined : verifiedSignedOf(tuf, role as 'timestamp');
  const expires = signed ? Date.parse(signed.expires) : NaN;
  const text = expiredText(role, Number.isFinite(expires) ? expires : undefined, ref);
  return new UpdateRefusedError('UPDATE_METADATA_EXPIRED', text, { role }, { cause: err });
}

/** Moves the verified archive into the staged slot (copies it across file systems); the slot keeps it as a base. */
async function keepArchive(tarPath: string, into: string): Promise<void> {
  try {
    await rename(tarPath, into);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    // A copy not yet on disk at a power cut is harmless: a base is checked against its signed hash before use.
    await copyFile(tarPath, into);
  }
}

/** One updater's state and steps. */
export class UpdaterCore {
  readonly o: StartUpdaterOptions;
  readonly config: DeviceUpdateConfig;
  readonly running: RunningImage;
  readonly slot: SlotName;
  readonly log: (message: string) => void;
  readonly paths: UpdaterPaths;
  readonly fw: ReturnType<typeof firmwarePaths>;
  readonly source: string;
  prefs: Prefs = { autoUpdate: null, postponedUntil: null };
  saved: SavedStatus = { lastCheck: null, latest: null, supportEndsOn: null, outcomes: [] };
  /** Who hears each new outcome (the cloud link). */
  readonly outcomeListeners = new Set<(outcome: UpdateOutcomeRecord) => void>();
  /** The status file's writes, one after another, so an older one never lands last. */
  statusWrite: Promise<void> = Promise.resolve();
  counter = 0;
  phase: UpdatePhase = 'idle';
  timer: NodeJS.Timeout | undefined;
  nextCheckAt: number | null = null;
  inflight: Promise<CheckOutcome> | undefined;
  closed = false;
  trialPending = false;
  currentFetcher: BoundedFetcher | FolderFetcher | undefined;
  /** The journal's source while an update file is installed (else the repository's address). */
  sourceNow: string | undefined;

  constructor(o: StartUpdaterOptions, config: DeviceUpdateConfig, running: RunningImage, source: string) {
    this.o = o;
    this.config = config;
    this.running = running;
    this.slot = running.slot;
    this.log = o.log ?? (() => undefined);
    this.paths = updaterPaths(o.stateDir);
    this.fw = firmwarePaths(o.stateDir);
    this.source = source;
  }

  /** Reads the owner's choices, the last status and the security counter. */
  async load(): Promise<void> {
    // An update file unpacked before a power cut: never resumed, only removed.
    await rm(join(this.paths.dir, 'from-file'), { recursive: true, force: true });
    // Unusable files are moved aside (kept for support, journalled by the agent) and start from their defaults.
    const damaged = this.o.damaged ?? { dir: join(this.o.stateDir, 'damaged'), note: () => undefined };
    this.prefs = (await readStateFile(this.paths.prefs, PREFS_FORMAT, damaged)) ?? this.prefs;
    this.saved = (await readStateFile(this.paths.status, STATUS_FORMAT, damaged)) ?? this.saved;
    try {
      this.counter = (await readSecurityCounter(this.o.stateDir)).securityVersion;
    } catch {
      /* reported at check time */
    }
  }

  emit(e: UpdateEvent): void {
    try {
      this.o.onEvent?.(e);
    } catch {
      /* a hook must not break the updater */
    }
    // An image refused because it already failed here adds nothing to its rollback, which stays the last word.
    const echo = e.type === 'decision' && e.code === 'UPDATE_PREVIOUSLY_FAILED';
    if (e.type === 'decision' && OUTCOME_KINDS.has(e.decision) && !echo) {
      const { version, code, detail } = e;
      this.noteOutcome({ outcome: e.decision as UpdateOutcomeKind, version, code, detail });
    }
  }

  /** Keeps an outcome in status.json (the newest {@link MAX_KEPT_OUTCOMES}) and tells the listeners. */
  noteOutcome(o: { outcome: UpdateOutcomeKind; version?: string; code?: string; detail?: string }): void {
    const at = Date.now();
    const list = this.saved.outcomes;
    const last = list[list.length - 1];
    // A repeat (the same refusal at every check) moves the last one rather than pushing out what came before.
    const repeat = last?.outcome === o.outcome && last.version === o.version && last.code === o.code;
    const n = repeat ? last.n : Math.max((last?.n ?? 0) + 1, at);
    const record: UpdateOutcomeRecord = {
      n,
      at,
      outcome: o.outcome,
      ...(o.version ? { version: o.version } : {}),
      ...(o.code ? { code: o.code } : {}),
      ...(o.detail ? { detail: o.detail.slice(0, MAX_OUTCOME_DETAIL) } : {}),
    };
    const outcomes = repeat ? [...list.slice(0, -1), record] : [...list, record].slice(-MAX_KEPT_OUTCOMES);
    this.saved = { ...this.saved, outcomes };
    this.saveStatus().catch((err: unknown) => this.log(`update: status not saved: ${(err as Error).message}`));
    for (const listener of this.outcomeListeners) {
      try {
        listener(record);
      } catch {
        /* a listener must not break the updater */
      }
    }
  }

  record(event: string, result: JournalResult, detail?: string): void {
    const cut = detail ? { detail: detail.slice(0, 200) } : {};
    this.o.journal.record({ surface: 'update', source: this.sourceNow ?? this.source, event, result, ...cut });
  }

  setPhase(p: UpdatePhase, version?: string, detail?: string): void {
    this.phase = p;
    this.emit({ type: 'phase', phase: p, ...(version ? { version } : {}), ...(detail ? { detail } : {}) });
  }

  autoOn(): boolean {
    return this.prefs.autoUpdate ?? this.config.autoUpdate;
  }

  async savePrefs(): Promise<void> {
    await mkdir(this.paths.dir, { recursive: true, mode: 0o700 });
    await writeJsonAtomic(this.paths.prefs, this.prefs, SECRET_FILE_MODE);
  }

  /** Writes status.json after the writes before it, with what `saved` holds then. */
  saveStatus(): Promise<void> {
    const write = this.statusWrite.then(async () => {
      await mkdir(this.paths.dir, { recursive: true, mode: 0o700 });
      await writeJsonAtomic(this.paths.status, this.saved, SECRET_FILE_MODE);
    });
    this.statusWrite = write.catch(() => undefined);
    return write;
  }

  /** What the supervisor did before this boot: a trial to finish, a fallback to report. */
  async takeBootState(): Promise<void> {
    const boot = await readBootState(this.o.stateDir);
    if (boot.state.active !== this.slot) return;
    this.trialPending = boot.state.trial !== null;
    const f = boot.state.fallback;
    if (!f || f.reported) return;
    const what = f.version ? `firmware ${f.version}` : `slot ${f.from}`;
    const to = f.to === 'factory' ? 'the factory image' : `slot ${f.to}`;
    this.record('rolled-back', 'failure', `${what} abandoned: ${f.reason}; running ${this.running.version} from ${to}`);
    if (f.targetSha256 && f.version) {
      const rejected = { sha256: f.targetSha256, version: f.version, reason: f.reason, at: f.at };
      await addRejectedImage(this.o.stateDir, rejected);
    }
    const version = f.version ? { version: f.version } : {};
    this.emit({ type: 'decision', decision: 'rolled-back', ...version, detail: f.reason });
    // Kept for the cloud before the fallback counts as reported: a power cut between the two must not lose it.
    await this.statusWrite;
    await writeBootState(this.o.stateDir, { ...boot.state, fallback: { ...f, reported: true } });
    this.log(`update: ${what} was rolled back: ${f.reason}`);
  }

  refuse(err: UpdateRefusedError, version?: string): CheckOutcome {
    const v = version ? { version } : {};
    // The code goes in parentheses: a 'NAME_WITH_HASH:' prefix would look like a secret field to the
    // journal's redactor.
    this.record('refused', 'refused', `${version ? `${version} ` : ''}(${err.code}) ${shortMessage(err.message)}`);
    this.emit({ type: 'decision', decision: 'refused', code: err.code, detail: shortMessage(err.message), ...v });
    this.log(`update refused${version ? ` (${version})` : ''}: ${err.code}: ${err.message}`);
    return { outcome: 'refused', code: err.code, detail: shortMessage(err.message), ...v };
  }

  /** Unpacks into the inactive slot (unless it already holds the image) and switches boot.json to it. */
  async install(tarPath: string, target: TargetFile, custom: ImageTargetCustom): Promise<'a' | 'b'> {
    let state: BootState = (await readBootState(this.o.stateDir)).state;
    if (state.trial) throw new UpdateStateError('UPDATE_BUSY', 'the running image has not reported healthy yet');
    const inactive: 'a' | 'b' = state.active === 'a' ? 'b' : 'a';
    const sha = target.hashes.sha256!;
    let reuse = false;
    try {
      reuse = (await verifySlot(this.o.stateDir, inactive, this.config)).target.sha256 === sha;
    } catch {
      reuse = false;
    }
    if (!reuse) state = await this.unpackIntoSlot(state, inactive, tarPath, target, custom);
    this.setPhase('switching', custom.version);
    // The switch: one atomic rename of boot.json. Before it the old image boots, after it the new one (on trial).
    await writeBootState(this.o.stateDir, {
      format: state.format,
      active: inactive,
      previous: state.active,
      trial: { boots: 0, version: custom.version, targetSha256: sha },
    });
    return inactive;
  }

  async unpackIntoSlot(
    state: BootState,
    inactive: 'a' | 'b',
    tarPath: string,
    target: TargetFile,
    custom: ImageTargetCustom,
  ): Promise<BootState> {
    this.setPhase('unpacking', custom.version);
    if (state.previous === inactive) {
      // The slot about to be replaced stops being a way back before it is touched.
      state = { ...state, previous: null };
      await writeBootState(this.o.stateDir, state);
    }
    await mkdir(this.fw.slots, { recursive: true, mode: 0o700 });
    const staging = this.fw.staging(inactive);
    // Staging folders left by a power cut, for either slot.
    await rm(this.fw.staging('a'), { recursive: true, force: true });
    await rm(this.fw.staging('b'), { recursive: true, force: true });
    const { readImageArchive } = await import('./archive.ts');
    const onProgress = this.o.onProgress;
    const limits = { maxEntries: this.config.maxImageEntries, maxUnpackedBytes: this.config.maxUnpackedBytes };
    const contents = await readImageArchive(tarPath, limits, {
      into: staging,
      ...(onProgress ? { onProgress: (d: number) => onProgress('unpack', d, target.length) } : {}),
    });
    const img = contents.manifest;
    const same =
      img.model === custom.model &&
      img.version === custom.version &&
      img.securityVersion === custom.securityVersion &&
      img.node === custom.node;
    if (!same) {
      await rm(staging, { recursive: true, force: true });
      const says = (m: { model: string; version: string; securityVersion: number; node?: string }): string =>
        `${m.model} ${m.version} (security ${m.securityVersion}${m.node ? `, Node ${m.node}` : ''})`;
      throw new UpdateRefusedError(
        'UPDATE_IMAGE_INVALID',
        `image.json says ${says(img)} but the signed metadata says ${says(custom)}`,
      );
    }
    const signed = { path: target.path, sha256: target.hashes.sha256!, length: target.length };
    const manifest = JSON.stringify(slotManifest(signed, img, contents.files), null, 1) + '\n';
    await writeFileDurable(join(staging, SLOT_MANIFEST_FILE), manifest, SECRET_FILE_MODE);
    await keepArchive(tarPath, join(staging, SLOT_IMAGE_FILE));
    await rm(this.fw.slot(inactive), { recursive: true, force: true });
    await commitDirectory(staging, this.fw.slot(inactive));
    return state;
  }

  async finish(at: string, outcome: CheckOutcome): Promise<CheckOutcome> {
    const lastCheck = {
      at,
      outcome: outcome.outcome,
      ...(outcome.code ? { code: outcome.code } : {}),
      ...(outcome.detail ? { detail: outcome.detail } : {}),
    };
    this.saved = { ...this.saved, lastCheck };
    await this.saveStatus().catch(() => undefined);
    if (this.phase !== 'restarting') this.setPhase('idle');
    return outcome;
  }

  /** Refreshes the TUF metadata; returns the signed target of this model's image and a delta to it, if any. */
  async fetchTargetInfo(source: ImageSource): Promise<FoundTargets> {
    const { fetcher, baseUrl } = source;
    await prepareMetadataDir(this.paths.metadata, this.o.bundle.updateRootJson);
    await mkdir(this.paths.download, { recursive: true, mode: 0o700 });
    // A CommonJS module's `default` is its exports, under Node and in a bundled image alike.
    const { Updater } = (await import('tuf-js')).default;
    const tuf = new Updater({
      metadataDir: this.paths.metadata,
      metadataBaseUrl: `${baseUrl}/metadata`,
      targetBaseUrl: `${baseUrl}/targets`,
      targetDir: this.paths.download,
      fetcher,
      config: { ...METADATA_LIMITS, maxRootRotations: this.config.maxRootRotations, prefixTargetsWithHash: true },
    });
    makeMetadataWritesAtomic(tuf);
    const ref = expiryReference(this.o.clock);
    if (ref.belowFloor && !source.file) {
      this.record('clock', 'info', belowFloorText(ref));
      this.log(`update: ${belowFloorText(ref)}`);
    }
    // An offline unit's file may have expired on the way: versions and signatures still decide.
    setExpiryReferenceTime(tuf, source.file?.referenceTime ?? new Date(ref.at));
    try {
      await tuf.refresh();
    } catch (err) {
      throw (source.file ? undefined : expiryRefusal(err, tuf, ref)) ?? err;
    }
    this.raiseFloorFrom(tuf);
    const model = this.o.bundle.unit.model;
    const image = await tuf.getTargetInfo(imageTargetPath(model));
    const base = this.running.targetSha256;
    // The factory image keeps no archive, so only a unit booted from a slot can use a delta.
    const deltaTarget =
      image && base && !source.file ? await tuf.getTargetInfo(deltaTargetPath(model, base)) : undefined;
    const delta: DeltaSource | undefined = deltaTarget && {
      target: deltaTarget,
      download: async (file) => {
        await tuf.downloadTarget(deltaTarget, file);
      },
    };
    return { image, delta };
  }

  /** Raises the unit's clock floor to the verified timestamp's signing time (update-clock.ts says when). */
  raiseFloorFrom(tuf: object): void {
    const clock = this.o.clock;
    if (!clock) return;
    const others = (['root', 'snapshot', 'targets'] as const).map((r) => verifiedSignedOf(tuf, r));
    const at = floorRaiseOf(
      verifiedSignedOf(tuf, 'timestamp'),
      others.filter((x) => x !== undefined),
    );
    if (at !== undefined && clock.raise(at, 'signed timestamp'))
      this.log(`update: clock floor raised to ${timeText(at)} by a verified signed timestamp`);
  }

  /**
   * Throws UpdateRefusedError when the image may not be installed here; returns an outcome when
   * there is nothing to do (the image is the running one), undefined when it is newer.
   */
  async vetImage(target: TargetFile, custom: ImageTargetCustom): Promise<CheckOutcome | undefined> {
    const model = this.o.bundle.unit.model;
    const running = this.running;
    const sha = target.hashes.sha256;
    if (custom.model !== model) {
      throw new UpdateRefusedError('UPDATE_WRONG_MODEL', `the image is for ${custom.model}, this device is a ${model}`);
    }
    // Before a byte is downloaded: an image this unit's Node cannot run would only fail its trial boot.
    if (custom.node !== undefined && !satisfiesNodeRange(custom.node, process.versions.node)) {
      throw new UpdateRefusedError(
        'UPDATE_NODE_UNSUPPORTED',
        `${custom.version} needs Node.js ${custom.node}; this unit runs ${process.versions.node}`,
        { node: custom.node, running: process.versions.node },
      );
    }
    if (!sha || !/^[0-9a-f]{64}$/.test(sha)) {
      throw new UpdateRefusedError('UPDATE_METADATA_INVALID', 'the image has no SHA-256 in its metadata');
    }
    const cmp = compareVersions(custom.version, running.version);
    if (cmp === 0) {
      this.record('check', 'info', `up to date: ${running.version}`);
      this.emit({ type: 'decision', decision: 'up-to-date', version: running.version });
      return { outcome: 'up-to-date', version: running.version };
    }
    if (cmp < 0) {
      throw new UpdateRefusedError(
        'UPDATE_DOWNGRADE',
        `${custom.version} is older than the running ${running.version}`,
      );
    }
    await this.vetAgainstDeviceHistory(target, custom, sha);
    return undefined;
  }

  /** The security counter, the newest version that has run here, and the images that failed here. */
  async vetAgainstDeviceHistory(target: TargetFile, custom: ImageTargetCustom, sha: string): Promise<void> {
    let sec;
    try {
      sec = await readSecurityCounter(this.o.stateDir);
    } catch (err) {
      throw new UpdateStateError('SECURITY_COUNTER_UNREADABLE', (err as Error).message);
    }
    this.counter = sec.securityVersion;
    if (custom.securityVersion < sec.securityVersion) {
      throw new UpdateRefusedError(
        'UPDATE_DOWNGRADE',
        `security version ${custom.securityVersion} is below this device's ${sec.securityVersion}`,
      );
    }
    if (sec.version && compareVersions(custom.version, sec.version) < 0) {
      throw new UpdateRefusedError(
        'UPDATE_DOWNGRADE',
        `${custom.version} is older than ${sec.version}, which has run on this device`,
      );
    }
    if ((await readRejectedImages(this.o.stateDir)).some((r) => r.sha256 === sha)) {
      throw new UpdateRefusedError(
        'UPDATE_PREVIOUSLY_FAILED',
        `${custom.version} failed its health check on this device before`,
      );
    }
    if (target.length > this.config.maxImageBytes) {
      throw new UpdateRefusedError(
        'UPDATE_TOO_LARGE',
        `the image is ${target.length} bytes, more than the ${this.config.maxImageBytes} allowed`,
      );
    }
  }

  /** Why a newer image is not installed now, or undefined when it is. */
  holdBack(manual: boolean, custom: ImageTargetCustom): CheckOutcome | undefined {
    const version = this.running.version;
    if (!manual && !this.autoOn()) {
      return { outcome: 'up-to-date', version, detail: `${custom.version} is available; automatic updates are off` };
    }
    if (!this.o.onRestart) {
      return {
        outcome: 'up-to-date',
        version,
        detail: `${custom.version} is available; this agent runs without a supervisor and cannot switch images`,
      };
    }
    return undefined;
  }

  async runCheck(manual: boolean): Promise<CheckOutcome> {
    const repositoryUrl = this.config.repositoryUrl;
    if (!repositoryUrl) return { outcome: 'no-repository' };
    if (this.trialPending) return { outcome: 'waiting-for-health' };
    const at = new Date().toISOString();
    const finish = (outcome: CheckOutcome): Promise<CheckOutcome> => this.finish(at, outcome);
    this.setPhase('checking');
    const fetcher = await this.repositoryFetcher(repositoryUrl);
    return this.checkFrom({ baseUrl: repositoryUrl, fetcher }, manual, finish);
  }

  /**
   * The repository's downloader. While the wall clock is below the unit's clock floor, the server's
   * certificate is checked at the floor against the pinned CA (tls-at-floor.ts), not at the wall clock.
   */
  async repositoryFetcher(repositoryUrl: string): Promise<BoundedFetcher> {
    // Loaded at the first check, not at boot: most of an agent's life is not spent updating.
    const { BoundedFetcher: Fetcher } = await import('./fetcher.ts');
    const ref = expiryReference(this.o.clock);
    return new Fetcher({
      baseUrl: repositoryUrl,
      tmpDir: this.paths.download,
      config: this.config,
      caCertPem: this.o.bundle.caCertPem,
      ...(ref.belowFloor ? { certificateTimeAt: ref.floor } : {}),
    });
  }

  /**
   * A refresh of the metadata and nothing more (no image is downloaded): proves that this image's HTTP
   * client reaches the repository and that the chain of trust verifies. Resolves with what was proven;
   * throws UpdateRefusedError ('metadata refresh failed: <code> ...') when it does not.
   */
  async verifyRepository(): Promise<string> {
    const repositoryUrl = this.config.repositoryUrl;
    if (!repositoryUrl) throw new UpdateRefusedError('UPDATE_UNREACHABLE', 'no update repository is configured');
    const fetcher = await this.repositoryFetcher(repositoryUrl);
    this.currentFetcher = fetcher;
    let found: FoundTargets;
    try {
      found = await this.fetchTargetInfo({ baseUrl: repositoryUrl, fetcher });
    } catch (err) {
      const refused = classifyUpdateFailure(err, fetcher.lastFailure, fetcher.lastRole);
      const text = `metadata refresh failed: ${refused.code} (${shortMessage(refused.message)})`;
      throw new UpdateRefusedError(refused.code, text, {}, { cause: err });
    }
    const image = found.image ? `an image for ${this.o.bundle.unit.model} is signed` : 'no image is published yet';
    return `update repository reached: metadata verified from the pinned root; ${image}`;
  }

  /** One check against `source`: refresh the metadata, vet the image, then download and install it. */
  async checkFrom(
    source: ImageSource,
    manual: boolean,
    finish: (outcome: CheckOutcome) => Promise<CheckOutcome>,
  ): Promise<CheckOutcome> {
    const fetcher = source.fetcher;
    this.currentFetcher = fetcher;
    let found: FoundTargets;
    try {
      found = await this.fetchTargetInfo(source);
    } catch (err) {
      return finish(this.refuse(classifyUpdateFailure(err, fetcher.lastFailure, fetcher.lastRole)));
    }
    if (source.file?.referenceTime) await this.noteExpiredAccepted();
    const target = found.image;
    if (!target) {
      this.record('check', 'info', `no image is published for ${this.o.bundle.unit.model}`);
      this.emit({ type: 'decision', decision: 'no-image' });
      return finish({ outcome: 'no-image' });
    }
    let custom: ImageTargetCustom;
    try {
      custom = parseImageTargetCustom(target.custom);
    } catch (err) {
      return finish(this.refuse(err as UpdateRefusedError));
    }
    const notes = custom.notes ? { notes: custom.notes } : {};
    const latest = { version: custom.version, securityVersion: custom.securityVersion, ...notes };
    this.saved = { ...this.saved, latest };
    this.learnSupportEnd(custom.supportEndsOn);
    try {
      const nothingToDo = await this.vetImage(target, custom);
      if (nothingToDo) return finish(nothingToDo);
    } catch (err) {
      if (err instanceof UpdateRefusedError) return finish(this.refuse(err, custom.version));
      throw err;
    }
    const held = source.file ? undefined : this.holdBack(manual, custom);
    if (held) return finish(held);
    const risk = custom.notes ? `: ${custom.notes.risk}` : '';
    const size = `security version ${custom.securityVersion}, ${target.length} bytes`;
    this.record('found', 'info', `${custom.version} (${size})${risk}`);
    this.emit({ type: 'decision', decision: 'found', version: custom.version });
    return finish(await this.downloadAndInstall(source, target, custom, found.delta));
  }

  /** Gets the image (unless a verified copy is there) by delta or whole, verifies it and installs it. */
  async downloadAndInstall(
    source: ImageSource,
    target: TargetFile,
    custom: ImageTargetCustom,
    delta?: DeltaSource,
  ): Promise<CheckOutcome> {
    const sha = target.hashes.sha256!;
    const file = join(this.paths.download, `${sha}.image.tar`);
    try {
      await cleanDownloads(this.paths.download, `${sha}.image.tar`);
      const have = await this.verifiedCopy(target, file);
      await this.assertSpaceFor(target, have);
      if (!have) await this.obtainImage(source, target, custom, file, delta);
      this.noteOutcome({ outcome: 'downloaded', version: custom.version, detail: `${target.length} bytes, verified` });
      const into = await this.install(file, target, custom);
      await unlink(file).catch(() => undefined);
      const trial = `on trial for ${this.config.maxTrialBoots} boots`;
      this.record('installed', 'success', `${custom.version} installed in slot ${into}; restarting into it (${trial})`);
      this.emit({ type: 'decision', decision: 'installed', version: custom.version });
      this.log(`update: ${custom.version} installed in slot ${into}; restarting`);
      this.setPhase('restarting', custom.version);
      const restart = setTimeout(() => this.o.onRestart?.(), this.config.restartDelayMs);
      restart.unref();
      return { outcome: 'installed', version: custom.version };
    } catch (err) {
      if (err instanceof UpdateRefusedError) return this.refuse(err, custom.version);
      const text = err instanceof Error ? shortMessage(err.message) : 'error';
      this.record('install', 'failure', `${custom.version} (${errorCode(err, 'ERROR')}) ${text}`);
      const code = errorCode(err, 'UPDATE_FAILED');
      this.emit({ type: 'decision', decision: 'failed', version: custom.version, code, detail: text });
      this.log(`update failed: ${text}`);
      return { outcome: 'failed', version: custom.version, code, detail: text };
    }
  }

  /**
   * Refuses an image that would not fit, before a byte of it is downloaded: the download and its
   * unpacked slot (at most the archive's size) must leave `reservedBytes` free for the owner's data.
   * @throws UpdateRefusedError 'UPDATE_NO_SPACE'
   */
  async assertSpaceFor(target: TargetFile, downloaded: boolean): Promise<void> {
    const fs = await statfs(this.o.stateDir);
    const free = fs.bavail * fs.bsize;
    const need = (downloaded ? 0 : target.length) + target.length;
    const reserved = this.config.reservedBytes;
    if (free - need >= reserved) return;
    throw new UpdateRefusedError(
      'UPDATE_NO_SPACE',
      `the image needs ${sizeText(need)} (download and slot) and ${sizeText(reserved)} stays free for the ` +
        `owner's data, but ${sizeText(free)} is free`,
    );
  }

  /** Whether `file` is already the image, verified; a copy that fails verification is removed. */
  async verifiedCopy(target: TargetFile, file: string): Promise<boolean> {
    if (!existsSync(file)) return false;
    try {
      await verifyImageFile(target, file);
      return true;
    } catch {
      await unlink(file).catch(() => undefined);
      return false;
    }
  }

  /**
   * Puts the verified image at `file`: rebuilt from `delta` when it applies, else downloaded whole.
   * Any delta error is journalled and leads to the full image; no slot is touched before the image's check.
   */
  async obtainImage(
    source: ImageSource,
    target: TargetFile,
    custom: ImageTargetCustom,
    file: string,
    delta: DeltaSource | undefined,
  ): Promise<void> {
    let refused = '';
    if (delta && this.config.maxDeltaImageBytes > 0 && delta.target.length < target.length) {
      try {
        await this.rebuildFromDelta(delta, target, custom, file);
        if (await this.verifiedCopy(target, file)) return;
        refused = 'UPDATE_DELTA_RESULT_MISMATCH';
      } catch (err) {
        refused = errorCode(err, 'ERROR');
      }
      this.record('delta', 'info', `${custom.version}: delta refused: ${refused}; full image`);
      this.log(`update: ${custom.version}: delta refused: ${refused}; full image`);
    }
    const why = refused ? ` (delta refused: ${refused})` : '';
    await this.download(source, target, custom, file, `full image, ${sizeText(target.length)}${why}`);
  }

  /** Rebuilds the image at `file` from the running slot's kept archive and the delta. */
  async rebuildFromDelta(
    delta: DeltaSource,
    target: TargetFile,
    custom: ImageTargetCustom,
    file: string,
  ): Promise<void> {
    const running = this.running;
    if (running.slot === 'factory' || !running.targetSha256)
      throw new UpdateRefusedError('UPDATE_DELTA_BASE_MISMATCH', 'the factory image keeps no base for a delta');
    const max = this.config.maxDeltaImageBytes;
    // Loaded at the first delta, not at boot, to keep the idle agent under its memory budget.
    const { planDelta, readKeptBase, rebuildImage } = await import('./delta-download.ts');
    const base = await readKeptBase(this.o.stateDir, running.slot, max);
    const plan = planDelta(delta, { sha256: running.targetSha256, length: base.length }, target, max);
    const how = `delta from ${plan.custom.base.version}, ${sizeText(delta.target.length)}`;
    this.setPhase('downloading', custom.version, how);
    const deltaFile = join(this.paths.download, `${plan.target.hashes.sha256 ?? 'delta'}.delta.zst`);
    await rebuildImage({ plan, base, image: target, deltaFile, out: file, maxImageBytes: max });
  }

  async download(
    source: ImageSource,
    target: TargetFile,
    custom: ImageTargetCustom,
    file: string,
    how?: string,
  ): Promise<void> {
    this.setPhase('downloading', custom.version, how);
    const sha = target.hashes.sha256!;
    const fetcher = source.fetcher;
    const url = `${source.baseUrl}/targets/${this.o.bundle.unit.model}/${sha}.image.tar`;
    const onProgress = this.o.onProgress;
    try {
      const progress = onProgress ? (d: number, t: number): void => onProgress('download', d, t) : undefined;
      await fetcher.downloadTo(url, target.length, file, progress);
    } catch (err) {
      throw classifyUpdateFailure(err, fetcher.lastFailure, 'image');
    }
    try {
      await verifyImageFile(target, file);
    } catch (err) {
      await unlink(file).catch(() => undefined);
      throw new UpdateRefusedError(
        'UPDATE_IMAGE_HASH_MISMATCH',
        `the downloaded image does not match its signed length and hash (${shortMessage((err as Error).message)})`,
      );
    }
  }

  /**
   * Installs an update file (`bulwark release export`): the same checks as an online update, from the
   * unit's pinned root; `file` is read, never changed or removed.
   */
  installFile(file: string): Promise<CheckOutcome> {
    if (this.closed) return Promise.resolve({ outcome: 'busy' });
    if (this.inflight) return Promise.resolve({ outcome: 'busy', detail: 'an update check is in progress' });
    this.inflight = this.runFileInstall(file)
      .catch((err: unknown): CheckOutcome => {
        const text = err instanceof Error ? shortMessage(err.message) : 'error';
        this.record('file', 'failure', text);
        this.setPhase('idle');
        return { outcome: 'failed', detail: text, code: errorCode(err, 'UPDATE_FAILED') };
      })
      .finally(() => {
        this.inflight = undefined;
        this.sourceNow = undefined;
      });
    return this.inflight;
  }

  async runFileInstall(file: string): Promise<CheckOutcome> {
    // The file came through the owner's hands (the admin page journals the upload with its address).
    this.sourceNow = 'local';
    if (this.trialPending) return { outcome: 'waiting-for-health' };
    const at = new Date().toISOString();
    const finish = (outcome: CheckOutcome): Promise<CheckOutcome> => this.finish(at, outcome);
    this.setPhase('checking');
    const { unpackUpdateFile, FolderFetcher, UPDATE_FILE_BASE_URL } = await import('./update-file.ts');
    const folder = join(this.paths.dir, 'from-file');
    await rm(folder, { recursive: true, force: true });
    await mkdir(this.paths.dir, { recursive: true, mode: 0o700 });
    try {
      let unpacked;
      try {
        unpacked = await unpackUpdateFile(file, folder, this.config.maxImageBytes);
      } catch (err) {
        if (err instanceof UpdateRefusedError) return await finish(this.refuse(err));
        throw err;
      }
      const { info } = unpacked;
      const model = this.o.bundle.unit.model;
      this.record('file', 'info', `an update file for ${info.model} ${info.version}`);
      if (info.model !== model) {
        const wrong = new UpdateRefusedError(
          'UPDATE_WRONG_MODEL',
          `the file is for ${info.model}, this unit is a ${model}`,
        );
        return await finish(this.refuse(wrong, info.version));
      }
      const floor = await this.trustedTimeFloor();
      const fetcher = await FolderFetcher.create(folder);
      const expiry = floor.getTime() < expiryReference(this.o.clock).at ? { referenceTime: floor } : {};
      const source = { baseUrl: UPDATE_FILE_BASE_URL, fetcher, file: expiry };
      return await this.checkFrom(source, true, finish);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  }

  /** The stored timestamp's expiry: tuf-js keeps only metadata it verified. */
  async trustedTimestampExpiry(): Promise<number> {
    try {
      const ts = JSON.parse(await readFile(join(this.paths.metadata, 'timestamp.json'), 'utf8')) as {
        signed?: { expires?: unknown };
      };
      const at = typeof ts.signed?.expires === 'string' ? Date.parse(ts.signed.expires) : NaN;
      return Number.isFinite(at) ? at : 0;
    } catch {
      return 0;
    }
  }

  /**
   * The latest moment this unit knows it trusted: its stored timestamp's expiry, or when the factory
   * made it (a unit that has trusted no timestamp yet). An update file's metadata must have been
   * valid after it: expired on the way to an offline unit, but not older than what the unit trusted.
   */
  async trustedTimeFloor(): Promise<Date> {
    const made = Date.parse(this.o.bundle.unit.createdAt ?? '');
    return new Date(Math.max(await this.trustedTimestampExpiry(), Number.isFinite(made) ? made : 0));
  }

  /** Journals that an update file's verified metadata had expired, when it had. */
  async noteExpiredAccepted(): Promise<void> {
    const expires = await this.trustedTimestampExpiry();
    if (expires === 0 || expires > expiryReference(this.o.clock).at) return;
    const at = new Date(expires).toISOString();
    this.record('file', 'info', `accepted metadata that expired ${at} (an offline unit): not older than trusted`);
  }

  checkNow(opts: { manual?: boolean } = {}): Promise<CheckOutcome> {
    if (this.closed) return Promise.resolve({ outcome: 'busy' });
    if (this.inflight) return this.inflight;
    this.inflight = this.runCheck(opts.manual ?? false)
      .catch((err: unknown): CheckOutcome => {
        const text = err instanceof Error ? shortMessage(err.message) : 'error';
        this.record('check', 'failure', text);
        this.setPhase('idle');
        return { outcome: 'failed', detail: text, code: errorCode(err, 'UPDATE_FAILED') };
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  schedule(delayMs: number): void {
    if (this.closed || !this.config.repositoryUrl) return;
    clearTimeout(this.timer);
    const wait = delayMs + Math.floor(Math.random() * (this.config.checkJitterMs + 1));
    this.nextCheckAt = Date.now() + wait;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const postponed = this.prefs.postponedUntil !== null && Date.parse(this.prefs.postponedUntil) > Date.now();
      const run =
        this.autoOn() && !postponed ? this.checkNow() : Promise.resolve<CheckOutcome>({ outcome: 'up-to-date' });
      void run.then((r) => {
        if (r.outcome !== 'installed') this.schedule(this.config.checkIntervalMs);
      });
    }, wait);
    this.timer.unref();
  }

  /** The kept outcomes, oldest first. */
  outcomes(): readonly UpdateOutcomeRecord[] {
    return this.saved.outcomes;
  }

  /** Keeps a later signed support end (an extension the maker published); an earlier one changes nothing. */
  learnSupportEnd(endsOn: string | undefined): void {
    if (endsOn === undefined || (this.saved.supportEndsOn !== null && endsOn <= this.saved.supportEndsOn)) return;
    const before = this.saved.supportEndsOn;
    this.saved = { ...this.saved, supportEndsOn: endsOn };
    this.record(
      'support-extended',
      'info',
      `security updates are promised until ${endsOn}${before ? ` (was ${before})` : ''}`,
    );
  }

  status(): UpdateStatus {
    return {
      running: this.running,
      repositoryUrl: this.config.repositoryUrl ?? null,
      autoUpdate: this.autoOn(),
      postponedUntil: this.prefs.postponedUntil,
      phase: this.phase,
      lastCheck: this.saved.lastCheck,
      latest: this.saved.latest,
      supportEndsOn: this.saved.supportEndsOn,
      nextCheckAt: this.nextCheckAt ? new Date(this.nextCheckAt).toISOString() : null,
      securityCounter: this.counter,
    };
  }

  async reportHealthy(): Promise<void> {
    const { state } = await readBootState(this.o.stateDir);
    const running = this.running;
    if (state.active === this.slot && state.trial) {
      await writeBootState(this.o.stateDir, { ...state, trial: null, previous: null });
      this.record(
        'healthy',
        'success',
        `${running.version} reported healthy on boot ${state.trial.boots}; it is now the image this device runs`,
      );
      this.emit({ type: 'decision', decision: 'healthy', version: running.version });
    }
    if (state.active === this.slot) {
      try {
        const raised = await raiseSecurityCounter(this.o.stateDir, running.securityVersion, running.version);
        this.counter = raised.securityVersion;
      } catch (err) {
        this.log(`update: security counter not raised: ${(err as Error).message}`);
      }
    }
    if (this.trialPending) {
      this.trialPending = false;
      this.schedule(this.config.firstCheckDelayMs);
    }
  }

  async postpone(): Promise<string> {
    this.prefs = { ...this.prefs, postponedUntil: new Date(Date.now() + this.config.postponeMs).toISOString() };
    await this.savePrefs();
    this.record('postponed', 'info', `automatic updates postponed until ${this.prefs.postponedUntil}`);
    return `automatic updates postponed until ${this.prefs.postponedUntil!.slice(0, 16).replace('T', ' ')} UTC`;
  }

  async setAutoUpdate(on: boolean): Promise<string> {
    this.prefs = { autoUpdate: on, postponedUntil: on ? null : this.prefs.postponedUntil };
    await this.savePrefs();
    const by = on ? 'automatic updates turned on by the owner' : 'automatic updates turned off by the owner';
    this.record(on ? 'auto-update-on' : 'auto-update-off', 'info', by);
    return on ? 'automatic updates are on' : 'automatic updates are off; use "Check for updates now" to update by hand';
  }

  async resetOwnerChoices(): Promise<void> {
    this.prefs = { autoUpdate: null, postponedUntil: null };
    await rm(this.paths.prefs, { force: true });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.currentFetcher?.abort();
    // An unpack in progress finishes (it is bounded); a download stops at once.
    await this.inflight?.catch(() => undefined);
  }
}
