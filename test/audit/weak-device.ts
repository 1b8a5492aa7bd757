// A deliberately weak HTTPS device for the auditor's tests: TLS 1.0 and CBC suites enabled, the
// default password admin/admin, no lockout, an unauthenticated /settings page, no CSRF defence
// and no security.txt. Everything else is done right (headers, cookie flags, 4xx on bad input),
// so an audit must fail exactly the controls these weaknesses break.
import 'reflect-metadata';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { webcrypto, KeyObject, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A running weak device. */
export interface WeakDevice {
  readonly url: string;
  readonly server: Server;
  /** Logins accepted so far (the auditor's default-credential probe should make exactly one). */
  readonly acceptedLogins: () => number;
  /** Requests and TLS connections served so far. */
  readonly traffic: () => { requests: number; connections: number };
  close(): Promise<void>;
}

/** A throwaway self-signed P-256 certificate and its key (PEM), valid for a day. */
export async function selfSigned(): Promise<{ key: string; cert: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256' } as const;
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex').replace(/^./, '1'),
    name: 'CN=weak-camera.local',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys: keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  return {
    key: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
    cert: cert.toString('pem'),
  };
}

const HEADERS = {
  'strict-transport-security': 'max-age=31536000',
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const LOGIN_FORM =
  '<!DOCTYPE html><title>Camera login</title><form method="post" action="/login">' +
  '<label>User <input name="username"></label><label>Password <input type="password" name="password"></label>' +
  '<button type="submit">Log in</button></form>';

const MAX_BODY = 8_192;

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve('too-large');
        req.pause();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/** Starts the weak device on 127.0.0.1 at a free port. */
export async function startWeakDevice(): Promise<WeakDevice> {
  const { key, cert } = await selfSigned();
  const sessions = new Set<string>();
  let accepted = 0;
  let requests = 0;
  let connections = 0;
  const server = createServer({ key, cert, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }, (req, res) => {
    requests++;
    void (async () => {
      const path = (req.url ?? '/').split('?')[0];
      const cookie = /(?:^|;\s*)session=([A-Za-z0-9_-]+)/.exec(req.headers.cookie ?? '')?.[1];
      const loggedIn = cookie !== undefined && sessions.has(cookie);
      if (req.method === 'GET' && path === '/login') return send(res, 200, LOGIN_FORM);
      if (req.method === 'POST' && path === '/login') {
        if (Number(req.headers['content-length'] ?? '0') > MAX_BODY) {
          send(res, 413, 'too large', { connection: 'close' });
          req.destroy();
          return;
        }
        const raw = await readBody(req);
        if (raw === 'too-large') {
          send(res, 413, 'too large', { connection: 'close' });
          return;
        }
        if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded'))
          return send(res, 415, 'use a form');
        const text = raw.toString('utf8');
        if (text.includes('\uFFFD')) return send(res, 400, 'bad encoding');
        const form = new URLSearchParams(text);
        if ([...form.keys()].some((k) => /__proto__|constructor|prototype/.test(k))) return send(res, 400, 'bad field');
        // No lockout, no Origin check, no CSRF token: the weaknesses under test.
        if (form.get('username') === 'admin' && form.get('password') === 'admin') {
          accepted++;
          const id = randomBytes(24).toString('base64url');
          sessions.add(id);
          return send(res, 303, '', {
            location: '/',
            'set-cookie': `session=${id}; Path=/; Secure; HttpOnly; SameSite=Strict`,
          });
        }
        return send(res, 401, `<p>Wrong password.</p>${LOGIN_FORM}`);
      }
      if (req.method === 'GET' && path === '/settings')
        return send(res, 200, '<h1>Settings</h1><p>Wi-Fi network: HomeNet</p><p>Cloud upload: on</p>');
      if (req.method === 'GET' && path === '/')
        return loggedIn ? send(res, 200, '<h1>Live view</h1>') : send(res, 303, '', { location: '/login' });
      return send(res, 404, '<p>Not found</p>');
    })().catch(() => {
      if (!res.headersSent) send(res, 500, 'error');
    });
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  server.on('secureConnection', () => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    server,
    acceptedLogins: () => accepted,
    traffic: () => ({ requests, connections }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The weak device's product model: a switch with no sensors (weak-switch.model.json beside this file). */
export const WEAK_MODEL_FILE = fileURLToPath(new URL('./weak-switch.model.json', import.meta.url));

/** A listening-only product: the profile the weak device claims to meet (it names its model file by absolute path). */
export const WEAK_PROFILE = `model: ${JSON.stringify(WEAK_MODEL_FILE)}
maker: Test Devices Ltd
networkModels: [listening]
personalData: false
internetExposed: false
securityContact: mailto:security@weak.example
`;
