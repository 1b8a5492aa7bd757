/**
 * Delta updates, the updater's side: a slot keeps the verified archive it was installed from
 * (`.slot.image.tar`); when the repository signs a delta from exactly that image to the current
 * one, the updater downloads the delta instead of the image, rebuilds the image with
 * {@link applyDelta} and writes it where a full download would go. The caller falls back to the
 * full image on any error these throw.
 *
 *     const plan = planDelta(deltaTarget, running, imageTarget, config.maxDeltaImageBytes);
 *     await rebuildImage({ plan, base: await readKeptBase(stateDir, 'a', limit), ... });
 */
import { createHash } from 'node:crypto';
import { readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TargetFile } from '@tufjs/models';
import { writeFileAtomic, SECRET_FILE_MODE } from '../storage/index.ts';
import { UpdateRefusedError } from './errors.ts';
import { applyDelta, deltaApplies } from './delta.ts';
import { parseDeltaTargetCustom, type DeltaTargetCustom, type ImageDigest } from './image.ts';
import { firmwarePaths, readSlotManifest, SLOT_IMAGE_FILE } from './slots.ts';

/** A delta target found in the signed targets, and how to download it (tuf-js, bounded by its signed length). */
export interface DeltaSource {
  readonly target: TargetFile;
  /** Downloads the delta to `file`, its length and hashes checked against `target`. */
  readonly download: (file: string) => Promise<void>;
}

/** A delta that applies here: its source and its checked custom data. */
export interface DeltaPlan extends DeltaSource {
  readonly custom: DeltaTargetCustom;
}

const digestOf = (t: TargetFile): ImageDigest & { path: string } => ({
  path: t.path,
  sha256: t.hashes.sha256 ?? '',
  length: t.length,
});

/**
 * Whether the delta in `source` rebuilds `image` from the running image, within `maxImageBytes`.
 * @throws UpdateRefusedError 'UPDATE_METADATA_INVALID' (bad custom data), 'UPDATE_DELTA_BASE_MISMATCH'
 *   (not from the running image, or not to `image`), 'UPDATE_TOO_LARGE' (image over the limit)
 */
export function planDelta(
  source: DeltaSource,
  running: ImageDigest,
  image: TargetFile,
  maxImageBytes: number,
): DeltaPlan {
  const custom = parseDeltaTargetCustom(source.target.custom);
  if (!deltaApplies(custom, running, digestOf(image)))
    throw new UpdateRefusedError(
      'UPDATE_DELTA_BASE_MISMATCH',
      'the delta is not from the running image to the current image',
    );
  if (image.length > maxImageBytes || running.length > maxImageBytes)
    throw new UpdateRefusedError('UPDATE_TOO_LARGE', `images over ${maxImageBytes} bytes are not rebuilt from deltas`);
  return { ...source, custom };
}

const sha256Of = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * The archive `slot` was installed from, checked against the slot's recorded signed target.
 * @throws UpdateRefusedError 'UPDATE_DELTA_BASE_MISMATCH' when it is missing or not that image,
 *   'UPDATE_TOO_LARGE' when it is over `maxImageBytes`
 */
export async function readKeptBase(stateDir: string, slot: 'a' | 'b', maxImageBytes: number): Promise<Uint8Array> {
  const mismatch = (why: string): UpdateRefusedError =>
    new UpdateRefusedError('UPDATE_DELTA_BASE_MISMATCH', `slot ${slot}'s kept image ${why}`, { slot });
  const signed = (await readSlotManifest(stateDir, slot)).target;
  const file = join(firmwarePaths(stateDir).slot(slot), SLOT_IMAGE_FILE);
  const size = await stat(file).then(
    (s) => s.size,
    () => -1,
  );
  if (size < 0) throw mismatch('is missing');
  if (size !== signed.length) throw mismatch(`is ${size} bytes, not ${signed.length}`);
  if (size > maxImageBytes)
    throw new UpdateRefusedError('UPDATE_TOO_LARGE', `images over ${maxImageBytes} bytes are not rebuilt from deltas`);
  const bytes = await readFile(file);
  if (sha256Of(bytes) !== signed.sha256) throw mismatch('does not match its signed SHA-256');
  return bytes;
}

/** What {@link rebuildImage} needs. */
export interface RebuildOptions {
  readonly plan: DeltaPlan;
  /** The running image's archive, from {@link readKeptBase}. */
  readonly base: Uint8Array;
  /** The full image's signed target: the result must be exactly it. */
  readonly image: TargetFile;
  /** Where the delta is downloaded to (removed afterwards). */
  readonly deltaFile: string;
  /** Where the rebuilt image is written, atomically. */
  readonly out: string;
  readonly maxImageBytes: number;
}

/**
 * Downloads the delta, rebuilds the image from the base and writes it atomically to `out`.
 * @throws UpdateRefusedError 'UPDATE_DELTA_INVALID' (the download does not match its signed
 *   target, or zstd refuses it), 'UPDATE_DELTA_RESULT_MISMATCH', or the fetcher's refusal
 */
export async function rebuildImage(o: RebuildOptions): Promise<void> {
  try {
    try {
      await o.plan.download(o.deltaFile);
    } catch (err) {
      // tuf-js checks length and hashes after the download: a file that fails is a tampered delta.
      if (err instanceof UpdateRefusedError) throw err;
      const why = err instanceof Error ? err.message.slice(0, 120) : 'error';
      throw new UpdateRefusedError('UPDATE_DELTA_INVALID', `the delta does not match its signed target (${why})`);
    }
    const delta = await readFile(o.deltaFile);
    const expected = { sha256: o.image.hashes.sha256 ?? '', length: o.image.length, base: o.plan.custom.base };
    const image = await applyDelta(o.base, delta, expected, { maxImageBytes: o.maxImageBytes });
    await writeFileAtomic(o.out, image, SECRET_FILE_MODE);
  } finally {
    await unlink(o.deltaFile).catch(() => undefined);
  }
}
