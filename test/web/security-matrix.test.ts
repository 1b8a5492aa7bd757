// Issue 15: the same security cases against all three HTTPS surfaces (the device's admin page,
// the hub's and the cloud's owner app), each asserting the same outcome on each: the security
// header set on every answer, errors included (200, 303, 400, 401, 403, 404, 405, 413, 421, 429
// and a forced 500); the same-origin rule on a state change (no token, a foreign Origin,
// `Origin: null`, Sec-Fetch-Site cross-site and same-site), each refusal journalled; an unknown
// Host; a body over the limit; headers sent slower than the timeout; an unknown method; TLS 1.1
// and CBC suites. Bounded: a few dozen requests and one 15 s slow client per surface.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request } from 'node:https';
import { connect } from 'node:tls';
import type { IncomingHttpHeaders } from 'node:http';
import { makeFleet, startAgent } from '../support/device.ts';
import { startHubService } from '../../src/hub/index.ts';
import { startCloud } from '../../src/cloud/index.ts';
import { makeUnits } from '../cloud/support.ts';

interface Surface {
  readonly name: string;
  readonly port: number;
  /** A JSON route that needs a session. */
  readonly sessionApi: string;
  /** The surface's connection journal, newest first. */
  entries(): Promise<ReadonlyArray<{ event: string; result: string; source: string }>>;
  /** Makes the next login post fail inside the surface (a store that throws); returns the repair. */
  breakLogin(): () => void;
}

/** Makes reading `key` of `target` throw until the returned repair is called. */
function breakProperty(target: object, key: string): () => void {
  const value = (target as Record<string, unknown>)[key];
  Object.defineProperty(target, key, {
    configurable: true,
    get: () => {
      throw new Error('forced failure');
    },
  });
  return () => Object.defineProperty(target, key, { configurable: true, writable: true, value });
}
const surfaces: Surface[] = [];
const closers: Array<() => Promise<void>> = [];

before(async () => {
  const fleet = await makeFleet(['plug']);
  const agent = await startAgent(fleet.units.plug!, join(fleet.work, 'state'));
  closers.push(() => agent.close());
  surfaces.push({
    name: 'device',
    port: agent.web.port,
    sessionApi: '/api/status',
    entries: () => agent.journal.list({ limit: 1000 }),
    breakLogin: () => breakProperty(agent.web.state, 'lockout'),
  });
  const hub = await startHubService({ stateDir: join(fleet.work, 'hub'), web: { port: 0 } });
  closers.push(() => hub.close());
  surfaces.push({
    name: 'hub',
    port: hub.web!.port,
    sessionApi: '/api/devices',
    entries: () => Promise.resolve(hub.journal.list({ limit: 1000 })),
    breakLogin: () => {
      const getMeta = hub.hub.store.getMeta.bind(hub.hub.store);
      hub.hub.store.getMeta = () => {
        throw new Error('forced failure');
      };
      return () => {
        hub.hub.store.getMeta = getMeta;
      };
    },
  });
  const units = await makeUnits('plug', 1);
  const cloud = await startCloud({
    factoryDir: units.factoryDir,
    stateDir: join(units.work, 'cloud'),
    manifests: [units.manifest],
    broker: { port: 0 },
    api: { port: 0 },
  });
  closers.push(() => cloud.close());
  surfaces.push({
    name: 'cloud',
    port: cloud.api.port,
    sessionApi: '/v1/me',
    entries: () => Promise.resolve(cloud.journal.list({ limit: 1000 })),
    breakLogin: () => {
      const attempts = cloud.store.attempts.bind(cloud.store);
      cloud.store.attempts = () => {
        throw new Error('forced failure');
      };
      return () => {
        cloud.store.attempts = attempts;
      };
    },
  });
});
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** The headers every answer carries, whatever its status. */
const REQUIRED_HEADERS: Readonly<Record<string, RegExp>> = {
  'strict-transport-security': /max-age=\d+/,
  'content-security-policy': /default-src 'none'.*frame-ancestors 'none'/,
  'x-content-type-options': /^nosniff$/,
  'x-frame-options': /^DENY$/,
  'referrer-policy': /^no-referrer$/,
  'cache-control': /no-store/,
};

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  closed: boolean;
}

