/**
 * Per-source aggregation inside the journal: each source (an address, an IPv6 /64) writes its
 * first records of a window one by one in each tier; the rest are counted, and when the window
 * ends one 'aggregated' entry says how many there were and of what kind. So a flood from a few
 * sources costs a few entries per window, and its size is still on record. Pure: `now` is passed in.
 */
import { aggregationKey, type JournalEntryFields } from './entry.ts';
import { FloodCounter, describeFlood, type FloodSummary } from './flood.ts';
import type { JournalTier } from './tiers.ts';

/** The event of an entry that stands for records counted rather than written, per tier. */
export const AGGREGATED_EVENTS: Readonly<Record<JournalTier, string>> = Object.freeze({
  security: 'events-aggregated',
  connection: 'records-aggregated',
});

/** Limits of a {@link RecordAggregator}. */
export interface AggregationLimits {
  readonly aggregateWindowMs: number;
  readonly securityPerSource: number;
  readonly connectionPerSource: number;
}

/** Sources tracked at once per tier; past it the oldest window is summarised early. */
const MAX_TRACKED_SOURCES = 4_096;

/** Decides, per tier and source, which records are written and which are counted. */
export class RecordAggregator {
  readonly #counters: Record<JournalTier, FloodCounter>;

  constructor(limits: AggregationLimits) {
    const counter = (threshold: number): FloodCounter =>
      new FloodCounter({
        floodWindowMs: limits.aggregateWindowMs,
        floodThreshold: threshold,
        maxTrackedSources: MAX_TRACKED_SOURCES,
      });
    this.#counters = {
      security: counter(limits.securityPerSource),
      connection: counter(limits.connectionPerSource),
    };
  }

  /**
   * Notes a record; returns whether to write it and the aggregated entries that became due.
   * Summaries (of the journal or of admission) are always written: they already are aggregates.
   */
  note(tier: JournalTier, fields: JournalEntryFields, now: number): { write: boolean; due: JournalEntryFields[] } {
    // The device's own events ('local': a driver that faults every second, say) are bounded the same way.
    if (fields.event === 'connection-flood') {
      return { write: true, due: [] };
    }
    const { address, key } = aggregationKey(fields.source);
    const kind = `${fields.event} ${fields.result}`;
    const { write, due } = this.#counters[tier].note(`${fields.surface} ${key}`, kind, now, address);
    return { write, due: due.map((s) => aggregatedEntry(tier, s)) };
  }

  /** Aggregated entries of every window that has ended by `now`. */
  due(now: number): JournalEntryFields[] {
    return this.#each((tier, counter) => counter.due(now).map((s) => aggregatedEntry(tier, s)));
  }

  /** Aggregated entries of every window, ended or not (on close). */
  drain(now: number): JournalEntryFields[] {
    return this.#each((tier, counter) => counter.drain(now).map((s) => aggregatedEntry(tier, s)));
  }

  #each(f: (tier: JournalTier, counter: FloodCounter) => JournalEntryFields[]): JournalEntryFields[] {
    return [...f('security', this.#counters.security), ...f('connection', this.#counters.connection)];
  }
}

/** The entry standing for one source's counted records. The surface leads the flood key. */
function aggregatedEntry(tier: JournalTier, summary: FloodSummary): JournalEntryFields {
  const surface = summary.source.slice(0, summary.source.indexOf(' ')) as JournalEntryFields['surface'];
  const source = summary.source.slice(summary.source.indexOf(' ') + 1);
  return {
    surface,
    source: summary.address,
    event: AGGREGATED_EVENTS[tier],
    result: 'info',
    detail: describeFlood({ ...summary, source }),
  };
}
