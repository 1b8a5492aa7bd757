/**
 * The web service's mutable state in the state dir: the owner's credential, the people they added, sessions, lockout
 * counters, the device cookies' failure list and signing key, and the owner's monitoring choice.
 * Each is one file written atomically (0600); sessions, lockout and cookie writes are coalesced
 * so a login flood does not turn into a write flood on the device's flash.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  writeFileAtomic,
  readStateFile,
  writeStateFile,
  SECRET_FILE_MODE,
  type DamagedStateSink,
  type StateFormat,
} from '../storage/index.ts';
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
  emptyUserList,
  parseUserList,
  serialiseUserList,
  type UserList,
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

const MONITORING_FILE = 'monitoring.json';
/**
 * The people the owner added (members, guests, more owners). The first owner stays in owner.json,
 * whose version-1 shape older images and the auditor read: a unit that falls back to an image
 * without users ignores this file, so it can only lose people, never give anyone more rights.
 */
const USERS_FILE = 'users.json';

/**
 * The owner's monitoring choice (`monitoring.json`): whether the journal records its non-essential
 * monitoring (src/journal's monitoring rule says what is kept either way). No file: on.
 */
export interface MonitoringChoice {
  readonly version: 1;
  readonly monitoring: boolean;
  /** When the owner last changed it (ISO 8601). */
  readonly changedAt: string;
}

/** Parses `monitoring.json`; throws STATE_CORRUPT on anything but its exact schema. */
export function parseMonitoringChoice(text: string): MonitoringChoice {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new StateCorruptError('STATE_CORRUPT', `${MONITORING_FILE} is not valid JSON`);
  }
  const o = v as Partial<MonitoringChoice>;
  const keys = typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.keys(v).sort().join(',') : '';
  if (
    keys !== 'changedAt,monitoring,version' ||
    o.version !== 1 ||
    typeof o.monitoring !== 'boolean' ||
    typeof o.changedAt !== 'string' ||
    Number.isNaN(Date.parse(o.changedAt))
  ) {
    throw new StateCorruptError('STATE_CORRUPT', `${MONITORING_FILE} does not match its schema`);
  }
  return { version: 1, monitoring: o.monitoring, changedAt: o.changedAt };
}

/**
 * The owner's monitoring choice in the web state folder `webDir`: true (on) without a file, and
 * after moving an unusable one aside (told to `damaged`).
 */
export async function loadMonitoringChoice(webDir: string, damaged: DamagedStateSink): Promise<boolean> {
  const choice = await readStateFile(join(webDir, MONITORING_FILE), FORMATS.monitoring, damaged);
  return choice?.monitoring ?? true;
}

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

/** The formats of the web state files (all version 1; a new version adds its migration here). */
const FORMATS = {
  owner: { name: OWNER_FILE, version: 1, parse: parseOwner },
  sessions: { name: SESSIONS_FILE, version: 1, parse: parseSessionState },
  lockout: { name: LOCKOUT_FILE, version: 1, parse: parseLockoutState },
  cookies: { name: DEVICE_COOKIES_FILE, version: 1, parse: parseDeviceCookieState },
  cookieKey: { name: DEVICE_COOKIE_KEY_FILE, parse: parseDeviceCookieKey },
  monitoring: { name: MONITORING_FILE, version: 1, parse: parseMonitoringChoice },
  users: { name: USERS_FILE, version: 1, parse: parseUserList },
} satisfies Record<string, StateFormat<unknown>>;

