/**
 * The device's outbox: messages that must reach the cloud's store (telemetry, the factory-reset
 * release), each with a sequence number that never repeats on this device. An entry is
 * 'pending' until the broker acknowledges it (QoS 1), then 'sent' until a receipt from the cloud
 * says it is stored: so a message the broker acknowledged and then lost (a broker killed before
 * it wrote its queue) is sent again. Bounded in entries and bytes (the oldest telemetry goes
 * first; a release is never dropped), and persisted with atomic writes.
 *
 * A pure core apart from `load` and `save`: callers pass `now` and decide when to save.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, SECRET_FILE_MODE } from '../storage/index.ts';

/** What an entry carries. */
export type OutboxKind = 'telemetry' | 'claim';

/** One message in the outbox. */
export interface OutboxEntry {
  readonly seq: number;
  readonly kind: OutboxKind;
  /** The message without its seq (added when sent). */
  readonly body: Readonly<Record<string, unknown>>;
  state: 'pending' | 'sent';
  /** When the broker acknowledged it, ms (0: before this process started). */
  sentAt: number;
  /** Approximate size, bytes. */
  readonly bytes: number;
}

/** Bounds of the outbox. */
export interface OutboxLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

/** The defaults: a day of telemetry at one reading a minute and then some. */
export const defaultOutboxLimits: Readonly<OutboxLimits> = Object.freeze({ maxEntries: 2_000, maxBytes: 512 * 1024 });

/** File name in the state dir. */
export const OUTBOX_FILE = 'cloud-outbox.json';

interface Persisted {
  readonly version: 1;
  readonly nextSeq: number;
  readonly entries: Array<{ seq: number; kind: OutboxKind; body: Record<string, unknown>; state: 'pending' | 'sent' }>;
}

function sizeOf(body: object): number {
  return JSON.stringify(body).length + 32;
}

/** The outbox. */
export class Outbox {
  readonly limits: OutboxLimits;
  readonly #path: string;
  readonly #entries = new Map<number, OutboxEntry>(); // insertion order = seq order
  #nextSeq: number;
  #bytes = 0;
  #dropped = 0;
  #dirty = false;

  private constructor(path: string, nextSeq: number, limits: OutboxLimits) {
    this.#path = path;
    this.#nextSeq = nextSeq;
    this.limits = limits;
  }

  /**
   * Loads the outbox from `stateDir`. A missing or damaged file starts empty, with sequence
   * numbers from the clock (microseconds since the epoch), so they still never repeat.
   */
  static async load(stateDir: string, limits: Partial<OutboxLimits> = {}, now = Date.now()): Promise<Outbox> {
    const l = { ...defaultOutboxLimits, ...limits };
    const path = join(stateDir, OUTBOX_FILE);
    const floor = now * 1000;
    try {
      const p = JSON.parse(await readFile(path, 'utf8')) as Persisted;
      if (p.version !== 1 || !Number.isSafeInteger(p.nextSeq) || !Array.isArray(p.entries)) throw new Error('bad');
      const box = new Outbox(path, Math.max(p.nextSeq, 1), l);
      for (const e of p.entries.slice(-l.maxEntries)) {
        if (
          !Number.isSafeInteger(e.seq) ||
          e.seq >= box.#nextSeq ||
          (e.kind !== 'telemetry' && e.kind !== 'claim') ||
          typeof e.body !== 'object' ||
          e.body === null
        )
          continue;
        box.#put({
          seq: e.seq,
          kind: e.kind,
          body: e.body,
          state: e.state === 'sent' ? 'sent' : 'pending',
          sentAt: 0,
          bytes: sizeOf(e.body),
        });
      }
      return box;
    } catch {
      return new Outbox(path, floor, l);
    }
  }

  /** Entries, oldest first. */
  entries(): OutboxEntry[] {
    return [...this.#entries.values()];
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Entries dropped because the outbox was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** True when there are changes not yet saved. */
  get dirty(): boolean {
    return this.#dirty;
  }

  #put(e: OutboxEntry): void {
    this.#entries.set(e.seq, e);
    this.#bytes += e.bytes;
  }

  #remove(seq: number): boolean {
    const e = this.#entries.get(seq);
    if (!e) return false;
    this.#entries.delete(seq);
    this.#bytes -= e.bytes;
    return true;
  }

  /** Adds a message; returns its seq. Makes room by dropping the oldest telemetry. */
  add(kind: OutboxKind, body: Record<string, unknown>): number {
    const seq = this.#nextSeq++;
    const e: OutboxEntry = { seq, kind, body, state: 'pending', sentAt: 0, bytes: sizeOf(body) };
    this.#put(e);
    while (this.#entries.size > this.limits.maxEntries || this.#bytes > this.limits.maxBytes) {
      const oldest = [...this.#entries.values()].find((x) => x.kind === 'telemetry' && x.seq !== seq);
      if (!oldest) break;
      this.#remove(oldest.seq);
      this.#dropped++;
    }
    this.#dirty = true;
    return seq;
  }

  /** The broker acknowledged `seq`. */
  markSent(seq: number, now: number): void {
    const e = this.#entries.get(seq);
    if (e && e.state === 'pending') {
      e.state = 'sent';
      e.sentAt = now;
      this.#dirty = true;
    }
  }

  /** Sent entries acknowledged before `before` (ms): the ones to ask the cloud about. */
  unconfirmed(before: number): OutboxEntry[] {
    return [...this.#entries.values()].filter((e) => e.state === 'sent' && e.sentAt <= before);
  }

  /** A receipt: `stored` are in the cloud; of `asked`, the rest must be sent again. */
  applyReceipt(asked: ReadonlySet<number>, stored: (seq: number) => boolean): { confirmed: number; resend: number } {
    let confirmed = 0,
      resend = 0;
    for (const seq of asked) {
      const e = this.#entries.get(seq);
      if (!e) continue;
      if (stored(seq)) {
        this.#remove(seq);
        confirmed++;
      } else if (e.state === 'sent') {
        e.state = 'pending';
        resend++;
      }
    }
    if (confirmed || resend) this.#dirty = true;
    return { confirmed, resend };
  }

  /** Entries not yet acknowledged by the broker (those in flight when a link dropped included), oldest first. */
  pending(): OutboxEntry[] {
    return [...this.#entries.values()].filter((e) => e.state === 'pending');
  }

  /** Factory reset: every message goes (they were the previous owner's); sequence numbers still never repeat. */
  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
    this.#dirty = true;
  }

  /** Writes the outbox atomically. */
  async save(): Promise<void> {
    this.#dirty = false;
    const p: Persisted = {
      version: 1,
      nextSeq: this.#nextSeq,
      entries: [...this.#entries.values()].map((e) => ({
        seq: e.seq,
        kind: e.kind,
        body: e.body,
        state: e.state,
      })),
    };
    try {
      await writeFileAtomic(this.#path, JSON.stringify(p) + '\n', SECRET_FILE_MODE);
    } catch (err) {
      this.#dirty = true;
      throw err;
    }
  }
}
