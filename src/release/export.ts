/**
 * `bulwark release export`: an update file for units that never reach the internet. It holds the
 * model's current image and the signed metadata a unit needs to check it exactly as online (every
 * root version, timestamp, snapshot and targets, byte for byte as served), in the layout
 * src/update/update-file-format.ts describes. Only the current image can be exported: its
 * metadata is the repository's current metadata, and an older image has none left that signs it.
 *
 * @example await exportUpdateFile({ repoDir: 'releases', model: 'plug', version: '1.2.0', out: 'plug-1.2.0.update' })
 */
import { copyFile, link, mkdir, mkdtemp, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { resolveModel } from '../models/index.ts';
import {
  ReleaseError,
  imageTargetPath,
  loadTar,
  parseImageTargetCustom,
  UPDATE_FILE_FORMAT,
  UPDATE_FILE_INFO,
  type UpdateFileInfo,
} from '../update/index.ts';
import { latestRootVersion, loadRepository, withLock } from './repository.ts';

/** Options of {@link exportUpdateFile}. */
export interface ExportOptions {
  readonly repoDir: string;
  /** A built-in model id or a maker's model file. */
  readonly model: string;
  /** The version to export: it must be the model's current image. */
  readonly version: string;
  readonly out: string;
  readonly now?: Date;
}

/** What an export wrote. */
export interface ExportResult {
  readonly file: string;
  readonly bytes: number;
  readonly model: string;
  readonly version: string;
  readonly sha256: string;
  /** The earliest expiry of the metadata inside: after it, a unit accepts the file only as an offline unit. */
  readonly expires: string;
}

/** Puts `from` at `to`: a hard link when the file system allows, else a copy. */
async function place(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await link(from, to).catch(() => copyFile(from, to));
}

/**
 * Writes an update file for the model's current image at `out` (atomically).
 * @throws ReleaseError 'RELEASE_VERSION_NOT_CURRENT' when `version` is not the current image,
 *   'RELEASE_REPO_MISSING' / 'RELEASE_REPO_INVALID' for a missing or damaged repository
 */
export async function exportUpdateFile(o: ExportOptions): Promise<ExportResult> {
  const model = resolveModel(o.model).id;
  return withLock(o.repoDir, async () => {
    const l = await loadRepository(o.repoDir);
    const path = imageTargetPath(model);
    const target = l.targets.signed.targets[path];
    const current = target ? parseImageTargetCustom(target.unrecognizedFields.custom).version : undefined;
    if (current !== o.version)
      throw new ReleaseError(
        'RELEASE_VERSION_NOT_CURRENT',
        current
          ? `the current ${model} image is ${current}, not ${o.version}: ` +
              'only the current image has metadata to check it'
          : `no ${model} image is published`,
      );
    const sha256 = target!.hashes.sha256!;
    const md = join(o.repoDir, 'metadata');
    const files = [
      ...Array.from({ length: await latestRootVersion(md) }, (_, i) => `metadata/${i + 1}.root.json`),
      'metadata/timestamp.json',
      `metadata/${l.timestamp.signed.snapshotMeta.version}.snapshot.json`,
      `metadata/${l.snapshot.signed.meta['targets.json']!.version}.targets.json`,
      `targets/${model}/${sha256}.image.tar`,
    ];
    const info: UpdateFileInfo = {
      format: UPDATE_FILE_FORMAT,
      model,
      version: o.version,
      image: `targets/${model}/${sha256}.image.tar`,
      createdAt: (o.now ?? new Date()).toISOString(),
    };
    const bytes = await writeUpdateFile(o, files, info);
    const expiries = [l.timestamp, l.snapshot, l.targets, l.root].map((x) => Date.parse(x.signed.expires));
    const expires = new Date(Math.min(...expiries)).toISOString();
    return { file: o.out, bytes, model, version: o.version, sha256, expires };
  });
}

/** Stages the files beside `out` (same file system: links, not copies) and archives them; returns the size. */
async function writeUpdateFile(o: ExportOptions, files: readonly string[], info: UpdateFileInfo): Promise<number> {
  await mkdir(dirname(o.out), { recursive: true });
  const work = await mkdtemp(join(dirname(o.out), '.bulwark-export-'));
  const part = `${o.out}.${randomBytes(6).toString('hex')}.part`;
  try {
    for (const f of files) {
      const from = join(o.repoDir, ...f.split('/'));
      if (!(await stat(from).catch(() => undefined))?.isFile())
        throw new ReleaseError('RELEASE_REPO_INVALID', `the repository has no ${f}`);
      await place(from, join(work, ...f.split('/')));
    }
    await writeFile(join(work, UPDATE_FILE_INFO), JSON.stringify(info, null, 2) + '\n');
    const tar = await loadTar();
    const mtime = new Date('2020-01-01T00:00:00Z');
    await tar.create({ file: part, cwd: work, portable: true, mtime, noDirRecurse: true }, [
      UPDATE_FILE_INFO,
      ...files,
    ]);
    const h = await open(part, 'r+');
    await h.sync().finally(() => h.close());
    await rename(part, o.out);
    const folder = await open(dirname(o.out), 'r');
    await folder.sync().finally(() => folder.close());
    return (await stat(o.out)).size;
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(part, { force: true });
  }
}