/** Loads and saves the web service's state in `dir`. */
export class WebStateStore {
  readonly dir: string;
  owner: OwnerRecord | undefined;
  /** The people the owner added; the first owner is {@link owner}. */
  users: UserList;
  readonly sessions: SessionStore;
  lockout: LockoutState;
  /** Failures per device cookie and the physical unlock. */
  deviceCookies: DeviceCookieState;
  /** Signs device cookies; made at first start, replaced by a factory reset. Never logged. */
  deviceCookieKey: Buffer;
  /** The owner's monitoring choice: true (the default) until the owner turns it off. */
  monitoring: boolean;
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
    monitoring: boolean,
    users: UserList,
  ) {
    this.dir = dir;
    this.owner = owner;
    this.users = users;
    this.sessions = sessions;
    this.lockout = lockout;
    this.deviceCookies = cookies.state;
    this.deviceCookieKey = cookies.key ?? createDeviceCookieKey();
    this.#keySaved = cookies.key !== undefined;
    this.monitoring = monitoring;
  }

  /**
   * Loads state. A file that cannot be used is moved aside (told to `damaged`) and its part starts
   * from the setup state: no owner password (the label's applies), no sessions, fresh counters.
   */
  static async load(
    dir: string,
    sessionConfig: Partial<SessionConfig>,
    damaged: DamagedStateSink,
  ): Promise<WebStateStore> {
    const read = <T>(format: StateFormat<T>): Promise<T | undefined> =>
      readStateFile(join(dir, format.name), format, damaged);
    const owner = await read(FORMATS.owner);
    const sessions = new SessionStore(sessionConfig, await read(FORMATS.sessions));
    const lockout = (await read(FORMATS.lockout)) ?? emptyLockoutState();
    const cookieState = (await read(FORMATS.cookies)) ?? emptyDeviceCookieState();
    const key = await read(FORMATS.cookieKey);
    const monitoring = await loadMonitoringChoice(dir, damaged);
    const users = (await read(FORMATS.users)) ?? emptyUserList();
    return new WebStateStore(dir, owner, sessions, lockout, { state: cookieState, key }, monitoring, users);
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
    await writeStateFile(join(this.dir, OWNER_FILE), FORMATS.owner, JSON.stringify(owner, null, 2) + '\n');
    this.owner = owner;
  }

  /** Saves the list of added people now (atomically and durably, before the caller answers). */
  async saveUsers(users: UserList): Promise<void> {
    await writeStateFile(join(this.dir, USERS_FILE), FORMATS.users, serialiseUserList(users));
    this.users = users;
  }

  /** Saves the owner's monitoring choice now (atomically and durably, before the caller answers). */
  async saveMonitoring(on: boolean): Promise<void> {
    const choice: MonitoringChoice = { version: 1, monitoring: on, changedAt: new Date().toISOString() };
    await writeStateFile(join(this.dir, MONITORING_FILE), FORMATS.monitoring, JSON.stringify(choice, null, 2) + '\n');
    this.monitoring = on;
  }

  /** Marks sessions, lockout or the device cookies' list as changed; written within `delayMs`. */
  markDirty(what: DirtyPart, delayMs = 200): void {
    this.#dirty.add(what);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      // A failed write (a full disk) keeps the state in memory and marks it dirty again: the next change retries.
      this.flush().catch(() => undefined);
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
    // A failed write (a full disk) must not stop every later one.
    this.#writing = this.#writing
      .catch(() => undefined)
      .then(async () => {
        for (const what of dirty) {
          await this.#write(what).catch((err: unknown) => {
            this.#dirty.add(what);
            throw err;
          });
        }
      });
    await this.#writing;
  }

  async #write(what: DirtyPart): Promise<void> {
    const [format, text]: [StateFormat<unknown>, string] =
      what === 'sessions'
        ? [FORMATS.sessions, this.sessions.serialise()]
        : what === 'lockout'
          ? [FORMATS.lockout, serialiseLockoutState(this.lockout)]
          : [FORMATS.cookies, serialiseDeviceCookieState(this.deviceCookies)];
    await writeStateFile(join(this.dir, format.name), format, text);
  }

  /**
   * Factory reset: forgets the owner's password, every session and every counter, turns monitoring
   * back on (the default), and replaces the device cookie key, so no browser of the previous owner
   * is trusted any more.
   */
  async erase(): Promise<void> {
    // Nothing is written first: what was waiting to be saved belonged to the previous owner, and a
    // write on a full disk must not stop the reset.
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dirty.clear();
    await this.#writing.catch(() => undefined);
    // Every file here, the copies older software reads included.
    for (const f of await readdir(this.dir).catch(() => []))
      await rm(join(this.dir, f), { recursive: true, force: true });
    this.owner = undefined;
    this.users = emptyUserList();
    for (const s of [...this.sessions.state.sessions]) this.sessions.destroyAllFor(s.user);
    this.lockout = emptyLockoutState();
    this.deviceCookies = emptyDeviceCookieState();
    this.deviceCookieKey = createDeviceCookieKey();
    this.#keySaved = false;
    this.monitoring = true;
  }
}
