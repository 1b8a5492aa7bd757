/**
 * A small MQTT 3.1.1 codec for the client side: the packets a client sends, and a streaming
 * decoder for what a broker sends back. Pure: bytes in, packets out. The cloud's own subscriber
 * uses it because it must acknowledge a message only after the message is stored, in batches;
 * the device's cloud link (through client.ts) and the benchmark's simulated devices use it to
 * stay small.
 */
import { MqttProtocolError } from './errors.ts';

/** A packet a client receives. */
export type MqttInbound =
  | { readonly type: 'connack'; readonly sessionPresent: boolean; readonly returnCode: number }
  | {
      readonly type: 'publish';
      readonly topic: string;
      readonly payload: Buffer;
      readonly qos: 0 | 1;
      readonly messageId: number;
      readonly dup: boolean;
      readonly retain: boolean;
    }
  | { readonly type: 'puback'; readonly messageId: number }
  | { readonly type: 'suback'; readonly messageId: number; readonly granted: readonly number[] }
  | { readonly type: 'unsuback'; readonly messageId: number }
  | { readonly type: 'pingresp' };

/** What CONNECT carries. */
export interface ConnectOptions {
  readonly clientId: string;
  readonly clean: boolean;
  /** Seconds; 0 turns keepalive off. */
  readonly keepaliveSeconds: number;
  readonly will?: {
    readonly topic: string;
    readonly payload: Uint8Array;
    readonly qos: 0 | 1;
    readonly retain?: boolean;
  };
}

/** CONNACK return codes of MQTT 3.1.1, by value. */
export const CONNACK_CODES: readonly string[] = [
  'accepted',
  'unacceptable protocol version',
  'identifier rejected',
  'server unavailable',
  'bad user name or password',
  'not authorized',
];

const MAX_REMAINING = 268_435_455;

function remainingLength(n: number): Buffer {
  if (n > MAX_REMAINING) throw new MqttProtocolError('MQTT_TOO_LARGE', 'packet too large');
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length > 65_535) throw new MqttProtocolError('MQTT_TOO_LARGE', 'string too long');
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

function packet(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first]), remainingLength(body.length), body]);
}

function checkId(messageId: number): void {
  if (!Number.isInteger(messageId) || messageId < 1 || messageId > 65_535)
    throw new MqttProtocolError('MQTT_MALFORMED', 'message id out of range');
}

/** CONNECT, protocol level 4 (MQTT 3.1.1), no user name or password: the certificate is the identity. */
export function encodeConnect(o: ConnectOptions): Buffer {
  let flags = o.clean ? 0x02 : 0;
  const parts = [str('MQTT'), Buffer.from([4]), Buffer.alloc(1), Buffer.alloc(2), str(o.clientId)];
  parts[3]!.writeUInt16BE(o.keepaliveSeconds, 0);
  if (o.will) {
    flags |= 0x04 | (o.will.qos << 3) | (o.will.retain ? 0x20 : 0);
    const payload = Buffer.from(o.will.payload);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(payload.length, 0);
    parts.push(str(o.will.topic), len, payload);
  }
  parts[2]![0] = flags;
  return packet(0x10, Buffer.concat(parts));
}

/** PUBLISH at QoS 0 or 1 (`messageId` required for QoS 1). */
export function encodePublish(topic: string, payload: Uint8Array, qos: 0 | 1, messageId = 0, dup = false): Buffer {
  const t = str(topic);
  const idLen = qos > 0 ? 2 : 0;
  const bodyLen = t.length + idLen + payload.length;
  const rl = remainingLength(bodyLen);
  const out = Buffer.allocUnsafe(1 + rl.length + bodyLen);
  out[0] = 0x30 | (qos << 1) | (dup ? 0x08 : 0);
  rl.copy(out, 1);
  let off = 1 + rl.length;
  t.copy(out, off);
  off += t.length;
  if (qos > 0) {
    checkId(messageId);
    out.writeUInt16BE(messageId, off);
    off += 2;
  }
  out.set(payload, off);
  return out;
}

/** PUBACK for `messageId`. */
export function encodePuback(messageId: number): Buffer {
  checkId(messageId);
  return Buffer.from([0x40, 2, messageId >> 8, messageId & 0xff]);
}

/** SUBSCRIBE to `filters`, each at its QoS. */
export function encodeSubscribe(messageId: number, filters: ReadonlyArray<{ filter: string; qos: 0 | 1 }>): Buffer {
  checkId(messageId);
  if (filters.length === 0) throw new MqttProtocolError('MQTT_MALFORMED', 'SUBSCRIBE needs a filter');
  const id = Buffer.from([messageId >> 8, messageId & 0xff]);
  return packet(0x82, Buffer.concat([id, ...filters.flatMap((f) => [str(f.filter), Buffer.from([f.qos])])]));
}

/** PINGREQ. */
export function encodePingreq(): Buffer {
  return Buffer.from([0xc0, 0]);
}

