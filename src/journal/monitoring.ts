/**
 * Monitoring the owner can turn off (CRA Annex I Part I 2(l)): which entries the journal still
 * keeps while the owner has switched its monitoring off. Pure: no files, no clocks.
 *
 * Kept either way: every security event that is not merely informational (failed and refused
 * attempts, lockouts, successes such as logins, password changes and owner controls, faults), the
 * security tier's own aggregates and drop notices, and the informational events that record a
 * change to the unit's protection (the monitoring choice itself, factory reset, login unlock,
 * automatic updates on or off, the pairing window, the support period extended or ended).
 * Dropped while off: every connection record (the connection tier, its aggregates and flood
 * summaries) and other informational entries (update checks, driver comings and goings, button
 * presses).
 */
import type { JournalResult, JournalSurface } from './entry.ts';
import { tierOf } from './tiers.ts';

/** The events that record a change of the monitoring choice; always journalled as security events. */
export const MONITORING_EVENTS = Object.freeze({ on: 'monitoring-on', off: 'monitoring-off' } as const);

/** Informational security events still kept with monitoring off: changes to what protects the owner. */
export const KEPT_INFO_EVENTS: ReadonlySet<string> = new Set([
  MONITORING_EVENTS.on,
  MONITORING_EVENTS.off,
  'journal-drop',
  'events-aggregated',
  'factory-reset',
  'login-unlock',
  'auto-update-on',
  'auto-update-off',
  'postponed',
  'window-open',
  'window-close',
  'channel-key-rotation',
  'support-extended',
  'support-ended',
]);

/** What the rule reads of an entry. */
export interface MonitoredFields {
  readonly surface: JournalSurface;
  readonly event: string;
  readonly result: JournalResult;
}

/**
 * Whether an entry is kept while the owner has turned monitoring off: security events that are
 * not merely informational, and the informational ones in {@link KEPT_INFO_EVENTS}.
 * @example keptWhenMonitoringOff({ surface: 'web', event: 'tls-connect', result: 'success' }) // false
 */
export function keptWhenMonitoringOff(fields: MonitoredFields): boolean {
  if (tierOf(fields.event) === 'connection') return false;
  return fields.result !== 'info' || KEPT_INFO_EVENTS.has(fields.event);
}
