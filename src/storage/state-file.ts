/**
 * Versioned state files that never brick a unit. Each JSON state file carries a `version`; the
 * code that reads it knows its own version and the migrations between neighbouring versions, up
 * and down. A file from older software is migrated up (and written back); a file from newer
 * software is read from the copy the newer software left for this version (`<name>.v<N>.json`,
 * written through the down migrations on every save), so an image that falls back after a trial
 * finds state it can read. A file nobody can use (unreadable, not JSON, off its schema, newer with
 * no copy) is moved aside into a folder kept for support, the owner of the file is told, and the
 * caller starts from its setup state instead of refusing to run.
 */
import { readFile, rename, mkdir, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic, SECRET_FILE_MODE } from './durable-file.ts';

/** A JSON object as a migration sees it. */
export type StateObject = Record<string, unknown>;

/** One step between neighbouring versions: `up` from N to N+1, `down` from N+1 back to N. */
export interface StateMigration {
  up(value: StateObject): StateObject;
  down(value: StateObject): StateObject;
}

/** How one state file is read and written. */
export interface StateFormat<T> {
  /** Named in messages and in the moved-aside file. */
  readonly name: string;
  /** The version this code reads and writes (the JSON's `version`); absent: an unversioned text file. */
  readonly version?: number;
  /** Parses the text at `version`; throws on anything else. */
  parse(text: string): T;
  /** `migrations[n]` goes between versions n+1 and n+2. */
  readonly migrations?: readonly StateMigration[];
  /** The file mode (default 0600). */
  readonly mode?: number;
}

/** Where unusable state goes, and who hears about it (the agent journals it). */
export interface DamagedStateSink {
  /** The folder damaged files are moved to: kept for support, erased by a factory reset. */
  readonly dir: string;
  note(event: { file: string; reason: string; movedTo?: string }): void;
}

/** Moved-aside copies kept per file name: a file damaged at every boot cannot fill the disk. */
const KEEP_PER_FILE = 3;

/** The copy of `path` that software of `version` reads when the file itself is newer. */
export function versionCopyPath(path: string, version: number): string {
  return join(dirname(path), `${basename(path).replace(/\.json$/, '')}.v${version}.json`);
}

async function readText(path: string): Promise<{ text?: string; error?: string }> {
  try {
    return { text: await readFile(path, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return code === 'ENOENT' ? {} : { error: `unreadable (${code})` };
  }
}

function versionOf(text: string): { version?: number; value?: StateObject; error?: string } {
  if (text.trim() === '') return { error: 'empty' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'not valid JSON (truncated or damaged)' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'not a JSON object' };
  const version = (value as StateObject).version;
  if (!Number.isSafeInteger(version) || (version as number) < 1) return { error: 'has no version' };
  return { version: version as number, value: value as StateObject };
}

function parseOr<T>(format: StateFormat<T>, text: string): { value?: T; error?: string } {
  try {
    return { value: format.parse(text) };
  } catch {
    return { error: 'does not match its schema' };
  }
}

/** Applies the up migrations from `from` to the format's version; undefined when a step is missing or throws. */
function migrateUp<T>(format: StateFormat<T>, value: StateObject, from: number): StateObject | undefined {
  let v = value;
  try {
    for (let n = from; n < format.version!; n++) {
      const step = format.migrations?.[n - 1];
      if (!step) return undefined;
      v = { ...step.up(v), version: n + 1 };
    }
  } catch {
    return undefined;
  }
  return v;
}

/**
 * Reads a state file: its value, undefined when it is absent, or undefined after moving an unusable
 * file aside (told to `damaged`). A file from older software is migrated and saved in this version.
 */
export async function readStateFile<T>(
  path: string,
  format: StateFormat<T>,
  damaged: DamagedStateSink,
): Promise<T | undefined> {
  const read = await readText(path);
  if (read.error) return moveStateAside(path, read.error, damaged);
  if (read.text === undefined) return undefined;
  if (format.version === undefined) {
    const r = parseOr(format, read.text);
    return r.error ? moveStateAside(path, r.error, damaged) : r.value;
  }
  const found = versionOf(read.text);
  if (found.error) return moveStateAside(path, found.error, damaged);
  const version = found.version!;
  if (version === format.version) {
    const r = parseOr(format, read.text);
    return r.error ? moveStateAside(path, r.error, damaged) : r.value;
  }
  if (version > format.version) return readNewer(path, format, version, damaged);
  const up = migrateUp(format, found.value!, version);
  const r = up ? parseOr(format, JSON.stringify(up)) : { error: `version ${version} has no migration` };
  if (r.error) return moveStateAside(path, `${r.error} (from version ${version})`, damaged);
  await writeStateFile(path, format, JSON.stringify(up, null, 2) + '\n');
  return r.value;
}

/** A file newer software wrote: this version's copy of it, or (with none) the setup state. */
async function readNewer<T>(
  path: string,
  format: StateFormat<T>,
  version: number,
  damaged: DamagedStateSink,
): Promise<T | undefined> {
  const copy = await readText(versionCopyPath(path, format.version!));
  const found = copy.text === undefined ? undefined : versionOf(copy.text);
  if (copy.text !== undefined && found?.version === format.version) {
    const r = parseOr(format, copy.text);
    if (r.value !== undefined) return r.value;
  }
  const why = `written by newer software (version ${version}) with no copy for version ${format.version}`;
  return moveStateAside(path, why, damaged);
}

/**
 * Writes a state file atomically in this version, after the copies older software reads (each down
 * migration applied in turn): a fallback to an older image never meets state it cannot read.
 */
export async function writeStateFile<T>(path: string, format: StateFormat<T>, text: string): Promise<void> {
  const mode = format.mode ?? SECRET_FILE_MODE;
  // The copies first: a power cut before the file itself leaves the previous state whole, never a
  // newer file whose older copy is missing or stale.
  const migrations = format.migrations ?? [];
  if (format.version !== undefined && format.version >= 2) {
    let value = JSON.parse(text) as StateObject;
    for (let n = format.version - 1; n >= 1; n--) {
      const step = migrations[n - 1];
      if (!step) break;
      value = { ...step.down(value), version: n };
      await writeFileAtomic(versionCopyPath(path, n), JSON.stringify(value, null, 2) + '\n', mode);
    }
  }
  await writeFileAtomic(path, text, mode);
}

/** Moves an unusable file (or whatever stands at its path) into the damaged folder; always undefined. */
export async function moveStateAside(path: string, reason: string, damaged: DamagedStateSink): Promise<undefined> {
  const name = `${basename(dirname(path))}-${basename(path)}`;
  const target = join(damaged.dir, `${name}.${new Date().toISOString().replace(/[:.]/g, '-')}`);
  try {
    await mkdir(damaged.dir, { recursive: true, mode: 0o700 });
    await pruneCopies(damaged.dir, name);
    await rename(path, target);
    damaged.note({ file: path, reason, movedTo: target });
  } catch {
    // Nowhere to keep it (a full or read-only folder): the file goes, so the unit can start.
    await rm(path, { recursive: true, force: true }).catch(() => undefined);
    damaged.note({ file: path, reason: `${reason}; could not be kept, removed` });
  }
  return undefined;
}

async function pruneCopies(dir: string, name: string): Promise<void> {
  const copies = (await readdir(dir)).filter((f) => f.startsWith(`${name}.`)).sort();
  for (const old of copies.slice(0, Math.max(0, copies.length - (KEEP_PER_FILE - 1)))) {
    await rm(join(dir, old), { recursive: true, force: true });
  }
}
