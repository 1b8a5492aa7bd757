/**
 * Update files, for units that never reach the internet (`bulwark release export` writes them;
 * the admin page and `bulwark device update --file` install them). An update file is a plain tar:
 *
 *     update.json                          {"format":"bulwark-update-file/1","model":"plug","version":"1.2.0",...}
 *     metadata/1.root.json .. N.root.json  every root, so a unit trusting any earlier one can walk to the newest
 *     metadata/timestamp.json
 *     metadata/<v>.snapshot.json
 *     metadata/<v>.targets.json
 *     targets/<model>/<sha256>.image.tar   the image, named by hash as in the repository
 *
 * Nothing in it is trusted for being there: the unpacked folder is served to the same TUF client
 * as an online repository ({@link FolderFetcher}), so the same signatures, versions and hashes are
 * checked. update.json only names what the file is for, so a file for another model is refused
 * before the TUF walk with a clear reason.
 */
import { createReadStream } from 'node:fs';
import { link, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Fetcher } from 'tuf-js';
import type * as TufErrorModule from 'tuf-js/dist/error.js';
import { readPlainArchive, type ArchiveFile } from './archive.ts';
import { UpdateRefusedError } from './errors.ts';
import { roleOfUrl, writeDownload } from './fetcher.ts';
import {
  invalidUpdateFile as invalid,
  parseUpdateFileInfo,
  MAX_UPDATE_FILE_ENTRIES,
  UPDATE_FILE_BASE_URL,
  UPDATE_FILE_INFO,
  UPDATE_FILE_METADATA_BYTES,
  UPDATE_FILE_TAR_OVERHEAD,
  type UpdateFileInfo,
} from './update-file-format.ts';

export { UPDATE_FILE_BASE_URL } from './update-file-format.ts';

/** Largest update.json read. */
const MAX_INFO_BYTES = 65_536;

/** What {@link unpackUpdateFile} found. */
export interface UnpackedUpdateFile {
  readonly info: UpdateFileInfo;
}

/**
 * Unpacks an update file into `into` (which must not exist yet) under the archive rules, bounded
 * by `maxImageBytes` plus room for the metadata, and reads its update.json.
 * @throws UpdateRefusedError 'UPDATE_FILE_INVALID' (truncated, malformed, a file outside metadata/ and
 *   targets/, no image) or 'UPDATE_TOO_LARGE'
 */
export async function unpackUpdateFile(file: string, into: string, maxImageBytes: number): Promise<UnpackedUpdateFile> {
  const maxBytes = maxImageBytes + UPDATE_FILE_METADATA_BYTES;
  const size = (await stat(file).catch(() => undefined))?.size;
  if (size === undefined) throw invalid('it cannot be read');
  // A tar carries headers and padding around its files: allow for them in the file's own size.
  if (size > maxBytes + UPDATE_FILE_TAR_OVERHEAD)
    throw new UpdateRefusedError('UPDATE_TOO_LARGE', `the update file is ${size} bytes, more than this unit accepts`);
  let files: readonly ArchiveFile[];
  try {
    const limits = { maxEntries: MAX_UPDATE_FILE_ENTRIES, maxUnpackedBytes: maxBytes };
    files = (await readPlainArchive(file, limits, { into })).files;
  } catch (err) {
    if (err instanceof UpdateRefusedError && err.code === 'UPDATE_IMAGE_INVALID')
      throw invalid(err.message.replace(/^the image archive is not acceptable: /, ''));
    throw err;
  }
  try {
    return await inspectUnpacked(into, files);
  } catch (err) {
    await rm(into, { recursive: true, force: true });
    throw err;
  }
}

/** Checks what an unpacked update file holds; reads only update.json (the TUF walk reads the metadata). */
async function inspectUnpacked(into: string, files: readonly ArchiveFile[]): Promise<UnpackedUpdateFile> {
  const paths = files.map((f) => f.path);
  const stray = paths.find((p) => p !== UPDATE_FILE_INFO && !/^(metadata|targets)\//.test(p));
  if (stray !== undefined)
    throw invalid(`it holds ${JSON.stringify(stray.slice(0, 80))}, outside metadata/ and targets/`);
  const sizeOf = (p: string): number | undefined => files.find((f) => f.path === p)?.size;
  if ((sizeOf(UPDATE_FILE_INFO) ?? Infinity) > MAX_INFO_BYTES) throw invalid('it has no update.json of a sane size');
  const info = parseUpdateFileInfo(await readJson(join(into, UPDATE_FILE_INFO)));
  if (!paths.includes(info.image)) throw invalid(`it does not hold ${info.image}`);
  if (!paths.includes('metadata/timestamp.json')) throw invalid('it has no metadata/timestamp.json');
  return { info };
}

async function readJson(path: string): Promise<{ signed?: { expires?: unknown } } | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as { signed?: { expires?: unknown } } | null;
  } catch {
    throw invalid(`${posix.basename(path)} is not JSON`);
  }
}

