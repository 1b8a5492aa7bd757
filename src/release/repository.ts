/**
 * The release side: a TUF repository of plain static files, built on @tufjs/models with the
 * factory's update-signing keys. tuf-js has no repository side; this is ours, and it only
 * writes metadata that tuf-js (the device) verifies.
 *
 *     <repo>/release.json                      the release tool's own record (not served)
 *     <repo>/metadata/<n>.root.json            every root version (the device walks them)
 *     <repo>/metadata/<n>.targets.json         consistent snapshots: every version kept
 *     <repo>/metadata/<n>.snapshot.json
 *     <repo>/metadata/timestamp.json           the only file that changes in place
 *     <repo>/targets/<model>/<sha256>.image.tar        images, named by hash
 *     <repo>/targets/<model>/<sha256>.image.cdx.json   their CycloneDX SBOMs
 *     <repo>/targets/<model>/deltas/<sha256>.<base sha256>.zst   deltas from earlier images (delta-targets.ts)
 *     <repo>/images/<model>/<sha256>.tar                the last `deltaBases` images, kept as delta bases (not served)
 *
 * A publish writes new files first and replaces timestamp.json last (atomically), so a client
 * that reads the repository meanwhile sees the old release or the new one, never a mixture.
 */
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { join, resolve, dirname, basename } from 'node:path';
import type { Metadata, Root, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { writeAll, writeFileAtomic, writeJsonAtomic, readJson, PUBLIC_FILE_MODE } from '../storage/index.ts';
import { resolveModel, type ModelSpec } from '../models/index.ts';
import {
  ReleaseError,
  validateExpiryConfig,
  compareVersions,
  isVersion,
  IMAGE_FORMAT,
  imageTargetPath,
  sbomTargetPath,
  parseImageTargetCustom,
  isCalendarDate,
  readImageArchive,
  type ExpiryConfig,
  type ImageTargetCustom,
  type ReleaseNotes,
  TIMESTAMP_SIGNED_AT_FIELD,
} from '../update/index.ts';
import {
  buildSbom,
  bundledPackages,
  packagesOfCode,
  runtimeInventory,
  type RuntimeInventory,
  type SbomInput,
} from './sbom.ts';
import { ensureAuditKey, AUDIT_KEY_TARGET } from './audit-key.ts';
import {
  checkKnownVulnerabilities,
  decideSupportPeriod,
  type RecordedSupport,
  type SupportInputs,
} from './publish-gate.ts';
import { validateDeltaBases, DEFAULT_DELTA_BASES } from './delta.ts';
import { writeDeltaTargets, keepDeltaBase, type WrittenDelta } from './delta-targets.ts';
import {
  loadTufModels,
  signWith,
  expiresIn,
  metadataBytes,
  sha256Hex,
  generateSigningKey,
  TUF_SPEC_VERSION,
  TUF_ROLES,
  type TufModels,
  type TufRole,
  type SigningKey,
} from './tuf.ts';
import {
  loadUpdateKeys,
  buildRoot,
  saveRootVersion,
  listRootVersions,
  stageRoleKeys,
  commitStagedKeys,
  UPDATE_KEY_FILES,
  type UpdateKeys,
} from './update-keys.ts';

/** Format tag of release.json. */
export const RELEASE_FORMAT = 'bulwark-release-repo/1';
/** The folder inside a factory that holds the update keys (same name as identity's UPDATE_KEYS_DIR). */
export const FACTORY_UPDATE_KEYS_DIR = 'update-keys';
const METADATA_DIR = 'metadata';
const TARGETS_DIR = 'targets';
const RELEASE_FILE = 'release.json';
const LOCK_FILE = '.release.lock';
/** The largest SBOM inside an image that publish reads (a bundle of thousands of packages fits). */
const MAX_INNER_SBOM_BYTES = 4 * 1_048_576;

/** One published image, as the release tool remembers it. */
export interface PublishedImage {
  readonly model: string;
  readonly version: string;
  readonly securityVersion: number;
  readonly sha256: string;
  readonly length: number;
  readonly publishedAt: string;
  /** The SHA-256 of its published SBOM (targets/<model>/<sbomSha256>.image.cdx.json); absent in older records. */
  readonly sbomSha256?: string;
}

/** release.json. */
export interface ReleaseRecord {
  readonly format: typeof RELEASE_FORMAT;
  readonly factoryDir: string;
  readonly createdAt: string;
  readonly expiry: ExpiryConfig;
  /** How many earlier images of a model get a delta to each new one (0 to 10; absent: 3). */
  readonly deltaBases?: number;
  readonly images: readonly PublishedImage[];
  /** Support ends declared with `release support`, by model id: each only ever later than the last. */
  readonly support?: Readonly<Record<string, RecordedSupport>>;
}

/** Progress of a long step, in bytes. */
export type ReleaseProgress = (step: 'hash' | 'copy' | 'inspect', done: number, total: number) => void;

export interface Loaded {
  readonly m: TufModels;
  readonly record: ReleaseRecord;
  readonly root: Metadata<Root>;
  readonly targets: Metadata<Targets>;
  readonly snapshot: Metadata<Snapshot>;
  readonly timestamp: Metadata<Timestamp>;
}

/** The update keys folder of a factory. */
export function keysDirOf(factoryDir: string): string {
  return join(factoryDir, FACTORY_UPDATE_KEYS_DIR);
}

async function readMetadataFile<T>(path: string, parse: (json: Record<string, unknown>) => T): Promise<T> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw new ReleaseError('RELEASE_REPO_INVALID', `cannot read ${basename(path)} in ${dirname(path)}`);
  }
  try {
    return parse(json as Record<string, unknown>);
  } catch (err) {
    throw new ReleaseError(
      'RELEASE_REPO_INVALID',
      `${basename(path)} is not valid TUF metadata: ${(err as Error).message}`,
    );
  }
}

