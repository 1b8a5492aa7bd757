/**
 * What the cloud does with device traffic: every message is parsed by the protocol's strict
 * parsers (anything else is counted and dropped), telemetry of a batch is stored in one write
 * (idempotent per serial and sequence number), then the rest (state, presence, claim window,
 * factory-reset release, command replies, firmware reports, sync requests answered with receipts) in order.
 */
import { EventEmitter } from 'node:events';
import {
  parseDeviceTopic,
  parseJsonPayload,
  parseTelemetry,
  parseState,
  parseClaim,
  parseSync,
  parsePresence,
  parseReply,
  parseFirmware,
  encodePayload,
  deviceTopic,
  toRanges,
  type ReplyMessage,
} from '../cloudprotocol/index.ts';
import type { CloudStore, TelemetryRow } from './store.ts';
import type { InboundPublish } from './service-mqtt.ts';

/** Settings of the traffic handler. */
export interface IngestConfig {
  /** How long the button's claim window stays open, ms (the issue: 10 minutes). */
  readonly claimWindowMs: number;
  /** Most sequence numbers answered in one receipt. */
  readonly maxReceiptSeqs: number;
  /** Most serials remembered as registered (a cache in front of the registry). */
  readonly knownSerialsCache: number;
  /**
   * A receipt covers telemetry stored at least this long ago, ms: longer than the SQLite
   * writer's checkpoint interval, so it never covers what a power cut could still take away.
   */
  readonly receiptDelayMs: number;
}

/** The defaults. */
export const defaultIngestConfig: Readonly<IngestConfig> = Object.freeze({
  claimWindowMs: 600_000,
  maxReceiptSeqs: 4_096,
  knownSerialsCache: 100_000,
  receiptDelayMs: 2_500,
});

/** Counters, for tests, the benchmark and logs. */
export interface IngestCounters {
  telemetry: number;
  dropped: number;
  unknownDevice: number;
  replies: number;
  receipts: number;
}

/** Handles batches of device messages for one cloud instance. */
export class DeviceTraffic {
  readonly counters: IngestCounters = { telemetry: 0, dropped: 0, unknownDevice: 0, replies: 0, receipts: 0 };
  /** Emits 'reply' (serial, ReplyMessage) for replies, and 'online' (serial) for a device back, received here. */
  readonly events = new EventEmitter();
  readonly #store: CloudStore;
  readonly #config: IngestConfig;
  readonly #publish: (topic: string, payload: Uint8Array, qos: 0 | 1) => Promise<void>;
  readonly #known = new Set<string>();
  readonly #onStored: ((rows: readonly TelemetryRow[], storedAt: number) => void) | undefined;
  readonly #log: (msg: string) => void;
  readonly #enrol: ((serial: string, body: unknown, now: number) => Promise<void>) | undefined;

  constructor(o: {
    store: CloudStore;
    publish: (topic: string, payload: Uint8Array, qos: 0 | 1) => Promise<void>;
    config?: Partial<IngestConfig>;
    /** Hears every stored telemetry batch (the benchmark measures latency with it). */
    onStored?: (rows: readonly TelemetryRow[], storedAt: number) => void;
    log?: (msg: string) => void;
    /** Answers a unit's request for an operational certificate (enrolment.ts); absent: requests are dropped. */
    enrol?: (serial: string, body: unknown, now: number) => Promise<void>;
  }) {
    this.#store = o.store;
    this.#publish = o.publish;
    this.#config = { ...defaultIngestConfig, ...o.config };
    this.#onStored = o.onStored;
    this.#log = o.log ?? (() => undefined);
    this.#enrol = o.enrol;
    this.events.setMaxListeners(0);
  }

