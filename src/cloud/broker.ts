/**
 * The embedded MQTT broker: aedes behind a node:tls server that accepts TLS 1.3 only, requires a
 * client certificate from the manufacturer CA, and takes the identity from the certificate alone:
 *
 * - the MQTT client id must equal the certificate's CN (CONNACK 2 otherwise, before aedes looks
 *   for a session of that id, so a device cannot knock another offline);
 * - PUBLISH outside the identity's topics closes the connection; SUBSCRIBE outside them is
 *   answered with the SUBACK failure code 0x80; nothing is forwarded to a client that its rule
 *   would not let it subscribe to (src/cloudprotocol's topics.ts states the rule once).
 */
import {
  createServer as createTlsServer,
  type SecureContextOptions,
  type Server as TlsServer,
  type TLSSocket,
} from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  Aedes,
  type AuthenticateError,
  type Client,
  type AedesPublishPacket,
  type PublishPacket,
  type Subscription,
} from 'aedes';
import {
  identityFromCommonName,
  enrolmentIdentity,
  ENROLMENT_KINDS,
  mayPublish,
  maySubscribe,
  parseDeviceTopic,
  UP_KINDS,
  DOWN_KINDS,
  type MqttIdentity,
} from '../cloudprotocol/index.ts';
import { CloudConfigError } from './errors.ts';
import { createIndexedPersistence } from './broker-persistence.ts';
import { createBrokerQueue } from './broker-queue.ts';
import { guardServer, type Admission, type AdmissionRecord } from '../admission/index.ts';
import { BrokerConnectionJournal, explainGuardRecord, quoteClientId } from './broker-connections.ts';

/** Limits of the embedded broker. Times in milliseconds, sizes in bytes. */
export interface EmbeddedBrokerConfig {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Most simultaneous connections, handshaking ones included. */
  readonly maxConnections: number;
  /**
   * Most connections one source may hold before its certificate is verified. Devices behind one
   * NAT share an address, so verified connections are not capped per source; unverified ones are.
   */
  readonly maxPendingPerSource: number;
  /** A TLS handshake must finish within this, ms. */
  readonly handshakeTimeoutMs: number;
  /** CONNECT must arrive within this after the handshake, ms. */
  readonly connectTimeoutMs: number;
  /** Largest MQTT packet a client may send, bytes. */
  readonly maxPacketBytes: number;
  /** Longest keepalive a client may ask for, seconds. */
  readonly maxKeepaliveSeconds: number;
  /** A client that does not read its messages for this long is disconnected, ms. */
  readonly drainTimeoutMs: number;
  /** Messages dispatched to subscribers at once. */
  readonly deliveryConcurrency: number;
  /** Messages being dispatched or waiting for it before publishers are held back (their PUBACKs wait). */
  readonly maxQueuedMessages: number;
  /**
   * What a unit's birth certificate (issued by the manufacturer CA) may do: 'enrolment', the default
   * (only ask for an operational certificate; units enrol by default), or 'full' (everything, as before
   * operational certificates: set it explicitly only for units whose software does not enrol yet).
   */
  readonly birthCertificates: 'enrolment' | 'full';
}

/** The secure default. */
export const defaultEmbeddedBrokerConfig: Readonly<EmbeddedBrokerConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 8883,
  maxConnections: 20_000,
  maxPendingPerSource: 256,
  handshakeTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  maxPacketBytes: 8_192,
  maxKeepaliveSeconds: 600,
  drainTimeoutMs: 60_000,
  deliveryConcurrency: 20_000,
  maxQueuedMessages: 20_000,
  birthCertificates: 'enrolment',
});

function int(c: Record<string, unknown>, key: string, min: number, max: number): void {
  const v = c[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new CloudConfigError(key, `must be an integer from ${min} to ${max}`);
  }
}

