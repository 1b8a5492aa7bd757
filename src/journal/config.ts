/**
 * The journal's limits: one typed object with its secure default beside it.
 */
import { ConfigError } from '../errors/index.ts';

/** Limits of a {@link ConnectionJournal}. Every one is required to be finite: no journal is unbounded. */
export interface JournalConfig {
  /** Most entries kept (10..100_000). */
  readonly maxEntries: number;
  /** Entries older than this are dropped, days (1..3_650). */
  readonly maxAgeDays: number;
  /** The journal file never grows beyond this, bytes (16 KiB..64 MiB). */
  readonly maxBytes: number;
  /** Appends within this window share one write and one fdatasync, ms (0..1_000). */
  readonly flushDelayMs: number;
  /** A batch this large is written at once instead of waiting for the window (1..10_000). */
  readonly maxPendingEntries: number;
  /** How often entries past their age are purged from the file as well, ms (60_000..86_400_000). */
  readonly expirySweepMs: number;
}

/** The default: 5,000 entries, 30 days, 2 MiB, batches of up to 50 ms, expired entries purged hourly. */
export const defaultJournalConfig: Readonly<JournalConfig> = Object.freeze({
  maxEntries: 5_000,
  maxAgeDays: 30,
  maxBytes: 2_097_152,
  flushDelayMs: 50,
  maxPendingEntries: 256,
  expirySweepMs: 3_600_000,
});

const RANGES: Readonly<Record<keyof JournalConfig, readonly [number, number]>> = Object.freeze({
  maxEntries: [10, 100_000],
  maxAgeDays: [1, 3_650],
  maxBytes: [16_384, 67_108_864],
  flushDelayMs: [0, 1_000],
  maxPendingEntries: [1, 10_000],
  expirySweepMs: [60_000, 86_400_000],
});

/**
 * Validates a (partial) config against the defaults. Refuses unknown keys, non-integers,
 * Infinity and anything outside its range, naming the key.
 * @throws ConfigError with code 'JOURNAL_CONFIG_INVALID'
 */
export function validateJournalConfig(config: Partial<JournalConfig> = {}): JournalConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ConfigError('JOURNAL_CONFIG_INVALID', 'config', 'must be an object');
  }
  for (const key of Object.keys(config)) {
    if (!(key in RANGES)) throw new ConfigError('JOURNAL_CONFIG_INVALID', key.slice(0, 64), 'is not a journal setting');
  }
  const merged: Record<string, unknown> = { ...defaultJournalConfig, ...config };
  const out: Record<string, number> = {};
  for (const [key, [min, max]] of Object.entries(RANGES)) {
    const value = merged[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError('JOURNAL_CONFIG_INVALID', key, `must be an integer from ${min} to ${max}`);
    }
    out[key] = value;
  }
  return Object.freeze(out as unknown as JournalConfig);
}
