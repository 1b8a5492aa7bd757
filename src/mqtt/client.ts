/**
 * A small MQTT 3.1.1 client over mutual TLS, for a device: one connection, clean session, QoS 0
 * and 1, a will, keepalive pings. It does not reconnect and keeps nothing across connections:
 * the caller (src/cloudlink) owns back-off and its persistent outbox, so a publish whose PUBACK
 * has not come when the connection drops is reported failed and sent again from there.
 *
 * Why not mqtt.js: it loads about 140 modules (WebSocket, SOCKS, timers in workers, ...) and
 * took a connected plug's idle RSS from 60 to 87 MiB; this needs only node:tls and the codec.
 *
 * @example
 *   const client = connectMqtt({ host, port, ca, cert, key, clientId: serial, keepaliveSeconds: 60, connectTimeoutMs:
 * 15_000 });
 *   client.on('connect', () => client.publish('devices/X/state', payload, 1, (err) => ...));
 *   client.on('message', (topic, payload) => ...);
 *   client.on('close', () => ...);   // always once, after 'connect' or after a failed attempt
 */
import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import {
  MqttDecoder,
  encodeConnect,
  encodePublish,
  encodePuback,
  encodeSubscribe,
  encodePingreq,
  encodeDisconnect,
  CONNACK_CODES,
  type MqttInbound,
} from './codec.ts';
import { MqttConnectionError } from './errors.ts';

/**
 * Parses `mqtts://host:port` (only mqtts: neither the cloud nor a device speaks plain MQTT); IPv6
 * brackets are removed, the port defaults to 8883.
 */
export function parseMqttsUrl(url: string): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MqttConnectionError('MQTT_URL_INVALID', 'broker URL must be mqtts://host:port');
  }
  if (u.protocol !== 'mqtts:' || !u.hostname || u.username || u.password || (u.pathname !== '' && u.pathname !== '/')) {
    throw new MqttConnectionError('MQTT_URL_INVALID', 'broker URL must be mqtts://host:port');
  }
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 8883 };
}

/** Where and who: TLS settings are passed to tls.connect as they are. */
export interface MqttClientOptions {
  readonly host: string;
  readonly port: number;
  /** The only trusted CA(s): replaces the system store. */
  readonly ca: string | readonly string[];
  readonly cert: string;
  readonly key: string;
  readonly clientId: string;
  /** Seconds; 0 turns keepalive off. */
  readonly keepaliveSeconds: number;
  readonly connectTimeoutMs: number;
  /** Largest packet accepted from the broker, bytes. */
  readonly maxPacketBytes?: number;
  /** Most publishes waiting for a PUBACK at once; more are refused with MQTT_BUSY. */
  readonly maxInFlight?: number;
  readonly will?: {
    readonly topic: string;
    readonly payload: Uint8Array;
    readonly qos: 0 | 1;
    readonly retain?: boolean;
  };
  /**
   * Verifies the broker's certificate instead of OpenSSL, before anything is written; throws to refuse.
   * Only for a unit whose wall clock is below its clock floor (docs/clock.md), where OpenSSL would judge
   * every certificate not yet valid: the caller checks the chain, the name and validity at the floor.
   */
  readonly verifyPeer?: (peer: X509Certificate | undefined) => void;
}

/** Called when a publish is acknowledged (QoS 1), written (QoS 0), or failed. */
export type PublishCallback = (err?: Error) => void;

interface Events {
  connect: [];
  message: [topic: string, payload: Buffer];
  error: [err: Error];
  close: [];
}