/** Validates a (partial) broker config against the defaults. */
export function validateEmbeddedBrokerConfig(config: Partial<EmbeddedBrokerConfig> = {}): EmbeddedBrokerConfig {
  const c = { ...defaultEmbeddedBrokerConfig, ...config };
  if (typeof c.host !== 'string' || c.host.length === 0) throw new CloudConfigError('host', 'required');
  int(c, 'port', 0, 65_535);
  int(c, 'maxConnections', 1, 1_000_000);
  int(c, 'maxPendingPerSource', 1, Math.max(1, Math.floor(c.maxConnections / 2)));
  int(c, 'handshakeTimeoutMs', 100, 120_000);
  int(c, 'connectTimeoutMs', 100, 120_000);
  int(c, 'maxPacketBytes', 256, 1_048_576);
  int(c, 'maxKeepaliveSeconds', 10, 65_535);
  int(c, 'drainTimeoutMs', 1_000, 600_000);
  int(c, 'deliveryConcurrency', 1, 100_000);
  int(c, 'maxQueuedMessages', 100, 10_000_000);
  if (c.birthCertificates !== 'enrolment' && c.birthCertificates !== 'full')
    throw new CloudConfigError('birthCertificates', "must be 'enrolment' or 'full'");
  return Object.freeze(c);
}

/** Why a connection was refused or closed, for counters and logs (never with key material). */
export type BrokerRefusal =
  | 'tls'
  | 'connection'
  | 'unknown-identity'
  | 'client-id-mismatch'
  | 'publish-denied'
  | 'subscribe-denied'
  | 'packet-too-large'
  | 'revoked';

/** Options of {@link startEmbeddedBroker}. */
export interface EmbeddedBrokerOptions {
  /** The manufacturer CA: the issuer of the units' birth certificates (and of the cloud's own). */
  readonly caCertPem: string;
  /** The cloud's issuing CAs, whose operational certificates are trusted beside the birth ones. */
  readonly issuingCaPems?: readonly string[];
  /** The broker's server certificate and key (issued by the same CA, so devices trust it). */
  readonly certPem: string;
  readonly keyPem: string;
  readonly config?: Partial<EmbeddedBrokerConfig>;
  /** Hears every refusal (counts them; logs are rate-limited by the caller). */
  readonly onRefusal?: (reason: BrokerRefusal, detail: string) => void;
  /**
   * Hears every connection attempt with its source as captured at accept: accepted (with the
   * client id), refused (with the reason) or failed.
   */
  readonly onConnectionRecord?: (record: AdmissionRecord) => void;
  /**
   * Says why a verified client certificate (its CN and 'sha256:<hex>' fingerprint) is revoked, or
   * undefined when it is not. Asked at every connection and by {@link EmbeddedBroker.disconnectRevoked}.
   */
  readonly revoked?: (cn: string | undefined, fingerprint: string) => string | undefined;
  /** Hears every connection closed because its certificate was revoked. */
  readonly onRevokedDisconnect?: (closed: RevokedDisconnect) => void;
  /** Hears every session takeover: an identity connecting while a connection of it is open. */
  readonly onTakeover?: (takeover: SessionTakeover) => void;
}

/** A connection that took over the session of its identity from another. */
export interface SessionTakeover {
  readonly clientId: string;
  /** 'address:port' of the new connection and of the one it displaces. */
  readonly source: string;
  readonly previousSource: string;
  /** Whether the displaced connection was still open (a dead one is a device reconnecting). */
  readonly previousAlive: boolean;
}

/** A connection the broker closed because its certificate was revoked. */
export interface RevokedDisconnect {
  /** 'address:port' as captured at accept. */
  readonly source: string;
  readonly clientId: string;
  readonly reason: string;
}

/** A running embedded broker. */
export interface EmbeddedBroker {
  readonly port: number;
  readonly url: string;
  readonly aedes: Aedes;
  readonly server: TlsServer;
  /** Connected MQTT clients. */
  connectedClients(): number;
  /** Messages waiting for dispatch, and publishers held back because of them. */
  backlog(): { queued: number; held: number };
  /** Trusts these issuing CAs (with the manufacturer CA) for new connections, without a restart. */
  trustIssuingCas(pems: readonly string[]): void;
  /** Closes every connection whose certificate the `revoked` option now names; returns what it closed. */
  disconnectRevoked(): RevokedDisconnect[];
  /** Stops accepting connections and closes the server and aedes. */
  close(): Promise<void>;
}

interface IdentifiedSocket extends TLSSocket {
  bulwarkIdentity?: MqttIdentity;
  bulwarkCn?: string;
  /** 'sha256:<hex>' of the verified client certificate. */
  bulwarkFingerprint?: string;
}

function identityOf(client: Client | null): MqttIdentity | undefined {
  return (client?.conn as IdentifiedSocket | undefined)?.bulwarkIdentity;
}

