/**
 * The updater's files: the TUF metadata cache seeded from the bundle's root, the download folder,
 * and the verification of a downloaded image through one reused buffer.
 */
import type { Readable } from 'node:stream';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TargetFile } from '@tufjs/models';
import { writeFileAtomicSync, writeFileAtomic, SECRET_FILE_MODE } from '../storage/index.ts';
import { UpdateStateError } from './errors.ts';

/** Most leftover files removed from the download folder in one check. */
const MAX_DOWNLOAD_LEFTOVERS = 1_000;

function rootVersionOf(text: string): number {
  const v = (JSON.parse(text) as { signed?: { version?: unknown } }).signed?.version;
  return typeof v === 'number' ? v : 0;
}

/** Copies the bundle's root into the metadata cache when there is none, or when the bundle's is newer. */
export async function prepareMetadataDir(metadataDir: string, bundleRootJson: string): Promise<void> {
  await mkdir(metadataDir, { recursive: true, mode: 0o700 });
  const cached = join(metadataDir, 'root.json');
  let cachedVersion = -1;
  try {
    cachedVersion = rootVersionOf(await readFile(cached, 'utf8'));
  } catch {
    cachedVersion = -1;
  }
  if (cachedVersion < rootVersionOf(bundleRootJson)) await writeFileAtomic(cached, bundleRootJson, SECRET_FILE_MODE);
}

/** Removes what an earlier check left in the download folder, except `keep`. */
export async function cleanDownloads(downloadDir: string, keep?: string): Promise<void> {
  let names: string[] = [];
  try {
    names = await readdir(downloadDir);
  } catch {
    return;
  }
  for (const n of names.slice(0, MAX_DOWNLOAD_LEFTOVERS)) {
    if (n !== keep) await rm(join(downloadDir, n), { force: true, recursive: true });
  }
}

/** Size of the one buffer an image is read through, bytes. */
const VERIFY_CHUNK_BYTES = 1 << 20;

/** The file's bytes through one reused buffer: each chunk is handed out only after the previous one was consumed. */
async function* fileChunks(file: string): AsyncGenerator<Buffer> {
  const handle = await open(file, 'r');
  const buffer = Buffer.allocUnsafe(VERIFY_CHUNK_BYTES);
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Verifies a downloaded image against its signed target info with @tufjs/models (length and
 * every listed hash). TargetFile.verify only iterates its input and hashes each chunk before
 * asking for the next, so the file is fed through a single reused 1 MiB buffer: memory stays
 * flat whatever the image's size, and no garbage piles up for the collector.
 */
export async function verifyImageFile(target: TargetFile, file: string): Promise<void> {
  await target.verify(fileChunks(file) as unknown as Readable);
}

/**
 * tuf-js writes its metadata cache with a plain writeFileSync, which a power cut can leave
 * empty; this replaces that one method on the instance with an atomic write (temp file, fsync,
 * rename, fsync folder). Fails loudly if a tuf-js upgrade renames it.
 */
export function makeMetadataWritesAtomic(updater: object): void {
  const u = updater as { persistMetadata?: unknown; dir?: unknown };
  if (typeof u.persistMetadata !== 'function' || typeof u.dir !== 'string') {
    throw new UpdateStateError(
      'UPDATE_TUF_INCOMPATIBLE',
      'this tuf-js version does not persist metadata the way Bulwark expects',
    );
  }
  const dir = u.dir;
  u.persistMetadata = (name: string, bytes: Buffer): void => {
    writeFileAtomicSync(join(dir, `${encodeURIComponent(name)}.json`), bytes, SECRET_FILE_MODE);
  };
}

/**
 * Sets the time tuf-js checks metadata expiry against, for an update file whose metadata expired
 * only because the unit was offline (every signature, version and hash is still checked). tuf-js
 * fixes that time when the Updater is built and has no option for it; this fails loudly if a tuf-js
 * upgrade moves it.
 */
export function setExpiryReferenceTime(updater: object, at: Date): void {
  const store = (updater as { trustedSet?: { referenceTime?: unknown } }).trustedSet;
  if (!store || !(store.referenceTime instanceof Date)) {
    throw new UpdateStateError('UPDATE_TUF_INCOMPATIBLE', 'this tuf-js version does not keep its reference time');
  }
  store.referenceTime = at;
}

/**
 * The signed part of a role tuf-js has verified in this refresh (also the timestamp it verified before a
 * later step refused it), or undefined. Reads tuf-js's trusted set, which it does not export.
 */
export function verifiedSignedOf(
  updater: object,
  role: 'root' | 'timestamp' | 'snapshot' | 'targets',
): { expires: string; unrecognizedFields?: Record<string, unknown> } | undefined {
  const store = (updater as { trustedSet?: { trustedSet?: Record<string, { signed?: unknown } | undefined> } })
    .trustedSet;
  const signed = store?.trustedSet?.[role]?.signed as { expires?: unknown; unrecognizedFields?: unknown } | undefined;
  if (!signed || typeof signed.expires !== 'string') return undefined;
  const extra = signed.unrecognizedFields;
  return typeof extra === 'object' && extra !== null
    ? { expires: signed.expires, unrecognizedFields: extra as Record<string, unknown> }
    : { expires: signed.expires };
}