interface Sent {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  from?: string;
}

function send(port: number, o: Sent): Promise<Answer & { body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: o.method ?? 'GET',
        path: o.path ?? '/login',
        agent: false,
        ...(o.from ? { localAddress: o.from } : {}),
        rejectUnauthorized: false,
        servername: 'localhost',
        headers: {
          host: `localhost:${port}`,
          ...(o.body !== undefined ? { 'content-length': String(Buffer.byteLength(o.body)) } : {}),
          ...o.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            closed: res.headers.connection === 'close',
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.end(o.body);
  });
}

function assertSecurityHeaders(surface: Surface, a: Answer, what: string): void {
  for (const [name, pattern] of Object.entries(REQUIRED_HEADERS)) {
    const value = a.headers[name];
    assert.ok(
      typeof value === 'string' && pattern.test(value),
      `${surface.name} ${what} (${a.status}): ${name} is ${String(value)}`,
    );
  }
}

/** A login form post as a browser would send it, with the cross-origin signal under test. */
function loginPost(port: number, headers: Record<string, string>, body?: string): Promise<Answer> {
  return send(port, {
    method: 'POST',
    path: '/login',
    body: body ?? 'username=admin&email=a%40b.example&password=wrong-password-1',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
}

/** A login post with the form's own cookie and token, as the surface's login page hands them out. */
async function formLogin(port: number, from = '127.0.0.1'): Promise<Answer> {
  const page = await send(port, { from });
  const cookie = ([] as string[])
    .concat(page.headers['set-cookie'] ?? [])
    .map((c) => c.split(';')[0])
    .join('; ');
  const token = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
  return send(port, {
    method: 'POST',
    path: '/login',
    from,
    body: `username=admin&email=a%40b.example&password=wrong-password-1&csrf=${encodeURIComponent(token)}`,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie,
      origin: `https://localhost:${port}`,
      'sec-fetch-site': 'same-origin',
    },
  });
}

test('every surface sends the full security header set on 200, 303, 400, 401, 403, 404, 405, 413 and 421', async () => {
  for (const s of surfaces) {
    const self = `https://localhost:${s.port}`;
    const cases: Array<[string, Promise<Answer>, number]> = [
      ['the login page', send(s.port, {}), 200],
      ['a page that needs a session', send(s.port, { path: '/' }), 303],
      ['a malformed body', loginPost(s.port, { origin: self, 'content-type': 'application/json' }, '{'), 400],
      [
        'an API route without a session',
        send(s.port, { path: s.sessionApi, headers: { accept: 'application/json' } }),
        401,
      ],
      ['a cross-site post', loginPost(s.port, { origin: 'https://evil.example' }), 403],
      ['an unknown path', send(s.port, { path: '/no-such-page' }), 404],
      ['an unknown method', send(s.port, { method: 'PUT' }), 405],
      ['a body over the limit', loginPost(s.port, { origin: self, 'content-length': '10000000' }), 413],
      ['an unknown host', send(s.port, { headers: { host: 'evil.example' } }), 421],
    ];
    for (const [what, pending, status] of cases) {
      const a = await pending;
      assert.equal(a.status, status, `${s.name}: ${what}`);
      if (status === 413) assert.ok(a.closed, `${s.name}: the connection closes after 413`);
      assertSecurityHeaders(s, a, what);
    }
  }
});

test('a state change with a foreign Origin, Origin: null, or a cross-/same-site fetch is refused: 403', async () => {
  for (const s of surfaces) {
    const cases: Array<[string, Record<string, string>]> = [
      ['no Origin and no Sec-Fetch-Site', {}],
      ['a foreign Origin', { origin: 'https://evil.example' }],
      ['Origin: null', { origin: 'null' }],
      ['Sec-Fetch-Site: cross-site', { origin: `https://localhost:${s.port}`, 'sec-fetch-site': 'cross-site' }],
      ['Sec-Fetch-Site: same-site', { origin: `https://localhost:${s.port}`, 'sec-fetch-site': 'same-site' }],
      ['Origin: null from another site', { origin: 'null', 'sec-fetch-site': 'cross-site' }],
    ];
    for (const [what, headers] of cases) {
      const before = (await s.entries()).filter((e) => e.event === 'csrf').length;
      const a = await loginPost(s.port, headers);
      assert.equal(a.status, 403, `${s.name}: ${what}`);
      const after = (await s.entries()).filter((e) => e.event === 'csrf' && e.result === 'refused').length;
      assert.ok(after > before, `${s.name}: ${what} is journalled`);
    }
  }
});

test('an unknown method gets 405 with Allow', async () => {
  for (const s of surfaces) {
    const a = await send(s.port, { method: 'DELETE', path: '/login' });
    assert.equal(a.status, 405, s.name);
    assert.deepEqual(String(a.headers.allow).split(', ').sort(), ['GET', 'HEAD', 'POST'], `${s.name}: Allow`);
  }
});

function handshake(
  port: number,
  o: { minVersion?: 'TLSv1.1' | 'TLSv1.2'; maxVersion?: 'TLSv1.1' | 'TLSv1.2'; ciphers?: string },
): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost', ...o }, () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.setTimeout(5_000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

test('TLS 1.1 and TLS 1.2 CBC suites are refused on every surface', async () => {
  for (const s of surfaces) {
    assert.equal(
      await handshake(s.port, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }),
      false,
      `${s.name}: TLS 1.1`,
    );
    for (const c of ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES128-SHA256']) {
      assert.equal(await handshake(s.port, { maxVersion: 'TLSv1.2', ciphers: c }), false, `${s.name}: ${c}`);
    }
  }
});

