/**
 * The cloud's own MQTT client: mutual TLS with the instance's service certificate, a persistent
 * session (clean = false, client id = its CN) so the broker keeps what is queued for it while it
 * restarts, and acknowledgements sent only after the handler has stored a batch: a message the
 * broker hands over is never acknowledged before it is durable, and many are made durable in
 * one commit. Reconnects with jittered exponential back-off.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { reconnectDelay } from '../channel/index.ts';
import * as mqtt from '../mqtt/index.ts';

/** A message the broker delivered. */
export type InboundPublish = Extract<mqtt.MqttInbound, { type: 'publish' }>;

/** Limits and timing of the service client. Times in ms. */
export interface ServiceMqttConfig {
  readonly keepaliveSeconds: number;
  readonly connectTimeoutMs: number;
  readonly maxPacketBytes: number;
  /** Messages handed to the handler at once, at most. */
  readonly maxBatch: number;
  /** Messages received but not yet acknowledged before reading pauses. */
  readonly maxUnacked: number;
  /** A QoS 1 publish with no PUBACK after this fails, ms. */
  readonly publishTimeoutMs: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  readonly reconnectJitter: number;
}

/** The defaults. */
export const defaultServiceMqttConfig: Readonly<ServiceMqttConfig> = Object.freeze({
  keepaliveSeconds: 30,
  connectTimeoutMs: 10_000,
  maxPacketBytes: 65_536,
  maxBatch: 2_000,
  maxUnacked: 20_000,
  publishTimeoutMs: 10_000,
  reconnectBaseMs: 200,
  reconnectMaxMs: 10_000,
  reconnectJitter: 0.5,
});

/** Options of {@link ServiceMqttClient}. */
export interface ServiceMqttOptions {
  /** `mqtts://host:port`. */
  readonly url: string;
  readonly caCertPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** The certificate's CN (brokers refuse or replace any other). */
  readonly clientId: string;
  readonly subscriptions: ReadonlyArray<{ filter: string; qos: 0 | 1 }>;
  /** Stores a batch; the messages are acknowledged when it resolves, redelivered when it rejects. */
  readonly onMessages: (batch: InboundPublish[]) => Promise<void>;
  /** Hears each connection to the broker; `sessionPresent` is true when the broker kept the session. */
  readonly onConnect?: (sessionPresent: boolean) => void;
  /** Hears each lost connection, with why (including a refused subscription or a failed store). */
  readonly onDisconnect?: (reason: string) => void;
  readonly config?: Partial<ServiceMqttConfig>;
}

interface PendingPublish {
  resolve(): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The client. `start()` connects and keeps reconnecting until `close()`.
 *
 * @example
 * const mqtt = new ServiceMqttClient({ url, caCertPem, certPem, keyPem, clientId: 'bulwark-cloud-1',
 *   subscriptions: [{ filter: 'devices/+/telemetry', qos: 1 }], onMessages: (batch) => store(batch) });
 * mqtt.start();
 */
export class ServiceMqttClient {
  readonly #o: ServiceMqttOptions;
  readonly #c: ServiceMqttConfig;
  readonly #target: { host: string; port: number };
  #socket: TLSSocket | undefined;
  #connected = false;
  #closed = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #lastReceived = 0;
  #nextId = 1;
  readonly #pending = new Map<number, PendingPublish>();
  #inbox: InboundPublish[] = [];
  #unacked = 0;
  #flushing = false;
  #paused = false;
  #generation = 0;
  #waiters: Array<() => void> = [];

  constructor(o: ServiceMqttOptions) {
    this.#o = o;
    this.#c = { ...defaultServiceMqttConfig, ...o.config };
    this.#target = mqtt.parseMqttsUrl(o.url);
  }

