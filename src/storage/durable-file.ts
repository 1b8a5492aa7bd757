/**
 * Durable files: every write of state goes to a temporary file in the same folder, is fsynced,
 * then renamed over the target and the folder fsynced, so a power cut leaves either the old or
 * the new content, never a mixture.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, writeSync, fsyncSync, closeSync, renameSync, unlinkSync, readFileSync } from 'node:fs';
import { open, rename, unlink, readFile, mkdir, type FileHandle } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/** File mode for secrets: owner read/write only. */
export const SECRET_FILE_MODE = 0o600;
/** File mode for public files. */
export const PUBLIC_FILE_MODE = 0o644;

/** Writes all of `chunk` to an open file, whatever the short writes. */
export async function writeAll(out: FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += (await out.write(chunk, off, chunk.length - off)).bytesWritten;
}

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Atomically replaces `path` with `data` (write, fsync, rename, fsync folder). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode: number = PUBLIC_FILE_MODE): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  // 'wx' refuses to follow a planted symlink or reuse an existing file.
  const fd = openSync(tmp, 'wx', mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDirSync(dirname(path));
}

/** Async twin of {@link writeFileAtomicSync}. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode: number = PUBLIC_FILE_MODE,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Writes `value` as pretty JSON, atomically. */
export async function writeJsonAtomic(path: string, value: unknown, mode: number = PUBLIC_FILE_MODE): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n', mode);
}

/** Sync twin of {@link writeJsonAtomic}. */
export function writeJsonAtomicSync(path: string, value: unknown, mode: number = PUBLIC_FILE_MODE): void {
  writeFileAtomicSync(path, JSON.stringify(value, null, 2) + '\n', mode);
}

/** Reads and parses a JSON file; the caller validates the shape. */
export async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8')) as unknown;
}

/** Sync twin of {@link readJson}. */
export function readJsonSync(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8')) as unknown;
}

/**
 * Writes a new file and fsyncs it (no rename): for files inside a staging folder that is renamed into place as a whole.
 */
export async function writeFileDurable(
  path: string,
  data: string | Uint8Array,
  mode: number = PUBLIC_FILE_MODE,
): Promise<void> {
  const handle = await open(path, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Renames a fully written staging folder to its final name and fsyncs the parent, so the folder appears whole or not at
 * all.
 */
export async function commitDirectory(staging: string, final: string): Promise<void> {
  const stagingDir = await open(staging, 'r');
  try {
    await stagingDir.sync();
  } finally {
    await stagingDir.close();
  }
  await rename(staging, final);
  const parent = await open(dirname(final), 'r');
  try {
    await parent.sync();
  } finally {
    await parent.close();
  }
}
