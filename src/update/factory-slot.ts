/**
 * The factory slot as a real image: the unit's factory image (a `release build-image` archive the
 * maker ships on the unit's read-only storage) unpacked into `firmware/slots/factory/` with a
 * `.slot.json` of its files' hashes, like slots a and b. The supervisor calls
 * {@link ensureFactorySlot} before every factory boot: a slot that verifies and holds that image
 * boots as it is; a missing, damaged or different one is unpacked again from the archive, the
 * pristine copy. So the factory image, too, runs only its own files, checked before each boot.
 */
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { commitDirectory, writeFileDurable, SECRET_FILE_MODE } from '../storage/index.ts';
import { readImageArchive, type ArchiveLimits } from './archive.ts';
import { UpdateStateError } from './errors.ts';
import { firmwarePaths, slotManifest, verifySlot, SLOT_MANIFEST_FILE, type SlotManifest } from './slots.ts';

/** The target path recorded for the factory image in its `.slot.json` (it has no TUF target). */
export const FACTORY_TARGET_PATH = 'factory/image.tar';

/** What {@link ensureFactorySlot} found or did. */
export interface FactorySlot {
  readonly manifest: SlotManifest;
  /** The entry point to start, inside the slot. */
  readonly entry: string;
  /** Why the slot was (re)installed; absent when it verified as it was. */
  readonly installed?: string;
}

async function digestOf(file: string): Promise<{ sha256: string; length: number }> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new UpdateStateError('SLOT_INVALID', `the factory image ${file} is missing`);
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) h.update(chunk);
  return { sha256: h.digest('hex'), length: info.size };
}

/**
 * Verifies the factory slot against `imageTar`, installing it from the archive when it is missing,
 * damaged or another image. The install is staged, then the old slot removed and the new one
 * committed by a rename: a power cut leaves the old slot, the new one, or none, which the next
 * factory boot installs again from the archive.
 * @throws UpdateStateError 'SLOT_INVALID' when the archive is missing; UpdateRefusedError when it is
 *   not a valid image (the caller then has no factory image to boot)
 */
export async function ensureFactorySlot(
  stateDir: string,
  imageTar: string,
  limits: ArchiveLimits & { readonly maxImageEntries: number },
): Promise<FactorySlot> {
  const fw = firmwarePaths(stateDir);
  const digest = await digestOf(imageTar);
  let why: string;
  try {
    const m = await verifySlot(stateDir, 'factory', limits);
    if (m.target.sha256 === digest.sha256) return { manifest: m, entry: join(fw.slot('factory'), m.image.entry) };
    why = `the factory slot holds ${m.image.version}, not the unit's factory image`;
  } catch (err) {
    why = err instanceof UpdateStateError ? err.message : 'the factory slot cannot be read';
  }
  await mkdir(fw.slots, { recursive: true, mode: 0o700 });
  const staging = fw.staging('factory');
  await rm(staging, { recursive: true, force: true });
  const contents = await readImageArchive(imageTar, limits, { into: staging });
  const manifest = slotManifest({ path: FACTORY_TARGET_PATH, ...digest }, contents.manifest, contents.files);
  await writeFileDurable(join(staging, SLOT_MANIFEST_FILE), JSON.stringify(manifest, null, 1) + '\n', SECRET_FILE_MODE);
  await rm(fw.slot('factory'), { recursive: true, force: true });
  await commitDirectory(staging, fw.slot('factory'));
  return { manifest, entry: join(fw.slot('factory'), manifest.image.entry), installed: why };
}
