/**
 * Reading image archives with node-tar (loaded on first use; src/release builds them). Reading
 * is strict: regular files and folders only (no links, devices or FIFOs), checked paths, no duplicates,
 * and bounds on the number of entries and on their total size. Unpacking writes every file
 * with 'wx' (never through a planted link), hashes it on the way, and fsyncs files and folders,
 * so a staged slot is complete on disk before it is renamed into place.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { writeAll } from '../storage/index.ts';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import type { ReadEntry } from 'tar';
import type * as TarModule from 'tar';
import { UpdateRefusedError } from './errors.ts';
import {
  checkImagePath,
  parseImageManifest,
  IMAGE_MANIFEST_FILE,
  MAX_IMAGE_MANIFEST_BYTES,
  type ImageManifest,
} from './image.ts';

type Tar = typeof TarModule;
let tarModule: Promise<Tar> | undefined;
/** node-tar, loaded on first use (the device reads archives; src/release writes them with the same module). */
export function loadTar(): Promise<Tar> {
  tarModule ??= import('tar');
  return tarModule;
}

/** Bounds on an archive. */
export interface ArchiveLimits {
  /** Most entries (files and folders). */
  readonly maxEntries: number;
  /** Largest total size of the files, bytes. */
  readonly maxUnpackedBytes: number;
}

/** One file of an archive, with its SHA-256. */
export interface ArchiveFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** What was read from an archive. */
export interface ArchiveContents {
  readonly manifest: ImageManifest;
  readonly files: readonly ArchiveFile[];
  readonly directories: readonly string[];
  readonly totalBytes: number;
  /** The files `keep` named, when each is at most its `maxBytes`. */
  readonly kept: ReadonlyMap<string, Buffer>;
}

/** The refusal of an archive that breaks the archive rules (src/release uses it for what it would build). */
export const invalidImageArchive = (why: string): UpdateRefusedError =>
  new UpdateRefusedError('UPDATE_IMAGE_INVALID', `the image archive is not acceptable: ${why}`);
const invalid = invalidImageArchive;

interface Consumed {
  bytes: number;
  sha256: string;
  head: Buffer;
}

/** Consumes `entry` into `sink` (or nowhere), hashing it; resolves with the byte count and hash. */
function consume(entry: ReadEntry, sink?: (chunk: Buffer) => Promise<void>): Promise<Consumed> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    const head: Buffer[] = [];
    let headBytes = 0;
    let chain = Promise.resolve();
    entry.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
      if (headBytes <= MAX_IMAGE_MANIFEST_BYTES) {
        head.push(chunk);
        headBytes += chunk.length;
      }
      if (sink) {
        entry.pause();
        chain = chain
          .then(() => sink(chunk))
          .then(
            () => {
              entry.resume();
            },
            (err: unknown) => {
              reject(err instanceof Error ? err : new Error(String(err)));
            },
          );
      }
    });
    entry.on('end', () => {
      chain.then(() => resolve({ bytes, sha256: hash.digest('hex'), head: Buffer.concat(head) }), reject);
    });
    entry.on('error', reject);
  });
}

/** Options of {@link readImageArchive}. */
export interface ReadArchiveOptions {
  /** Unpacks into this folder (which must not exist yet). */
  readonly into?: string;
  readonly onProgress?: (done: number, total: number) => void;
  /** Keeps the bytes of the small files it names (without `into` only), in {@link ArchiveContents.kept}. */
  readonly keep?: { readonly path: (path: string) => boolean; readonly maxBytes: number };
}

/** What one pass over an archive has seen so far, and the rules each entry is held to. */
class ArchiveReader {
  readonly files: ArchiveFile[] = [];
  readonly directories = new Set<string>();
  readonly #seen = new Set<string>();
  #entries = 0;
  total = 0;
  manifestBytes: Buffer | undefined;
  readonly kept = new Map<string, Buffer>();
  readonly #limits: ArchiveLimits;
  readonly #options: ReadArchiveOptions;

  constructor(limits: ArchiveLimits, options: ReadArchiveOptions) {
    this.#limits = limits;
    this.#options = options;
  }

  async handle(entry: ReadEntry): Promise<void> {
    if (++this.#entries > this.#limits.maxEntries) throw invalid(`more than ${this.#limits.maxEntries} entries`);
    const path = checkImagePath(entry.path);
    if (entry.type === 'Directory') return this.#directory(entry, path);
    if (entry.type !== 'File' && entry.type !== 'OldFile') {
      throw invalid(`${entry.type} entries are not allowed (${JSON.stringify(entry.path.slice(0, 80))})`);
    }
    if (path === undefined) throw invalid('a file without a name');
    return this.#file(entry, path);
  }

  #claim(path: string): void {
    if (this.#seen.has(path)) throw invalid(`duplicate path ${path}`);
    this.#seen.add(path);
  }

  async #directory(entry: ReadEntry, path: string | undefined): Promise<void> {
    entry.resume();
    if (path === undefined) return;
    this.#claim(path);
    this.directories.add(path);
    if (this.#options.into) await mkdir(join(this.#options.into, path), { recursive: true, mode: 0o700 });
  }

  async #file(entry: ReadEntry, path: string): Promise<void> {
    this.#claim(path);
    this.total += entry.size;
    if (this.total > this.#limits.maxUnpackedBytes) {
      const most = this.#limits.maxUnpackedBytes;
      throw new UpdateRefusedError('UPDATE_TOO_LARGE', `the image unpacks to more than ${most} bytes`);
    }
    for (let d = dirname(path); d !== '.'; d = dirname(d)) this.directories.add(d);
    const into = this.#options.into;
    const result = into ? await this.#unpack(entry, join(into, path)) : await this.#inspect(entry, path);
    if (result.bytes !== entry.size) throw invalid(`${path} is truncated`);
    if (path === IMAGE_MANIFEST_FILE) {
      if (result.bytes > MAX_IMAGE_MANIFEST_BYTES) throw invalid('image.json is too large');
      this.manifestBytes = result.head.subarray(0, result.bytes);
    }
    this.files.push({ path, size: result.bytes, sha256: result.sha256 });
    this.#options.onProgress?.(this.total, this.#limits.maxUnpackedBytes);
  }