export async function latestRootVersion(metadataDir: string): Promise<number> {
  const names = await readdir(metadataDir);
  const versions = names
    .map((n) => /^(\d{1,6})\.root\.json$/.exec(n))
    .filter((x) => x !== null)
    .map((x) => Number(x[1]));
  if (versions.length === 0) throw new ReleaseError('RELEASE_REPO_INVALID', `no root metadata in ${metadataDir}`);
  return Math.max(...versions);
}

function validateRecord(raw: unknown, repoDir: string): ReleaseRecord {
  const r = raw as Partial<ReleaseRecord> | null;
  if (!r || r.format !== RELEASE_FORMAT || typeof r.factoryDir !== 'string' || !Array.isArray(r.images)) {
    throw new ReleaseError('RELEASE_REPO_INVALID', `${join(repoDir, RELEASE_FILE)} is not a Bulwark release record`);
  }
  if (r.deltaBases !== undefined) validateDeltaBases(r.deltaBases);
  const support = Object.values((r.support ?? {}) as Record<string, Partial<RecordedSupport> | null>);
  if (support.some((x) => typeof x?.endsOn !== 'string' || !isCalendarDate(x.endsOn)))
    throw new ReleaseError('RELEASE_REPO_INVALID', `${join(repoDir, RELEASE_FILE)} has a bad support end`);
  return { ...r, expiry: validateExpiryConfig(r.expiry ?? {}) } as ReleaseRecord;
}

export async function loadRepository(repoDir: string): Promise<Loaded> {
  const m = await loadTufModels();
  let raw: unknown;
  try {
    raw = await readJson(join(repoDir, RELEASE_FILE));
  } catch {
    throw new ReleaseError(
      'RELEASE_REPO_MISSING',
      `no release repository in ${repoDir}: run 'bulwark release init --repo ${repoDir}' first`,
    );
  }
  const record = validateRecord(raw, repoDir);
  const md = join(repoDir, METADATA_DIR);
  const root = await readMetadataFile(join(md, `${await latestRootVersion(md)}.root.json`), (j) =>
    m.Metadata.fromJSON(m.MetadataKind.Root, j as never),
  );
  const timestamp = await readMetadataFile(join(md, 'timestamp.json'), (j) =>
    m.Metadata.fromJSON(m.MetadataKind.Timestamp, j as never),
  );
  const snapshot = await readMetadataFile(join(md, `${timestamp.signed.snapshotMeta.version}.snapshot.json`), (j) =>
    m.Metadata.fromJSON(m.MetadataKind.Snapshot, j as never),
  );
  const targetsMeta = snapshot.signed.meta['targets.json'];
  if (!targetsMeta) throw new ReleaseError('RELEASE_REPO_INVALID', 'the snapshot does not list targets.json');
  const targets = await readMetadataFile(join(md, `${targetsMeta.version}.targets.json`), (j) =>
    m.Metadata.fromJSON(m.MetadataKind.Targets, j as never),
  );
  return { m, record, root, targets, snapshot, timestamp };
}

/** Runs `fn` holding the repository's lock, so two publishes never interleave. */
export async function withLock<T>(repoDir: string, fn: () => Promise<T>): Promise<T> {
  const path = join(repoDir, LOCK_FILE);
  await takeLock(path);
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}

/** Creates the lock file, or removes one a crashed run left and tries again; the work itself is never retried. */
async function takeLock(path: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const h = await open(path, 'wx', 0o600);
      await h.writeFile(String(process.pid));
      await h.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      let alive = false;
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch {
          alive = false;
        }
      }
      if (alive) throw new ReleaseError('RELEASE_BUSY', `another release step (pid ${pid}) holds ${path}`);
      await unlink(path).catch(() => undefined); // left by a crashed run
    }
  }
  throw new ReleaseError('RELEASE_BUSY', `cannot take the lock ${path}`);
}

function metaFileOf(m: TufModels, version: number, bytes: Buffer): InstanceType<TufModels['MetaFile']> {
  return new m.MetaFile({ version, length: bytes.length, hashes: { sha256: sha256Hex(bytes) } });
}

