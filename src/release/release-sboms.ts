/**
 * The published releases of a repository with what their SBOMs list: every image release.json
 * remembers, its SBOM found by the hash publish recorded (or, for a release published before it
 * recorded one, the SBOM beside it whose firmware component has the image's SHA-256).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { packagesOfCycloneDx, VulnError, type ReleaseComponents } from '../vulns/index.ts';
import { loadRepository, type PublishedImage } from './repository.ts';

/** The largest published SBOM read, in bytes. */
export const MAX_PUBLISHED_SBOM_BYTES = 16 * 1_048_576;

type Sbom = {
  serialNumber?: unknown;
  metadata?: { component?: { hashes?: Array<{ alg?: unknown; content?: unknown }> } };
};

async function readSbom(path: string): Promise<Sbom | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  if (info.size > MAX_PUBLISHED_SBOM_BYTES) throw new VulnError('VULN_STATE_INVALID', `${path} is over its size limit`);
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Sbom;
  } catch {
    throw new VulnError('VULN_STATE_INVALID', `${path} is not JSON`);
  }
}

const describes = (sbom: Sbom, sha256: string): boolean =>
  (sbom.metadata?.component?.hashes ?? []).some((h) => h.alg === 'SHA-256' && h.content === sha256);

/** The SBOM published beside `image`, with its file name. */
async function sbomFileOf(
  modelDir: string,
  image: PublishedImage & { sbomSha256?: string },
): Promise<{ name: string; sbom: Sbom } | undefined> {
  if (image.sbomSha256) {
    const name = `${image.sbomSha256}.image.cdx.json`;
    const sbom = await readSbom(join(modelDir, name));
    if (sbom && describes(sbom, image.sha256)) return { name, sbom };
  }
  const names = (await readdir(modelDir).catch(() => [] as string[])).filter((n) => n.endsWith('.image.cdx.json'));
  for (const name of names.slice(0, 10_000)) {
    const sbom = await readSbom(join(modelDir, name));
    if (sbom && describes(sbom, image.sha256)) return { name, sbom };
  }
  return undefined;
}

/** The SBOM published beside `image`. */
async function sbomOf(modelDir: string, image: PublishedImage & { sbomSha256?: string }): Promise<Sbom | undefined> {
  return (await sbomFileOf(modelDir, image))?.sbom;
}

/** One published image's SBOM file in a repository. */
export interface PublishedSbomFile {
  readonly model: string;
  readonly version: string;
  /** SHA-256 of the image the SBOM describes. */
  readonly imageSha256: string;
  /** The file itself. */
  readonly path: string;
  /** Its path under the repository's targets/ folder, as the repository serves it. */
  readonly targetPath: string;
}

/**
 * The SBOM files of the published images of `model` `version`, in publishing order (none when it was never published).
 * @throws ReleaseError when `repoDir` is not a release repository; VulnError 'VULN_STATE_INVALID' when an SBOM is gone
 */
export async function publishedSbomFiles(
  repoDir: string,
  model: string,
  version: string,
): Promise<PublishedSbomFile[]> {
  const { record } = await loadRepository(repoDir);
  const out: PublishedSbomFile[] = [];
  for (const image of record.images.filter((i) => i.model === model && i.version === version)) {
    const modelDir = join(repoDir, 'targets', image.model);
    const found = await sbomFileOf(modelDir, image);
    if (!found) throw new VulnError('VULN_STATE_INVALID', `no SBOM of ${model} ${version} in the repository`);
    const path = join(modelDir, found.name);
    out.push({ model, version, imageSha256: image.sha256, path, targetPath: `${image.model}/${found.name}` });
  }
  return out;
}

/**
 * Every published image with the npm packages its SBOM lists, in publishing order; an image whose
 * SBOM is gone is refused rather than left out. @throws VulnError 'VULN_STATE_INVALID'
 */
export async function publishedReleases(
  repoDir: string,
  images: readonly PublishedImage[],
): Promise<ReleaseComponents[]> {
  const out: ReleaseComponents[] = [];
  for (const image of images) {
    const sbom = await sbomOf(join(repoDir, 'targets', image.model), image);
    if (!sbom)
      throw new VulnError('VULN_STATE_INVALID', `no SBOM of ${image.model} ${image.version} in the repository`);
    out.push({
      model: image.model,
      version: image.version,
      sha256: image.sha256,
      ...(typeof sbom.serialNumber === 'string' ? { sbomSerial: sbom.serialNumber } : {}),
      packages: packagesOfCycloneDx(sbom),
    });
  }
  return out;
}