  /** True while a session is up. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Messages received and not yet handled, received and not yet acknowledged, and whether reading is paused. */
  stats(): { inbox: number; unacked: number; paused: boolean; flushing: boolean } {
    return { inbox: this.#inbox.length, unacked: this.#unacked, paused: this.#paused, flushing: this.#flushing };
  }

  /** Starts connecting. */
  start(): void {
    this.#connect();
  }

  /** Resolves when connected (or rejects after `timeoutMs`). */
  waitConnected(timeoutMs = 30_000): Promise<void> {
    if (this.#connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new mqtt.MqttConnectionError('MQTT_TIMEOUT', 'the broker did not accept the cloud in time')),
        timeoutMs,
      );
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Publishes; QoS 1 resolves on PUBACK. Fails at once when not connected (the caller decides what to do). */
  publish(topic: string, payload: Uint8Array, qos: 0 | 1): Promise<void> {
    const socket = this.#socket;
    if (!this.#connected || !socket)
      return Promise.reject(new mqtt.MqttConnectionError('MQTT_CLOSED', 'not connected to the broker'));
    if (qos === 0) {
      socket.write(mqtt.encodePublish(topic, payload, 0));
      return Promise.resolve();
    }
    if (this.#pending.size >= 60_000)
      return Promise.reject(new mqtt.MqttConnectionError('MQTT_BUSY', 'too many publishes in flight'));
    let id = this.#nextId;
    while (this.#pending.has(id)) id = id >= 65_535 ? 1 : id + 1;
    this.#nextId = id >= 65_535 ? 1 : id + 1;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new mqtt.MqttConnectionError('MQTT_TIMEOUT', 'no PUBACK in time'));
      }, this.#c.publishTimeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      socket.write(mqtt.encodePublish(topic, payload, 1, id));
    });
  }

  /** Disconnects cleanly and stops reconnecting; unacknowledged messages stay with the broker. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    const socket = this.#socket;
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        if (this.#connected) socket.end(mqtt.encodeDisconnect());
        else socket.destroy();
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 2_000).unref();
      });
    }
    this.#teardown('closed');
  }

  #connect(): void {
    if (this.#closed) return;
    const gen = ++this.#generation;
    const { host, port } = this.#target;
    const socket = tlsConnect({
      host,
      port,
      ...(isIP(host) ? {} : { servername: host }),
      ca: [this.#o.caCertPem],
      cert: this.#o.certPem,
      key: this.#o.keyPem,
      minVersion: 'TLSv1.3',
    });
    this.#socket = socket;
    const decoder = new mqtt.MqttDecoder(this.#c.maxPacketBytes);
    const timer = setTimeout(
      () => socket.destroy(new mqtt.MqttConnectionError('MQTT_TIMEOUT', 'no CONNACK in time')),
      this.#c.connectTimeoutMs,
    );
    socket.setNoDelay(true);
    socket.once('secureConnect', () => {
      socket.write(
        mqtt.encodeConnect({ clientId: this.#o.clientId, clean: false, keepaliveSeconds: this.#c.keepaliveSeconds }),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      if (gen !== this.#generation) return;
      this.#lastReceived = Date.now();
      let packets: mqtt.MqttInbound[];
      try {
        packets = decoder.push(chunk);
      } catch (err) {
        socket.destroy(err as Error);
        return;
      }
      for (const p of packets) if (!this.#onPacket(socket, p, timer)) return;
      if (this.#inbox.length > 0) this.#scheduleFlush();
      if (this.#unacked >= this.#c.maxUnacked && !this.#paused) {
        this.#paused = true;
        socket.pause();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      if (gen !== this.#generation) return;
      this.#teardown('connection lost');
      if (!this.#closed) {
        const delay = reconnectDelay(
          this.#attempt++,
          {
            reconnectBaseMs: this.#c.reconnectBaseMs,
            reconnectMaxMs: this.#c.reconnectMaxMs,
            reconnectJitter: this.#c.reconnectJitter,
          },
          Math.random(),
        );
        this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
      }
    });
  }

  /** Handles one packet from the broker; false when the connection was refused and is being closed. */
  #onPacket(socket: TLSSocket, p: mqtt.MqttInbound, timer: NodeJS.Timeout): boolean {
    if (p.type === 'connack') {
      clearTimeout(timer);
      if (p.returnCode !== 0) {
        const code = mqtt.CONNACK_CODES[p.returnCode] ?? p.returnCode;
        socket.destroy(new mqtt.MqttConnectionError('MQTT_REFUSED', `broker refused: ${code}`));
        return false;
      }
      this.#onConnack(socket, p.sessionPresent);
    } else if (p.type === 'publish') {
      this.#inbox.push(p);
      if (p.qos === 1) this.#unacked++;
    } else if (p.type === 'puback') {
      const pending = this.#pending.get(p.messageId);
      if (pending) {
        clearTimeout(pending.timer);
        this.#pending.delete(p.messageId);
        pending.resolve();
      }
    } else if (p.type === 'suback') {
      if (p.granted.some((g) => g === 0x80)) this.#o.onDisconnect?.('a subscription was refused by the broker');
    }
    return true;
  }

  #onConnack(socket: TLSSocket, sessionPresent: boolean): void {
    this.#connected = true;
    this.#attempt = 0;
    // Subscribing again on a present session is harmless and repairs a session the broker lost.
    socket.write(mqtt.encodeSubscribe(this.#allocId(), this.#o.subscriptions));
    const intervalMs = this.#c.keepaliveSeconds * 500;
    this.#pingTimer = setInterval(() => {
      if (Date.now() - this.#lastReceived > this.#c.keepaliveSeconds * 1_500) {
        socket.destroy(new mqtt.MqttConnectionError('MQTT_TIMEOUT', 'broker silent'));
        return;
      }
      socket.write(mqtt.encodePingreq());
    }, intervalMs);
    this.#pingTimer.unref();
    this.#o.onConnect?.(sessionPresent);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #allocId(): number {
    let id = this.#nextId;
    while (this.#pending.has(id)) id = id >= 65_535 ? 1 : id + 1;
    this.#nextId = id >= 65_535 ? 1 : id + 1;
    return id;
  }

  #scheduleFlush(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => {
      this.#flush().catch(() => undefined);
    });
  }

  async #flush(): Promise<void> {
    const gen = this.#generation;
    while (this.#inbox.length > 0 && gen === this.#generation) {
      const batch = this.#inbox.length <= this.#c.maxBatch ? this.#inbox : this.#inbox.slice(0, this.#c.maxBatch);
      this.#inbox = batch === this.#inbox ? [] : this.#inbox.slice(batch.length);
      try {
        await this.#o.onMessages(batch);
      } catch (err) {
        // Not stored: do not acknowledge; drop the connection so the broker redelivers.
        this.#o.onDisconnect?.(`store failed: ${(err as Error).message}`);
        this.#socket?.destroy();
        break;
      }
      const socket = this.#socket;
      if (gen !== this.#generation || !socket || socket.destroyed) break; // the broker will redeliver
      let acks = 0;
      socket.cork();
      for (const p of batch)
        if (p.qos === 1) {
          socket.write(mqtt.encodePuback(p.messageId));
          acks++;
        }
      socket.uncork();
      this.#unacked -= acks;
      if (this.#paused && this.#unacked < this.#c.maxUnacked / 2) {
        this.#paused = false;
        socket.resume();
      }
    }
    this.#flushing = false;
    // Whatever is in the inbox now arrived on the current connection (a teardown empties it).
    if (this.#inbox.length > 0) this.#scheduleFlush();
  }

  #teardown(reason: string): void {
    const was = this.#connected;
    this.#connected = false;
    clearInterval(this.#pingTimer);
    this.#inbox = [];
    this.#unacked = 0;
    this.#paused = false;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new mqtt.MqttConnectionError('MQTT_CLOSED', 'connection lost before PUBACK'));
    }
    this.#pending.clear();
    if (was) this.#o.onDisconnect?.(reason);
  }
}