test('a request naming an unknown Host is refused with 421 on every surface, on every path', async () => {
  for (const s of surfaces) {
    for (const host of ['evil.example', `evil.example:${s.port}`, `localhost:${s.port + 1}`, `LOCALHOST.:${s.port}`]) {
      const a = await send(s.port, { path: '/login', headers: { host } });
      assert.equal(a.status, 421, `${s.name}: Host ${JSON.stringify(host)}`);
      assertSecurityHeaders(s, a, 'an unknown host');
    }
  }
});

test('too many wrong logins get 429 with Retry-After and the security headers on every surface', async () => {
  for (const s of surfaces) {
    let a: Answer | undefined;
    for (let i = 0; i < 30 && a?.status !== 429; i++) a = await formLogin(s.port, '127.0.0.91');
    assert.equal(a?.status, 429, `${s.name}: the guesser backs off`);
    assert.match(String(a.headers['retry-after']), /^\d+$/, `${s.name}: Retry-After`);
    assertSecurityHeaders(s, a, 'a locked-out login');
  }
});

test('a failure inside a surface answers 500 with the security headers and no detail', async () => {
  for (const s of surfaces) {
    const repair = s.breakLogin();
    try {
      const a = await formLogin(s.port, '127.0.0.92');
      assert.equal(a.status, 500, s.name);
      assertSecurityHeaders(s, a, 'a forced 500');
      assert.doesNotMatch((a as Answer & { body: string }).body, /forced failure/, `${s.name}: no internal detail`);
    } finally {
      repair();
    }
  }
});

test('a client that sends its headers slower than the timeout is cut off on every surface', async () => {
  const cutOff = surfaces.map(
    (s) =>
      new Promise<number>((resolve) => {
        const started = Date.now();
        const socket = connect(
          { host: '127.0.0.1', port: s.port, rejectUnauthorized: false, servername: 'localhost' },
          () => {
            socket.write(`GET /login HTTP/1.1\r\nHost: localhost:${s.port}\r\n`);
          },
        );
        let n = 0;
        const drip = setInterval(() => {
          if (!socket.destroyed) socket.write(`X-Slow-${n++}: 1\r\n`);
        }, 1_000);
        const end = (): void => {
          clearInterval(drip);
          resolve(Date.now() - started);
        };
        socket.on('close', end);
        socket.on('error', () => undefined);
        socket.setTimeout(20_000, () => socket.destroy());
      }),
  );
  const times = await Promise.all(cutOff);
  for (const [i, ms] of times.entries()) assert.ok(ms < 16_000, `${surfaces[i]!.name}: cut off after ${ms} ms`);
});
