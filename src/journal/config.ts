/**
 * The journal's limits: one typed object with its secure default beside it.
 */
import { ConfigError } from '../errors/index.ts';

/**
 * Limits of a {@link ConnectionJournal}. Every one is required to be finite: no journal is
 * unbounded. The security tier (logins, lockouts, pairing, owner actions...) and the connection
 * tier (every connection attempt) are bounded separately, so connections never evict evidence.
 */
export interface JournalConfig {
  /** Most security events kept (10..100_000). */
  readonly securityMaxEntries: number;
  /** Most bytes of security events kept, as JSON lines (16 KiB..64 MiB). */
  readonly securityMaxBytes: number;
  /** Most connection records kept (10..100_000). */
  readonly connectionMaxEntries: number;
  /** Most bytes of connection records kept (16 KiB..64 MiB). */
  readonly connectionMaxBytes: number;
  /** One source's records of one tier written one by one per window; the rest become one aggregate (1..10_000). */
  readonly connectionPerSource: number;
  /** The same for security events (1..10_000): a stranger's failed logins cannot fill the security tier either. */
  readonly securityPerSource: number;
  /** The aggregation window, and the least time between two drop notices of a tier, ms (1_000..3_600_000). */
  readonly aggregateWindowMs: number;
  /** Entries older than this are dropped, days (1..3_650). */
  readonly maxAgeDays: number;
  /** Appends within this window share one write and one fdatasync, ms (0..1_000). */
  readonly flushDelayMs: number;
  /** A batch this large is written at once instead of waiting for the window (1..10_000). */
  readonly maxPendingEntries: number;
  /** How often entries past their age are purged from the file as well, ms (60_000..86_400_000). */
  readonly expirySweepMs: number;
}

/**
 * The default: 3,000 security events in 1 MiB and 5,000 connection records in 2 MiB, so the file
 * stays under 3 MiB; 128 connection records and 256 security events of one source a minute one by
 * one; 30 days; batches of up to 50 ms; expired entries purged hourly.
 */
export const defaultJournalConfig: Readonly<JournalConfig> = Object.freeze({
  securityMaxEntries: 3_000,
  securityMaxBytes: 1_048_576,
  connectionMaxEntries: 5_000,
  connectionMaxBytes: 2_097_152,
  connectionPerSource: 128,
  securityPerSource: 256,
  aggregateWindowMs: 60_000,
  maxAgeDays: 30,
  flushDelayMs: 50,
  maxPendingEntries: 256,
  expirySweepMs: 3_600_000,
});

const RANGES: Readonly<Record<keyof JournalConfig, readonly [number, number]>> = Object.freeze({
  securityMaxEntries: [10, 100_000],
  securityMaxBytes: [16_384, 67_108_864],
  connectionMaxEntries: [10, 100_000],
  connectionMaxBytes: [16_384, 67_108_864],
  connectionPerSource: [1, 10_000],
  securityPerSource: [1, 10_000],
  aggregateWindowMs: [1_000, 3_600_000],
  maxAgeDays: [1, 3_650],
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

/** The bounds of one tier. */
export function tierBounds(
  config: JournalConfig,
  tier: 'security' | 'connection',
): { maxEntries: number; maxBytes: number } {
  return tier === 'security'
    ? { maxEntries: config.securityMaxEntries, maxBytes: config.securityMaxBytes }
    : { maxEntries: config.connectionMaxEntries, maxBytes: config.connectionMaxBytes };
}

/** The bounds of the journal file: both tiers together. */
export function fileBounds(config: JournalConfig): { maxEntries: number; maxBytes: number } {
  return {
    maxEntries: config.securityMaxEntries + config.connectionMaxEntries,
    maxBytes: config.securityMaxBytes + config.connectionMaxBytes,
  };
}
