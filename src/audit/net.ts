/**
 * The auditor's network edge: one HTTPS exchange, one TLS handshake, one TCP connect, each
 * bounded in time and bytes and never throwing for what the device does (a refusal is a
 * result). Certificates are not verified (a device's self-signed certificate is what is being
 * examined, and nothing secret is ever sent over these connections) unless the target names the
 * CA its certificate must chain to (the cloud API with --cloud-api-ca).
 */
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type ConnectionOptions, type SecureVersion, type TLSSocket } from 'node:tls';
import { connect as tcpConnect, isIP } from 'node:net';
import type { X509Certificate } from 'node:crypto';
import { createHash } from 'node:crypto';

/** Where the device is: from a --url. */
export interface HttpsTarget {
  readonly url: URL;
  /** Host name or address without brackets. */
  readonly host: string;
  readonly port: number;
  /** `https://host:port`, the value a same-origin browser sends in Origin. */
  readonly origin: string;
  /** True when the host is a loopback address (127/8, ::1 or localhost). */
  readonly loopback: boolean;
  /** True when the host is an IPv4 loopback address, so any 127/8 source address reaches it. */
  readonly loopbackV4: boolean;
  /** PEM CA certificates the server's certificate must chain to; without them it is not verified. */
  readonly ca?: string;
}

/** Parses a --url value; undefined when it is not an https URL with a host. */
export function parseHttpsTarget(text: string): HttpsTarget | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' || url.hostname === '' || url.username !== '' || url.password !== '') return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port === '' ? 443 : Number(url.port);
  const v4 = isIP(host) === 4 && host.startsWith('127.');
  const loopback = v4 || host === '::1' || host.toLowerCase() === 'localhost';
  return { url, host, port, origin: url.origin, loopback, loopbackV4: v4 };
}

/** Bounds of one network operation. */
export interface NetBounds {
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxResponseBytes: number;
}

/** One HTTP request as the auditor sends it. */
export interface HttpProbe {
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** Source address to connect from (loopback targets only). */
  readonly localAddress?: string;
}

/** A cookie as set by the device: its name and attributes, never its value. */
export interface SeenCookie {
  readonly name: string;
  readonly attributes: readonly string[];
  readonly cleared: boolean;
  readonly path: string;
}

/** The answer to one {@link HttpProbe}; `status` 0 when there was none. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
  /** True when the body was longer than the limit and was cut. */
  readonly truncated: boolean;
  readonly elapsedMs: number;
  /** The connection's own address and port, to find the attempt in the device's journal. */
  readonly local?: { readonly address: string; readonly port: number };
  /** Why there was no answer: 'timeout', 'ECONNREFUSED', 'ECONNRESET'... */
  readonly error?: string;
  readonly cookies: readonly SeenCookie[];
}

/** Parses Set-Cookie headers into names and attributes, dropping the values. */
export function parseSetCookies(header: string | string[] | undefined): SeenCookie[] {
  const list = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return list.slice(0, 32).map((line) => {
    const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const name = (eq < 0 ? pair : pair.slice(0, eq)).slice(0, 128);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    const attributes = attrs.filter((a) => a !== '').map((a) => a.slice(0, 128));
    const maxAge = attributes.find((a) => /^max-age=/i.test(a));
    const pathAttr = attributes.find((a) => /^path=/i.test(a));
    return {
      name,
      attributes,
      cleared: value === '' || (maxAge !== undefined && Number(maxAge.split('=')[1]) <= 0),
      path: pathAttr === undefined ? '' : pathAttr.slice(5),
    };
  });
}