  async #isRegistered(serial: string): Promise<boolean> {
    if (this.#known.has(serial)) return true;
    const device = await this.#store.getDevice(serial);
    if (!device) return false;
    if (this.#known.size >= this.#config.knownSerialsCache) this.#known.clear();
    this.#known.add(serial);
    return true;
  }

  /** Stores one batch; resolves when everything in it is durable (then the broker gets its acks). */
  async handle(batch: readonly InboundPublish[]): Promise<void> {
    const now = Date.now();
    const rows: TelemetryRow[] = [];
    const rest: Array<{ serial: string; kind: string; body: unknown }> = [];
    for (const m of batch) {
      const t = parseDeviceTopic(m.topic);
      if (!t) {
        this.counters.dropped++;
        continue;
      }
      let body: unknown;
      try {
        body = parseJsonPayload(m.payload);
      } catch {
        this.counters.dropped++;
        continue;
      }
      if (t.kind === 'telemetry') {
        try {
          const msg = parseTelemetry(body);
          rows.push({ serial: t.serial, seq: msg.seq, at: msg.at, receivedAt: now, values: msg.values });
        } catch {
          this.counters.dropped++;
        }
      } else rest.push({ serial: t.serial, kind: t.kind, body });
    }
    if (rows.length > 0) {
      const known: TelemetryRow[] = [];
      for (const r of rows) {
        if (await this.#isRegistered(r.serial)) known.push(r);
        else this.counters.unknownDevice++;
      }
      const committedAt = await this.#store.storeTelemetry(known, Date.now());
      this.counters.telemetry += known.length;
      this.#onStored?.(known, committedAt);
    }
    for (const m of rest) {
      try {
        if (!(await this.#isRegistered(m.serial))) {
          this.counters.unknownDevice++;
          continue;
        }
        await this.#handleOne(m.serial, m.kind, m.body, now);
      } catch (err) {
        if ((err as { code?: string }).code === 'INVALID_INPUT') {
          this.counters.dropped++;
          continue;
        }
        throw err;
      }
    }
  }

  async #handleOne(serial: string, kind: string, body: unknown, now: number): Promise<void> {
    switch (kind) {
      case 'state':
        await this.#store.setState(serial, parseState(body), now);
        return;
      case 'presence': {
        const { online } = parsePresence(body);
        await this.#store.setPresence(serial, online, now);
        if (online) this.events.emit('online', serial);
        return;
      }
      case 'firmware':
        await this.#store.recordFirmware(serial, parseFirmware(body), now);
        return;
      case 'claim': {
        const msg = parseClaim(body);
        if (msg.event === 'window-open') {
          const until = await this.#store.openClaimWindow(serial, now + this.#config.claimWindowMs, msg.seq, now);
          this.#log(`claim window of ${serial} open for ${this.#config.claimWindowMs / 60_000} min`);
          // The device tells its owner until when; lost, the window is still open (QoS 0, like receipts).
          if (until < now) return;
          const answer = encodePayload({ seq: msg.seq, openedAt: now, until });
          await this.#publish(deviceTopic(serial, 'claim-window'), answer, 0).catch(() => undefined);
        } else if (await this.#store.releaseByDevice(serial, msg.seq, now)) {
          this.#log(`${serial} released by a factory reset`);
        }
        return;
      }
      case 'replies': {
        const reply: ReplyMessage = parseReply(body);
        this.counters.replies++;
        await this.#store.completeCommand(
          reply.id,
          serial,
          reply.ok ? 'done' : 'failed',
          {
            ...(reply.value !== undefined ? { value: reply.value } : {}),
            ...(reply.error ? { error: reply.error } : {}),
          },
          now,
        );
        this.events.emit('reply', serial, reply);
        return;
      }
      case 'sync': {
        const { ranges } = parseSync(body);
        const stored = await this.#store.storedSeqs(
          serial,
          ranges,
          this.#config.maxReceiptSeqs,
          now - this.#config.receiptDelayMs,
        );
        this.counters.receipts++;
        // Best effort: a device that misses its receipt asks again.
        await this.#publish(deviceTopic(serial, 'receipts'), encodePayload({ stored: toRanges(stored) }), 0).catch(
          () => undefined,
        );
        return;
      }
      case 'enrol':
        if (this.#enrol) await this.#enrol(serial, body, now);
        else this.counters.dropped++;
        return;
      default:
        this.counters.dropped++;
    }
  }
}
