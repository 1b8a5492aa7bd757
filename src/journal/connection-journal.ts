/**
 * The connection journal: a bounded, persistent record of every connection attempt to every
 * listening surface of the device (design.md, "Logging and privacy"; issue 3, point 10).
 *
 * On disk it is one JSON-lines file, `connection-journal.jsonl` in the state dir, mode 0600.
 * `record()` is synchronous and cheap: it validates, redacts, keeps the entry in memory and
 * queues it; entries recorded within `flushDelayMs` are appended with one write and one
 * fdatasync. When an append would take the file past `maxEntries` lines or `maxBytes`, the
 * journal is compacted instead: the newest entries filling at most 90% of either bound are
 * written to a new file that replaces the old atomically (src/storage), so the file never
 * exceeds its bounds and compaction happens once every ~10% of capacity, not on every batch.
 * Entries older than `maxAgeDays` are hidden at once and purged from the file within
 * `expirySweepMs`. With a {@link JournalClock} (src/clock's), entries are stamped with its time and
 * their age is measured against its floor, so a jump of the wall clock neither erases nor resurrects
 * an entry (docs/clock.md, "The journal's retention").
 *
 * Loading reads the file backwards and keeps only the newest entries within the bounds, so it is
 * fast and its memory is bounded whatever the file holds. A line torn by a power cut, or any
 * other line that does not parse, is skipped; the entries before and after it are kept and the
 * file is rewritten without it.
 */
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, SECRET_FILE_MODE } from '../storage/index.ts';
import { ConfigError } from '../errors/index.ts';
import { fileBounds, tierBounds, validateJournalConfig } from './config.ts';
import type { JournalConfig } from './config.ts';
import {
  JOURNAL_ENTRY_LIMITS,
  JOURNAL_RESULTS,
  JOURNAL_SURFACES,
  parseStoredLine,
  journalMadeEntry,
  prepareEntry,
  serialiseEntry,
} from './entry.ts';
import type { JournalEntryFields } from './entry.ts';
import { RecordAggregator } from './aggregation.ts';
import { JOURNAL_TIERS, TieredEntries, describeDrops, noDrops, noteDrop, tierOf } from './tiers.ts';
import type { JournalTier, TierDrops } from './tiers.ts';
import type { JournalEntry, JournalRecordInput, JournalResult, JournalSurface, PrivacyClass } from './entry.ts';
import { JournalClosedError, JournalQueryError, JournalStorageError } from './errors.ts';
import { scanLinesBackward } from './line-scan.ts';
import { keptWhenMonitoringOff } from './monitoring.ts';
import { createLogger } from './logger.ts';

/** The journal's file name inside the state dir. */
export const JOURNAL_FILE_NAME = 'connection-journal.jsonl';

/** After a compaction the file holds at most this share of maxEntries and of maxBytes. */
const COMPACTION_LOW_WATER = 0.9;
/** Bytes read per call when loading. */
const LOAD_CHUNK_BYTES = 65_536;
/** Default and largest page of {@link ConnectionJournal.list}. */
export const JOURNAL_LIST_LIMITS = Object.freeze({ defaultLimit: 50, maxLimit: 1_000 });

const DAY_MS = 86_400_000;
// Temporary files src/storage leaves behind if power fails mid-compaction: '.<name>.<12 hex>.tmp'.
const TEMP_FILE_PATTERN = new RegExp(`^\\.${JOURNAL_FILE_NAME.replace(/\./g, '\\.')}\\.[0-9a-f]{12}\\.tmp$`);

/**
 * A clock a jump of the wall clock cannot fool; src/clock's UnitClock is one. Retention measures an
 * entry's age as `floor() - at`: the floor advances with elapsed time while the unit runs and starts the
 * next run where the saved floor left it, and never moves with the wall clock, so a forward jump does
 * not age entries and a backward one does not bring expired entries back.
 */
export interface JournalClock {
  /** The time to stamp an entry with, ms since the epoch: never below `floor()`, never backwards. */
  now(): number;
  /** The time ages are measured against, ms since the epoch: it never goes backwards. */
  floor(): number;
}