/**
 * The timestamp's signing time, a field of its signed part (covered by the timestamp key's signature):
 * units raise their clock floor to it (docs/clock.md). Whole seconds, like TUF's expiry.
 */
function signedAtField(now: Date): Record<string, string> {
  return { [TIMESTAMP_SIGNED_AT_FIELD]: expiresIn(0, now) };
}

/** Signs and writes new targets (optional), snapshot (optional) and timestamp; timestamp.json last. */
export async function commit(
  repoDir: string,
  l: Loaded,
  keys: UpdateKeys,
  o: {
    targets?: Record<string, InstanceType<TufModels['TargetFile']>>;
    snapshot?: boolean;
    expiry: ExpiryConfig;
    now: Date;
  },
): Promise<{ targets: number; snapshot: number; timestamp: number }> {
  const { m } = l;
  const md = join(repoDir, METADATA_DIR);
  let targetsVersion = l.targets.signed.version;
  let targetsBytes: Buffer | undefined;
  if (o.targets) {
    targetsVersion += 1;
    const t = new m.Metadata(
      new m.Targets({
        version: targetsVersion,
        specVersion: TUF_SPEC_VERSION,
        expires: expiresIn(o.expiry.targetsSeconds, o.now),
        targets: o.targets,
      }),
    );
    signWith(m, t, [keys.targets]);
    targetsBytes = metadataBytes(t);
    await writeFileAtomic(join(md, `${targetsVersion}.targets.json`), targetsBytes, PUBLIC_FILE_MODE);
  }
  let snapshotMeta = l.timestamp.signed.snapshotMeta;
  if (o.targets || o.snapshot) {
    const version = l.snapshot.signed.version + 1;
    const targetsMeta = targetsBytes
      ? metaFileOf(m, targetsVersion, targetsBytes)
      : l.snapshot.signed.meta['targets.json']!;
    const s = new m.Metadata(
      new m.Snapshot({
        version,
        specVersion: TUF_SPEC_VERSION,
        expires: expiresIn(o.expiry.snapshotSeconds, o.now),
        meta: { 'targets.json': targetsMeta },
      }),
    );
    signWith(m, s, [keys.snapshot]);
    const bytes = metadataBytes(s);
    await writeFileAtomic(join(md, `${version}.snapshot.json`), bytes, PUBLIC_FILE_MODE);
    snapshotMeta = metaFileOf(m, version, bytes);
  }
  const tsVersion = l.timestamp.signed.version + 1;
  const ts = new m.Metadata(
    new m.Timestamp({
      version: tsVersion,
      specVersion: TUF_SPEC_VERSION,
      expires: expiresIn(o.expiry.timestampSeconds, o.now),
      snapshotMeta,
      unrecognizedFields: signedAtField(o.now),
    }),
  );
  signWith(m, ts, [keys.timestamp]);
  await writeFileAtomic(join(md, 'timestamp.json'), metadataBytes(ts), PUBLIC_FILE_MODE);
  return { targets: targetsVersion, snapshot: snapshotMeta.version, timestamp: tsVersion };
}

/** Options of {@link initRepository}. */
export interface InitRepositoryOptions {
  readonly repoDir: string;
  readonly factoryDir: string;
  readonly expiry?: Partial<ExpiryConfig>;
  /** How many earlier images of a model get a delta to each new one: 0 (none) to 10; default 3. */
  readonly deltaBases?: number;
  readonly now?: Date;
}

/**
 * Creates a TUF repository in `repoDir` from the factory's root metadata (every version) and
 * keys: empty targets, snapshot and timestamp, version 1 each.
 * @example await initRepository({ repoDir: 'releases', factoryDir: 'factory' })
 */
