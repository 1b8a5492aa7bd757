/**
 * What the running code is made of, for the owner: the image the process runs from (image.json
 * beside its entry point) and the components its SBOM lists. The SBOM travels inside the image
 * (format version 2), so the unit shows what it really runs, not what the maker's lockfile held.
 * The factory image (the installed package) has no image.json; it says so.
 */
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { IMAGE_MANIFEST_FILE, MAX_IMAGE_MANIFEST_BYTES, parseImageManifest, type ImageManifest } from './image.ts';

/** One component of the running image, as its SBOM names it. */
export interface RunningComponent {
  readonly name: string;
  readonly version: string;
  /** The package URL (pkg:npm/...), when the SBOM gives one. */
  readonly purl?: string;
}

/** The running code: its image, and the components of the image's SBOM. */
export type RunningSoftware =
  | {
      readonly kind: 'image';
      readonly image: Pick<ImageManifest, 'model' | 'version' | 'securityVersion'> & { readonly node?: string };
      readonly components: readonly RunningComponent[];
      /** True when the SBOM listed more components than are shown. */
      readonly truncated: boolean;
      /** Why the components could not be read, when they could not. */
      readonly problem?: string;
    }
  | { readonly kind: 'factory' };

/** Largest SBOM read, bytes: a bundle's SBOM is a few KiB. */
const MAX_SBOM_BYTES = 1_048_576;
/** Most components shown. */
const MAX_COMPONENTS = 1_000;
const text = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

/** Reads at most `max` bytes of a file; more is an error (a file is never read whole when it is too large). */
async function readBounded(path: string, max: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(max + 1);
    const { bytesRead } = await handle.read(buf, 0, max + 1, 0);
    if (bytesRead > max) throw new Error(`larger than ${max} bytes`);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** The components of a CycloneDX document: name and version each, bounded in count and length. */
export function componentsOfSbom(doc: unknown): { components: RunningComponent[]; truncated: boolean } {
  const list = (doc as { components?: unknown } | null)?.components;
  if (!Array.isArray(list)) throw new Error('no components list');
  const components: RunningComponent[] = [];
  for (const c of list.slice(0, MAX_COMPONENTS) as Array<Record<string, unknown> | null>) {
    if (!c || !text(c.name, 214) || !text(c.version, 64)) continue;
    components.push({ name: c.name, version: c.version, ...(text(c.purl, 300) ? { purl: c.purl } : {}) });
  }
  components.sort((a, b) => a.name.localeCompare(b.name));
  return { components, truncated: list.length > MAX_COMPONENTS };
}

/**
 * The software this process runs. `entry` is its entry point (process.argv[1] by default): an image's
 * `agent.mjs` has image.json beside it; the installed package does not.
 * @example const s = await runningSoftware(); if (s.kind === 'image') show(s.components);
 */
export async function runningSoftware(entry: string | undefined = process.argv[1]): Promise<RunningSoftware> {
  if (!entry) return { kind: 'factory' };
  const dir = dirname(entry);
  let manifest: ImageManifest;
  try {
    manifest = parseImageManifest(
      JSON.parse(await readBounded(join(dir, IMAGE_MANIFEST_FILE), MAX_IMAGE_MANIFEST_BYTES)),
    );
  } catch {
    return { kind: 'factory' };
  }
  const image = {
    model: manifest.model,
    version: manifest.version,
    securityVersion: manifest.securityVersion,
    ...(manifest.node ? { node: manifest.node } : {}),
  };
  if (!manifest.sbom) return { kind: 'image', image, components: [], truncated: false, problem: 'no SBOM' };
  try {
    const { components, truncated } = componentsOfSbom(
      JSON.parse(await readBounded(join(dir, manifest.sbom), MAX_SBOM_BYTES)),
    );
    return { kind: 'image', image, components, truncated };
  } catch (err) {
    const problem = `its SBOM cannot be read: ${(err as Error).message.slice(0, 120)}`;
    return { kind: 'image', image, components: [], truncated: false, problem };
  }
}