/** Options of {@link ConnectionJournal.open}. */
export interface ConnectionJournalOptions {
  /** The device's state dir; created (mode 0700) if missing. */
  readonly stateDir: string;
  /** Default 'sensitive' (the more private): a standard device asks for 'standard' explicitly. */
  readonly privacyClass?: PrivacyClass;
  /** Limits; see {@link defaultJournalConfig}. */
  readonly config?: Partial<JournalConfig>;
  /** The clock, ms since the epoch, for stamps and ages alike (tests); default Date.now. Not with `clock`. */
  readonly now?: () => number;
  /** The unit's clock: stamps from its time, ages against its floor (see {@link JournalClock}). */
  readonly clock?: JournalClock;
  /** Called with a background write failure; default: logged as an error. */
  readonly onError?: (err: JournalStorageError) => void;
}

/** A page request for the owner's page. */
export interface JournalQuery {
  /** Most entries returned (1..1000, default 50). */
  readonly limit?: number;
  /** Only entries with a smaller `seq`: pass the last `seq` of the previous page. */
  readonly before?: number;
  readonly surface?: JournalSurface;
  readonly result?: JournalResult;
  /** Only one tier: 'security' for the evidence alone, whatever the traffic around it. */
  readonly tier?: JournalTier;
}

/** Counts and sizes for the owner's page and for diagnostics. */
export interface JournalStats {
  readonly privacyClass: PrivacyClass;
  /** Entries kept (in memory, the same as on disk once flushed). */
  readonly entries: number;
  /** Bytes those entries take as JSON lines. */
  readonly bytes: number;
  /** Bytes of the journal file now. */
  readonly fileBytes: number;
  /** Entries recorded but not yet written. */
  readonly pendingEntries: number;
  readonly oldestAt?: string;
  readonly newestAt?: string;
  readonly byResult: Readonly<Record<JournalResult, number>>;
  readonly bySurface: Readonly<Record<JournalSurface, number>>;
  /** Lines skipped as corrupt when the file was loaded. */
  readonly corruptLinesOnLoad: number;
  /** How long loading took, ms. */
  readonly loadMs: number;
  readonly compactions: number;
  readonly limits: Readonly<JournalConfig>;
  /** The code of the last write failure, if the last write failed. */
  readonly lastErrorCode?: string;
  /** Each tier's size, bounds and losses. */
  readonly tiers: Readonly<Record<JournalTier, JournalTierStats>>;
}

interface StoredEntry {
  readonly entry: JournalEntry;
  readonly line: string;
  readonly bytes: number;
  readonly atMs: number;
  readonly seq: number;
  readonly tier: JournalTier;
  onDisk: boolean;
  evicted: boolean;
}

function storedFor(entry: JournalEntry, line: string = serialiseEntry(entry)): StoredEntry {
  const bytes = Buffer.byteLength(line) + 1;
  const tier = tierOf(entry.event);
  return { entry, line, bytes, atMs: Date.parse(entry.at), seq: entry.seq, tier, onDisk: false, evicted: false };
}

/** One tier's figures in {@link JournalStats}. */
export interface JournalTierStats {
  readonly entries: number;
  readonly bytes: number;
  readonly maxEntries: number;
  readonly maxBytes: number;
  /** Entries this tier lost to its bounds since the journal was opened (each loss is also a notice entry). */
  readonly dropped: number;
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function storageError(op: string, err: unknown): JournalStorageError {
  if (err instanceof JournalStorageError) return err;
  const errno = errnoCode(err);
  if (errno === 'ELOOP')
    return new JournalStorageError('JOURNAL_FILE_UNSAFE', 'the journal file is a symlink', { op }, err);
  return new JournalStorageError(
    'JOURNAL_STORAGE_FAILED',
    `journal ${op} failed${errno ? ` (${errno})` : ''}`,
    { op, ...(errno ? { errno } : {}) },
    err,
  );
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function removeStaleTempFiles(dir: string): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir)) {
    if (!TEMP_FILE_PATTERN.test(name)) continue;
    await unlink(join(dir, name)).catch(() => undefined);
    removed++;
  }
  return removed;
}

