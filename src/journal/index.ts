/**
 * The connection journal and the redacting logger (design.md, "Logging and privacy").
 *
 * - {@link ConnectionJournal}: a bounded (entries, bytes, age), persistent, redacted record of
 *   every connection attempt to every listening surface, for the owner's page and data export.
 * - {@link createLogger}: JSON-lines operational logs on stderr, redacted the same way.
 * - {@link redactSecrets}: the redactor both use.
 */
export { ConnectionJournal, JOURNAL_FILE_NAME, JOURNAL_LIST_LIMITS } from './connection-journal.ts';
export type {
  ConnectionJournalOptions,
  JournalClock,
  JournalQuery,
  JournalStats,
  JournalTierStats,
} from './connection-journal.ts';
export { defaultJournalConfig, fileBounds, tierBounds, validateJournalConfig } from './config.ts';
export { JOURNAL_TIERS, tierOf } from './tiers.ts';
export { KEPT_INFO_EVENTS, MONITORING_EVENTS, keptWhenMonitoringOff } from './monitoring.ts';
export type { MonitoredFields } from './monitoring.ts';
export type { JournalTier } from './tiers.ts';
export type { JournalConfig } from './config.ts';
export {
  JOURNAL_SURFACES,
  JOURNAL_RESULTS,
  JOURNAL_ENTRY_LIMITS,
  JOURNAL_MADE_EVENTS,
  formatSource,
  coarsenSource,
  privacyClassFor,
} from './entry.ts';
export type { JournalEntry, JournalRecordInput, JournalSurface, JournalResult, PrivacyClass } from './entry.ts';
export { JournalEntryError, JournalQueryError, JournalClosedError, JournalStorageError } from './errors.ts';
export { FloodCounter, describeFlood } from './flood.ts';
export type { FloodLimits, FloodSummary } from './flood.ts';
export { createLogger, LOG_LEVELS, LOG_LIMITS } from './logger.ts';
export type { Logger, LoggerOptions, LogLevel, LogFields } from './logger.ts';
export { redactSecrets, isSecretKey, REDACTED } from './redact.ts';
export { LogLimiter, defaultLogLimiterConfig, validateLogLimiterConfig, type LogLimiterConfig } from './log-limiter.ts';
export type { JournalErrorCode } from './errors.ts';
