/**
 * Delta images, the device's side: rebuilding a full image from the image a unit runs and a
 * delta in zstd's "patch-from" format (a standard zstd frame compressed with the base image as
 * its raw-content dictionary; `zstd -d --patch-from=<base>` applies the same bytes). Pure: bytes
 * in, bytes out, no files; zstd runs on libuv's thread pool so the event loop stays free.
 *
 *     const image = await applyDelta(running, delta, { ...fullImage, base: deltaCustom.base });
 */
import { createHash } from 'node:crypto';
import type { ZstdOptions } from 'node:zlib';
import { UpdateRefusedError } from './errors.ts';
import type { DeltaTargetCustom, ImageDigest } from './image.ts';

/** Smallest zstd window a delta uses, as log2 bytes (8 MiB). */
export const DELTA_MIN_WINDOW_LOG = 23;
/** Largest zstd window a delta may use, as log2 bytes (128 MiB): bigger bases or images get no delta. */
export const DELTA_MAX_WINDOW_LOG = 27;
/** The magic number that opens every zstd frame (little-endian 0xFD2FB528). */
const ZSTD_FRAME_MAGIC = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd);
/** zstd reads a dictionary that opens with this as a trained dictionary, not raw content (0xEC30A437). */
const ZSTD_DICT_MAGIC = Uint8Array.of(0x37, 0xa4, 0x30, 0xec);

/** Bounds on what applying a delta may allocate. */
export interface DeltaLimits {
  /** Largest base or rebuilt image accepted, bytes; refused before anything is allocated. */
  readonly maxImageBytes: number;
}

/** 256 MiB (a delta's window caps both sides at 128 MiB anyway). */
export const defaultDeltaLimits: Readonly<DeltaLimits> = Object.freeze({ maxImageBytes: 256 * 2 ** 20 });

/** What a rebuilt image must be: the full image's signed target, and the base the delta names. */
export interface DeltaExpectation extends ImageDigest {
  /** The base image from the delta's signed custom data. */
  readonly base: ImageDigest;
}

/**
 * The zstd window (log2 bytes) a delta between images of these lengths uses: large enough to
 * reach back over the whole base, at least {@link DELTA_MIN_WINDOW_LOG}; undefined when it would
 * exceed {@link DELTA_MAX_WINDOW_LOG}. The release side and the device compute it alike.
 */
export function deltaWindowLog(baseLength: number, imageLength: number): number | undefined {
  const longest = Math.max(baseLength, imageLength, 1);
  const log = Math.max(DELTA_MIN_WINDOW_LOG, Math.ceil(Math.log2(longest)));
  return log <= DELTA_MAX_WINDOW_LOG ? log : undefined;
}

/** Whether `bytes` opens with `magic`. */
function startsWith(bytes: Uint8Array, magic: Uint8Array): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/** Whether zstd would read `base` as raw content (patch-from needs that; a trained dictionary is refused). */
export function isRawContentBase(base: Uint8Array): boolean {
  return !startsWith(base, ZSTD_DICT_MAGIC);
}

/**
 * Whether a delta target applies here: it rebuilds exactly the current full image target, and
 * its base is exactly the image the running slot holds. The updater downloads a delta only then.
 */
export function deltaApplies(
  delta: DeltaTargetCustom,
  running: ImageDigest,
  image: ImageDigest & { readonly path: string },
): boolean {
  return (
    delta.base.sha256 === running.sha256 &&
    delta.base.length === running.length &&
    delta.image.path === image.path &&
    delta.image.sha256 === image.sha256 &&
    delta.image.length === image.length
  );
}

/** zstd with `base` as its raw-content dictionary; node:zlib loads at the first delta, not with the idle agent. */
async function decompress(delta: Uint8Array, base: Uint8Array, windowLog: number, maxLength: number): Promise<Buffer> {
  const { constants, zstdDecompress } = await import('node:zlib');
  const options: ZstdOptions = {
    dictionary: base,
    params: { [constants.ZSTD_d_windowLogMax]: windowLog },
    maxOutputLength: maxLength,
  };
  return new Promise((resolve, reject) => {
    zstdDecompress(delta, options, (err, out) => (err ? reject(err) : resolve(out)));
  });
}
const sha256Of = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const invalid = (message: string, details: Record<string, unknown> = {}, cause?: unknown): UpdateRefusedError =>
  new UpdateRefusedError('UPDATE_DELTA_INVALID', message, details, cause === undefined ? undefined : { cause });

/** The checks that need no zstd: sizes, the frame's magic, the base's identity. Returns the window log. */
function checkDeltaInputs(
  base: Uint8Array,
  delta: Uint8Array,
  expected: DeltaExpectation,
  limits: DeltaLimits,
): number {
  const max = limits.maxImageBytes;
  if (base.length > max || expected.length > max || expected.base.length > max || delta.length > max)
    throw invalid(`a delta's base or result is larger than the limit of ${max} bytes`, { limit: max });
  if (!Number.isSafeInteger(expected.length) || expected.length < 1)
    throw invalid('the expected image length is not a positive integer');
  const windowLog = deltaWindowLog(base.length, expected.length);
  if (windowLog === undefined) throw invalid(`a delta cannot cover images over ${2 ** DELTA_MAX_WINDOW_LOG} bytes`);
  if (!startsWith(delta, ZSTD_FRAME_MAGIC)) throw invalid('the delta is not a zstd frame');
  if (base.length !== expected.base.length || sha256Of(base) !== expected.base.sha256) {
    throw new UpdateRefusedError(
      'UPDATE_DELTA_BASE_MISMATCH',
      'this unit does not run the image the delta is made from',
      {
        base: expected.base.sha256,
      },
    );
  }
  if (!isRawContentBase(base)) throw invalid('the base image opens like a zstd dictionary');
  return windowLog;
}

/**
 * Rebuilds a full image from `base` (the running image's bytes) and a zstd patch-from `delta`,
 * and checks the result against the full image's signed length and SHA-256. Nothing larger than
 * `limits.maxImageBytes` is allocated, and zstd's window is bounded by the expected lengths.
 * @throws UpdateRefusedError 'UPDATE_DELTA_BASE_MISMATCH' (base is not the delta's),
 *   'UPDATE_DELTA_INVALID' (not zstd, corrupt, too large, wrong length),
 *   'UPDATE_DELTA_RESULT_MISMATCH' (rebuilt bytes are not the signed image)
 * @example const image = await applyDelta(running, delta, { length, sha256, base: custom.base });
 */
export async function applyDelta(
  base: Uint8Array,
  delta: Uint8Array,
  expected: DeltaExpectation,
  limits: DeltaLimits = defaultDeltaLimits,
): Promise<Uint8Array> {
  const windowLog = checkDeltaInputs(base, delta, expected, limits);
  let image: Buffer;
  try {
    image = await decompress(delta, base, windowLog, expected.length);
  } catch (err) {
    throw invalid(`the delta cannot be applied: ${(err as Error).message}`, {}, err);
  }
  if (image.length !== expected.length)
    throw invalid(`the delta rebuilt ${image.length} bytes, not the signed ${expected.length}`);
  if (sha256Of(image) !== expected.sha256)
    throw new UpdateRefusedError(
      'UPDATE_DELTA_RESULT_MISMATCH',
      "the image the delta rebuilt does not match the full image's signed SHA-256",
    );
  return image;
}