  /** Reads an entry without unpacking it, keeping its bytes when `keep` names it. */
  async #inspect(entry: ReadEntry, path: string): Promise<Consumed> {
    const keep = this.#options.keep;
    if (!keep?.path(path) || entry.size > keep.maxBytes) return consume(entry);
    const chunks: Buffer[] = [];
    const result = await consume(entry, (chunk) => {
      chunks.push(chunk);
      return Promise.resolve();
    });
    this.kept.set(path, Buffer.concat(chunks));
    return result;
  }

  async #unpack(entry: ReadEntry, target: string): Promise<Consumed> {
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    const out = await open(target, 'wx', 0o600);
    try {
      const result = await consume(entry, (chunk) => writeAll(out, chunk));
      await out.sync();
      return result;
    } finally {
      await out.close();
    }
  }
}

/** Feeds the archive's entries one at a time to `handle`; the first failure stops the read. */
async function parseArchive(tar: Tar, archive: string, handle: (entry: ReadEntry) => Promise<void>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    let queue = Promise.resolve();
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      source.destroy();
      if (err instanceof UpdateRefusedError) reject(err);
      else reject(invalid(err instanceof Error ? err.message.slice(0, 120) : 'unreadable'));
    };
    const parser = new tar.Parser({ strict: true, maxMetaEntrySize: 65_536 });
    parser.on('entry', (entry: ReadEntry) => {
      queue = queue.then(() => (failed ? entry.resume() : handle(entry))).catch(fail);
    });
    parser.on('warn', (code: string, message: string) => fail(invalid(`${code} ${message}`)));
    parser.on('error', fail);
    parser.on('end', () => {
      queue.then(() => {
        if (!failed) resolve();
      }, fail);
    });
    const source = createReadStream(archive, { highWaterMark: 1 << 20 });
    source.on('error', fail);
    source.pipe(parser);
  });
}

/** The image.json read from the archive, checked, with its entry point among the files. */
function manifestOf(reader: ArchiveReader): ImageManifest {
  if (!reader.manifestBytes) throw invalid('image.json is missing');
  let manifestJson: unknown;
  try {
    manifestJson = JSON.parse(reader.manifestBytes.toString('utf8'));
  } catch {
    throw invalid('image.json is not JSON');
  }
  const manifest = parseImageManifest(manifestJson);
  if (!reader.files.some((f) => f.path === manifest.entry)) {
    throw invalid(`the entry point ${manifest.entry} is not in the image`);
  }
  return manifest;
}

/** Folders deepest first, then the slot itself: their entries are on disk before the rename. */
async function syncFolders(into: string, directories: Iterable<string>): Promise<void> {
  const deepestFirst = [...directories].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const d of deepestFirst) await fsyncDir(join(into, d));
  await fsyncDir(into);
}

/** One bounded pass over an archive (unpacked into `options.into` when given, fsynced); removes `into` on failure. */
async function readArchive(
  archive: string,
  limits: ArchiveLimits,
  options: ReadArchiveOptions,
  check: (reader: ArchiveReader) => void,
): Promise<ArchiveReader> {
  const tar = await loadTar();
  const into = options.into;
  if (into) await mkdir(into, { mode: 0o700 });
  const reader = new ArchiveReader(limits, options);
  try {
    await parseArchive(tar, archive, (entry) => reader.handle(entry));
    check(reader);
    if (into) await syncFolders(into, reader.directories);
    return reader;
  } catch (err) {
    if (into) await rm(into, { recursive: true, force: true });
    throw err;
  }
}

/** The files of an archive, sorted by path. */
function filesOf(reader: ArchiveReader): Omit<ArchiveContents, 'manifest'> {
  return {
    files: reader.files.sort((a, b) => (a.path < b.path ? -1 : 1)),
    directories: [...reader.directories].sort(),
    totalBytes: reader.total,
    kept: reader.kept,
  };
}

/**
 * Reads an image archive. With `into`, unpacks it there (the folder must not exist yet) and
 * fsyncs everything; without, only inspects it. Both check the same rules and image.json.
 * @throws UpdateRefusedError 'UPDATE_IMAGE_INVALID' or 'UPDATE_TOO_LARGE'
 */
export async function readImageArchive(
  archive: string,
  limits: ArchiveLimits,
  options: ReadArchiveOptions = {},
): Promise<ArchiveContents> {
  let manifest: ImageManifest | undefined;
  const reader = await readArchive(archive, limits, options, (r) => {
    manifest = manifestOf(r);
  });
  return { manifest: manifest!, ...filesOf(reader) };
}

/**
 * Reads an archive that is not an image (an update file) by the same rules: regular files and
 * folders only, safe paths, no duplicates, bounded entries and size.
 * @throws UpdateRefusedError 'UPDATE_IMAGE_INVALID' (the archive rules) or 'UPDATE_TOO_LARGE'
 */
export async function readPlainArchive(
  archive: string,
  limits: ArchiveLimits,
  options: ReadArchiveOptions = {},
): Promise<Omit<ArchiveContents, 'manifest'>> {
  const reader = await readArchive(archive, limits, options, () => undefined);
  return filesOf(reader);
}

async function fsyncDir(path: string): Promise<void> {
  const h = await open(path, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
