/**
 * Writes a built technical file to its folder as a whole: every file goes into a hidden staging folder
 * beside it, which is renamed into place, so a reader never sees a mixture of two files. An existing
 * folder is replaced only when it is empty or a technical file itself; it steps aside first, and a crash
 * in that moment leaves it whole as `.<name>.old-*` beside the place.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { commitDirectory, writeFileDurable } from '../storage/index.ts';
import { TechfileError } from './errors.ts';
import { TECHFILE_PATHS, TECHFILE_SCHEMA_ID } from './index-file.ts';
import type { TechnicalFile } from './technical-file.ts';

/** What is at `dir`: nothing, an empty folder, a technical file, or something else. */
async function occupant(dir: string): Promise<'none' | 'empty' | 'techfile' | 'other'> {
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined) return 'none';
  if (!info.isDirectory()) return 'other';
  if ((await readdir(dir)).length === 0) return 'empty';
  try {
    const index = JSON.parse(await readFile(join(dir, TECHFILE_PATHS.index), 'utf8')) as { schema?: unknown };
    return index.schema === TECHFILE_SCHEMA_ID ? 'techfile' : 'other';
  } catch {
    return 'other';
  }
}

async function syncFolder(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `file` to `outDir` atomically.
 * @throws TechfileError 'TECHFILE_OUT_EXISTS' when `outDir` holds something other than a technical file
 */
export async function writeTechnicalFile(outDir: string, file: TechnicalFile): Promise<void> {
  const out = resolve(outDir);
  const present = await occupant(out);
  if (present === 'other')
    throw new TechfileError(
      'TECHFILE_OUT_EXISTS',
      `${outDir} exists and is not a technical file: choose another --out`,
    );
  await mkdir(dirname(out), { recursive: true });
  const tag = randomBytes(6).toString('hex');
  const staging = join(dirname(out), `.${basename(out)}.partial-${tag}`);
  const old = join(dirname(out), `.${basename(out)}.old-${tag}`);
  try {
    await mkdir(staging, { mode: 0o755 });
    const folders = new Set<string>();
    for (const [path, text] of file.files) {
      folders.add(dirname(join(staging, path)));
      await mkdir(dirname(join(staging, path)), { recursive: true });
      await writeFileDurable(join(staging, path), text);
    }
    for (const folder of folders) await syncFolder(folder);
    // rename(2) replaces an empty folder but not a full one: the previous file steps aside first.
    if (present === 'techfile') await rename(out, old);
    await commitDirectory(staging, out);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    if (present === 'techfile') await rename(old, out).catch(() => undefined);
    throw err;
  }
  await rm(old, { recursive: true, force: true });
}
