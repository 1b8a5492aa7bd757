/**
 * The one place an HTTPS surface gets its server: the hardened TLS profile, request and header
 * timeouts checked every second, the admission guard (per-source caps, a total deadline to be past
 * the headers, every connection attempt recorded with the source captured at accept) and a quiet
 * end for malformed requests. The device's admin page, the hub's and the cloud's owner API use it.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { constants as osslConstants } from 'node:crypto';
import { guardServer, type Admission, type AdmissionConfig, type AdmissionRecord } from '../admission/index.ts';

/** TLS 1.2 suites allowed: ECDHE key exchange with AEAD ciphers only (TLS 1.3 suites are all AEAD). */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

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
  /** Every connection attempt (accepted, reset, failed handshake, refused, flood summary). */
  readonly record?: (record: AdmissionRecord) => void;
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
}

/** A listening HTTPS surface. */
export interface HttpsListener {
  readonly server: Server;
  readonly port: number;
  readonly admission: Admission;
  /** Stops listening and ends every connection. */
  close(): Promise<void>;
}

/** Starts an HTTPS server on the project's TLS profile and admission rules; resolves when it listens. */
export async function listenHttps(o: HttpsListenOptions): Promise<HttpsListener> {
  const server = createServer(
    {
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
  const admission = guardServer(server, {
    establishOn: 'request',
    record: o.record ?? (() => undefined),
    config: { pendingDeadlineMs: Math.min(o.requestTimeoutMs, 10_000), ...o.admission },
  });
  // The guard enforces the cap fairly; the kernel-side ceiling only backs it up.
  server.maxConnections = 2 * admission.config.maxConnections + 16;
  server.on('clientError', (_err, socket: Socket) => socket.destroy());
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
    async close() {
      admission.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
