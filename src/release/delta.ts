/**
 * Delta images, the release side: a zstd "patch-from" frame (the base image as zstd's raw-content
 * dictionary, long-distance matching, level 12), exactly what `zstd --patch-from=<base> -12`
 * makes and what src/update's `applyDelta` and `zstd -d --patch-from=<base>` apply.
 */
import { constants, zstdCompress, type ZstdOptions } from 'node:zlib';
import { promisify } from 'node:util';
import { ConfigError } from '../errors/index.ts';
import { ReleaseError, deltaWindowLog, isRawContentBase, DELTA_MAX_WINDOW_LOG } from '../update/index.ts';

/**
 * zstd's compression level for deltas. Measured on two plug images a one-file change apart (2.5 MiB):
 * level 12 makes a delta 18% larger than level 19's (15.4 against 13.0 KB) in a sixth of the time
 * (0.11 against 0.65 s a base), and a release writes one delta from each kept base.
 */
export const DELTA_COMPRESSION_LEVEL = 12;
/** How many earlier images of a model get a delta to each new one, unless release.json says otherwise. */
export const DEFAULT_DELTA_BASES = 3;
/** The most earlier images a repository keeps as delta bases per model. */
export const MAX_DELTA_BASES = 10;

const compress = promisify(zstdCompress) as (buf: Uint8Array, options: ZstdOptions) => Promise<Buffer>;

/**
 * Makes the delta that rebuilds `target` from `base`: one zstd frame with a content checksum.
 * Runs on libuv's thread pool (about a second for tens of MiB at level 12).
 * @throws ReleaseError 'RELEASE_DELTA_TOO_LARGE' when either image is past a 2^27-byte window,
 *   'RELEASE_IMAGE_INVALID' when the base opens like a trained zstd dictionary
 * @example const delta = await makeDelta(await readFile('plug-1.1.0.tar'), await readFile('plug-1.2.0.tar'));
 */
export async function makeDelta(base: Uint8Array, target: Uint8Array): Promise<Uint8Array> {
  const windowLog = deltaWindowLog(base.length, target.length);
  if (windowLog === undefined) {
    throw new ReleaseError(
      'RELEASE_DELTA_TOO_LARGE',
      `a delta covers images up to ${2 ** DELTA_MAX_WINDOW_LOG} bytes; these are ${base.length} and ${target.length}`,
    );
  }
  if (!isRawContentBase(base))
    throw new ReleaseError('RELEASE_IMAGE_INVALID', 'the base image opens like a zstd dictionary');
  return compress(target, {
    dictionary: base,
    params: {
      [constants.ZSTD_c_compressionLevel]: DELTA_COMPRESSION_LEVEL,
      [constants.ZSTD_c_enableLongDistanceMatching]: 1,
      [constants.ZSTD_c_windowLog]: windowLog,
      [constants.ZSTD_c_checksumFlag]: 1,
      [constants.ZSTD_c_contentSizeFlag]: 1,
    },
  });
}

/**
 * Validates the release configuration's `deltaBases` (how many earlier images of a model get a
 * delta to each new one): an integer from 0 (no deltas) to {@link MAX_DELTA_BASES}.
 * @throws ConfigError 'RELEASE_CONFIG_INVALID'
 */
export function validateDeltaBases(value: unknown = DEFAULT_DELTA_BASES): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_DELTA_BASES)
    throw new ConfigError('RELEASE_CONFIG_INVALID', 'deltaBases', `must be an integer from 0 to ${MAX_DELTA_BASES}`);
  return value;
}
