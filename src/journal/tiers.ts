/**
 * The journal's two tiers. Security events (logins, lockouts, pairing, claims, owner actions,
 * update decisions, faults, and the journal's own notices) and connection records (every TLS or
 * TCP attempt, malformed or aborted requests, link ups and downs) are kept in separate bounded
 * queues, so no number of connection records can evict a security event: a stranger can fill
 * only the connection tier. Pure: no files, no clocks.
 */
import { EntryQueue, type Sized } from './entry-queue.ts';

/** The journal's tiers: `security` keeps the evidence, `connection` the traffic. */
export const JOURNAL_TIERS = ['security', 'connection'] as const;
/** A tier of the journal. */
export type JournalTier = (typeof JOURNAL_TIERS)[number];

/**
 * Events that are connection records. Every other event is a security event: an event a caller
 * invents is kept with the evidence, never where a flood can wash it out.
 */
export const CONNECTION_EVENTS: ReadonlySet<string> = new Set([
  'tls-connect',
  'tls-error',
  'tcp-connect',
  'connection-refused',
  'connection-flood',
  'header-timeout',
  'http-malformed',
  'request-aborted',
  'channel-connect',
  'connect',
  'disconnect',
  'records-aggregated',
]);

/** The tier an event belongs to. */
export function tierOf(event: string): JournalTier {
  return CONNECTION_EVENTS.has(event) ? 'connection' : 'security';
}

/** The bounds of one tier. */
export interface TierBounds {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

/** What a tier lost to its bounds: how many entries and the time span they covered. */
export interface TierDrops {
  count: number;
  oldestLostMs: number;
  newestLostMs: number;
}

/** What the tiered store needs of an entry. */
export interface TieredItem extends Sized {
  readonly tier: JournalTier;
  readonly seq: number;
  readonly atMs: number;
}

/** Both tiers, each oldest first, with a merged view in `seq` order. */
export class TieredEntries<T extends TieredItem> {
  readonly #queues: Record<JournalTier, EntryQueue<T>> = { security: new EntryQueue(), connection: new EntryQueue() };

  /** The queue of one tier. */
  tier(tier: JournalTier): EntryQueue<T> {
    return this.#queues[tier];
  }

  get length(): number {
    return this.#queues.security.length + this.#queues.connection.length;
  }

  get bytes(): number {
    return this.#queues.security.bytes + this.#queues.connection.bytes;
  }

  push(item: T): void {
    this.#queues[item.tier].push(item);
  }

  /** Evicts the oldest items of `tier` until it is within `bounds`; each goes to `onEvict`. */
  trim(tier: JournalTier, bounds: TierBounds, onEvict: (item: T) => void): void {
    const queue = this.#queues[tier];
    while (queue.length > bounds.maxEntries || queue.bytes > bounds.maxBytes) onEvict(queue.shift()!);
  }

  /** Keeps only the items `keep` accepts, in both tiers. */
  retain(keep: (item: T) => boolean, onDrop: (item: T) => void): void {
    for (const tier of JOURNAL_TIERS) this.#queues[tier].retain(keep, onDrop);
  }

  some(test: (item: T) => boolean): boolean {
    return this.#queues.security.some(test) || this.#queues.connection.some(test);
  }

  /** Items newest first across both tiers (a merge by `seq`). */
  *newestFirst(): Generator<T> {
    const s = this.#queues.security;
    const c = this.#queues.connection;
    let i = s.length - 1;
    let j = c.length - 1;
    while (i >= 0 || j >= 0) {
      const a = s.at(i);
      const b = c.at(j);
      if (b === undefined || (a !== undefined && a.seq > b.seq)) {
        yield a!;
        i--;
      } else {
        yield b;
        j--;
      }
    }
  }

  /** Every item oldest first, merged by `seq`. */
  toArray(): T[] {
    return [...this.newestFirst()].reverse();
  }

  /** The oldest and the newest item across both tiers. */
  ends(): { oldest?: T; newest?: T } {
    const s = this.#queues.security;
    const c = this.#queues.connection;
    const pick = (a: T | undefined, b: T | undefined, older: boolean): T | undefined =>
      a === undefined ? b : b === undefined ? a : a.seq < b.seq === older ? a : b;
    const oldest = pick(s.at(0), c.at(0), true);
    const newest = pick(s.at(s.length - 1), c.at(c.length - 1), false);
    return { ...(oldest ? { oldest } : {}), ...(newest ? { newest } : {}) };
  }

  /** Empties both tiers and returns what they held. */
  clear(): T[] {
    return [...this.#queues.security.clear(), ...this.#queues.connection.clear()];
  }
}

/** Adds one lost entry to a tier's tally. */
export function noteDrop(drops: TierDrops, atMs: number): void {
  drops.count += 1;
  drops.oldestLostMs = Math.min(drops.oldestLostMs, atMs);
  drops.newestLostMs = Math.max(drops.newestLostMs, atMs);
}

/** An empty tally. */
export function noDrops(): TierDrops {
  return { count: 0, oldestLostMs: Number.POSITIVE_INFINITY, newestLostMs: Number.NEGATIVE_INFINITY };
}

/** The detail of a drop notice, e.g. 'dropped 1,204 connection entries from 10:04:07 to 10:09:51 UTC ...'. */
export function describeDrops(tier: JournalTier, drops: TierDrops, bounds: TierBounds): string {
  const time = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
  return (
    `dropped ${drops.count.toLocaleString('en')} ${tier} entries from ${time(drops.oldestLostMs)} ` +
    `to ${time(drops.newestLostMs)} UTC to stay within ${bounds.maxEntries.toLocaleString('en')} entries ` +
    `and ${bounds.maxBytes.toLocaleString('en')} bytes`
  );
}