/** The journal's clock from its options: `clock`, or `now` (default Date.now) for stamps and ages alike. */
function journalClock(options: ConnectionJournalOptions): JournalClock {
  const { clock, now } = options;
  if (clock !== undefined && now !== undefined)
    throw new ConfigError('JOURNAL_CONFIG_INVALID', 'clock', 'give either clock or now, not both');
  if (clock !== undefined) {
    if (typeof clock.now !== 'function' || typeof clock.floor !== 'function')
      throw new ConfigError('JOURNAL_CONFIG_INVALID', 'clock', 'must have now() and floor()');
    return clock;
  }
  if (now !== undefined && typeof now !== 'function')
    throw new ConfigError('JOURNAL_CONFIG_INVALID', 'now', 'must be a function');
  const wall = now ?? Date.now;
  return { now: wall, floor: wall };
}

function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/**
 * Keeps the newest valid entries, read newest first, within the entry and byte limits and not
 * older than `cutoff`; counts what it passes over. `onLine` returns false once the journal is full.
 */
function newestEntriesWithin(config: JournalConfig, cutoff: number, privacyClass: PrivacyClass) {
  const tally = { newestFirst: [] as StoredEntry[], corrupt: 0, rewritten: 0, expired: 0, full: false, maxSeq: 0 };
  const kept = { security: { entries: 0, bytes: 0, full: false }, connection: { entries: 0, bytes: 0, full: false } };
  let lastSeq = Number.POSITIVE_INFINITY;
  const onLine = (buffer: Buffer): boolean => {
    // A torn append can leave NULs where data never reached the disk.
    const text = buffer.toString('utf8').replace(/^[\0\s]+|[\0\s]+$/g, '');
    if (text === '') {
      if (buffer.length > 0) tally.corrupt++;
      return true;
    }
    const entry = parseStoredLine(text, privacyClass);
    // Entries are appended in seq order; a line out of order is damage or tampering.
    if (!entry || entry.seq >= lastSeq) {
      tally.corrupt++;
      return true;
    }
    lastSeq = entry.seq;
    tally.maxSeq = Math.max(tally.maxSeq, entry.seq);
    const stored = storedFor(entry);
    if (stored.atMs < cutoff) {
      tally.expired++;
      return true;
    }
    const tier = kept[stored.tier];
    const bounds = tierBounds(config, stored.tier);
    if (tier.full || tier.entries >= bounds.maxEntries || tier.bytes + stored.bytes > bounds.maxBytes) {
      tally.full = true;
      tier.full = true;
      // Older lines of the other tier may still fit; stop once both tiers are full.
      return !(kept.security.full && kept.connection.full);
    }
    // Not byte-identical to what this code writes (NULs, padding, an older form): rewrite.
    if (stored.line !== text || buffer.length !== stored.bytes - 1) tally.rewritten++;
    stored.onDisk = true;
    tally.newestFirst.push(stored);
    tier.entries += 1;
    tier.bytes += stored.bytes;
    return true;
  };
  return { tally, onLine };
}

/**
 * The device's connection journal. Open one per state dir, record every attempt, close it on
 * shutdown so the last batch is written.
 *
 * @example
 * const journal = await ConnectionJournal.open({ stateDir, privacyClass: privacyClassFor(model) });
 * journal.record({
 *   surface: 'web', source: formatSource(sock.remoteAddress, sock.remotePort),
 *   event: 'login', identity: 'owner', result: 'failure',
 * });
 * const page = journal.list({ limit: 50 });
 */
export class ConnectionJournal {
  /** The journal file. */
  readonly path: string;
  readonly privacyClass: PrivacyClass;
  readonly config: Readonly<JournalConfig>;

