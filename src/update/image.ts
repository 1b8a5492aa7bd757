/**
 * The firmware image format, version 1: a tar archive (optionally gzipped) of regular files and
 * folders, with `image.json` at its top naming the model, version, security version and the
 * entry point the supervisor starts. Everything here is pure (no files).
 *
 *     image.json   {"format":"bulwark-image/1","model":"plug","version":"1.1.0",
 *                   "securityVersion":2,"entry":"agent.mjs"}
 *     agent.mjs    the entry point (started with node and the runtime's hardened flags)
 *     ...          any other files the image needs
 */
import { isVersion } from './semver.ts';
import { UpdateRefusedError } from './errors.ts';

/** Format tag of image.json. */
export const IMAGE_FORMAT = 'bulwark-image/1';
/** The image's manifest file, at the top of the archive. */
export const IMAGE_MANIFEST_FILE = 'image.json';
/** Longest image.json accepted, bytes. */
export const MAX_IMAGE_MANIFEST_BYTES = 16_384;
/** Highest security version (a counter kept on the device). */
export const MAX_SECURITY_VERSION = 1_000_000;

/** The parsed image.json. */
export interface ImageManifest {
  readonly format: typeof IMAGE_FORMAT;
  readonly model: string;
  readonly version: string;
  /** Anti-rollback counter: a device refuses an image below the highest security version it has run healthily. */
  readonly securityVersion: number;
  /** Path of the entry point inside the image, a .mjs or .js file. */
  readonly entry: string;
  readonly description?: string;
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** Names the installer writes into a slot; an image may not carry them. */
const RESERVED = /^\.slot/;

/**
 * Normalises a path from an archive and checks it: relative, no '.', '..' or hidden segments,
 * at most 16 levels and 512 characters. Returns undefined for the archive's root folder.
 * @throws UpdateRefusedError 'UPDATE_IMAGE_INVALID'
 */
export function checkImagePath(raw: string): string | undefined {
  let p = raw.startsWith('./') ? raw.slice(2) : raw;
  p = p.replace(/\/+$/, '');
  if (p === '' || p === '.') return undefined;
  const segments = p.split('/');
  if (p.length > 512 || segments.length > 16 || RESERVED.test(p) || !segments.every((s) => SEGMENT.test(s))) {
    throw new UpdateRefusedError(
      'UPDATE_IMAGE_INVALID',
      `the image contains a path that is not allowed: ${JSON.stringify(raw.slice(0, 80))}`,
    );
  }
  return p;
}

/** The fields image.json and a target's custom data share: format, model, version, security version. */
function checkImageIdentity(v: Record<string, unknown>, fail: (key: string) => never): void {
  if (v.format !== IMAGE_FORMAT) fail('format');
  if (typeof v.model !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(v.model)) fail('model');
  if (!isVersion(v.version)) fail('version');
  if (
    typeof v.securityVersion !== 'number' ||
    !Number.isSafeInteger(v.securityVersion) ||
    v.securityVersion < 0 ||
    v.securityVersion > MAX_SECURITY_VERSION
  )
    fail('securityVersion');
}

/**
 * Validates a parsed image.json.
 * @throws UpdateRefusedError 'UPDATE_IMAGE_INVALID'
 */
export function parseImageManifest(value: unknown): ImageManifest {
  const fail = (key: string): never => {
    throw new UpdateRefusedError('UPDATE_IMAGE_INVALID', `image.json: bad or missing '${key}'`, { key });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('(root)');
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v))
    if (!['format', 'model', 'version', 'securityVersion', 'entry', 'description'].includes(key)) fail(key);
  checkImageIdentity(v, fail);
  if (typeof v.entry !== 'string' || !/\.(mjs|js)$/.test(v.entry)) fail('entry');
  try {
    if (checkImagePath(v.entry as string) !== v.entry) fail('entry');
  } catch {
    fail('entry');
  }
  if (v.description !== undefined && (typeof v.description !== 'string' || v.description.length > 200))
    fail('description');
  return {
    format: IMAGE_FORMAT,
    model: v.model as string,
    version: v.version as string,
    securityVersion: v.securityVersion as number,
    entry: v.entry as string,
    ...(v.description !== undefined ? { description: v.description as string } : {}),
  };
}