/** Sends one request on a fresh connection and reads at most `maxResponseBytes` of the answer. */
export function httpsExchange(target: HttpsTarget, probe: HttpProbe, bounds: NetBounds): Promise<HttpAnswer> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let local: HttpAnswer['local'];
    const timer = setTimeout(() => {
      req.destroy();
      finish({ status: 0, headers: {}, body: '', truncated: false, error: 'timeout', cookies: [] });
    }, bounds.requestTimeoutMs);
    const finish = (a: Omit<HttpAnswer, 'elapsedMs' | 'local'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...a, elapsedMs: Math.round(performance.now() - started), ...(local ? { local } : {}) });
    };
    const body = probe.body === undefined ? undefined : Buffer.from(probe.body);
    const headers: Record<string, string> = {
      'user-agent': 'bulwark-audit/1',
      accept: 'text/html,*/*;q=0.8',
      ...probe.headers,
    };
    if (body !== undefined) headers['content-length'] = String(body.length);
    const req = httpsRequest(
      {
        host: target.host,
        port: target.port,
        method: probe.method,
        path: probe.path,
        headers,
        ...(target.ca !== undefined ? { ca: target.ca, rejectUnauthorized: true } : { rejectUnauthorized: false }),
        agent: false,
        ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
        ...(probe.localAddress !== undefined ? { localAddress: probe.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        res.on('data', (chunk: Buffer) => {
          if (truncated) return;
          const room = bounds.maxResponseBytes - size;
          if (chunk.length > room) {
            chunks.push(chunk.subarray(0, room));
            size += room;
            truncated = true;
            res.destroy();
            done();
            return;
          }
          chunks.push(chunk);
          size += chunk.length;
        });
        const done = (): void =>
          finish({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            truncated,
            cookies: parseSetCookies(res.headers['set-cookie']),
          });
        res.on('end', done);
        res.on('error', done);
        res.on('close', done);
      },
    );
    req.on('socket', (socket) => {
      socket.on('connect', () => {
        local = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) =>
      finish({ status: 0, headers: {}, body: '', truncated: false, error: err.code ?? err.message, cookies: [] }),
    );
    req.end(body);
  });
}

/** What one TLS handshake showed. */
export interface HandshakeResult {
  /** True when the handshake completed. */
  readonly ok: boolean;
  /** True when the auditor's own TLS library could not offer what was asked (not a device finding). */
  readonly clientUnable?: boolean;
  readonly protocol?: string;
  readonly cipher?: string;
  /** SHA-256 fingerprint of the certificate's DER bytes, 'sha256:<hex>'. */
  readonly certFingerprint?: string;
  /** SHA-256 of the certificate's public key (SPKI DER), hex. */
  readonly publicKeySha256?: string;
  readonly certSubject?: string;
  /** The certificate's validity, ms since the epoch. */
  readonly certNotBefore?: number;
  readonly certNotAfter?: number;
  readonly error?: string;
  readonly local?: { readonly address: string; readonly port: number };
}

/** Options of one handshake. */
export interface HandshakeOptions {
  readonly minVersion?: SecureVersion;
  readonly maxVersion?: SecureVersion;
  readonly ciphers?: string;
  readonly localAddress?: string;
}

/** Makes one TLS handshake and closes the connection; never sends application data. */
export function tlsHandshake(target: HttpsTarget, o: HandshakeOptions, timeoutMs: number): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    let settled = false;
    let local: HandshakeResult['local'];
    let socket: TLSSocket | undefined;
    const timer = setTimeout(() => {
      socket?.destroy();
      finish({ ok: false, error: 'timeout', ...(local ? { local } : {}) });
    }, timeoutMs);
    const finish = (r: HandshakeResult): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(r);
      }
    };
    const options: ConnectionOptions = {
      host: target.host,
      port: target.port,
      rejectUnauthorized: false,
      ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
      ...(o.minVersion ? { minVersion: o.minVersion } : {}),
      ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}),
      ...(o.ciphers ? { ciphers: o.ciphers } : {}),
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    };
    try {
      const s: TLSSocket = tlsConnect(options, () => {
        const cert = s.getPeerX509Certificate();
        finish({
          ok: true,
          protocol: s.getProtocol() ?? undefined,
          cipher: s.getCipher()?.name,
          ...(cert ? certFacts(cert) : {}),
          local: { address: s.localAddress ?? '', port: s.localPort ?? 0 },
        });
        s.end();
        s.destroy();
      });
      socket = s;
      s.on('connect', () => {
        local = { address: s.localAddress ?? '', port: s.localPort ?? 0 };
      });
      s.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? 'TLS_ERROR';
        const unable = code === 'ERR_SSL_NO_CIPHERS_AVAILABLE' || code === 'ERR_SSL_NO_PROTOCOLS_AVAILABLE';
        finish({
          ok: false,
          ...(unable ? { clientUnable: true } : {}),
          error: err.code ? code : err.message.slice(0, 120),
          ...(local ? { local } : {}),
        });
      });
    } catch (err) {
      // The local OpenSSL refused the options (e.g. no cipher left): nothing was sent.
      finish({ ok: false, clientUnable: true, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
    }
  });
}

/** The fingerprint, key hash and subject of a certificate. */
export function certFacts(
  cert: X509Certificate,
): Pick<HandshakeResult, 'certFingerprint' | 'publicKeySha256' | 'certSubject' | 'certNotBefore' | 'certNotAfter'> {
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return {
    certFingerprint: 'sha256:' + createHash('sha256').update(cert.raw).digest('hex'),
    publicKeySha256: createHash('sha256').update(spki).digest('hex'),
    certSubject: cert.subject.replace(/\n/g, ', ').slice(0, 200),
    certNotBefore: Date.parse(cert.validFrom),
    certNotAfter: Date.parse(cert.validTo),
  };
}

/** The state of one TCP port: 'open' (accepted), 'closed' (refused), 'filtered' (no answer in time). */
export type PortState = 'open' | 'closed' | 'filtered' | 'error';

/** Tries one TCP connect and closes it at once; sends nothing. */
export function tcpConnectProbe(
  host: string,
  port: number,
  o: { localAddress?: string; timeoutMs: number },
): Promise<{ state: PortState; error?: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: { state: PortState; error?: string }): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(r);
      }
    };
    const socket = tcpConnect({ host, port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    socket.on('connect', () => finish({ state: 'open' }));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      finish(err.code === 'ECONNREFUSED' ? { state: 'closed' } : { state: 'error', error: err.code ?? err.message }),
    );
    const timer = setTimeout(() => finish({ state: 'filtered' }), o.timeoutMs);
  });
}
