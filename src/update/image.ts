/**
 * The firmware image format, version 2: a tar archive (optionally gzipped) of regular files and
 * folders, with `image.json` at its top naming the model, version, security version, the entry
 * point the supervisor starts, the Node.js range it needs and its SBOM. Everything here is pure.
 *
 *     image.json      {"format":"bulwark-image/2","model":"plug","version":"1.1.0","securityVersion":2,
 *                      "entry":"agent.mjs","node":">=24.0.0 <25.0.0","sbom":"sbom.cdx.json"}
 *     agent.mjs       the device agent, bundled (started with node and the supervisor's hardened flags)
 *     chunks/         the parts it loads lazily
 *     model.json      the unit's model file
 *     models/, schemas/  the data files the agent reads (built-in models, the model schema)
 *     sbom.cdx.json   CycloneDX 1.5: the npm packages the bundle holds
 *     driver/         the maker's driver folder, when the product has one
 *
 * Version 1 images (image.json and an entry only, no `node` or `sbom`) are still read: units in
 * the field run them. Only version 2 is built.
 */
import { isVersion } from './semver.ts';
import { isNodeRange } from './node-range.ts';
import { UpdateRefusedError } from './errors.ts';

/** Format tag of image.json: what is built. */
export const IMAGE_FORMAT = 'bulwark-image/2';
/** Format tag of the first image format, still read. */
export const IMAGE_FORMAT_V1 = 'bulwark-image/1';
/** Either format tag. */
export type ImageFormat = typeof IMAGE_FORMAT | typeof IMAGE_FORMAT_V1;
/** The image's manifest file, at the top of the archive. */
export const IMAGE_MANIFEST_FILE = 'image.json';
/** Longest image.json accepted, bytes. */
export const MAX_IMAGE_MANIFEST_BYTES = 16_384;
/** Highest security version (a counter kept on the device). */
export const MAX_SECURITY_VERSION = 1_000_000;

/** The parsed image.json. */
export interface ImageManifest {
  readonly format: ImageFormat;
  readonly model: string;
  readonly version: string;
  /** Anti-rollback counter: a device refuses an image below the highest security version it has run healthily. */
  readonly securityVersion: number;
  /** Path of the entry point inside the image, a .mjs or .js file. */
  readonly entry: string;
  /** Version 2: the Node.js range the image needs (see node-range.ts). */
  readonly node?: string;
  /** Version 2: path inside the image of its CycloneDX SBOM. */
  readonly sbom?: string;
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
  if (v.format !== IMAGE_FORMAT && v.format !== IMAGE_FORMAT_V1) fail('format');
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
  const v2 = v.format === IMAGE_FORMAT;
  const keys = [
    'format',
    'model',
    'version',
    'securityVersion',
    'entry',
    'description',
    ...(v2 ? ['node', 'sbom'] : []),
  ];
  for (const key of Object.keys(v)) if (!keys.includes(key)) fail(key);
  checkImageIdentity(v, fail);
  if (typeof v.entry !== 'string' || !/\.(mjs|js)$/.test(v.entry) || !isInnerPath(v.entry)) fail('entry');
  if (v2 && !isNodeRange(v.node)) fail('node');
  if (v2 && (typeof v.sbom !== 'string' || !v.sbom.endsWith('.json') || !isInnerPath(v.sbom))) fail('sbom');
  if (v.description !== undefined && (typeof v.description !== 'string' || v.description.length > 200))
    fail('description');
  return {
    format: v.format as ImageFormat,
    model: v.model as string,
    version: v.version as string,
    securityVersion: v.securityVersion as number,
    entry: v.entry as string,
    ...(v2 ? { node: v.node as string, sbom: v.sbom as string } : {}),
    ...(v.description !== undefined ? { description: v.description as string } : {}),
  };
}

/** True for a path checkImagePath accepts unchanged. */
function isInnerPath(p: string): boolean {
  try {
    return checkImagePath(p) === p;
  } catch {
    return false;
  }
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
  readonly format: ImageFormat;
  readonly model: string;
  readonly version: string;
  readonly securityVersion: number;
  /** The Node.js range the image needs (image.json's `node`): a unit whose Node is outside it refuses the image. */
  readonly node?: string;
  /** The target path of the image's CycloneDX SBOM. */
  readonly sbom?: string;
  /** The owner's note (the device shows it before it installs). */
  readonly notes?: ReleaseNotes;
  /** The last day the model gets security updates (YYYY-MM-DD), as signed now: an extension reaches units here. */
  readonly supportEndsOn?: string;
}

