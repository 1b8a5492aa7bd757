// A client that announces a body and hangs up before sending it is the client's doing: the web
// core writes no "internal error" line for it, however many times it happens (issue 24's second
// finding, fixed in the one core all three surfaces share). A real failure inside a handler still
// logs at once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { createCertificateAuthority, issueServerCertificate, loadCaSigner } from '../../src/identity/index.ts';
import { Router, createWebApp, type RunningSurface } from '../../src/web/index.ts';
import { serveApp } from '../../src/web/index.ts';

const lines: string[] = [];
let surface: RunningSurface<Record<string, never>> | undefined;
after(() => surface?.close());

async function start(): Promise<RunningSurface<Record<string, never>>> {
  const ca = await createCertificateAuthority('Test CA');
  const server = await issueServerCertificate(await loadCaSigner(ca.certPem, ca.privateKeyPem), ['localhost']);
  const router = new Router<Record<string, never>>()
    .add({ method: 'POST', path: '/form', access: 'public', csrf: false, handler: () => ({ kind: 'json', body: {} }) })
    .add({
      method: 'GET',
      path: '/broken',
      access: 'public',
      csrf: false,
      handler: () => {
        throw new Error('a real fault');
      },
    });
  const app = createWebApp<Record<string, never>>({
    router,
    log: (m) => lines.push(m),
    errorPage: (status) => `<p>${status}</p>`,
    sessions: { anonymous: () => ({}), find: () => undefined, verifyCsrf: () => false },
  });
  return serveApp(
    app,
    {
      keyPem: server.privateKeyPem,
      certPem: server.certPem,
      host: '127.0.0.1',
      port: 0,
      requestTimeoutMs: 5_000,
      keepAliveTimeoutMs: 1_000,
    },
    () => [],
  );
}

/** Sends `head` (and 10 bytes of a 100-byte body when `abort`), then hangs up. */
function send(port: number, head: string, abort: boolean): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' }, () => {
      s.write(head);
      if (abort) {
        s.write('0123456789');
        setTimeout(() => s.destroy(), 50);
      }
    });
    s.on('data', (d: Buffer) => (answer += d.toString()));
    s.on('close', () => resolve(answer));
    s.on('error', () => undefined);
  });
}

test(
  '100 aborted bodies write no internal-error line; a real handler fault still logs at once',
  { timeout: 60_000 },
  async () => {
    surface = await start();
    const port = surface.port;
    const post =
      `POST /form HTTP/1.1\r\nHost: localhost:${port}\r\nContent-Type: application/json\r\n` +
      'Content-Length: 100\r\n\r\n';
    for (let i = 0; i < 100; i++) await send(port, post, true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(
      lines.filter((l) => /internal error/.test(l)),
      [],
    );
    const broken = await send(
      port,
      `GET /broken HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`,
      false,
    );
    assert.match(broken, /^HTTP\/1\.1 500/);
    assert.equal(lines.filter((l) => /internal error on GET \/broken: a real fault/.test(l)).length, 1);
  },
);
