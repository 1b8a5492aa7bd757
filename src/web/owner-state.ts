/**
 * The web service's mutable state in the state dir: the owner's credential, sessions and
 * lockout counters. Each is one JSON file written atomically; sessions and lockout writes are
 * coalesced so a login flood does not turn into a write flood on the device's flash.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, SECRET_FILE_MODE } from '../storage/index.ts';
import { BulwarkError } from '../errors/index.ts';
import {
  SessionStore, parseSessionState, emptyLockoutState, parseLockoutState, serialiseLockoutState, parsePasswordHash,
  type LockoutState, type SessionConfig,
} from '../auth/index.ts';

/** The owner's credential as stored: only an argon2id hash. */
export interface OwnerRecord {
  readonly version: 1;
  readonly username: string;
  readonly passwordHash: string;
  readonly changedAt: string;
  /** 'sticker': still the factory password; 'owner': set by the owner. */
  readonly source: 'sticker' | 'owner';
}

/** Thrown when a state file exists but cannot be trusted. */
export class StateCorruptError extends BulwarkError {}

const OWNER_FILE = 'owner.json';
const SESSIONS_FILE = 'sessions.json';
const LOCKOUT_FILE = 'lockout.json';

function parseOwner(text: string): OwnerRecord {
  let v: unknown;
  try { v = JSON.parse(text); } catch { throw new StateCorruptError('STATE_CORRUPT', 'owner.json is not valid JSON'); }
  const o = v as Partial<OwnerRecord>;
  if (typeof v !== 'object' || v === null || o.version !== 1 || typeof o.username !== 'string' || !/^[a-z][a-z0-9._-]{0,63}$/.test(o.username) ||
    typeof o.passwordHash !== 'string' || typeof o.changedAt !== 'string' || (o.source !== 'sticker' && o.source !== 'owner')) {
    throw new StateCorruptError('STATE_CORRUPT', 'owner.json does not match its schema');
  }
  parsePasswordHash(o.passwordHash);
  return { version: 1, username: o.username, passwordHash: o.passwordHash, changedAt: o.changedAt, source: o.source };
}

async function readOptional(path: string): Promise<string | undefined> {
  try { return await readFile(path, 'utf8'); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Loads and saves the web service's state in `dir`. */
export class WebStateStore {
  readonly dir: string;
  owner: OwnerRecord | undefined;
  readonly sessions: SessionStore;
  lockout: LockoutState;
  #timer: NodeJS.Timeout | undefined;
  #dirty = new Set<'sessions' | 'lockout'>();
  #writing: Promise<void> = Promise.resolve();

  private constructor(dir: string, owner: OwnerRecord | undefined, sessions: SessionStore, lockout: LockoutState) {
    this.dir = dir;
    this.owner = owner;
    this.sessions = sessions;
    this.lockout = lockout;
  }

  /** Loads state; a damaged sessions or lockout file starts empty (logged out, counters kept safe by the caller), a damaged owner file is refused. */
  static async load(dir: string, sessionConfig: Partial<SessionConfig>, warn: (msg: string) => void): Promise<WebStateStore> {
    const ownerText = await readOptional(join(dir, OWNER_FILE));
    const owner = ownerText === undefined ? undefined : parseOwner(ownerText);
    let sessions: SessionStore;
    try {
      const t = await readOptional(join(dir, SESSIONS_FILE));
      sessions = new SessionStore(sessionConfig, t === undefined ? undefined : parseSessionState(t));
    } catch (err) {
      if (!(err instanceof BulwarkError)) throw err;
      warn('sessions.json was damaged: every session ended');
      sessions = new SessionStore(sessionConfig);
    }
    let lockout: LockoutState;
    try {
      const t = await readOptional(join(dir, LOCKOUT_FILE));
      lockout = t === undefined ? emptyLockoutState() : parseLockoutState(t);
    } catch (err) {
      if (!(err instanceof BulwarkError)) throw err;
      warn('lockout.json was damaged: counters restarted');
      lockout = emptyLockoutState();
    }
    return new WebStateStore(dir, owner, sessions, lockout);
  }

  /** Saves the owner's credential now (durably, before the caller answers). */
  async saveOwner(owner: OwnerRecord): Promise<void> {
    await writeFileAtomic(join(this.dir, OWNER_FILE), JSON.stringify(owner, null, 2) + '\n', SECRET_FILE_MODE);
    this.owner = owner;
  }

  /** Marks sessions or lockout as changed; written within `delayMs`. */
  markDirty(what: 'sessions' | 'lockout', delayMs = 200): void {
    this.#dirty.add(what);
    this.#timer ??= setTimeout(() => { this.#timer = undefined; void this.flush(); }, delayMs);
  }

  /** Writes whatever is dirty now. */
  async flush(): Promise<void> {
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = undefined; }
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    this.#writing = this.#writing.then(async () => {
      for (const what of dirty) {
        if (what === 'sessions') await writeFileAtomic(join(this.dir, SESSIONS_FILE), this.sessions.serialise(), SECRET_FILE_MODE);
        else await writeFileAtomic(join(this.dir, LOCKOUT_FILE), serialiseLockoutState(this.lockout), SECRET_FILE_MODE);
      }
    });
    await this.#writing;
  }

  /** Factory reset: forgets the owner's password, every session and every counter. */
  async erase(): Promise<void> {
    await this.flush();
    for (const f of [OWNER_FILE, SESSIONS_FILE, LOCKOUT_FILE]) await rm(join(this.dir, f), { force: true });
    this.owner = undefined;
    for (const s of [...this.sessions.state.sessions]) this.sessions.destroyAllFor(s.user);
    this.lockout = emptyLockoutState();
  }
}