/** One MQTT connection; see {@link connectMqtt}. */
export class MqttClient extends EventEmitter<Events> {
  readonly #o: MqttClientOptions;
  readonly #decoder: MqttDecoder;
  readonly #pending = new Map<number, PublishCallback>();
  readonly #subscribing = new Map<number, PublishCallback>();
  #socket: TLSSocket | undefined;
  #connected = false;
  #closed = false;
  #nextId = 1;
  #lastReceived = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: MqttClientOptions) {
    super();
    this.#o = options;
    this.#decoder = new MqttDecoder(options.maxPacketBytes ?? 65_536);
  }

  /** True between CONNACK and the close. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Opens the TLS connection and sends CONNECT (called once, by connectMqtt). */
  start(): void {
    const tls = process.getBuiltinModule('node:tls');
    const o = this.#o;
    const socket = tls.connect({
      host: o.host,
      port: o.port,
      ...(isIP(o.host) ? {} : { servername: o.host }),
      ca: typeof o.ca === 'string' ? o.ca : [...o.ca],
      cert: o.cert,
      key: o.key,
      // With verifyPeer the verdict is the caller's, given on the handshake below before CONNECT is written.
      rejectUnauthorized: o.verifyPeer === undefined,
      minVersion: 'TLSv1.3',
    });
    this.#socket = socket;
    socket.setNoDelay(true);
    this.#timer = setTimeout(
      () => this.#fail(new MqttConnectionError('MQTT_TIMEOUT', 'no CONNACK in time')),
      o.connectTimeoutMs,
    );
    socket.once('secureConnect', () => {
      try {
        o.verifyPeer?.(socket.getPeerX509Certificate());
      } catch (err) {
        this.#fail(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      socket.write(
        encodeConnect({
          clientId: o.clientId,
          clean: true,
          keepaliveSeconds: o.keepaliveSeconds,
          ...(o.will ? { will: o.will } : {}),
        }),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      let packets: MqttInbound[];
      try {
        packets = this.#decoder.push(chunk);
      } catch (err) {
        this.#fail(err as Error);
        return;
      }
      this.#lastReceived = Date.now();
      for (const p of packets) this.#handle(p);
    });
    socket.on('error', (err: Error) => this.#fail(err));
    socket.on('close', () => this.#finish());
  }

  /** Publishes `payload` on `topic`; `done` runs on the PUBACK (QoS 1), once written (QoS 0), or with the error. */
  publish(topic: string, payload: Uint8Array, qos: 0 | 1, done: PublishCallback = () => undefined): void {
    const socket = this.#socket;
    // Callbacks never run before publish returns, nor before pending I/O: a caller that publishes again from one must
    // neither recurse nor spin.
    if (!this.#connected || !socket) {
      setImmediate(done, new MqttConnectionError('MQTT_CLOSED', 'not connected'));
      return;
    }
    if (qos === 0) {
      socket.write(encodePublish(topic, payload, 0), (err) => done(err ?? undefined));
      return;
    }
    if (this.#pending.size >= (this.#o.maxInFlight ?? 1_000)) {
      setImmediate(done, new MqttConnectionError('MQTT_BUSY', 'too many publishes waiting for PUBACK'));
      return;
    }
    const id = this.#takeId();
    this.#pending.set(id, done);
    socket.write(encodePublish(topic, payload, 1, id));
  }

  /** Subscribes to `filters`; `done` runs on the SUBACK (with an error if the broker refused any of them). */
  subscribe(filters: readonly string[], qos: 0 | 1, done: PublishCallback = () => undefined): void {
    const socket = this.#socket;
    if (!this.#connected || !socket) {
      setImmediate(done, new MqttConnectionError('MQTT_CLOSED', 'not connected'));
      return;
    }
    const id = this.#takeId();
    this.#subscribing.set(id, done);
    socket.write(
      encodeSubscribe(
        id,
        filters.map((filter) => ({ filter, qos })),
      ),
    );
  }

  /** Sends DISCONNECT (the broker drops the will) and closes; `force` closes at once without it. */
  end(force = false, done: () => void = () => undefined): void {
    const socket = this.#socket;
    if (!socket || socket.destroyed) {
      done();
      return;
    }
    socket.once('close', () => done());
    if (force || !this.#connected) {
      socket.destroy();
      return;
    }
    socket.end(encodeDisconnect());
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  #takeId(): number {
    // Ids in use are skipped: at most maxInFlight + a few subscriptions are ever outstanding.
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id === 65_535 ? 1 : id + 1;
      if (!this.#pending.has(id) && !this.#subscribing.has(id)) return id;
    }
  }

  #handle(p: MqttInbound): void {
    const socket = this.#socket!;
    switch (p.type) {
      case 'connack': {
        if (this.#connected) {
          this.#fail(new MqttConnectionError('MQTT_REFUSED', 'a second CONNACK'));
          return;
        }
        if (p.returnCode !== 0) {
          this.#fail(
            new MqttConnectionError(
              'MQTT_REFUSED',
              `broker refused: ${CONNACK_CODES[p.returnCode] ?? `code ${p.returnCode}`}`,
            ),
          );
          return;
        }
        clearTimeout(this.#timer);
        this.#connected = true;
        this.#startKeepalive();
        this.emit('connect');
        return;
      }
      case 'publish': {
        if (!this.#connected) {
          this.#fail(new MqttConnectionError('MQTT_REFUSED', 'PUBLISH before CONNACK'));
          return;
        }
        // Acknowledged after the handler ran, as mqtt.js does: the handler records what it must keep.
        try {
          this.emit('message', p.topic, p.payload);
        } finally {
          if (p.qos === 1 && !socket.destroyed) socket.write(encodePuback(p.messageId));
        }
        return;
      }
      case 'puback': {
        const done = this.#pending.get(p.messageId);
        if (!done) return; // a late or duplicate PUBACK
        this.#pending.delete(p.messageId);
        done();
        return;
      }
      case 'suback': {
        const done = this.#subscribing.get(p.messageId);
        if (!done) return;
        this.#subscribing.delete(p.messageId);
        done(
          p.granted.includes(0x80)
            ? new MqttConnectionError('MQTT_REFUSED', 'the broker refused a subscription')
            : undefined,
        );
        return;
      }
      case 'unsuback':
      case 'pingresp':
        return;
    }
  }

  #startKeepalive(): void {
    const seconds = this.#o.keepaliveSeconds;
    if (seconds <= 0) return;
    this.#lastReceived = Date.now();
    this.#timer = setInterval(() => {
      // No packet from the broker for 1.5 keepalive periods: the connection is dead.
      if (Date.now() - this.#lastReceived > seconds * 1_500) {
        this.#fail(new MqttConnectionError('MQTT_TIMEOUT', 'the broker stopped answering'));
        return;
      }
      this.#socket?.write(encodePingreq());
    }, seconds * 1_000);
    this.#timer.unref();
  }

  #fail(err: Error): void {
    if (this.#closed) return;
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.#socket?.destroy();
    this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#connected = false;
    clearTimeout(this.#timer);
    clearInterval(this.#timer);
    // 'close' first, so a caller that publishes again from a failed publish's callback already knows.
    const waiting = [...this.#pending.values(), ...this.#subscribing.values()];
    this.#pending.clear();
    this.#subscribing.clear();
    this.emit('close');
    const closed = new MqttConnectionError('MQTT_CLOSED', 'the connection closed');
    for (const done of waiting) done(closed);
  }
}

/** Connects to a broker; listen for 'connect', 'message', 'error' and 'close' (once). */
export function connectMqtt(options: MqttClientOptions): MqttClient {
  const client = new MqttClient(options);
  client.start();
  return client;
}
