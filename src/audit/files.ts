/**
 * Bounded reading of the white-box inputs: regular files only, never more than the limit, no
 * following of symbolic links out of a walk. Failures become values, not exceptions, so a
 * missing file is evidence rather than a crash.
 */
import { open, lstat, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** A file's text, or why it could not be read. */
export type FileText =
  | { readonly ok: true; readonly text: string; readonly size: number; readonly mode: number }
  | { readonly ok: false; readonly reason: string };

/** Reads a regular file of at most `maxBytes` (larger files: the last `maxBytes` when `tail`, else refused). */
export async function readBounded(path: string, maxBytes: number, o: { tail?: boolean } = {}): Promise<FileText> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    return {
      ok: false,
      reason:
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'missing'
          : `unreadable (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    };
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return { ok: false, reason: 'not a regular file' };
    if (info.size > maxBytes && o.tail !== true) return { ok: false, reason: `larger than ${maxBytes} bytes` };
    const length = Math.min(info.size, maxBytes);
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, info.size - length);
    return { ok: true, text: buf.subarray(0, bytesRead).toString('utf8'), size: info.size, mode: info.mode & 0o7777 };
  } finally {
    await handle.close();
  }
}

/** Parses JSON read with {@link readBounded}; undefined when missing or malformed. */
export async function readJsonBounded(path: string, maxBytes: number): Promise<{ value?: unknown; reason?: string }> {
  const f = await readBounded(path, maxBytes);
  if (!f.ok) return { reason: f.reason };
  try {
    return { value: JSON.parse(f.text) };
  } catch {
    return { reason: 'not valid JSON' };
  }
}

/** One entry of a walk. */
export interface WalkEntry {
  readonly path: string;
  /** Path relative to the walk's root. */
  readonly name: string;
  readonly kind: 'file' | 'dir' | 'other';
  readonly mode: number;
  readonly size: number;
}

/**
 * Lists a folder tree (the root included), at most `maxEntries` entries and `maxDepth` levels; links are listed, not
 * followed.
 */
export async function walk(
  root: string,
  maxEntries: number,
  maxDepth = 4,
): Promise<{ entries: WalkEntry[]; truncated: boolean }> {
  const entries: WalkEntry[] = [];
  let truncated = false;
  const visit = async (path: string, depth: number): Promise<void> => {
    if (entries.length >= maxEntries) {
      truncated = true;
      return;
    }
    let info;
    try {
      info = await lstat(path);
    } catch {
      return;
    }
    const kind = info.isFile() ? 'file' : info.isDirectory() ? 'dir' : 'other';
    entries.push({ path, name: relative(root, path) || '.', kind, mode: info.mode & 0o7777, size: info.size });
    if (kind !== 'dir' || depth >= maxDepth) return;
    let names: string[];
    try {
      names = (await readdir(path)).sort();
    } catch {
      return;
    }
    for (const n of names) await visit(join(path, n), depth + 1);
  };
  await visit(root, 0);
  return { entries, truncated };
}