/** DISCONNECT. */
export function encodeDisconnect(): Buffer {
  return Buffer.from([0xe0, 0]);
}

/**
 * A streaming decoder of broker-to-client packets. `push` takes bytes as they arrive and
 * returns the whole packets they complete; a packet over `maxPacketBytes`, an unknown type or
 * a malformed body throws MqttProtocolError, after which the connection must be closed.
 *
 * @example
 * const decoder = new MqttDecoder(65_536);
 * socket.on('data', (chunk) => { for (const p of decoder.push(chunk)) handle(p); });
 */
export class MqttDecoder {
  readonly #max: number;
  #buf: Buffer = Buffer.alloc(0);
  #failed = false;

  constructor(maxPacketBytes: number) {
    this.#max = maxPacketBytes;
  }

  /** Bytes held waiting for the rest of a packet. */
  get buffered(): number {
    return this.#buf.length;
  }

  /** Adds `chunk` and returns every packet now complete. */
  push(chunk: Buffer): MqttInbound[] {
    if (this.#failed) throw new MqttProtocolError('MQTT_MALFORMED', 'decoder used after an error');
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: MqttInbound[] = [];
    try {
      let off = 0;
      const buf = this.#buf;
      while (buf.length - off >= 2) {
        let len = 0,
          mult = 1,
          i = off + 1,
          done = false;
        for (let n = 0; n < 4 && i < buf.length; n++, i++) {
          const b = buf[i]!;
          len += (b & 0x7f) * mult;
          mult *= 128;
          if ((b & 0x80) === 0) {
            done = true;
            i++;
            break;
          }
          if (n === 3) throw new MqttProtocolError('MQTT_MALFORMED', 'remaining length over 4 bytes');
        }
        if (!done) break;
        if (len + (i - off) > this.#max)
          throw new MqttProtocolError('MQTT_TOO_LARGE', `packet over ${this.#max} bytes`);
        if (buf.length - i < len) break;
        out.push(decodeBody(buf[off]!, buf.subarray(i, i + len)));
        off = i + len;
      }
      this.#buf = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
      // Keep no reference into a large chunk for a small remainder.
      if (this.#buf.length > 0 && this.#buf.length < buf.length / 2) this.#buf = Buffer.from(this.#buf);
    } catch (err) {
      this.#failed = true;
      this.#buf = Buffer.alloc(0);
      throw err;
    }
    return out;
  }
}

function malformed(what: string): never {
  throw new MqttProtocolError('MQTT_MALFORMED', what);
}

function u16(body: Buffer, off: number): number {
  if (off + 2 > body.length) malformed('truncated packet');
  return body.readUInt16BE(off);
}

function decodeBody(first: number, body: Buffer): MqttInbound {
  const type = first >> 4;
  const flags = first & 0x0f;
  switch (type) {
    case 2: {
      if (flags !== 0 || body.length !== 2 || (body[0]! & 0xfe) !== 0) malformed('bad CONNACK');
      return { type: 'connack', sessionPresent: (body[0]! & 1) === 1, returnCode: body[1]! };
    }
    case 3: {
      const qos = (flags >> 1) & 3;
      if (qos > 1) malformed('QoS 2 is not used by this client');
      const topicLen = u16(body, 0);
      if (2 + topicLen > body.length) malformed('truncated topic');
      const topicBytes = body.subarray(2, 2 + topicLen);
      const topic = topicBytes.toString('utf8');
      if (topicLen === 0 || !topic.isWellFormed() || topic.includes('\uFFFD') || /[+#\0]/.test(topic))
        malformed('bad topic');
      let off = 2 + topicLen;
      let messageId = 0;
      if (qos > 0) {
        messageId = u16(body, off);
        off += 2;
        if (messageId === 0) malformed('message id 0');
      }
      return {
        type: 'publish',
        topic,
        payload: body.subarray(off),
        qos: qos as 0 | 1,
        messageId,
        dup: (flags & 8) !== 0,
        retain: (flags & 1) !== 0,
      };
    }
    case 4: {
      if (flags !== 0 || body.length !== 2) malformed('bad PUBACK');
      return { type: 'puback', messageId: u16(body, 0) };
    }
    case 9: {
      if (flags !== 0 || body.length < 3) malformed('bad SUBACK');
      const granted = [...body.subarray(2)];
      if (granted.some((g) => g > 2 && g !== 0x80)) malformed('bad SUBACK code');
      return { type: 'suback', messageId: u16(body, 0), granted };
    }
    case 11: {
      if (flags !== 0 || body.length !== 2) malformed('bad UNSUBACK');
      return { type: 'unsuback', messageId: u16(body, 0) };
    }
    case 13: {
      if (flags !== 0 || body.length !== 0) malformed('bad PINGRESP');
      return { type: 'pingresp' };
    }
    default:
      return malformed(`unexpected packet type ${type}`);
  }
}