/** True when a client with identity `who` may receive a message on `topic`. */
function mayReceive(who: MqttIdentity, topic: string): boolean {
  const t = parseDeviceTopic(topic);
  if (!t) return false;
  if (who.kind === 'device') return t.serial === who.serial && (DOWN_KINDS as readonly string[]).includes(t.kind);
  if (who.kind === 'enrolment') return t.serial === who.serial && t.kind === ENROLMENT_KINDS.down;
  return (UP_KINDS as readonly string[]).includes(t.kind);
}

/** What the aedes hooks share: the limits, the delivery queue, and where refusals go. */
interface BrokerContext {
  readonly config: EmbeddedBrokerConfig;
  readonly queue: ReturnType<typeof createBrokerQueue>;
  readonly refuse: (reason: BrokerRefusal, detail: string) => void;
  readonly connections: () => BrokerConnectionJournal | undefined;
  readonly revoked: (cn: string | undefined, fingerprint: string) => string | undefined;
  readonly onTakeover: EmbeddedBrokerOptions['onTakeover'];
  readonly onRevokedDisconnect: EmbeddedBrokerOptions['onRevokedDisconnect'];
  /** 'address:port' of a socket as captured at accept. */
  readonly sourceOf: (socket: TLSSocket) => string;
  /** The manufacturer CA, which issues birth certificates. */
  readonly manufacturerCa: X509Certificate;
}

function nameOf(who: MqttIdentity | undefined): string {
  if (!who) return '?';
  return who.kind === 'service' ? who.name : who.serial;
}

function authenticateClient(
  ctx: BrokerContext,
  aedes: Aedes,
  client: Client,
  done: (err: AuthenticateError | null, ok: boolean | null) => void,
): void {
  const socket = client.conn as IdentifiedSocket;
  if (!socket.bulwarkIdentity) {
    ctx.refuse('unknown-identity', socket.bulwarkCn ?? '(none)');
    ctx
      .connections()
      ?.refused(socket, `certificate CN ${quoteClientId(socket.bulwarkCn ?? '')} is not a device or service identity`);
    done(Object.assign(new Error('not authorized'), { returnCode: 5 }), false);
    return;
  }
  // The certificate is the identity: a client id other than its CN is refused before aedes
  // looks up (and would take over) the session of that id.
  if (client.id !== socket.bulwarkCn) {
    ctx.refuse('client-id-mismatch', `${socket.bulwarkCn} asked for ${String(client.id).slice(0, 64)}`);
    ctx
      .connections()
      ?.refused(
        socket,
        `client id ${quoteClientId(client.id)} is not the certificate CN ${quoteClientId(socket.bulwarkCn ?? '')}`,
      );
    done(Object.assign(new Error('identifier rejected'), { returnCode: 2 }), false);
    return;
  }
  noteTakeover(ctx, aedes, client, socket);
  done(null, true);
}

/**
 * A second connection of an identity already connected takes its session over (aedes closes the
 * first). One takeover is a device that reconnected before the broker saw its old connection die;
 * two processes holding one identity take it from each other on every reconnect. Told to
 * `onTakeover`, which counts them (clone detection).
 */
function noteTakeover(ctx: BrokerContext, aedes: Aedes, client: Client, socket: IdentifiedSocket): void {
  const previous = clientsOf(aedes)[client.id]?.conn as IdentifiedSocket | undefined;
  if (!previous || previous === socket || !ctx.onTakeover) return;
  ctx.onTakeover({
    clientId: client.id,
    source: ctx.sourceOf(socket),
    previousSource: ctx.sourceOf(previous),
    previousAlive: !previous.destroyed,
  });
}

/** aedes's connected clients by id (untyped in its declarations). */
function clientsOf(aedes: Aedes): Record<string, Client> {
  return (aedes as unknown as { clients: Record<string, Client> }).clients;
}

function authorizeClientPublish(
  ctx: BrokerContext,
  client: Client | null,
  packet: PublishPacket,
  done: (err?: Error | null) => void,
): void {
  const who = identityOf(client);
  if (!who || !mayPublish(who, packet.topic)) {
    ctx.refuse('publish-denied', `${nameOf(who)} -> ${packet.topic.slice(0, 80)}`);
    done(new Error('publish not authorized'));
    return;
  }
  if (packet.retain) packet.retain = false; // nothing is retained: state lives in the cloud's store
  // A backlog holds the publisher back (its PUBACK and its next packets wait) rather than growing.
  ctx.queue.whenRoom(() => done(null));
}