/** A calendar date, YYYY-MM-DD, that exists. */
export function isCalendarDate(value: unknown): value is string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const t = Date.parse(`${value}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === value;
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
  if (v.node !== undefined && !isNodeRange(v.node)) fail('node');
  if (v.supportEndsOn !== undefined && !isCalendarDate(v.supportEndsOn)) fail('supportEndsOn');
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
    format: v.format as ImageFormat,
    model: v.model as string,
    version: v.version as string,
    securityVersion: v.securityVersion as number,
    ...(typeof v.node === 'string' ? { node: v.node } : {}),
    ...(typeof v.sbom === 'string' ? { sbom: v.sbom } : {}),
    ...(notes ? { notes } : {}),
    ...(typeof v.supportEndsOn === 'string' ? { supportEndsOn: v.supportEndsOn } : {}),
  };
}

/** Format tag of a delta target's custom data: a zstd frame made with `--patch-from` the base image. */
export const DELTA_FORMAT = 'bulwark-delta/1';

/** An image named by its signed length and SHA-256 (hex). */
export interface ImageDigest {
  readonly sha256: string;
  readonly length: number;
}

/** The custom data the release side signs into each delta target. */
export interface DeltaTargetCustom {
  readonly format: typeof DELTA_FORMAT;
  readonly model: string;
  /** The version the delta rebuilds (the full image's). */
  readonly version: string;
  /** The image a unit must run for this delta to apply, and its version. */
  readonly base: ImageDigest & { readonly version: string };
  /** The full image's target: the rebuilt bytes must have exactly this length and SHA-256. */
  readonly image: ImageDigest & { readonly path: string };
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Largest image length a delta's custom data may name, bytes (the largest a zstd window of 2^27 covers). */
const MAX_DELTA_IMAGE_LENGTH = 2 ** 27;

/** Checks a `{sha256, length}` pair from custom data; `fail` gets the key's name. */
function checkDigest(v: unknown, key: string, fail: (key: string) => never): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(key);
  const d = v as Record<string, unknown>;
  if (typeof d.sha256 !== 'string' || !SHA256_HEX.test(d.sha256)) fail(`${key}.sha256`);
  if (
    typeof d.length !== 'number' ||
    !Number.isSafeInteger(d.length) ||
    d.length < 1 ||
    d.length > MAX_DELTA_IMAGE_LENGTH
  )
    fail(`${key}.length`);
  return d;
}

/**
 * Validates a delta target's custom data (signed, but still checked, like {@link parseImageTargetCustom}).
 * @throws UpdateRefusedError 'UPDATE_METADATA_INVALID'
 */
export function parseDeltaTargetCustom(value: unknown): DeltaTargetCustom {
  const fail = (key: string): never => {
    throw new UpdateRefusedError(
      'UPDATE_METADATA_INVALID',
      `the delta's signed custom data has a bad or missing '${key}'`,
      {
        key,
      },
    );
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('custom');
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) if (!['format', 'model', 'version', 'base', 'image'].includes(key)) fail(key);
  if (v.format !== DELTA_FORMAT) fail('format');
  if (typeof v.model !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(v.model)) fail('model');
  if (!isVersion(v.version)) fail('version');
  const base = checkDigest(v.base, 'base', fail);
  if (!isVersion(base.version)) fail('base.version');
  const image = checkDigest(v.image, 'image', fail);
  if (image.path !== imageTargetPath(v.model as string)) fail('image.path');
  return {
    format: DELTA_FORMAT,
    model: v.model as string,
    version: v.version as string,
    base: { sha256: base.sha256 as string, length: base.length as number, version: base.version as string },
    image: { path: image.path as string, sha256: image.sha256 as string, length: image.length as number },
  };
}

/**
 * The TUF target path of the delta that rebuilds `model`'s current image from the image whose
 * SHA-256 is `baseSha256`.
 */
export function deltaTargetPath(model: string, baseSha256: string): string {
  return `${deltaTargetFolder(model)}${baseSha256}.zst`;
}

/** The folder (with its trailing '/') of a model's delta targets. */
export function deltaTargetFolder(model: string): string {
  return `${model}/deltas/`;
}

/** The TUF target path of a model's current image. */
export function imageTargetPath(model: string): string {
  return `${model}/image.tar`;
}

/** The TUF target path of a model's current image's SBOM. */
export function sbomTargetPath(model: string): string {
  return `${model}/image.cdx.json`;
}
