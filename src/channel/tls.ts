/**
 * The channel over node:tls: TLS 1.3 only, mutual authentication in which each side pins the
 * other's public key. Certificates are self-signed per side, so chain validation is off and the
 * pin is the whole check: on every connection, before a byte of application data is read, the
 * SHA-256 of the peer's SubjectPublicKeyInfo goes to the caller's lookup, and a peer it does
 * not know is cut off with 'CHANNEL_PEER_NOT_PINNED'.
 *
 * Resumption: the client keeps the latest session ticket (`connection.resumption`) and passes it
 * to the next connect. On a resumed session the client sees no server certificate; the session
 * itself proves the server is the one pinned when the ticket was issued (only it can decrypt
 * the ticket), so the client re-checks that remembered pin against its current pin set.
 */
import { randomBytes } from 'node:crypto';
import type { SecureContext, Server as TlsServer, TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { validateChannelConfig, type ChannelConfig } from './config.ts';
import {
  ChannelConnection,
  type ChannelEventListener,
  type ChannelRequestHandler,
  type ChannelConnectionInit,
  type ChannelResumption,
} from './connection.ts';
import {
  ChannelClosedError,
  ChannelError,
  ChannelPeerError,
  ChannelTimeoutError,
  ChannelTransportError,
  ChannelConfigError,
} from './errors.ts';
import { spkiSha256, type PinnedPeerLookup } from './pins.ts';
import { guardServer, type AdmissionConfig, type AdmissionRecord } from '../admission/index.ts';

// Not `import tls from 'node:tls'`: an ESM import of a built-in reads every export to build its
// namespace, and reading `tls.rootCertificates` materialises Node's ~140 bundled CA certificates
// (~0.4 MiB of an idle device's RSS). The channel pins keys and never uses a CA store.
const tls = process.getBuiltinModule('node:tls');

/** Our own identity on the channel: a private key and its (self-signed) certificate, PEM. */
export interface ChannelIdentity {
  /** PEM private key (a secret). */
  readonly key: string | Buffer;
  /** PEM certificate for `key`. */
  readonly cert: string | Buffer;
}

/** Where a connection attempt came from. */
export interface RemoteEndpoint {
  readonly address: string | undefined;
  readonly port: number | undefined;
}

/** TLS 1.3 and nothing else, for both sides. */
const TLS13_ONLY = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

/**
 * A client identity parsed once into a TLS 1.3-only context. Parsing the key and certificate
 * is a sizeable share of a handshake's cost; a client that connects often (reconnects, or a
 * hub with many devices) makes one and passes it as `context` with the same key and cert.
 */
export interface ChannelClientContext {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  readonly secureContext: SecureContext;
}

/** Parses `identity` once for many {@link connectChannel} calls. */
export function createChannelClientContext(identity: ChannelIdentity): ChannelClientContext {
  return Object.freeze({
    key: identity.key,
    cert: identity.cert,
    secureContext: tls.createSecureContext({ key: identity.key, cert: identity.cert, ...TLS13_ONLY }),
  });
}

function sameBytes(a: string | Buffer, b: string | Buffer): boolean {
  return typeof a === 'string' && typeof b === 'string' ? a === b : Buffer.from(a).equals(Buffer.from(b));
}

/** Bytes of a node:tls ticket-keys buffer. */
const TICKET_KEYS_BYTES = 48;

function remoteOf(socket: Socket | undefined): RemoteEndpoint {
  return { address: socket?.remoteAddress, port: socket?.remotePort };
}

function tlsFailure(err: Error & { code?: string }): ChannelTransportError {
  const tlsLevel = typeof err.code === 'string' && (err.code.startsWith('ERR_SSL') || err.code.startsWith('ERR_TLS'));
  return new ChannelTransportError(
    tlsLevel ? 'CHANNEL_TLS_FAILED' : 'CHANNEL_SOCKET_FAILED',
    tlsLevel ? 'the TLS handshake failed' : 'the connection failed',
    { reason: err.code },
    { cause: err },
  );
}

/** The peer's pin and what the lookup says about it; a ChannelError if it is refused. */
function identifyPeer<P>(
  socket: TLSSocket,
  lookup: PinnedPeerLookup<P>,
  remembered?: Buffer,
): { spki: Buffer; peer: P } | ChannelError {
  let spki: Buffer;
  try {
    const cert = socket.getPeerX509Certificate();
    if (cert) spki = spkiSha256(cert);
    else if (remembered && socket.isSessionReused()) spki = Buffer.from(remembered);
    else return new ChannelPeerError('the peer showed no certificate');
  } catch {
    return new ChannelPeerError('the peer certificate could not be read');
  }
  let peer: P | undefined;
  try {
    peer = lookup(spki);
  } catch {
    return new ChannelPeerError('the pin lookup failed');
  }
  if (peer === undefined) return new ChannelPeerError('the peer key is not pinned');
  return { spki, peer };
}

/** Options of {@link createChannelServer}. */
export interface ChannelServerOptions<P> extends ChannelIdentity {
  /** Says which client keys may connect, and who they are. */
  readonly pinnedPeer: PinnedPeerLookup<P>;
  /** Receives each accepted channel; set its handlers here (synchronously). */
  readonly onConnection: (connection: ChannelConnection<P>) => void;
  /** Told of every refused attempt (TLS failure, unpinned key), e.g. for the connection journal. */
  readonly onRefused?: (error: ChannelError, remote: RemoteEndpoint) => void;
  /** Address to listen on (default '127.0.0.1': loopback unless told otherwise). */
  readonly host?: string;
  /** Port (default 0: a free one). */
  readonly port?: number;
  readonly config?: Partial<ChannelConfig>;
  /** 48 bytes of session-ticket keys, to keep resumption working across restarts (a secret). */
  readonly ticketKeys?: Buffer;
  /**
   * Told of every connection attempt below the channel (reset, failed handshake, refused by a
   * per-source cap, flood summaries), with the source captured at accept. When given, TLS
   * failures come here and not to `onRefused`.
   */
  readonly onAttempt?: (record: AdmissionRecord) => void;
  /** Per-source caps; by default a few connections a source, the handshake within its timeout. */
  readonly admission?: Partial<AdmissionConfig>;
}

/** A listening channel server. */
export interface ChannelServer<P> {
  readonly host: string;
  readonly port: number;
  readonly config: ChannelConfig;
  /** Open channels right now. */
  readonly connections: ReadonlySet<ChannelConnection<P>>;
  /**
   * Shows `identity` to every later handshake, without a restart; open channels keep theirs. The new
   * context has fresh session-ticket keys, so no session made under the old key resumes.
   */
  setIdentity(identity: ChannelIdentity): void;
  /** Stops listening, says bye with `reason` on every channel, and waits until all are closed. */
  close(reason?: string): Promise<void>;
}

/** A finished handshake: a pinned peer becomes a channel; any other is cut off and reported. */
function acceptPinned<P>(
  socket: TLSSocket,
  options: ChannelServerOptions<P>,
  config: ChannelConfig,
  connections: Set<ChannelConnection<P>>,
  refused: (error: ChannelError, remote: RemoteEndpoint) => void,
): void {
  // No 'data' listener yet: nothing the client sent is read until its key is accepted.
  socket.on('error', () => {});
  const identified = identifyPeer(socket, options.pinnedPeer);
  if (identified instanceof ChannelError) {
    const remote = remoteOf(socket); // before destroy() takes the address away
    socket.destroy();
    refused(identified, remote);
    return;
  }
  const connection = connectionFor<P>(socket, config, identified, { greeting: 'send' });
  connections.add(connection);
  connection.onClose(() => connections.delete(connection));
  try {
    options.onConnection(connection);
  } catch {
    void connection.close('internal-error');
  }
}

function listenOn(server: TlsServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Listens for channels from pinned clients.
 *
 * @example
 * const server = await createChannelServer({
 *   key, cert, port: 5541, host: '0.0.0.0',
 *   pinnedPeer: pinnedPeers([[hubPin, { hub: 'hub-1' }]]),
 *   onConnection: (conn) => conn.onRequest(({ capability, action, value }) => act(capability, action, value)),
 * });
 */
export async function createChannelServer<P>(options: ChannelServerOptions<P>): Promise<ChannelServer<P>> {
  const config = validateChannelConfig(options.config);
  const keys = options.ticketKeys;
  if (keys !== undefined && (!Buffer.isBuffer(keys) || keys.length !== TICKET_KEYS_BYTES)) {
    throw new ChannelConfigError('ticketKeys', `must be ${TICKET_KEYS_BYTES} bytes`);
  }
  const host = options.host ?? '127.0.0.1';
  const connections = new Set<ChannelConnection<P>>();
  const sockets = new Set<Socket>();
  const refused = (error: ChannelError, remote: RemoteEndpoint): void => {
    try {
      options.onRefused?.(error, remote);
    } catch {
      // Reporting must not break the server.
    }
  };

  const server = tls.createServer({
    key: options.key,
    cert: options.cert,
    ...TLS13_ONLY,
    requestCert: true,
    // Self-signed peers: no chain to validate. The pin check below is the authentication.
    rejectUnauthorized: false,
    handshakeTimeout: config.handshakeTimeoutMs,
    // Small frames, answered at once: never wait for Nagle.
    noDelay: true,
    sessionTimeout: Math.ceil(config.resumptionLifetimeMs / 1_000),
    ...(options.ticketKeys ? { ticketKeys: options.ticketKeys } : {}),
  });
  // The admission guard enforces the cap fairly; the kernel-side ceiling only backs it up.
  server.maxConnections = 2 * config.maxConnections + 16;
  const onAttempt = options.onAttempt;
  const admission = guardServer(server, {
    establishOn: 'secure',
    recordEstablished: false,
    record: onAttempt ?? (() => undefined),
    config: channelAdmission(config, options.admission),
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
    if (!onAttempt) refused(tlsFailure(err), remoteOf(socket));
  });
  server.on('secureConnection', (socket: TLSSocket) => acceptPinned(socket, options, config, connections, refused));
  await listenOn(server, options.port ?? 0, host);
  server.on('error', () => {});
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    host,
    port,
    config,
    connections,
    setIdentity(identity: ChannelIdentity): void {
      // New ticket keys: a session made under the old key must not resume as the new one.
      server.setSecureContext({
        key: identity.key,
        cert: identity.cert,
        ...TLS13_ONLY,
        ticketKeys: randomBytes(TICKET_KEYS_BYTES),
      });
    },
    async close(reason = 'shutdown'): Promise<void> {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      admission.close();
      await Promise.all([...connections].map((c) => c.close(reason)));
      for (const socket of sockets) socket.destroy();
      await stopped;
    },
  };
}

/** The channel's default admission: a few connections a source, the handshake within its timeout. */
function channelAdmission(config: ChannelConfig, given: Partial<AdmissionConfig> = {}): Partial<AdmissionConfig> {
  const maxConnections = config.maxConnections;
  return {
    maxConnections,
    maxConnectionsPerSource: Math.min(maxConnections, 8),
    maxPendingPerSource: Math.max(1, Math.min(2, Math.floor(maxConnections / 2))),
    pendingDeadlineMs: config.handshakeTimeoutMs,
    ...given,
  };
}

/** The refusal of a channel the server took over TLS but then did not accept. */
function notAccepted(err: unknown): ChannelError {
  return err instanceof ChannelError ? err : new ChannelClosedError('CHANNEL_REFUSED', 'the channel was not accepted');
}

function closedAsItOpened(): ChannelClosedError {
  return new ChannelClosedError('CHANNEL_CLOSED', 'the channel closed as it opened');
}

/** Options of {@link connectChannel}. */
export interface ConnectChannelOptions<P> extends ChannelIdentity {
  readonly host: string;
  readonly port: number;
  /** Says which server keys we accept, and who they are. */
  readonly pinnedPeer: PinnedPeerLookup<P>;
  readonly config?: Partial<ChannelConfig>;
  /** From a previous connection's `resumption`, to skip the full handshake. */
  readonly resumption?: ChannelResumption;
  /** Made by {@link createChannelClientContext} from the same key and cert, to skip parsing them. */
  readonly context?: ChannelClientContext;
  /** Answers the server's requests from the first frame on (see ChannelConnection.onRequest). */
  readonly onRequest?: ChannelRequestHandler<P>;
  /** Hears the server's events from the first frame on, including any sent as it accepted us. */
  readonly onEvent?: ChannelEventListener<P>;
  readonly signal?: AbortSignal;
}

/** The peer's connection once its key is accepted; `init` adds the side's own fields. */
function connectionFor<P>(
  socket: TLSSocket,
  config: ChannelConfig,
  identified: { spki: Buffer; peer: P },
  init: Pick<ChannelConnectionInit<P>, 'greeting' | 'tickets' | 'onRequest' | 'onEvent'>,
): ChannelConnection<P> {
  return new ChannelConnection<P>({
    socket,
    config,
    peer: identified.peer,
    peerSpkiSha256: identified.spki,
    resumed: socket.isSessionReused(),
    ...init,
  });
}

/** The validated config of a client; refuses a context made from another key or certificate. */
function clientConfig<P>(options: ConnectChannelOptions<P>): ChannelConfig {
  const config = validateChannelConfig(options.config);
  const context = options.context;
  if (context && !(sameBytes(context.key, options.key) && sameBytes(context.cert, options.cert))) {
    throw new ChannelConfigError('context', 'was made from a different key or certificate');
  }
  return config;
}

/** Starts the client's TLS 1.3 handshake (with the shared context or its own key, resuming when it can). */
function openClientSocket<P>(options: ConnectChannelOptions<P>): TLSSocket {
  const context = options.context;
  const socket = tls.connect({
    host: options.host,
    port: options.port,
    ...(context ? { secureContext: context.secureContext } : { key: options.key, cert: options.cert }),
    ...TLS13_ONLY,
    // Self-signed server: no chain to validate. The pin check on 'secureConnect' is the authentication.
    rejectUnauthorized: false,
    ...(options.resumption ? { session: options.resumption.ticket } : {}),
  });
  socket.setNoDelay(true);
  return socket;
}

/**
 * Connects to a channel server. Resolves once the TLS handshake is done, the server's key is
 * pinned, and the server has greeted us (so it accepted our key too: in TLS 1.3 the client's
 * handshake completes before the server has checked the client's certificate). Rejects
 * with 'CHANNEL_PEER_NOT_PINNED', 'CHANNEL_REFUSED', 'CHANNEL_TLS_FAILED',
 * 'CHANNEL_SOCKET_FAILED' or 'CHANNEL_CONNECT_TIMEOUT'.
 *
 * @example
 * const conn = await connectChannel({
 *   host, port, key, cert, pinnedPeer: pinnedPeers([[devicePin, device]]), resumption,
 * });
 * resumption = conn.resumption;
 */
export function connectChannel<P>(options: ConnectChannelOptions<P>): Promise<ChannelConnection<P>> {
  return new Promise((resolve, reject) => {
    // A refused config throws here, before any socket: the executor turns it into the rejection.
    const config = clientConfig(options);
    const tickets: { latest: Buffer | undefined } = { latest: undefined };
    let settled = false;
    const socket = openClientSocket(options);
    const finish = (error: ChannelError | undefined, connection?: ChannelConnection<P>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error) {
        socket.destroy();
        reject(error);
      } else if (connection) {
        resolve(connection);
      }
    };
    const onError = (err: Error & { code?: string }): void => finish(tlsFailure(err));
    const onClose = (): void =>
      finish(new ChannelClosedError('CHANNEL_REFUSED', 'the server closed the connection during the handshake'));
    const onAbort = (): void => finish(new ChannelClosedError('CHANNEL_CLOSED', 'connect aborted'));
    const limit = config.handshakeTimeoutMs;
    const timer = setTimeout(
      () =>
        finish(
          new ChannelTimeoutError('CHANNEL_CONNECT_TIMEOUT', 'the channel was not established in time', {
            handshakeTimeoutMs: limit,
          }),
        ),
      limit,
    );
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on('session', (ticket: Buffer) => {
      tickets.latest = ticket;
    });
    socket.once('secureConnect', () => {
      const identified = identifyPeer(socket, options.pinnedPeer, options.resumption?.peerSpkiSha256);
      if (identified instanceof ChannelError) {
        finish(identified);
        return;
      }
      socket.off('close', onClose);
      const connection = connectionFor<P>(socket, config, identified, {
        tickets,
        greeting: 'await',
        ...(options.onRequest ? { onRequest: options.onRequest } : {}),
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      });
      const refused = (err: unknown): void => finish(notAccepted(err));
      connection.ready.then(() => {
        // The session tickets travel with the greeting; node emits 'session' once it has read
        // the rest of that input, so hand the channel over on the next turn with its ticket.
        setImmediate(() => {
          if (connection.isOpen) finish(undefined, connection);
          else refused(connection.closeInfo?.error ?? closedAsItOpened());
        });
      }, refused);
    });
  });
}