function authorizeClientSubscribe(
  ctx: BrokerContext,
  client: Client | null,
  sub: Subscription,
  done: (err: Error | null, sub?: Subscription | null) => void,
): void {
  const who = identityOf(client);
  if (!who || !maySubscribe(who, sub.topic)) {
    ctx.refuse('subscribe-denied', `${nameOf(who)} -> ${sub.topic.slice(0, 80)}`);
    done(null, null); // SUBACK 0x80
    return;
  }
  done(null, sub.qos > 1 ? { ...sub, qos: 1 } : sub);
}

function createBrokerAedes(ctx: BrokerContext): Aedes {
  const { config } = ctx;
  const aedes = new Aedes({
    mq: ctx.queue.mq,
    persistence: createIndexedPersistence(),
    connectTimeout: config.connectTimeoutMs,
    keepaliveLimit: config.maxKeepaliveSeconds,
    drainTimeout: config.drainTimeoutMs,
    heartbeatInterval: 60_000,
    maxClientsIdLength: 64,
    authenticate: (client, _username, _password, done) => authenticateClient(ctx, aedes, client, done),
    authorizePublish: (client, packet: PublishPacket, done) => authorizeClientPublish(ctx, client, packet, done),
    authorizeSubscribe: (client, sub: Subscription, done) => authorizeClientSubscribe(ctx, client, sub, done),
    authorizeForward(client, packet: AedesPublishPacket) {
      const who = identityOf(client);
      return who && mayReceive(who, packet.topic) ? packet : null;
    },
  });
  aedes.on('client', (client) => {
    const socket = client.conn as IdentifiedSocket;
    ctx.connections()?.accepted(socket, client.id);
    // A revocation made between this client's handshake and its registration found it in no list: close it now.
    const reason = socket.bulwarkFingerprint ? ctx.revoked(socket.bulwarkCn, socket.bulwarkFingerprint) : undefined;
    if (reason !== undefined) closeRevoked(ctx, client, socket, reason);
  });
  return aedes;
}

/** The TLS context: the broker's key and certificate, TLS 1.3, and the CAs whose client certificates it accepts. */
function brokerContext(o: EmbeddedBrokerOptions, issuingCaPems: readonly string[]): SecureContextOptions {
  return { key: o.keyPem, cert: o.certPem, ca: [o.caCertPem, ...issuingCaPems], minVersion: 'TLSv1.3' };
}

function createBrokerServer(o: EmbeddedBrokerOptions, config: EmbeddedBrokerConfig): TlsServer {
  const server = createTlsServer({
    ...brokerContext(o, o.issuingCaPems ?? []),
    requestCert: true,
    rejectUnauthorized: true,
    handshakeTimeout: config.handshakeTimeoutMs,
    // Devices reconnect often; resumption spares them (and us) a full handshake.
    sessionTimeout: 3_600,
  });
  // The admission guard enforces the cap fairly; the kernel-side ceiling only backs it up.
  server.maxConnections = 2 * config.maxConnections + 16;
  return server;
}

function guardBrokerServer(server: TlsServer, o: EmbeddedBrokerOptions, ctx: BrokerContext): Admission {
  const { config } = ctx;
  return guardServer(server, {
    establishOn: 'secure',
    recordEstablished: false,
    // Only refusals and failures reach here (sourced at accept, flood-summarised per source);
    // what the CONNECT decides is recorded by BrokerConnectionJournal.
    record: (r) => {
      const explained = explainGuardRecord(r);
      o.onConnectionRecord?.(explained);
      ctx.refuse(r.event === 'tls-error' ? 'tls' : 'connection', `${r.source} ${r.event}: ${explained.detail ?? ''}`);
    },
    config: {
      maxConnections: config.maxConnections,
      maxConnectionsPerSource: config.maxConnections,
      maxPendingPerSource: config.maxPendingPerSource,
      pendingDeadlineMs: config.handshakeTimeoutMs,
    },
  });
}

type ParsedClient = Client & { _parser?: { parse(buf: Buffer): number; packet?: { length: number } } };

