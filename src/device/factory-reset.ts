/**
 * The factory reset as the supervisor runs it: the recovery path outside the application. It
 * works on files alone, so it works whether the agent runs or not, in any slot, with any state.
 *
 * It deletes before it writes, so a full disk cannot stop it half-way, and every step is
 * idempotent and resumed at the next start until done:
 *   1. an empty marker `factory-reset.erasing` (no data: it needs no free space),
 *   2. the owner's files deleted, one step per part the owner would name,
 *   3. the marker renamed `factory-reset.finishing`: what only the agent can do is left (the cloud
 *      claim released, the hardware's own settings reset); the agent does it and removes it.
 * What the unit keeps: its bundle, its firmware slots and anti-rollback counter, the update
 * repository's trusted metadata, and the cloud link's queue (which carries the claim's release).
 */
import { open, rename, rm, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Present while the owner's files are being erased: the next start erases them again. */
export const RESET_ERASING_MARKER = 'factory-reset.erasing';
/** Present once the files are gone and the agent's own steps are left. */
export const RESET_FINISHING_MARKER = 'factory-reset.finishing';

/** One erase step: the words the owner reads, and the paths (relative to the state dir) it removes. */
interface EraseStep {
  readonly what: string;
  readonly paths: readonly string[];
}

/**
 * The owner's files, in the order they go: the previous owner's credentials and evidence first.
 * `web` holds the owner password, sessions, lockout counters and device cookies (and the copies
 * older software reads); `damaged` holds moved-aside state, which may be any of them.
 */
export const ERASE_STEPS: readonly EraseStep[] = [
  { what: 'the owner password, sessions and lockout counters', paths: ['web'] },
  { what: 'the connection journal', paths: ['connection-journal.jsonl'] },
  { what: 'the paired hubs', paths: ['hubs.json'] },
  { what: 'the files kept after damage', paths: ['damaged'] },
  { what: 'the device settings', paths: ['capabilities.json'] },
  { what: 'the update choices', paths: ['update/prefs.json'] },
  { what: 'the queued cloud commands', paths: ['cloud-commands.json'] },
];

/** What a reset did: each step that failed and why, in words; empty when all went. */
export interface EraseResult {
  readonly failed: ReadonlyArray<{ readonly what: string; readonly why: string }>;
}

function why(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC') return 'the storage is full';
  if (code === 'EACCES' || code === 'EPERM') return 'the device may not change it (permissions)';
  if (code === 'EROFS') return 'the storage is read-only';
  return code ?? (err instanceof Error ? err.message : String(err));
}

/** Creates an empty marker file (no data block needed); a failure is not fatal: the erase still runs. */
async function touch(path: string): Promise<void> {
  try {
    await (await open(path, 'a', 0o600)).close();
  } catch {
    /* no inode left: erase anyway, the marker is written again after */
  }
}

/** Whether a path exists (a marker). */
async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Erases the owner's files in `stateDir` (steps 1 and 2 above) and leaves the agent's steps marked.
 * Every step runs even when one fails; a failed reset stays marked and is resumed at the next start.
 */
export async function eraseOwnerState(stateDir: string): Promise<EraseResult> {
  const erasing = join(stateDir, RESET_ERASING_MARKER);
  await touch(erasing);
  const failed: Array<{ what: string; why: string }> = [];
  for (const step of ERASE_STEPS) {
    for (const p of [...step.paths, ...(await writesCutShort(stateDir, step.paths))]) {
      try {
        await rm(join(stateDir, p), { recursive: true, force: true });
      } catch (err) {
        failed.push({ what: step.what, why: why(err) });
        break;
      }
    }
  }
  if (failed.length === 0) {
    await touch(erasing); // if the first touch found no inode, the deletions freed one
    await rename(erasing, join(stateDir, RESET_FINISHING_MARKER)).catch((err: unknown) => {
      failed.push({ what: 'the reset marker', why: why(err) });
    });
  }
  return { failed };
}

/** Resumes a reset cut short (power lost while erasing): erases again; undefined when none was under way. */
export async function resumeFactoryReset(stateDir: string): Promise<EraseResult | undefined> {
  if (!(await exists(join(stateDir, RESET_ERASING_MARKER)))) return undefined;
  return eraseOwnerState(stateDir);
}

/** Whether the agent's own reset steps are left (the files are already erased). */
export function agentResetPending(stateDir: string): Promise<boolean> {
  return exists(join(stateDir, RESET_FINISHING_MARKER));
}

/** The agent has done its steps: the reset is complete. */
export async function finishFactoryReset(stateDir: string): Promise<void> {
  await rm(join(stateDir, RESET_FINISHING_MARKER), { force: true });
}

/** The owner's answer for a reset: what was erased, or which part could not be and why. */
export function describeReset(result: EraseResult): string {
  if (result.failed.length === 0) {
    return (
      'factory reset done: owner password, sessions, lockout counters, paired hubs, settings and journal erased; ' +
      "the label's credentials apply again"
    );
  }
  const parts = result.failed.map((f) => `${f.what} (${f.why})`).join('; ');
  return (
    `factory reset incomplete: could not erase ${parts}; ` +
    'it is tried again at the next start, or hold the button again'
  );
}

/**
 * The temporary files of atomic writes to `paths` that a process stopped mid-write left behind (src/storage names them
 * `.<name>.<12 hex>.tmp` beside the file): they hold the owner's data as much as the file does.
 */
async function writesCutShort(stateDir: string, paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const dir = dirname(p);
    const name = basename(p);
    const entries = await readdir(join(stateDir, dir)).catch(() => [] as string[]);
    for (const e of entries)
      if (e.startsWith(`.${name}.`) && /^\.[^/]+\.[0-9a-f]{12}\.tmp$/.test(e)) out.push(join(dir, e));
  }
  return out;
}

/** The owner's files present in `stateDir` (relative paths; a folder's entries): none after a reset. */
export async function ownerFilesLeft(stateDir: string): Promise<string[]> {
  const left: string[] = [];
  const all = ERASE_STEPS.flatMap((step) => step.paths);
  for (const p of [...all, ...(await writesCutShort(stateDir, all))]) {
    const info = await stat(join(stateDir, p)).catch(() => undefined);
    if (info?.isDirectory()) left.push(...(await readdir(join(stateDir, p))).map((f) => `${p}/${f}`));
    else if (info) left.push(p);
  }
  return left;
}