export async function initRepository(o: InitRepositoryOptions): Promise<{ rootVersion: number }> {
  const expiry = validateExpiryConfig(o.expiry);
  const deltaBases = validateDeltaBases(o.deltaBases ?? DEFAULT_DELTA_BASES);
  const now = o.now ?? new Date();
  const factoryDir = resolve(o.factoryDir);
  if (existsSync(join(o.repoDir, RELEASE_FILE)))
    throw new ReleaseError('RELEASE_REPO_EXISTS', `a release repository already exists in ${o.repoDir}`);
  const keysDir = keysDirOf(factoryDir);
  const keys = await loadUpdateKeys(keysDir);
  const roots = await listRootVersions(keysDir);
  const m = await loadTufModels();
  const md = join(o.repoDir, METADATA_DIR);
  await mkdir(md, { recursive: true, mode: 0o755 });
  await mkdir(join(o.repoDir, TARGETS_DIR), { recursive: true, mode: 0o755 });
  for (let i = 0; i < roots.length; i++)
    await writeFileAtomic(join(md, `${i + 1}.root.json`), roots[i]!, PUBLIC_FILE_MODE);
  const t = new m.Metadata(
    new m.Targets({
      version: 1,
      specVersion: TUF_SPEC_VERSION,
      expires: expiresIn(expiry.targetsSeconds, now),
      targets: {},
    }),
  );
  signWith(m, t, [keys.targets]);
  const tBytes = metadataBytes(t);
  await writeFileAtomic(join(md, '1.targets.json'), tBytes, PUBLIC_FILE_MODE);
  const s = new m.Metadata(
    new m.Snapshot({
      version: 1,
      specVersion: TUF_SPEC_VERSION,
      expires: expiresIn(expiry.snapshotSeconds, now),
      meta: { 'targets.json': metaFileOf(m, 1, tBytes) },
    }),
  );
  signWith(m, s, [keys.snapshot]);
  const sBytes = metadataBytes(s);
  await writeFileAtomic(join(md, '1.snapshot.json'), sBytes, PUBLIC_FILE_MODE);
  const ts = new m.Metadata(
    new m.Timestamp({
      version: 1,
      specVersion: TUF_SPEC_VERSION,
      expires: expiresIn(expiry.timestampSeconds, now),
      snapshotMeta: metaFileOf(m, 1, sBytes),
      unrecognizedFields: signedAtField(now),
    }),
  );
  signWith(m, ts, [keys.timestamp]);
  await writeFileAtomic(join(md, 'timestamp.json'), metadataBytes(ts), PUBLIC_FILE_MODE);
  const record: ReleaseRecord = {
    format: RELEASE_FORMAT,
    factoryDir,
    createdAt: now.toISOString(),
    expiry,
    deltaBases,
    images: [],
  };
  await writeJsonAtomic(join(o.repoDir, RELEASE_FILE), record);
  return { rootVersion: roots.length };
}

