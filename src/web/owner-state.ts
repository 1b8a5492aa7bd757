/**
 * The web service's mutable state in the state dir: the owner's credential, sessions, lockout
 * counters, and the device cookies' failure list and signing key. Each is one file written
 * atomically (0600); sessions, lockout and cookie writes are coalesced so a login flood does not
 * turn into a write flood on the device's flash.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, SECRET_FILE_MODE } from '../storage/index.ts';
import { BulwarkError } from '../errors/index.ts';
import {
  SessionStore,
  parseSessionState,
  emptyLockoutState,
  parseLockoutState,
  serialiseLockoutState,
  parsePasswordHash,
  emptyDeviceCookieState,
  parseDeviceCookieState,
  serialiseDeviceCookieState,
  createDeviceCookieKey,
  parseDeviceCookieKey,
  serialiseDeviceCookieKey,
  type LockoutState,
  type SessionConfig,
  type DeviceCookieState,
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
const DEVICE_COOKIES_FILE = 'device-cookies.json';
const DEVICE_COOKIE_KEY_FILE = 'device-cookie.key';

/** What is written on a delay: sessions, lockout counters, the device cookies' list. */
type DirtyPart = 'sessions' | 'lockout' | 'cookies';

function parseOwner(text: string): OwnerRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new StateCorruptError('STATE_CORRUPT', 'owner.json is not valid JSON');
  }
  const o = v as Partial<OwnerRecord>;
  if (
    typeof v !== 'object' ||
    v === null ||
    o.version !== 1 ||
    typeof o.username !== 'string' ||
    !/^[a-z][a-z0-9._-]{0,63}$/.test(o.username) ||
    typeof o.passwordHash !== 'string' ||
    typeof o.changedAt !== 'string' ||
    (o.source !== 'sticker' && o.source !== 'owner')
  ) {
    throw new StateCorruptError('STATE_CORRUPT', 'owner.json does not match its schema');
  }
  parsePasswordHash(o.passwordHash);
  return { version: 1, username: o.username, passwordHash: o.passwordHash, changedAt: o.changedAt, source: o.source };
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Reads a state file with `parse`; a damaged one is replaced by `empty()` with a warning. */
async function loadOrEmpty<T>(path: string, parse: (text: string) => T, empty: () => T, warn: () => void): Promise<T> {
  try {
    const t = await readOptional(path);
    return t === undefined ? empty() : parse(t);
  } catch (err) {
    if (!(err instanceof BulwarkError)) throw err;
    warn();
    return empty();
  }
}

/** The installation's device cookie key as read; undefined when missing or damaged (a new one is made). */
async function loadDeviceCookieKey(dir: string, warn: (msg: string) => void): Promise<Buffer | undefined> {
  return loadOrEmpty<Buffer | undefined>(
    join(dir, DEVICE_COOKIE_KEY_FILE),
    parseDeviceCookieKey,
    () => undefined,
    () => warn('device-cookie.key was damaged: a new key is made, every browser logs in as new once'),
  );
}

/** Loads and saves the web service's state in `dir`. */
export class WebStateStore {
  readonly dir: string;
  owner: OwnerRecord | undefined;
  readonly sessions: SessionStore;
  lockout: LockoutState;
  /** Failures per device cookie and the physical unlock. */
  deviceCookies: DeviceCookieState;
  /** Signs device cookies; made at first start, replaced by a factory reset. Never logged. */
  deviceCookieKey: Buffer;
  /** False until the key is on disk: it is written with the first cookie, so a reset unit holds none. */
  #keySaved: boolean;
  #timer: NodeJS.Timeout | undefined;
  #dirty = new Set<DirtyPart>();
  #writing: Promise<void> = Promise.resolve();

  private constructor(
    dir: string,
    owner: OwnerRecord | undefined,
    sessions: SessionStore,
    lockout: LockoutState,
    cookies: { state: DeviceCookieState; key: Buffer | undefined },
  ) {
    this.dir = dir;
    this.owner = owner;
    this.sessions = sessions;
    this.lockout = lockout;
    this.deviceCookies = cookies.state;
    this.deviceCookieKey = cookies.key ?? createDeviceCookieKey();
    this.#keySaved = cookies.key !== undefined;
  }

  /**
   * Loads state; a damaged sessions or lockout file starts empty (logged out, counters kept safe by the caller), a
   * damaged owner file is refused.
   */
  static async load(
    dir: string,
    sessionConfig: Partial<SessionConfig>,
    warn: (msg: string) => void,
  ): Promise<WebStateStore> {
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
    const lockout = await loadOrEmpty(join(dir, LOCKOUT_FILE), parseLockoutState, emptyLockoutState, () =>
      warn('lockout.json was damaged: counters restarted'),
    );
    const cookieState = await loadOrEmpty(
      join(dir, DEVICE_COOKIES_FILE),
      parseDeviceCookieState,
      emptyDeviceCookieState,
      () => warn('device-cookies.json was damaged: cookie counters restarted'),
    );
    const key = await loadDeviceCookieKey(dir, warn);
    return new WebStateStore(dir, owner, sessions, lockout, { state: cookieState, key });
  }

  /** Writes the device cookie key (0600, atomically) if it is not on disk yet; call before a cookie leaves. */
  async saveDeviceCookieKey(): Promise<void> {
    if (this.#keySaved) return;
    const text = serialiseDeviceCookieKey(this.deviceCookieKey);
    await writeFileAtomic(join(this.dir, DEVICE_COOKIE_KEY_FILE), text, SECRET_FILE_MODE);
    this.#keySaved = true;
  }

  /** Saves the owner's credential now (durably, before the caller answers). */
  async saveOwner(owner: OwnerRecord): Promise<void> {
    await writeFileAtomic(join(this.dir, OWNER_FILE), JSON.stringify(owner, null, 2) + '\n', SECRET_FILE_MODE);
    this.owner = owner;
  }

  /** Marks sessions, lockout or the device cookies' list as changed; written within `delayMs`. */
  markDirty(what: DirtyPart, delayMs = 200): void {
    this.#dirty.add(what);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, delayMs);
  }

  /** Writes whatever is dirty now. */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    this.#writing = this.#writing.then(async () => {
      for (const what of dirty) await this.#write(what);
    });
    await this.#writing;
  }

  async #write(what: DirtyPart): Promise<void> {
    const [file, text] =
      what === 'sessions'
        ? [SESSIONS_FILE, this.sessions.serialise()]
        : what === 'lockout'
          ? [LOCKOUT_FILE, serialiseLockoutState(this.lockout)]
          : [DEVICE_COOKIES_FILE, serialiseDeviceCookieState(this.deviceCookies)];
    await writeFileAtomic(join(this.dir, file), text, SECRET_FILE_MODE);
  }

  /**
   * Factory reset: forgets the owner's password, every session and every counter, and replaces
   * the device cookie key, so no browser of the previous owner is trusted any more.
   */
  async erase(): Promise<void> {
    await this.flush();
    const files = [OWNER_FILE, SESSIONS_FILE, LOCKOUT_FILE, DEVICE_COOKIES_FILE, DEVICE_COOKIE_KEY_FILE];
    for (const f of files) await rm(join(this.dir, f), { force: true });
    this.owner = undefined;
    for (const s of [...this.sessions.state.sessions]) this.sessions.destroyAllFor(s.user);
    this.lockout = emptyLockoutState();
    this.deviceCookies = emptyDeviceCookieState();
    this.deviceCookieKey = createDeviceCookieKey();
    this.#keySaved = false;
  }
}
