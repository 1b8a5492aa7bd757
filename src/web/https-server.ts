/**
 * The one place an HTTPS surface gets its server: the hardened TLS profile, request and header
 * timeouts checked every second, the admission guard (per-source caps, a total deadline to be past
 * the headers, every connection attempt recorded with the source captured at accept) and, for a
 * malformed or broken request, a 400 with the security headers where the socket still takes one,
 * a client event in the journal and a count per cause. The device's admin page, the hub's and the
 * cloud's owner API use it.
 */
import { createServer, type Server } from 'node:https';
// Types only: importing node:http itself loads http2, undici and perf_hooks (4 MiB on an idle plug).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { constants as osslConstants } from 'node:crypto';
import { guardServer, type Admission, type AdmissionConfig, type AdmissionRecord } from '../admission/index.ts';
import { securityHeaders } from './http.ts';

/** TLS 1.2 suites allowed: ECDHE key exchange with AEAD ciphers only (TLS 1.3 suites are all AEAD). */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * A request the client broke: the HTTP parser refused it, the client reset or stalled mid-request
 * (Node's 'clientError'), or it hung up before its body arrived whole. Never an internal error.
 */
export interface ClientEventRecord {
  /** 'address:port' as captured at accept, so a reset does not lose it. */
  readonly source: string;
  readonly event: 'http-malformed';
  readonly result: 'refused';
  /** The cause: Node's error code ('HPE_INVALID_METHOD', 'ECONNRESET', 'ERR_HTTP_REQUEST_TIMEOUT'). */
  readonly detail: string;
}

/** What a listening HTTPS surface records: connection attempts and client events. */
export type HttpsRecord = AdmissionRecord | ClientEventRecord;

/** Counts per cause, with a bounded number of causes (the rest are counted under 'OTHER'). */
export class ClientEventCounts {
  static readonly MAX_CAUSES = 64;
  readonly #counts = new Map<string, number>();

  /** Counts one event of `cause`. */
  add(cause: string): void {
    const key = this.#counts.has(cause) || this.#counts.size < ClientEventCounts.MAX_CAUSES - 1 ? cause : 'OTHER';
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  /** The counts so far, by cause. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}

/** Options of {@link listenHttps}. Times in ms. */
export interface HttpsListenOptions {
  readonly keyPem: string;
  readonly certPem: string;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** 'TLSv1.3' for a surface with no older clients to serve; 'TLSv1.2' (AEAD suites only) otherwise. */
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** A request must arrive whole within this. */
  readonly requestTimeoutMs: number;
  /** Idle keep-alive sockets are closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Per-source caps and the deadline to be past the first request's headers. */
  readonly admission?: Partial<AdmissionConfig>;
  /** Every connection attempt (accepted, reset, failed handshake, refused, flood summary) and broken request. */
  readonly record?: (record: HttpsRecord) => void;
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
}

/** A listening HTTPS surface. */
export interface HttpsListener {
  readonly server: Server;
  readonly port: number;
  readonly admission: Admission;
  /**
   * Client errors so far, by cause (Node's error code): malformed, too slow or cut-short requests,
   * and resets of connections with no request (counted here, journalled by the admission guard).
   */
  clientErrors(): Record<string, number>;
  /**
   * Serves `certPem` (with `keyPem`) to every new connection from now on, on the same TLS profile,
   * without a restart; connections already open keep theirs. Throws if the pair is unusable.
   */
  setCertificate(certPem: string, keyPem: string): void;
  /** Stops listening and ends every connection. */
  close(): Promise<void>;
}

/** The project's TLS profile with `certPem` and its key: what the server starts with and each swap keeps. */
function tlsProfile(o: Pick<HttpsListenOptions, 'keyPem' | 'certPem' | 'minVersion'>): SecureContextOptions {
  return {
    key: o.keyPem,
    cert: o.certPem,
    minVersion: o.minVersion ?? 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
    ecdhCurve: 'X25519:P-256:P-384',
    secureOptions:
      osslConstants.SSL_OP_NO_COMPRESSION |
      osslConstants.SSL_OP_NO_RENEGOTIATION |
      osslConstants.SSL_OP_CIPHER_SERVER_PREFERENCE,
  };
}

/** Starts an HTTPS server on the project's TLS profile and admission rules; resolves when it listens. */
export async function listenHttps(o: HttpsListenOptions): Promise<HttpsListener> {
  const server = createServer(
    {
      ...tlsProfile(o),
      requestTimeout: o.requestTimeoutMs,
      headersTimeout: Math.min(o.requestTimeoutMs, 10_000),
      keepAliveTimeout: o.keepAliveTimeoutMs,
      // Node checks the two timeouts above on this period (30 s by default): a slow client would
      // otherwise keep its socket up to 30 s past its deadline.
      connectionsCheckingInterval: 1_000,
      maxHeaderSize: 8_192,
    },
    o.handler,
  );
  const record = o.record ?? (() => undefined);
  const admission = guardServer(server, {
    establishOn: 'request',
    record,
    config: { pendingDeadlineMs: Math.min(o.requestTimeoutMs, 10_000), ...o.admission },
  });
  // The guard enforces the cap fairly; the kernel-side ceiling only backs it up.
  server.maxConnections = 2 * admission.config.maxConnections + 16;
  const counts = refuseClientErrors(server, admission, record);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    admission,
    clientErrors: () => counts.snapshot(),
    // setSecureContext replaces every TLS option, so the whole profile goes with the new certificate.
    setCertificate: (certPem, keyPem) => server.setSecureContext(tlsProfile({ ...o, certPem, keyPem })),
    async close() {
      admission.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Answers, journals and counts every client error of `server`; returns the counts. */
function refuseClientErrors(server: Server, admission: Admission, record: (r: HttpsRecord) => void): ClientEventCounts {
  const counts = new ClientEventCounts();
  server.on('clientError', (err: Error & { code?: unknown }, socket: Socket) => {
    // The parser reports its error again for every later chunk of the same socket: count it once.
    if (brokenSockets.has(socket)) return;
    const cause = causeOf(err);
    brokenSockets.set(socket, cause);
    counts.add(cause);
    if (isRequestEvent(socket, cause)) {
      try {
        record({ source: admission.sourceOf(socket), event: 'http-malformed', result: 'refused', detail: cause });
      } catch {
        // The journal reports its own failures; the refusal below must still happen.
      }
    }
    refuseBrokenRequest(socket, cause);
  });
  return counts;
}

/** Sockets whose client error was recorded, with its cause. */
const brokenSockets = new WeakMap<Socket, string>();

/**
 * The cause already recorded for `socket` by its server's client-error handler, if any. Node
 * reports a body cut short there first, so the app can tell it need not record the same event.
 */
export function clientErrorOf(socket: Socket): string | undefined {
  return brokenSockets.get(socket);
}

function inFlightOf(socket: Socket): { headersSent?: boolean } | undefined {
  return (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage ?? undefined;
}

/**
 * Whether a client error is about a request: the parser refused bytes, the request was too slow,
 * or the socket failed with a request in progress. A reset of a connection with no request is a
 * connection event, which the admission guard already records (a second entry would count it twice).
 */
function isRequestEvent(socket: Socket, cause: string): boolean {
  return cause.startsWith('HPE_') || cause === 'ERR_HTTP_REQUEST_TIMEOUT' || inFlightOf(socket) !== undefined;
}

/** How long a refused client gets to read its 400 before the socket is cut, ms. */
const REFUSAL_GRACE_MS = 2_000;

/** Node's code for a client error, or 'CLIENT_ERROR'; only a code's shape is kept, never free text. */
function causeOf(err: Error & { code?: unknown }): string {
  return typeof err.code === 'string' && /^[A-Z][A-Z0-9_]{0,47}$/.test(err.code) ? err.code : 'CLIENT_ERROR';
}

/** The status Node itself would give the cause: headers too large, too slow, or simply bad. */
/** The reason phrases of the statuses a broken request can get. */
const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
};

function statusOf(cause: string): number {
  if (cause === 'HPE_HEADER_OVERFLOW') return 431;
  if (cause === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 413;
  if (cause === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/**
 * Answers a broken request with its status and the security headers, then closes; a socket that
 * no longer takes bytes, or whose response already began, is only cut.
 */
function refuseBrokenRequest(socket: Socket, cause: string): void {
  if (!socket.writable || inFlightOf(socket)?.headersSent === true) {
    socket.destroy();
    return;
  }
  const status = statusOf(cause);
  const body = `${REASONS[status] ?? 'Bad Request'}\n`;
  const headers: Record<string, string> = {
    ...securityHeaders(),
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
  };
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  // Ending (not destroying) lets the answer and TLS's close_notify reach the client first.
  socket.end(`HTTP/1.1 ${status} ${REASONS[status] ?? 'Bad Request'}\r\n${head.join('')}\r\n${body}`);
  const cut = setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS);
  cut.unref();
  socket.once('close', () => clearTimeout(cut));
}