/** Hashes `src` and copies it to `dst` (fsynced) in one pass. */
async function hashAndCopy(src: string, dst: string, total: number, onProgress?: ReleaseProgress): Promise<string> {
  const hash = createHash('sha256');
  const tmp = `${dst}.${randomBytes(6).toString('hex')}.tmp`;
  const out = await open(tmp, 'wx', PUBLIC_FILE_MODE);
  let done = 0;
  try {
    for await (const chunk of createReadStream(src, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      await writeAll(out, chunk);
      done += chunk.length;
      onProgress?.('copy', done, total);
    }
    await out.sync();
  } catch (err) {
    await out.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await out.close();
  if (done !== total) {
    await unlink(tmp).catch(() => undefined);
    throw new ReleaseError('RELEASE_ARTIFACT_CHANGED', 'the artifact changed while it was being published');
  }
  const sha = hash.digest('hex');
  const final = join(dirname(dst), `${sha}.${basename(dst)}`);
  await rename(tmp, final);
  return sha;
}

/** Options of {@link publishImage}. */
export interface PublishImageOptions {
  readonly repoDir: string;
  readonly artifact: string;
  /** A built-in model id or a model file; the repository names its targets by the model's id. */
  readonly model: string;
  readonly version: string;
  /** Must equal the image's own securityVersion when given. */
  readonly securityVersion?: number;
  /** The factory (for the keys); defaults to the one recorded at init. */
  readonly factoryDir?: string;
  /** Publish even when the image is older than the current one (a mistaken or hostile pipeline; devices refuse it). */
  readonly allowDowngrade?: boolean;
  /** The owner's note, signed with the image: the risk it fixes and what installing interrupts. */
  readonly notes?: ReleaseNotes;
  readonly expiry?: Partial<ExpiryConfig>;
  /** Overrides release.json's `deltaBases` for this publish (0 writes no delta and keeps no base). */
  readonly deltaBases?: number;
  readonly now?: Date;
  readonly onProgress?: ReleaseProgress;
}

/** What a publish produced. */
export interface PublishResult {
  readonly model: string;
  readonly version: string;
  readonly securityVersion: number;
  readonly sha256: string;
  readonly length: number;
  readonly targetPath: string;
  readonly sbomPath: string;
  /** The files written under <repo>/targets. */
  readonly files: { readonly image: string; readonly sbom: string };
  /** The deltas signed from earlier images of the model to this one, newest base first. */
  readonly deltas: readonly WrittenDelta[];
  readonly metadata: { readonly targets: number; readonly snapshot: number; readonly timestamp: number };
}

/** What decides the support end signed for `spec`'s units now: its declaration, the record, what is signed. */
function supportInputs(l: Loaded, spec: ModelSpec, now: Date): SupportInputs {
  const first = l.record.images.find((i) => i.model === spec.id)?.publishedAt;
  const recorded = l.record.support?.[spec.id];
  const signed = currentImage(l.targets, spec.id)?.supportEndsOn;
  return {
    model: spec,
    now,
    ...(first !== undefined ? { firstPublishedAt: first } : {}),
    ...(recorded !== undefined ? { recorded } : {}),
    ...(signed !== undefined ? { signed } : {}),
  };
}

/** The image currently published for `model` in loaded targets metadata, if any. */
function currentImage(
  targets: Metadata<Targets>,
  model: string,
): (ImageTargetCustom & { sha256: string; length: number }) | undefined {
  const t = targets.signed.targets[imageTargetPath(model)];
  if (!t) return undefined;
  try {
    return { ...parseImageTargetCustom(t.custom), sha256: t.hashes.sha256 ?? '', length: t.length };
  } catch {
    return undefined;
  }
}

type Image = Awaited<ReturnType<typeof readImageArchive>>['manifest'];

/** Refuses release notes that devices would refuse in the image's target custom data. */
function checkNotes(o: PublishImageOptions): void {
  if (o.notes !== undefined) {
    try {
      parseImageTargetCustom({
        format: IMAGE_FORMAT,
        model: o.model,
        version: '0.0.0',
        securityVersion: 0,
        notes: o.notes,
      });
    } catch (err) {
      throw new ReleaseError(
        'RELEASE_NOTES_INVALID',
        `the release notes are not acceptable: ${(err as Error).message}`,
      );
    }
  }
}

/** Refuses an image whose image.json disagrees with the arguments or that devices would refuse as older. */
function checkImage(o: PublishImageOptions, image: Image, published: Loaded['targets']): void {
  if (image.model !== o.model || image.version !== o.version) {
    throw new ReleaseError(
      'RELEASE_IMAGE_MISMATCH',
      `the image says model ${image.model} version ${image.version}, not ${o.model} ${o.version}`,
    );
  }
  if (o.securityVersion !== undefined && o.securityVersion !== image.securityVersion) {
    throw new ReleaseError(
      'RELEASE_IMAGE_MISMATCH',
      `the image's securityVersion is ${image.securityVersion}, not ${o.securityVersion}`,
    );
  }
  const current = currentImage(published, o.model);
  if (current && !o.allowDowngrade) {
    if (compareVersions(image.version, current.version) <= 0) {
      throw new ReleaseError(
        'RELEASE_DOWNGRADE_REFUSED',
        `${o.model} ${current.version} is already published; ${image.version} is not newer (devices would refuse it)`,
      );
    }
    if (image.securityVersion < current.securityVersion) {
      throw new ReleaseError(
        'RELEASE_DOWNGRADE_REFUSED',
        `the image's security version ${image.securityVersion} is below the published ` +
          `${current.securityVersion} (devices would refuse it)`,
      );
    }
  }
}

/** Writes the image's CycloneDX SBOM beside it, named by its hash. */
async function writeSbom(
  modelDir: string,
  input: Omit<SbomInput, 'tool'>,
  runtime: RuntimeInventory,
): Promise<{ bytes: Buffer; sha256: string }> {
  const sbom = buildSbom({ ...input, tool: { name: runtime.name, version: runtime.version } });
  const bytes = Buffer.from(JSON.stringify(sbom, null, 2) + '\n');
  const sha256 = sha256Hex(bytes);
  await writeFileAtomic(join(modelDir, `${sha256}.image.cdx.json`), bytes, PUBLIC_FILE_MODE);
  return { bytes, sha256 };
}

/** What the image's code comes from: the packages its own SBOM lists (version 2), else the runtime it launches. */
function imageCode(
  contents: Awaited<ReturnType<typeof inspectArtifact>>,
  runtime: RuntimeInventory,
): SbomInput['code'] {
  const inner = contents.manifest.sbom;
  if (inner === undefined) return { runtime };
  const bytes = contents.kept.get(inner);
  const refuse = (why: string): ReleaseError =>
    new ReleaseError('RELEASE_IMAGE_INVALID', `the artifact is not a valid image: its SBOM ${inner} ${why}`);
  if (!bytes) throw refuse(`is missing or over ${MAX_INNER_SBOM_BYTES} bytes`);
  try {
    return { bundled: bundledPackages(JSON.parse(bytes.toString('utf8'))) };
  } catch (err) {
    throw refuse(`is not readable: ${(err as Error).message.slice(0, 120)}`);
  }
}

type TargetFiles = Record<string, InstanceType<TufModels['TargetFile']>>;

/** The current targets with `image` and its SBOM as the model's image and SBOM targets. */
function withImageTargets(
  l: Loaded,
  o: PublishImageOptions,
  image: Image & { sha256: string; length: number; support: string },
  sbom: { bytes: Buffer; sha256: string },
): TargetFiles {
  const { m } = l;
  const custom: ImageTargetCustom = {
    format: image.format,
    model: o.model,
    version: image.version,
    securityVersion: image.securityVersion,
    ...(image.node !== undefined ? { node: image.node } : {}),
    sbom: sbomTargetPath(o.model),
    ...(o.notes ? { notes: { risk: o.notes.risk, interruption: o.notes.interruption } } : {}),
    supportEndsOn: image.support,
  };
  const targets = { ...l.targets.signed.targets };
  targets[imageTargetPath(o.model)] = new m.TargetFile({
    path: imageTargetPath(o.model),
    length: image.length,
    hashes: { sha256: image.sha256 },
    unrecognizedFields: { custom: { ...custom } },
  });
  targets[sbomTargetPath(o.model)] = new m.TargetFile({
    path: sbomTargetPath(o.model),
    length: sbom.bytes.length,
    hashes: { sha256: sbom.sha256 },
    unrecognizedFields: { custom: { format: 'CycloneDX-1.5', model: o.model, version: image.version } },
  });
  return targets;
}

/**
 * Adds the factory's audit public key as a signed target, so the release gate trusts the key that signs kept audit
 * reports through the update root: whoever can write the repository folder but holds no targets key cannot swap it.
 */
async function withAuditKeyTarget(l: Loaded, repoDir: string, factoryDir: string, targets: TargetFiles): Promise<void> {
  const bytes = Buffer.from((await ensureAuditKey(factoryDir)).publicKeyPem, 'utf8');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await writeFileAtomic(join(repoDir, TARGETS_DIR, `${sha256}.${AUDIT_KEY_TARGET}`), bytes, PUBLIC_FILE_MODE);
  targets[AUDIT_KEY_TARGET] = new l.m.TargetFile({
    path: AUDIT_KEY_TARGET,
    length: bytes.length,
    hashes: { sha256 },
    unrecognizedFields: { custom: { purpose: 'audit-attestation-key' } },
  });
}

/** Checks the artifact as an image; anything wrong is RELEASE_IMAGE_INVALID. */
async function inspectArtifact(
  o: PublishImageOptions,
  size: number,
): Promise<Awaited<ReturnType<typeof readImageArchive>>> {
  return readImageArchive(
    o.artifact,
    { maxEntries: 100_000, maxUnpackedBytes: 64 * 2 ** 30 },
    {
      onProgress: (d) => o.onProgress?.('inspect', d, size),
      keep: { path: (p) => p.endsWith('.json'), maxBytes: MAX_INNER_SBOM_BYTES },
    },
  ).catch((err: unknown) => {
    throw new ReleaseError('RELEASE_IMAGE_INVALID', `the artifact is not a valid image: ${(err as Error).message}`);
  });
}

/**
 * Publishes a firmware image: checks it (archive rules, image.json matches the arguments, not
 * older than the current image), copies it in by hash, writes its CycloneDX SBOM beside it and a
 * delta from each of the model's last `deltaBases` images, and signs new targets, snapshot and
 * timestamp metadata.
 * @example await publishImage({ repoDir: 'releases', model: 'plug', version: '1.1.0', artifact: 'plug-1.1.0.tar' })
 */
export async function publishImage(options: PublishImageOptions): Promise<PublishResult> {
  // From here on the model is its id, whether it was given as an id or as a maker's model file.
  const spec = resolveModel(options.model);
  const o = { ...options, model: spec.id };
  if (!isVersion(o.version))
    throw new ReleaseError(
      'RELEASE_VERSION_INVALID',
      `version must be MAJOR.MINOR.PATCH, not ${JSON.stringify(String(o.version).slice(0, 40))}`,
    );
  const info = await stat(o.artifact).catch(() => undefined);
  if (!info?.isFile()) throw new ReleaseError('RELEASE_ARTIFACT_MISSING', `no file at ${o.artifact}`);
  return withLock(o.repoDir, async () => {
    const l = await loadRepository(o.repoDir);
    const expiry = validateExpiryConfig({ ...l.record.expiry, ...o.expiry });
    const deltaBases = validateDeltaBases(o.deltaBases ?? l.record.deltaBases ?? DEFAULT_DELTA_BASES);
    const now = o.now ?? new Date();
    checkNotes(o);
    const contents = await inspectArtifact(o, info.size);
    const image = contents.manifest;
    checkImage(o, image, l.targets);
    const support = decideSupportPeriod(supportInputs(l, spec, now));
    const runtime = await runtimeInventory();
    const code = imageCode(contents, runtime);
    await checkKnownVulnerabilities(o.repoDir, {
      model: o.model,
      version: image.version,
      packages: packagesOfCode(code),
    });
    const keys = await loadUpdateKeys(keysDirOf(o.factoryDir ? resolve(o.factoryDir) : l.record.factoryDir));
    const modelDir = join(o.repoDir, TARGETS_DIR, o.model);
    await mkdir(modelDir, { recursive: true, mode: 0o755 });
    const sha256 = await hashAndCopy(o.artifact, join(modelDir, 'image.tar'), info.size, o.onProgress);
    const sbom = await writeSbom(
      modelDir,
      { image, imageSha256: sha256, imageLength: info.size, files: contents.files, code, now },
      runtime,
    );
    const targets = withImageTargets(l, o, { ...image, sha256, length: info.size, support: support.endsOn }, sbom);
    await withAuditKeyTarget(l, o.repoDir, o.factoryDir ? resolve(o.factoryDir) : l.record.factoryDir, targets);
    const published: PublishedImage = {
      model: o.model,
      version: image.version,
      securityVersion: image.securityVersion,
      sha256,
      length: info.size,
      publishedAt: now.toISOString(),
      sbomSha256: sbom.sha256,
    };
    const file = join(modelDir, `${sha256}.image.tar`);
    const newImage = { ...published, file };
    const history = l.record.images;
    const deltas = await writeDeltaTargets({
      m: l.m,
      repoDir: o.repoDir,
      modelDir,
      targets,
      history,
      deltaBases,
      image: newImage,
    });
    const metadata = await commit(o.repoDir, l, keys, { targets, expiry, now });
    await writeJsonAtomic(join(o.repoDir, RELEASE_FILE), { ...l.record, images: [...history, published] });
    await keepDeltaBase({ repoDir: o.repoDir, history: [...history, published], deltaBases, image: newImage });
    return {
      model: o.model,
      version: image.version,
      securityVersion: image.securityVersion,
      sha256,
      length: info.size,
      targetPath: imageTargetPath(o.model),
      sbomPath: sbomTargetPath(o.model),
      files: { image: file, sbom: join(modelDir, `${sbom.sha256}.image.cdx.json`) },
      deltas,
      metadata,
    };
  });
}

/** Options of {@link extendSupportPeriod}. */
export interface ExtendSupportOptions {
  readonly repoDir: string;
  /** A built-in model id or a model file. */
  readonly model: string;
  /** The new last day of security updates (YYYY-MM-DD). */
  readonly endsOn: string;
  /** Why the product is expected in use for less than five years, when it is. */
  readonly shorterExpectedUse?: string;
  readonly factoryDir?: string;
  readonly expiry?: Partial<ExpiryConfig>;
  readonly now?: Date;
}

/**
 * Declares a later support end for a model in the release record and, when the model has a published image,
 * signs it into that image's target, so every unit learns the extension at its next check without being
 * provisioned again. A date earlier than the one signed is refused; so is one under five years from the
 * model's first publication without a reason.
 * @throws PublishRefusedError 'RELEASE_SUPPORT_SHORTENED' | 'RELEASE_SUPPORT_TOO_SHORT' | 'RELEASE_SUPPORT_ENDED'
 */
export async function extendSupportPeriod(
  o: ExtendSupportOptions,
): Promise<{ model: string; endsOn: string; signed: boolean; targets?: number }> {
  const spec = resolveModel(o.model);
  if (!isCalendarDate(o.endsOn))
    throw new ReleaseError('RELEASE_SUPPORT_DATE_INVALID', `the support end must be a date (YYYY-MM-DD)`);
  return withLock(o.repoDir, async () => {
    const l = await loadRepository(o.repoDir);
    const now = o.now ?? new Date();
    const reason = o.shorterExpectedUse ?? spec.supportPeriod.shorterExpectedUse;
    const recorded: RecordedSupport = {
      endsOn: o.endsOn,
      ...(reason !== undefined ? { shorterExpectedUse: reason } : {}),
      setAt: now.toISOString(),
    };
    // The declaration is this date: the model file's own may be earlier (that is what is being extended).
    const declared = {
      id: spec.id,
      supportPeriod: { endsOn: o.endsOn, ...(reason ? { shorterExpectedUse: reason } : {}) },
    };
    const decided = decideSupportPeriod({ ...supportInputs(l, spec, now), model: declared, recorded });
    const record = { ...l.record, support: { ...l.record.support, [spec.id]: recorded } };
    const target = l.targets.signed.targets[imageTargetPath(spec.id)];
    if (!target) {
      await writeJsonAtomic(join(o.repoDir, RELEASE_FILE), record);
      return { model: spec.id, endsOn: decided.endsOn, signed: false };
    }
    const keys = await loadUpdateKeys(keysDirOf(o.factoryDir ? resolve(o.factoryDir) : l.record.factoryDir));
    const custom = { ...target.custom, supportEndsOn: decided.endsOn };
    const targets = { ...l.targets.signed.targets };
    targets[target.path] = new l.m.TargetFile({
      path: target.path,
      length: target.length,
      hashes: target.hashes,
      unrecognizedFields: { custom },
    });
    const expiry = validateExpiryConfig({ ...l.record.expiry, ...o.expiry });
    const v = await commit(o.repoDir, l, keys, { targets, expiry, now });
    await writeJsonAtomic(join(o.repoDir, RELEASE_FILE), record);
    return { model: spec.id, endsOn: decided.endsOn, signed: true, targets: v.targets };
  });
}

/** Options of {@link refreshRepository}. */
export interface RefreshOptions {
  readonly repoDir: string;
  readonly factoryDir?: string;
  /**
   * Roles to re-sign; timestamp always. Roles that would expire within a quarter of their period are re-signed anyway.
   */
  readonly roles?: ReadonlyArray<'targets' | 'snapshot' | 'timestamp'>;
  readonly expiry?: Partial<ExpiryConfig>;
  readonly now?: Date;
}

/**
 * Re-signs the timestamp (and snapshot or targets when asked or close to expiry) with fresh
 * expiry dates: run it on a schedule so devices never see a stale (frozen) repository.
 */
export async function refreshRepository(
  o: RefreshOptions,
): Promise<{ targets: number; snapshot: number; timestamp: number; renewed: string[] }> {
  return withLock(o.repoDir, async () => {
    const l = await loadRepository(o.repoDir);
    const expiry = validateExpiryConfig({ ...l.record.expiry, ...o.expiry });
    const now = o.now ?? new Date();
    const soon = (expires: string, seconds: number): boolean =>
      Date.parse(expires) - now.getTime() < (seconds * 1000) / 4;
    const wantTargets = (o.roles ?? []).includes('targets') || soon(l.targets.signed.expires, expiry.targetsSeconds);
    const wantSnapshot =
      wantTargets || (o.roles ?? []).includes('snapshot') || soon(l.snapshot.signed.expires, expiry.snapshotSeconds);
    const keys = await loadUpdateKeys(keysDirOf(o.factoryDir ? resolve(o.factoryDir) : l.record.factoryDir));
    const v = await commit(o.repoDir, l, keys, {
      ...(wantTargets ? { targets: { ...l.targets.signed.targets } } : {}),
      snapshot: wantSnapshot,
      expiry,
      now,
    });
    return { ...v, renewed: [...(wantTargets ? ['targets'] : []), ...(wantSnapshot ? ['snapshot'] : []), 'timestamp'] };
  });
}

/** Options of {@link rotateKeys}. */
export interface RotateOptions {
  readonly repoDir: string;
  readonly role: TufRole;
  readonly factoryDir?: string;
  readonly expiry?: Partial<ExpiryConfig>;
  readonly now?: Date;
}

/**
 * Replaces the keys of one role: a new root version names the new keys and is signed by the
 * old root keys (and, for a root rotation, the new ones too), then the role's metadata is
 * re-signed. The old private keys are overwritten. Devices follow the new root on their next check.
 */
export async function rotateKeys(o: RotateOptions): Promise<{ rootVersion: number; keyIds: string[] }> {
  if (!TUF_ROLES.includes(o.role))
    throw new ReleaseError('RELEASE_ROLE_INVALID', `role must be one of ${TUF_ROLES.join(', ')}`);
  return withLock(o.repoDir, async () => {
    const l = await loadRepository(o.repoDir);
    const { m } = l;
    const expiry = validateExpiryConfig({ ...l.record.expiry, ...o.expiry });
    const now = o.now ?? new Date();
    const keysDir = keysDirOf(o.factoryDir ? resolve(o.factoryDir) : l.record.factoryDir);
    const old = await loadUpdateKeys(keysDir);
    const fresh: SigningKey[] = UPDATE_KEY_FILES[o.role].map(() => generateSigningKey());
    const next: UpdateKeys = o.role === 'root' ? { ...old, root: fresh } : { ...old, [o.role]: fresh[0]! };
    const root = buildRoot(m, next, l.root.signed.version + 1, expiresIn(expiry.rootSeconds, now));
    signWith(m, root, o.role === 'root' ? [...old.root, ...fresh] : old.root);
    // New keys are staged beside the old ones first, so a crash never leaves a root naming keys that are nowhere.
    await stageRoleKeys(keysDir, o.role, fresh);
    await writeFileAtomic(
      join(o.repoDir, METADATA_DIR, `${root.signed.version}.root.json`),
      metadataBytes(root),
      PUBLIC_FILE_MODE,
    );
    await saveRootVersion(keysDir, root);
    await commitStagedKeys(keysDir, o.role);
    const reloaded = { ...l, root };
    await commit(o.repoDir, reloaded, next, {
      ...(o.role === 'targets' ? { targets: { ...l.targets.signed.targets } } : {}),
      snapshot: o.role === 'snapshot' || o.role === 'targets',
      expiry,
      now,
    });
    return { rootVersion: root.signed.version, keyIds: fresh.map((k) => k.keyId) };
  });
}

/** A summary of a repository for people and scripts. */
export interface RepositoryStatus {
  readonly rootVersion: number;
  readonly roles: Record<'root' | 'targets' | 'snapshot' | 'timestamp', { version: number; expires: string }>;
  readonly images: ReadonlyArray<ImageTargetCustom & { sha256: string; length: number }>;
}

/** Reads a repository's current state. */
export async function repositoryStatus(repoDir: string): Promise<RepositoryStatus> {
  const l = await loadRepository(repoDir);
  const images = Object.keys(l.targets.signed.targets)
    .filter((p) => p.endsWith('/image.tar'))
    .map((p) => currentImage(l.targets, p.slice(0, -'/image.tar'.length)))
    .filter((x) => x !== undefined);
  const role = (x: { signed: { version: number; expires: string } }): { version: number; expires: string } => ({
    version: x.signed.version,
    expires: x.signed.expires,
  });
  return {
    rootVersion: l.root.signed.version,
    roles: { root: role(l.root), targets: role(l.targets), snapshot: role(l.snapshot), timestamp: role(l.timestamp) },
    images,
  };
}

/** The metadata and targets folders of a repository (what a web server publishes). */
export function repositoryFolders(repoDir: string): { metadata: string; targets: string } {
  return { metadata: join(repoDir, METADATA_DIR), targets: join(repoDir, TARGETS_DIR) };
}
