/**
 * Building reference firmware images: deterministic tar archives (node-tar, loaded on first use)
 * that src/update's archive rules accept.
 */
import { mkdir, rm, mkdtemp, writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import {
  loadTar,
  invalidImageArchive as invalid,
  checkImagePath,
  parseImageManifest,
  IMAGE_MANIFEST_FILE,
  IMAGE_FORMAT,
  REFERENCE_ENTRY_SOURCE,
  type ImageManifest,
} from '../update/index.ts';

/** What goes into a reference image. */
export interface ReferenceImageOptions {
  readonly model: string;
  readonly version: string;
  readonly securityVersion: number;
  readonly description?: string;
  /** The entry point's source; the default starts the installed runtime's agent. */
  readonly entrySource?: string;
  /** Further files, by path inside the image. */
  readonly files?: Readonly<Record<string, string | Uint8Array>>;
  /** Gzip the archive. */
  readonly gzip?: boolean;
}

/**
 * Builds a reference firmware image (a deterministic tar archive) at `out`.
 * @example await buildReferenceImage('plug-1.1.0.tar', { model: 'plug', version: '1.1.0', securityVersion: 2 })
 */
export async function buildReferenceImage(out: string, o: ReferenceImageOptions): Promise<ImageManifest> {
  const tar = await loadTar();
  const manifest = parseImageManifest({
    format: IMAGE_FORMAT,
    model: o.model,
    version: o.version,
    securityVersion: o.securityVersion,
    entry: 'agent.mjs',
    ...(o.description ? { description: o.description } : {}),
  });
  const work = await mkdtemp(join(tmpdir(), 'bulwark-image-'));
  try {
    const contents: Record<string, string | Uint8Array> = {
      [IMAGE_MANIFEST_FILE]: JSON.stringify(manifest, null, 2) + '\n',
      'agent.mjs': o.entrySource ?? REFERENCE_ENTRY_SOURCE,
      ...(o.files ?? {}),
    };
    for (const [path, data] of Object.entries(contents)) {
      const p = checkImagePath(path);
      if (p === undefined) throw invalid('a file without a name');
      await mkdir(dirname(join(work, p)), { recursive: true });
      await writeFile(join(work, p), data);
    }
    const mtime = new Date('2020-01-01T00:00:00Z');
    const files = Object.keys(contents).sort();
    await tar.create({ file: out, cwd: work, portable: true, mtime, gzip: o.gzip ?? false }, files);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return manifest;
}