/** A release's note for the owner, signed with the image: what it fixes and what installing interrupts. */
export type ReleaseNotes = {
  /** The risk the release removes (or what it changes), in plain words; 1 to 500 characters. */
  readonly risk: string;
  /**
   * What installing interrupts and for how long, e.g. 'the plug restarts: about 10 s without
   * switching'; 1 to 200 characters.
   */
  readonly interruption: string;
};

/** The custom data the release side signs into each image's TUF target. */
export interface ImageTargetCustom {
  readonly format: typeof IMAGE_FORMAT;
  readonly model: string;
  readonly version: string;
  readonly securityVersion: number;
  /** The target path of the image's CycloneDX SBOM. */
  readonly sbom?: string;
  /** The owner's note (the device shows it before it installs). */
  readonly notes?: ReleaseNotes;
}

/** Note text: printable, one line (no control characters). */
const hasControl = (t: string): boolean => [...t].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

/**
 * Validates a target's custom data (signed, but still checked: a bad release must not crash a device).
 * @throws UpdateRefusedError 'UPDATE_METADATA_INVALID'
 */
export function parseImageTargetCustom(value: unknown): ImageTargetCustom {
  const fail = (key: string): never => {
    throw new UpdateRefusedError(
      'UPDATE_METADATA_INVALID',
      `the image's signed custom data has a bad or missing '${key}'`,
      { key },
    );
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('custom');
  const v = value as Record<string, unknown>;
  checkImageIdentity(v, fail);
  if (v.sbom !== undefined && (typeof v.sbom !== 'string' || v.sbom.length > 256)) fail('sbom');
  let notes: ReleaseNotes | undefined;
  if (v.notes !== undefined) {
    const n = v.notes as Record<string, unknown> | null;
    if (
      typeof n !== 'object' ||
      n === null ||
      Array.isArray(n) ||
      Object.keys(n).some((k) => k !== 'risk' && k !== 'interruption')
    )
      fail('notes');
    const text = (x: unknown, max: number): x is string =>
      typeof x === 'string' && x.trim().length > 0 && x.length <= max && !hasControl(x);
    if (!text(n!.risk, 500)) fail('notes.risk');
    if (!text(n!.interruption, 200)) fail('notes.interruption');
    notes = { risk: n!.risk as string, interruption: n!.interruption as string };
  }
  return {
    format: IMAGE_FORMAT,
    model: v.model as string,
    version: v.version as string,
    securityVersion: v.securityVersion as number,
    ...(typeof v.sbom === 'string' ? { sbom: v.sbom } : {}),
    ...(notes ? { notes } : {}),
  };
}

/** The TUF target path of a model's current image. */
export function imageTargetPath(model: string): string {
  return `${model}/image.tar`;
}

/** The TUF target path of a model's current image's SBOM. */
export function sbomTargetPath(model: string): string {
  return `${model}/image.cdx.json`;
}

/**
 * The entry point of the reference images: it starts the device agent of the runtime the
 * supervisor names in `--runtime` (the installed Bulwark package). A product's image would
 * carry its own built agent instead.
 */
export const REFERENCE_ENTRY_SOURCE =
  '// Bulwark reference firmware image. The supervisor starts this file with the installed\n' +
  `// runtime's agent entry as --runtime; the agent reads this image's identity from image.json.
const at = process.argv.indexOf('--runtime');
const runtime = at >= 0 ? process.argv[at + 1] : undefined;
if (!runtime || !runtime.startsWith('file:')) {
  process.stderr.write('reference image: the supervisor gave no --runtime file URL\\n');
  process.exit(78);
}
await import(runtime);
`;
