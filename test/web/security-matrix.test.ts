// Issue 15: the same security cases against all three HTTPS surfaces (the device's admin page,
// the hub's and the cloud's owner app), each asserting the same outcome on each: the security
// header set on every answer, errors included; the same-origin rule on a state change (no token,
// a foreign Origin, `Origin: null`, Sec-Fetch-Site cross-site and same-site); an unknown Host; a
// body over the limit; an unknown method; TLS 1.1 and CBC suites. Bounded: a few dozen requests.
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

interface Surface { readonly name: string; readonly port: number }
const surfaces: Surface[] = [];
const closers: Array<() => Promise<void>> = [];

before(async () => {
  const fleet = await makeFleet(['plug']);
  const agent = await startAgent(fleet.units.plug!, join(fleet.work, 'state'));
  closers.push(() => agent.close());
  surfaces.push({ name: 'device', port: agent.web.port });
  const hub = await startHubService({ stateDir: join(fleet.work, 'hub'), web: { port: 0 } });
  closers.push(() => hub.close());
  surfaces.push({ name: 'hub', port: hub.web!.port });
  const units = await makeUnits('plug', 1);
  const cloud = await startCloud({
    factoryDir: units.factoryDir, stateDir: join(units.work, 'cloud'), manifests: [units.manifest],
    broker: { port: 0 }, api: { port: 0 },
  });
  closers.push(() => cloud.close());
  surfaces.push({ name: 'cloud', port: cloud.api.port });
});
after(async () => { for (const c of closers.reverse()) await c(); });

/** The headers every answer carries, whatever its status. */
const REQUIRED_HEADERS: Readonly<Record<string, RegExp>> = {
  'strict-transport-security': /max-age=\d+/,
  'content-security-policy': /default-src 'none'.*frame-ancestors 'none'/,
  'x-content-type-options': /^nosniff$/,
  'x-frame-options': /^DENY$/,
  'referrer-policy': /^no-referrer$/,
  'cache-control': /no-store/,
};

interface Answer { status: number; headers: IncomingHttpHeaders; closed: boolean }

function send(port: number, o: { method?: string; path?: string; headers?: Record<string, string>; body?: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path ?? '/login', agent: false,
      rejectUnauthorized: false, servername: 'localhost',
      headers: { host: `localhost:${port}`, ...(o.body !== undefined ? { 'content-length': String(Buffer.byteLength(o.body)) } : {}), ...o.headers },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, closed: res.headers.connection === 'close' }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.end(o.body);
  });
}

function assertSecurityHeaders(surface: Surface, a: Answer, what: string): void {
  for (const [name, pattern] of Object.entries(REQUIRED_HEADERS)) {
    const value = a.headers[name];
    assert.ok(typeof value === 'string' && pattern.test(value), `${surface.name} ${what} (${a.status}): ${name} is ${String(value)}`);
  }
}

/** A login form post as a browser would send it, with the cross-origin signal under test. */
function loginPost(port: number, headers: Record<string, string>): Promise<Answer> {
  return send(port, {
    method: 'POST', path: '/login', body: 'username=admin&email=a%40b.example&password=wrong-password-1',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
}

test('every surface sends the full security header set on 200, 303, 403, 404, 405, 413 and 421', async () => {
  for (const s of surfaces) {
    const self = `https://localhost:${s.port}`;
    const cases: Array<[string, Promise<Answer>, number]> = [
      ['the login page', send(s.port, {}), 200],
      ['a page that needs a session', send(s.port, { path: '/' }), 303],
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

test('a state change with a foreign Origin, Origin: null or a cross-site or same-site fetch is refused with 403', async () => {
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
      const a = await loginPost(s.port, headers);
      assert.equal(a.status, 403, `${s.name}: ${what}`);
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

function handshake(port: number, o: { minVersion?: 'TLSv1.1' | 'TLSv1.2'; maxVersion?: 'TLSv1.1' | 'TLSv1.2'; ciphers?: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost', ...o }, () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.setTimeout(5_000, () => { s.destroy(); resolve(false); });
  });
}

test('TLS 1.1 and TLS 1.2 CBC suites are refused on every surface', async () => {
  for (const s of surfaces) {
    assert.equal(await handshake(s.port, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }), false, `${s.name}: TLS 1.1`);
    for (const c of ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES128-SHA256']) {
      assert.equal(await handshake(s.port, { maxVersion: 'TLSv1.2', ciphers: c }), false, `${s.name}: ${c}`);
    }
  }
});
