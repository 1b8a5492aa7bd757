/**
 * Reference firmware images for tests and demos: by default a real device image (the bundled
 * agent, see image-build.ts); with `entrySource`, a minimal format-2 image whose entry is that
 * source (a test's stand-in for an agent that crashes, hangs or exits). Deterministic tar archives
 * (node-tar, loaded on first use) that src/update's archive rules accept.
 */
import { mkdir, rm, mkdtemp, writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import {
  loadTar,
  invalidImageArchive as invalid,
  checkImagePath,
  parseImageManifest,
  nodeRangeOfTarget,
  IMAGE_MANIFEST_FILE,
  IMAGE_FORMAT,
  type ImageManifest,
} from '../update/index.ts';
import { buildDeviceImage, DEVICE_IMAGE_TARGET } from './image-build.ts';
import { buildBundleSbom } from './sbom.ts';

/** What goes into a reference image. */
export interface ReferenceImageOptions {
  readonly model: string;
  readonly version: string;
  readonly securityVersion: number;
  readonly description?: string;
  /** The entry point's source; the default is the bundled device agent. */
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
  if (o.entrySource === undefined) {
    const built = await buildDeviceImage(out, {
      model: o.model,
      version: o.version,
      securityVersion: o.securityVersion,
      ...(o.description ? { description: o.description } : {}),
      ...(o.files ? { extraFiles: o.files } : {}),
      ...(o.gzip ? { gzip: true } : {}),
    });
    return built.manifest;
  }
  return buildEntryImage(out, o, o.entrySource);
}

/** A format-2 image whose entry is `entrySource`, with an SBOM listing no packages. */
async function buildEntryImage(out: string, o: ReferenceImageOptions, entrySource: string): Promise<ImageManifest> {
  const tar = await loadTar();
  const manifest = parseImageManifest({
    format: IMAGE_FORMAT,
    model: o.model,
    version: o.version,
    securityVersion: o.securityVersion,
    entry: 'agent.mjs',
    node: nodeRangeOfTarget(DEVICE_IMAGE_TARGET),
    sbom: 'sbom.cdx.json',
    ...(o.description ? { description: o.description } : {}),
  });
  const sbom = buildBundleSbom({ image: manifest, packages: [], builder: { name: 'bulwark', version: o.version } });
  const work = await mkdtemp(join(tmpdir(), 'bulwark-image-'));
  try {
    const contents: Record<string, string | Uint8Array> = {
      [IMAGE_MANIFEST_FILE]: JSON.stringify(manifest, null, 2) + '\n',
      'agent.mjs': entrySource,
      'sbom.cdx.json': JSON.stringify(sbom, null, 2) + '\n',
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