function takeVerifiedSocket(ctx: BrokerContext, aedes: Aedes, socket: IdentifiedSocket): void {
  socket.setNoDelay(true);
  // Keep the CN from the verified chain; the client's CONNECT must name the same.
  const peer = socket.getPeerCertificate();
  const cn = peer.subject?.CN;
  const cnText = Array.isArray(cn) ? undefined : cn;
  const fingerprint =
    'sha256:' +
    String(peer.fingerprint256 ?? '')
      .replace(/:/g, '')
      .toLowerCase();
  const revocation = ctx.revoked(cnText, fingerprint);
  if (revocation !== undefined) {
    ctx.refuse('revoked', `${cnText ?? '?'}: ${revocation}`);
    ctx.connections()?.refused(socket, `certificate of ${quoteClientId(cnText ?? '')} is revoked: ${revocation}`);
    socket.destroy();
    return;
  }
  socket.bulwarkFingerprint = fingerprint;
  socket.bulwarkCn = cnText;
  socket.bulwarkIdentity = identityOfCertificate(ctx, cnText, peer.raw);
  ctx.connections()?.watch(socket, cnText);
  coalesceWrites(socket);
  const client = aedes.handle(socket) as ParsedClient;
  boundPacketSize(client, socket, ctx.config.maxPacketBytes, () => ctx.refuse('packet-too-large', cnText ?? '?'));
}

/**
 * The identity a verified client certificate stands for: by its CN, and, for a unit, by its issuer:
 * a birth certificate (the manufacturer CA's) is only an enrolment identity unless the broker lets
 * birth certificates do everything ('full').
 */
function identityOfCertificate(ctx: BrokerContext, cn: string | undefined, der: Buffer): MqttIdentity | undefined {
  const who = identityFromCommonName(cn);
  if (who?.kind !== 'device' || ctx.config.birthCertificates === 'full') return who;
  try {
    return new X509Certificate(der).checkIssued(ctx.manufacturerCa) ? enrolmentIdentity(who) : who;
  } catch {
    return undefined;
  }
}

/** Closes the connected clients whose certificate is now revoked; returns what it closed. */
function disconnectRevoked(ctx: BrokerContext, aedes: Aedes): RevokedDisconnect[] {
  const closed: RevokedDisconnect[] = [];
  for (const client of Object.values(clientsOf(aedes))) {
    const socket = client.conn as IdentifiedSocket | undefined;
    if (!socket?.bulwarkFingerprint) continue;
    const reason = ctx.revoked(socket.bulwarkCn, socket.bulwarkFingerprint);
    if (reason !== undefined) closed.push(closeRevoked(ctx, client, socket, reason));
  }
  return closed;
}

function closeRevoked(ctx: BrokerContext, client: Client, socket: IdentifiedSocket, reason: string): RevokedDisconnect {
  ctx.refuse('revoked', `${socket.bulwarkCn ?? '?'} disconnected: ${reason}`);
  const closed = { source: ctx.sourceOf(socket), clientId: String(client.id), reason };
  ctx.onRevokedDisconnect?.(closed);
  client.close();
  return closed;
}

async function listenOn(server: TlsServer, config: EmbeddedBrokerConfig): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Starts the embedded broker.
 *
 * @example
 * const broker = await startEmbeddedBroker({ caCertPem, certPem, keyPem, config: { port: 8883 } });
 */