  readonly #stateDir: string;
  /** The time entries are stamped with, and aggregation windows and notices are timed by. */
  readonly #now: () => number;
  /** The time ages are measured against: retention, expiry sweeps. */
  readonly #ageNow: () => number;
  readonly #onError: (err: JournalStorageError) => void;
  #entries = new TieredEntries<StoredEntry>();
  #aggregator: RecordAggregator;
  readonly #drops: Record<JournalTier, TierDrops> = { security: noDrops(), connection: noDrops() };
  readonly #droppedTotal: Record<JournalTier, number> = { security: 0, connection: 0 };
  readonly #lastNoticeAt: Record<JournalTier, number> = { security: -Infinity, connection: -Infinity };
  #tickTimer: NodeJS.Timeout | undefined;
  #pending: StoredEntry[] = [];
  #diskBytes = 0;
  #diskLines = 0;
  #fileExists = false;
  #needsCompaction = false;
  #expiredOnDisk = 0;
  #lastCompactionAt = 0;
  #nextSeq = 1;
  #handle: FileHandle | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #flushQueued = false;
  #sweepTimer: NodeJS.Timeout | undefined;
  #queue: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #lastErrorCode: string | undefined;
  #corruptLinesOnLoad = 0;
  #loadMs = 0;
  #compactions = 0;
  /** The owner's choice (monitoring.ts): off, only what protects the owner is recorded. */
  #monitoring = true;

  private constructor(
    stateDir: string,
    privacyClass: PrivacyClass,
    config: JournalConfig,
    clock: JournalClock,
    onError: (err: JournalStorageError) => void,
  ) {
    this.#stateDir = stateDir;
    this.path = join(stateDir, JOURNAL_FILE_NAME);
    this.privacyClass = privacyClass;
    this.config = config;
    // A stamp is never older than the time ages are measured against: a new entry never looks old.
    this.#now = () => Math.max(clock.now(), clock.floor());
    this.#ageNow = () => clock.floor();
    this.#onError = onError;
    this.#aggregator = new RecordAggregator(config);
  }