type TufErrors = typeof TufErrorModule;

/**
 * A tuf-js Fetcher that reads an unpacked update file instead of a network: only URLs under
 * {@link UPDATE_FILE_BASE_URL}, only files inside the folder, never more than the length asked.
 * A missing next root is tuf-js's own 404 (how it learns it holds the newest root); any other missing
 * file is UPDATE_FILE_INVALID.
 */
export class FolderFetcher implements Fetcher {
  readonly #folder: string;
  readonly #errors: TufErrors;
  lastFailure: UpdateRefusedError | undefined;
  lastRole: string | undefined;

  private constructor(folder: string, errors: TufErrors) {
    this.#folder = folder;
    this.#errors = errors;
  }

  /** A fetcher serving `folder` (an unpacked update file). */
  static async create(folder: string): Promise<FolderFetcher> {
    // A CommonJS module's `default` is its exports, under Node and in a bundled image alike.
    const errors = (await import('tuf-js/dist/error.js')).default as TufErrors;
    return new FolderFetcher(folder, errors);
  }

  /** Nothing to stop: reads are local and bounded. */
  abort(): void {}

  #fail(err: UpdateRefusedError): never {
    this.lastFailure = err;
    throw err;
  }

  /** The file `url` names inside the folder, or a refusal. */
  async #locate(url: string): Promise<{ path: string; size: number }> {
    const role = roleOfUrl(url);
    this.lastRole = role;
    this.lastFailure = undefined;
    const base = UPDATE_FILE_BASE_URL + '/';
    const rel = url.startsWith(base) ? posix.normalize(decodeURIComponent(url.slice(base.length))) : '';
    if (!rel || rel.startsWith('..') || rel.startsWith('/') || rel.includes('\0'))
      this.#fail(invalid(`a file outside it was asked for: ${url.slice(0, 80)}`));
    const path = join(this.#folder, ...rel.split('/'));
    const info = await stat(path).catch(() => undefined);
    if (info?.isFile()) return { path, size: info.size };
    if (role === 'root') throw new this.#errors.DownloadHTTPError(`no ${rel} in the update file`, 404);
    this.#fail(invalid(`it does not hold ${rel}`));
  }

  /** The file `url` names, refused (UPDATE_TOO_LARGE) when over `maxLength`. */
  async #bounded(url: string, maxLength: number): Promise<{ path: string; size: number }> {
    const f = await this.#locate(url);
    if (f.size > maxLength)
      this.#fail(
        new UpdateRefusedError(
          'UPDATE_TOO_LARGE',
          `${this.lastRole ?? 'file'}: ${f.size} bytes, more than the ${maxLength} allowed`,
        ),
      );
    return f;
  }

  /** tuf-js: metadata into memory, bounded by `maxLength`. */
  async downloadBytes(url: string, maxLength: number): Promise<Buffer> {
    const { path } = await this.#bounded(url, maxLength);
    return readFile(path);
  }

  /** tuf-js: a file by path; the unpacked file itself is handed over (tuf-js only reads it). */
  async downloadFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T> {
    const { path } = await this.#bounded(url, maxLength);
    return handler(path);
  }

  /**
   * Puts the file at `url` at `path`, bounded by `length`: a hard link (the unpacked file and the
   * download folder share the state partition), else a copy through the downloads' one writer.
   */
  async downloadTo(
    url: string,
    length: number,
    path: string,
    onProgress?: (done: number, total: number) => void,
  ): Promise<void> {
    const from = await this.#bounded(url, length);
    const part = `${path}.part`;
    await unlink(part).catch(() => undefined);
    if (
      await link(from.path, part).then(
        () => true,
        () => false,
      )
    ) {
      onProgress?.(from.size, length);
      await rename(part, path);
      return;
    }
    await writeDownload(
      path,
      length,
      async (take) => {
        for await (const chunk of createReadStream(from.path) as AsyncIterable<Buffer>) await take(chunk);
      },
      onProgress,
    );
  }
}