export async function startEmbeddedBroker(o: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const config = validateEmbeddedBrokerConfig(o.config);
  let connections: BrokerConnectionJournal | undefined;
  const guard: { admission?: Admission } = {}; // set once the server exists; sources are read after
  const ctx: BrokerContext = {
    config,
    queue: createBrokerQueue(config.deliveryConcurrency, config.maxQueuedMessages),
    refuse: o.onRefusal ?? (() => undefined),
    connections: () => connections,
    revoked: o.revoked ?? (() => undefined),
    onTakeover: o.onTakeover,
    onRevokedDisconnect: o.onRevokedDisconnect,
    sourceOf: (socket) => guard.admission?.sourceOf(socket) ?? 'unknown',
    manufacturerCa: new X509Certificate(o.caCertPem),
  };
  const aedes = createBrokerAedes(ctx);
  await aedes.listen();
  const server = createBrokerServer(o, config);
  const admission = guardBrokerServer(server, o, ctx);
  guard.admission = admission;
  const record = o.onConnectionRecord;
  if (record) connections = new BrokerConnectionJournal(admission, record);
  server.on('secureConnection', (socket: IdentifiedSocket) => takeVerifiedSocket(ctx, aedes, socket));
  const port = await listenOn(server, config);
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    port,
    url: `mqtts://${host}:${port}`,
    aedes,
    server,
    connectedClients: () => aedes.connectedClients,
    backlog: () => ({ queued: ctx.queue.length, held: ctx.queue.held }),
    disconnectRevoked: () => disconnectRevoked(ctx, aedes),
    trustIssuingCas: (pems) => server.setSecureContext(brokerContext(o, pems)),
    async close() {
      admission.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}

/**
 * aedes writes every packet on its own, in pieces (mqtt-packet writes a PUBACK as three small
 * buffers, a PUBLISH as five, corking and uncorking around each), and delivers each message
 * from its own setImmediate: one TLS record, one writev and the stream machinery's bookkeeping
 * per packet, which profiling showed to be the largest share of the broker's time. Here the
 * pieces written during one turn of the event loop are gathered and written once, as one
 * buffer, on the next turn: a subscriber receiving thousands of messages a second gets them in a
 * few records. write() still reports backpressure (over 1 MiB waiting), and 'drain' follows.
 */
const COALESCE_LIMIT = 1_048_576; // bytes held or queued before write() reports backpressure

// One setImmediate for every socket with something held, rather than one per socket.
const toFlush = new Set<() => void>();
let flushScheduled = false;
function flushAll(): void {
  flushScheduled = false;
  const list = [...toFlush];
  toFlush.clear();
  for (const flush of list) flush();
}

function coalesceWrites(socket: TLSSocket): void {
  const write = socket.write.bind(socket) as (chunk: Buffer, cb?: (err?: Error | null) => void) => boolean;
  const end = socket.end.bind(socket) as (...args: unknown[]) => TLSSocket;
  const destroy = socket.destroy.bind(socket);
  let held: Buffer[] = [];
  let heldBytes = 0;
  let callbacks: Array<(err?: Error | null) => void> = [];
  let scheduled = false;
  let owesDrain = false;

  const flush = (): void => {
    scheduled = false;
    toFlush.delete(flush);
    if (held.length === 0 || socket.destroyed) {
      held = [];
      heldBytes = 0;
      return;
    }
    const data = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
    const cbs = callbacks;
    held = [];
    heldBytes = 0;
    callbacks = [];
    const ok = write(
      data,
      cbs.length === 0
        ? undefined
        : (err) => {
            for (const cb of cbs) cb(err);
          },
    );
    // When the socket itself reports backpressure it emits 'drain' later; otherwise we owe it.
    if (owesDrain && ok) {
      owesDrain = false;
      process.nextTick(() => socket.emit('drain'));
    } else if (!ok) owesDrain = false;
  };

  socket.write = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
    const done = typeof encoding === 'function' ? encoding : cb;
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    held.push(buf);
    heldBytes += buf.length;
    if (typeof done === 'function') callbacks.push(done as (err?: Error | null) => void);
    if (!scheduled) {
      scheduled = true;
      toFlush.add(flush);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAll);
      }
    }
    const room = socket.writableLength + heldBytes < COALESCE_LIMIT;
    if (!room) owesDrain = true;
    return room;
  };
  // mqtt-packet corks around each packet; the gathering above does that job.
  socket.cork = (): void => undefined;
  socket.uncork = (): void => undefined;
  socket.end = (...args: unknown[]): TLSSocket => {
    flush();
    return end(...args);
  };
  // aedes closes a refused client right after writing its CONNACK: send what is held first.
  socket.destroy = (err?: Error): TLSSocket => {
    if (!socket.destroyed) flush();
    return destroy(err);
  };
}

/**
 * aedes's parser (mqtt-packet) has no packet size limit; wrap it so a client announcing or
 * buffering more than `max` bytes is disconnected instead of growing memory.
 */
function boundPacketSize(client: ParsedClient, socket: TLSSocket, max: number, onRefuse: () => void): void {
  const parser = client._parser;
  if (!parser) return;
  const parse = parser.parse.bind(parser);
  parser.parse = (buf: Buffer): number => {
    const buffered = parse(buf);
    if (buffered > max || (parser.packet?.length ?? 0) > max) {
      onRefuse();
      socket.destroy();
    }
    return buffered;
  };
}