  /**
   * Opens (or creates) the journal in `stateDir` and loads the newest entries within the bounds.
   * A damaged file is repaired in the background; only an unreadable or unsafe one refuses.
   * @throws ConfigError for bad options, JournalStorageError when the file cannot be read
   */
  static async open(options: ConnectionJournalOptions): Promise<ConnectionJournal> {
    if (typeof options !== 'object' || options === null)
      throw new ConfigError('JOURNAL_CONFIG_INVALID', 'options', 'must be an object');
    const { stateDir, privacyClass = 'sensitive' } = options;
    if (typeof stateDir !== 'string' || stateDir === '')
      throw new ConfigError('JOURNAL_CONFIG_INVALID', 'stateDir', 'must be a non-empty path');
    if (privacyClass !== 'standard' && privacyClass !== 'sensitive') {
      throw new ConfigError('JOURNAL_CONFIG_INVALID', 'privacyClass', "must be 'standard' or 'sensitive'");
    }
    const config = validateJournalConfig(options.config);
    const log = createLogger('journal');
    const onError =
      options.onError ??
      ((err: JournalStorageError) => log.error('journal write failed', { code: err.code, details: err.details }));
    const journal = new ConnectionJournal(stateDir, privacyClass, config, journalClock(options), onError);
    try {
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      await removeStaleTempFiles(stateDir);
      await journal.#load();
    } catch (err) {
      throw storageError('load', err);
    }
    journal.#sweepTimer = setInterval(() => journal.#sweep(), config.expirySweepMs);
    journal.#sweepTimer.unref();
    // Aggregates and drop notices become due as windows end, even when nothing else is recorded.
    journal.#tickTimer = setInterval(() => journal.#writeDue(), Math.min(config.aggregateWindowMs, 10_000));
    journal.#tickTimer.unref();
    if (journal.#needsCompaction) journal.#scheduleFlush(true);
    return journal;
  }

  async #load(): Promise<void> {
    // process.hrtime, not performance.now(): the first use of the global `performance` loads
    // perf_hooks (nine built-in modules), which an idle device has no other use for.
    const started = process.hrtime.bigint();
    const elapsedMs = (): number => Number(process.hrtime.bigint() - started) / 1e6;
    let handle: FileHandle;
    try {
      handle = await open(this.path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        this.#loadMs = elapsedMs();
        return;
      }
      throw err;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile())
        throw new JournalStorageError('JOURNAL_FILE_UNSAFE', 'the journal path is not a regular file', { op: 'load' });
      const { maxBytes } = fileBounds(this.config);
      const cutoff = this.#ageNow() - this.config.maxAgeDays * DAY_MS;
      const kept = newestEntriesWithin(this.config, cutoff, this.privacyClass);
      const scan = await scanLinesBackward(
        handle,
        stat.size,
        {
          chunkBytes: LOAD_CHUNK_BYTES,
          maxLineBytes: JOURNAL_ENTRY_LIMITS.maxLineBytes,
          maxScanBytes: 2 * maxBytes + LOAD_CHUNK_BYTES,
        },
        kept.onLine,
      );
      const { newestFirst, corrupt, expired, rewritten, full, maxSeq } = kept.tally;
      for (let i = newestFirst.length - 1; i >= 0; i--) this.#entries.push(newestFirst[i]!);
      this.#nextSeq = maxSeq + 1;
      this.#fileExists = true;
      this.#diskBytes = stat.size;
      this.#diskLines = newestFirst.length + corrupt + expired + scan.overlongLines;
      this.#corruptLinesOnLoad = corrupt + scan.overlongLines;
      this.#lastCompactionAt = this.#ageNow();
      // Rewrite at once rather than append after a torn line (the next entry would be glued to it).
      this.#needsCompaction =
        this.#corruptLinesOnLoad > 0 ||
        rewritten > 0 ||
        expired > 0 ||
        full ||
        !scan.reachedStart ||
        !scan.endsWithNewline ||
        stat.size > maxBytes;
    } finally {
      await handle.close();
      this.#loadMs = elapsedMs();
    }
  }

  /**
   * Records one event, stamped with the time and the next `seq`, in its tier, and returns the
   * entry as stored (redacted, privacy rule applied); or undefined when the record was counted
   * into its source's aggregate for this window instead (a flood). Never waits for the disk.
   * @throws JournalEntryError for an entry that does not match the schema; JournalClosedError after close()
   */
  record(input: JournalRecordInput): JournalEntry | undefined {
    if (this.#closing) throw new JournalClosedError();
    const fields = prepareEntry(input, this.privacyClass);
    const now = this.#now();
    // Dropped before the aggregator: with monitoring off it is not even counted.
    if (!this.#monitoring && !keptWhenMonitoringOff(fields)) return undefined;
    const { write, due } = this.#aggregator.note(tierOf(fields.event), fields, now);
    for (const aggregate of due) this.#addMade(aggregate, now);
    const entry = write ? this.#add(fields, now) : undefined;
    this.#writeDropNotices(now);
    return entry;
  }

  /** Whether the journal records its non-essential monitoring (the owner's choice; default on). */
  get monitoring(): boolean {
    return this.#monitoring;
  }

  /**
   * Turns the non-essential monitoring on or off (see monitoring.ts for what is kept either way).
   * Turning it off also forgets the connection records already kept, in memory and in the file.
   * The caller journals the change itself (an owner action, kept either way).
   */
  setMonitoring(on: boolean): void {
    if (typeof on !== 'boolean') throw new ConfigError('JOURNAL_CONFIG_INVALID', 'monitoring', 'must be true or false');
    if (this.#closing) throw new JournalClosedError();
    this.#monitoring = on;
    if (on) return;
    let forgotten = 0;
    this.#entries.tier('connection').retain(
      () => false,
      (s) => {
        s.evicted = true;
        forgotten++;
      },
    );
    this.#drops.connection = noDrops();
    if (forgotten === 0) return;
    this.#needsCompaction = true;
    this.#scheduleFlush(true);
  }

  /** Stores an entry only the journal makes (an aggregate), unless monitoring is off and it is not essential. */
  #addMade(fields: JournalEntryFields, now: number): void {
    if (!this.#monitoring && !keptWhenMonitoringOff(fields)) return;
    this.#add(journalMadeEntry(fields, this.privacyClass), now);
  }

  /** Stores an entry in its tier, evicting the tier's oldest when it is over its bounds. */
  #add(fields: JournalEntryFields, now: number): JournalEntry {
    const entry: JournalEntry = Object.freeze({ seq: this.#nextSeq, at: new Date(now).toISOString(), ...fields });
    this.#nextSeq++;
    const stored = storedFor(entry);
    this.#entries.push(stored);
    this.#pending.push(stored);
    this.#trimTier(stored.tier, tierBounds(this.config, stored.tier));
    this.#scheduleFlush(this.#pending.length >= this.config.maxPendingEntries);
    return entry;
  }

  /** Writes the aggregates and drop notices that are due (on a timer, and before every read). */
  #writeDue(): void {
    if (this.#closing) return;
    const now = this.#now();
    for (const aggregate of this.#aggregator.due(now)) this.#addMade(aggregate, now);
    this.#writeDropNotices(now);
  }

  /**
   * A tier that lost entries says so in a notice of its own in the security tier: how many, and
   * the span of time lost. At most one notice per tier and aggregation window, and one on close.
   */
  #writeDropNotices(now: number, force = false): void {
    for (const tier of JOURNAL_TIERS) {
      const drops = this.#drops[tier];
      if (drops.count === 0 || (!force && now - this.#lastNoticeAt[tier] < this.config.aggregateWindowMs)) continue;
      this.#lastNoticeAt[tier] = now;
      const detail = describeDrops(tier, drops, tierBounds(this.config, tier));
      this.#drops[tier] = noDrops();
      const notice = { surface: 'journal', source: 'local', event: 'journal-drop', result: 'info', detail } as const;
      this.#add(journalMadeEntry(notice, this.privacyClass), now);
    }
  }

  /**
   * Entries newest first, at most `limit`, optionally only before a `seq` and of one surface or
   * result. @throws JournalQueryError for a malformed query
   */
  list(query: JournalQuery = {}): JournalEntry[] {
    if (typeof query !== 'object' || query === null) throw new JournalQueryError('query', 'must be an object');
    for (const key of Object.keys(query)) {
      if (!['limit', 'before', 'surface', 'result', 'tier'].includes(key))
        throw new JournalQueryError(key.slice(0, 32), 'is not a query field');
    }
    const { limit = JOURNAL_LIST_LIMITS.defaultLimit, before, surface, result, tier } = query;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > JOURNAL_LIST_LIMITS.maxLimit) {
      throw new JournalQueryError('limit', `must be an integer from 1 to ${JOURNAL_LIST_LIMITS.maxLimit}`);
    }
    if (before !== undefined && (!Number.isSafeInteger(before) || before < 1))
      throw new JournalQueryError('before', 'must be a positive integer');
    if (surface !== undefined && !(JOURNAL_SURFACES as readonly unknown[]).includes(surface))
      throw new JournalQueryError('surface', 'is not a surface');
    if (result !== undefined && !(JOURNAL_RESULTS as readonly unknown[]).includes(result))
      throw new JournalQueryError('result', 'is not a result');
    if (tier !== undefined && !(JOURNAL_TIERS as readonly unknown[]).includes(tier))
      throw new JournalQueryError('tier', 'is not a tier');
    this.#writeDue();
    this.#pruneExpired();
    const out: JournalEntry[] = [];
    const items = tier === undefined ? this.#entries.newestFirst() : this.#entries.tier(tier).newestFirst();
    for (const { entry } of items) {
      if (out.length >= limit) break;
      if (before !== undefined && entry.seq >= before) continue;
      if (surface !== undefined && entry.surface !== surface) continue;
      if (result !== undefined && entry.result !== result) continue;
      out.push(entry);
    }
    return out;
  }

  /** Every entry kept, oldest first, for the owner's data export. */
  export(): JournalEntry[] {
    this.#writeDue();
    this.#pruneExpired();
    return this.#entries.toArray().map((s) => s.entry);
  }

  /** Counts and sizes. */
  stats(): JournalStats {
    this.#writeDue();
    this.#pruneExpired();
    const byResult = zeroCounts(JOURNAL_RESULTS);
    const bySurface = zeroCounts(JOURNAL_SURFACES);
    for (const { entry } of this.#entries.newestFirst()) {
      byResult[entry.result]++;
      bySurface[entry.surface]++;
    }
    const { oldest, newest } = this.#entries.ends();
    return {
      privacyClass: this.privacyClass,
      entries: this.#entries.length,
      bytes: this.#entries.bytes,
      fileBytes: this.#diskBytes,
      pendingEntries: this.#pending.filter((s) => !s.evicted).length,
      ...(oldest && newest ? { oldestAt: oldest.entry.at, newestAt: newest.entry.at } : {}),
      byResult,
      bySurface,
      corruptLinesOnLoad: this.#corruptLinesOnLoad,
      loadMs: this.#loadMs,
      compactions: this.#compactions,
      limits: this.config,
      ...(this.#lastErrorCode ? { lastErrorCode: this.#lastErrorCode } : {}),
      tiers: { security: this.#tierStats('security'), connection: this.#tierStats('connection') },
    };
  }

  #tierStats(tier: JournalTier): JournalTierStats {
    const queue = this.#entries.tier(tier);
    const dropped = this.#droppedTotal[tier];
    return { entries: queue.length, bytes: queue.bytes, ...tierBounds(this.config, tier), dropped };
  }

  /**
   * Writes every entry recorded so far durably (append + fdatasync, or compaction).
   * @throws JournalStorageError when the write fails (the entries stay in memory and are retried)
   */
  flush(): Promise<void> {
    this.#clearFlushTimer();
    return this.#enqueue(() => this.#flushNow());
  }

  /**
   * Erases the journal for a factory reset or an owner's erasure request: forgets every entry
   * recorded before the call, deletes the file and any temporary copy, and syncs the folder so
   * the deletion survives a power cut. The journal stays usable (unless closed).
   * @throws JournalStorageError when the file cannot be deleted
   */
  erase(): Promise<void> {
    this.#clearFlushTimer();
    for (const s of this.#entries.clear()) s.evicted = true;
    for (const tier of JOURNAL_TIERS) this.#drops[tier] = noDrops();
    this.#pending = [];
    this.#expiredOnDisk = 0;
    return this.#enqueue(async () => {
      try {
        await this.#closeHandle();
        await unlink(this.path).catch((err: unknown) => {
          if (errnoCode(err) !== 'ENOENT') throw err;
        });
        await removeStaleTempFiles(this.#stateDir);
        await syncDirectory(this.#stateDir);
      } catch (err) {
        this.#needsCompaction = true;
        throw this.#fail('erase', err);
      }
      this.#fileExists = false;
      this.#diskBytes = 0;
      this.#diskLines = 0;
      this.#needsCompaction = false;
      if (this.#pending.length > 0) this.#scheduleFlush(false);
    });
  }

  /** Writes what is pending and releases the file. Later calls to record() throw. Idempotent. */
  close(): Promise<void> {
    if (!this.#closing) {
      // What is still being counted is written before the journal closes.
      const now = this.#now();
      for (const aggregate of this.#aggregator.drain(now)) this.#addMade(aggregate, now);
      this.#writeDropNotices(now, true);
    }
    this.#closing ??= (async () => {
      this.#clearFlushTimer();
      if (this.#sweepTimer) clearInterval(this.#sweepTimer);
      if (this.#tickTimer) clearInterval(this.#tickTimer);
      try {
        await this.#enqueue(() => this.#flushNow());
      } finally {
        await this.#enqueue(() => this.#closeHandle());
      }
    })();
    return this.#closing;
  }

  #enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(op);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #scheduleFlush(now: boolean): void {
    if (now) {
      this.#clearFlushTimer();
      if (this.#flushQueued) return;
      this.#flushQueued = true;
      this.#enqueue(() => this.#flushNow()).catch((err: unknown) => this.#report(err));
      return;
    }
    if (this.#flushTimer) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.#enqueue(() => this.#flushNow()).catch((err: unknown) => this.#report(err));
    }, this.config.flushDelayMs);
  }

  #clearFlushTimer(): void {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
  }

  #report(err: unknown): void {
    try {
      this.#onError(err instanceof JournalStorageError ? err : storageError('write', err));
    } catch {
      /* the reporter must not crash the device */
    }
  }

  #fail(op: string, err: unknown): JournalStorageError {
    const wrapped = storageError(op, err);
    this.#lastErrorCode = wrapped.code;
    return wrapped;
  }

  #sweep(): void {
    this.#pruneExpired();
    if (this.#expiredOnDisk > 0 || this.#needsCompaction) this.#scheduleFlush(true);
  }

  /** Drops entries past their age from memory; counts those still in the file. */
  #pruneExpired(): void {
    const cutoff = this.#ageNow() - this.config.maxAgeDays * DAY_MS;
    // Cheap check first: most calls find nothing to drop.
    if (!this.#entries.some((s) => s.atMs < cutoff)) return;
    this.#entries.retain(
      (s) => s.atMs >= cutoff,
      (s) => {
        s.evicted = true;
        if (s.onDisk) this.#expiredOnDisk++;
      },
    );
  }

  /** Evicts a tier's oldest entries until it is within `bounds`; each loss is tallied for a drop notice. */
  #trimTier(tier: JournalTier, bounds: { maxEntries: number; maxBytes: number }): void {
    this.#entries.trim(tier, bounds, (s) => {
      s.evicted = true;
      noteDrop(this.#drops[tier], s.atMs);
      this.#droppedTotal[tier]++;
    });
  }

  async #flushNow(): Promise<void> {
    this.#flushQueued = false;
    this.#pruneExpired();
    const batch = this.#pending.filter((s) => !s.evicted);
    this.#pending = [];
    const sweepDue = this.#expiredOnDisk > 0 && this.#ageNow() - this.#lastCompactionAt >= this.config.expirySweepMs;
    if (batch.length === 0 && !this.#needsCompaction && !sweepDue) return;
    const batchBytes = batch.reduce((n, s) => n + s.bytes, 0);
    const file = fileBounds(this.config);
    const overBounds = this.#diskBytes + batchBytes > file.maxBytes || this.#diskLines + batch.length > file.maxEntries;
    if (!this.#needsCompaction && !sweepDue && !overBounds && this.#fileExists) {
      try {
        await this.#append(batch, batchBytes);
        this.#lastErrorCode = undefined;
        return;
      } catch {
        // The file may hold part of the batch: rewrite it whole from memory instead.
        this.#needsCompaction = true;
        await this.#closeHandle().catch(() => undefined);
      }
    }
    try {
      // Only a full file in steady state trims to the low-water mark; a repair keeps every entry.
      await this.#compact(overBounds && !this.#needsCompaction && !sweepDue);
      this.#lastErrorCode = undefined;
    } catch (err) {
      this.#needsCompaction = true;
      throw this.#fail('compact', err);
    }
  }

  async #append(batch: readonly StoredEntry[], batchBytes: number): Promise<void> {
    if (batch.length === 0) return;
    this.#handle ??= await open(this.path, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_NOFOLLOW);
    const data = batch.map((s) => s.line + '\n').join('');
    for (const s of batch) s.onDisk = true;
    await this.#handle.appendFile(data);
    await this.#handle.datasync();
    this.#diskBytes += batchBytes;
    this.#diskLines += batch.length;
  }

  /** Rewrites the file from memory; `makeRoom` (when the file is full) first trims to the low-water mark. */
  async #compact(makeRoom: boolean): Promise<void> {
    if (makeRoom) {
      for (const tier of JOURNAL_TIERS) {
        const { maxEntries, maxBytes } = tierBounds(this.config, tier);
        const low = COMPACTION_LOW_WATER;
        this.#trimTier(tier, { maxEntries: Math.floor(maxEntries * low), maxBytes: Math.floor(maxBytes * low) });
      }
    }
    const snapshot = this.#entries.toArray();
    const data = snapshot.map((s) => s.line + '\n').join('');
    for (const s of snapshot) s.onDisk = true;
    this.#expiredOnDisk = 0;
    await this.#closeHandle();
    await writeFileAtomic(this.path, data, SECRET_FILE_MODE);
    this.#fileExists = true;
    this.#diskBytes = Buffer.byteLength(data);
    this.#diskLines = snapshot.length;
    this.#needsCompaction = false;
    this.#lastCompactionAt = this.#ageNow();
    this.#compactions++;
  }

  async #closeHandle(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle) await handle.close();
  }
}
