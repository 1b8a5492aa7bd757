/**
 * Delta targets in a repository: the last `deltaBases` published images of each model are kept
 * (not served) as delta bases, and each publish signs one delta from each of them to the new
 * image, replacing the model's earlier delta targets.
 *
 *     <repo>/images/<model>/<sha256>.tar                          kept bases, pruned to deltaBases
 *     <repo>/targets/<model>/deltas/<delta sha256>.<base sha256>.zst   target <model>/deltas/<base sha256>.zst
 */
import { mkdir, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, PUBLIC_FILE_MODE } from '../storage/index.ts';
import {
  ReleaseError,
  DELTA_FORMAT,
  deltaTargetFolder,
  deltaTargetPath,
  deltaWindowLog,
  imageTargetPath,
  parseDeltaTargetCustom,
  type DeltaTargetCustom,
} from '../update/index.ts';
import { makeDelta } from './delta.ts';
import { sha256Hex, type TufModels } from './tuf.ts';

const IMAGES_DIR = 'images';
const BASE_NAME = /^([0-9a-f]{64})\.tar$/;

/** A published image as release.json remembers it (the fields deltas need). */
export interface BaseImage {
  readonly model: string;
  readonly version: string;
  readonly sha256: string;
  readonly length: number;
}

/** One delta a publish wrote. */
export interface WrittenDelta {
  readonly baseVersion: string;
  readonly baseSha256: string;
  /** The delta's length, bytes. */
  readonly length: number;
  readonly targetPath: string;
  /** The file written under <repo>/targets. */
  readonly file: string;
}

/** The image being published. */
export interface NewImage extends BaseImage {
  /** Its file in the repository. */
  readonly file: string;
}

type TargetFiles = Record<string, InstanceType<TufModels['TargetFile']>>;

function baseFile(repoDir: string, model: string, sha256: string): string {
  return join(repoDir, IMAGES_DIR, model, `${sha256}.tar`);
}

/** The newest `n` distinct images of `model` in `history` (oldest first), newest first, without `except`. */
function newestImages(history: readonly BaseImage[], model: string, n: number, except?: string): BaseImage[] {
  const seen = new Set<string>(except === undefined ? [] : [except]);
  const out: BaseImage[] = [];
  for (let i = history.length - 1; i >= 0 && out.length < n; i--) {
    const image = history[i]!;
    if (image.model !== model || seen.has(image.sha256)) continue;
    seen.add(image.sha256);
    out.push(image);
  }
  return out;
}

/** Reads a kept base, or undefined when it is not kept; refuses one whose bytes are not the published image. */
async function readBase(repoDir: string, base: BaseImage): Promise<Uint8Array | undefined> {
  const bytes = await readFile(baseFile(repoDir, base.model, base.sha256)).catch(() => undefined);
  if (bytes === undefined) return undefined;
  if (bytes.length !== base.length || sha256Hex(bytes) !== base.sha256) {
    throw new ReleaseError(
      'RELEASE_REPO_INVALID',
      `the kept base ${baseFile(repoDir, base.model, base.sha256)} is not the image published as ${base.version}`,
    );
  }
  return bytes;
}

/** The signed custom data of a delta from `base` to `image`, checked as a device will check it. */
function deltaCustom(base: BaseImage, image: NewImage): DeltaTargetCustom {
  return parseDeltaTargetCustom({
    format: DELTA_FORMAT,
    model: image.model,
    version: image.version,
    base: { sha256: base.sha256, length: base.length, version: base.version },
    image: { path: imageTargetPath(image.model), sha256: image.sha256, length: image.length },
  });
}

/**
 * Replaces `model`'s delta targets in `targets` with one delta from each of the newest
 * `deltaBases` kept earlier images to `image`; writes the delta files by hash under `modelDir`.
 * Images too large for a delta's window get none.
 */
export async function writeDeltaTargets(o: {
  readonly m: TufModels;
  readonly repoDir: string;
  readonly modelDir: string;
  readonly targets: TargetFiles;
  readonly history: readonly BaseImage[];
  readonly deltaBases: number;
  readonly image: NewImage;
}): Promise<WrittenDelta[]> {
  for (const path of Object.keys(o.targets))
    if (path.startsWith(deltaTargetFolder(o.image.model))) delete o.targets[path];
  const bases = newestImages(o.history, o.image.model, o.deltaBases, o.image.sha256).filter(
    (b) => deltaWindowLog(b.length, o.image.length) !== undefined,
  );
  if (bases.length === 0) return [];
  const target = await readFile(o.image.file);
  const written: WrittenDelta[] = [];
  for (const base of bases) {
    const baseBytes = await readBase(o.repoDir, base);
    if (baseBytes === undefined) continue;
    const custom = deltaCustom(base, o.image);
    const delta = await makeDelta(baseBytes, target);
    const sha256 = sha256Hex(delta);
    const folder = join(o.modelDir, 'deltas');
    await mkdir(folder, { recursive: true, mode: 0o755 });
    const file = join(folder, `${sha256}.${base.sha256}.zst`);
    await writeFileAtomic(file, delta, PUBLIC_FILE_MODE);
    const path = deltaTargetPath(o.image.model, base.sha256);
    o.targets[path] = new o.m.TargetFile({
      path,
      length: delta.length,
      hashes: { sha256 },
      unrecognizedFields: { custom: { ...custom, base: { ...custom.base }, image: { ...custom.image } } },
    });
    written.push({ baseVersion: base.version, baseSha256: base.sha256, length: delta.length, targetPath: path, file });
  }
  return written;
}

/**
 * Keeps the published `image` as a future delta base (when `deltaBases` > 0 and it fits a
 * delta's window), then removes the model's kept bases that are not among its newest
 * `deltaBases` images in `history` (which includes `image`).
 */
export async function keepDeltaBase(o: {
  readonly repoDir: string;
  readonly history: readonly BaseImage[];
  readonly deltaBases: number;
  readonly image: NewImage;
}): Promise<void> {
  const folder = join(o.repoDir, IMAGES_DIR, o.image.model);
  if (o.deltaBases > 0 && deltaWindowLog(o.image.length, o.image.length) !== undefined) {
    await mkdir(folder, { recursive: true, mode: 0o755 });
    await writeFileAtomic(baseFile(o.repoDir, o.image.model, o.image.sha256), await readFile(o.image.file));
  }
  const keep = new Set(newestImages(o.history, o.image.model, o.deltaBases).map((b) => b.sha256));
  const names = await readdir(folder).catch(() => [] as string[]);
  for (const name of names) {
    const sha = BASE_NAME.exec(name)?.[1];
    if (sha !== undefined && !keep.has(sha)) await unlink(join(folder, name));
  }
}
