// Random bodies, headers and cookies at every route: no 5xx, no crash, nothing stored changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { makeFleet, startAgent, WebClient, type TestFleet } from '../support/device.ts';
import type { DeviceAgent } from '../../src/device/index.ts';

let fleet: TestFleet;
let agent: DeviceAgent;
const state = (): string => join(fleet.work, 'state');

before(async () => {
  fleet = await makeFleet(['plug']);
  agent = await startAgent(fleet.units.plug!, state());
});
after(async () => {
  await agent?.close();
});

const snapshot = async (): Promise<string> => {
  const read = (p: string): Promise<string> => readFile(join(state(), p), 'utf8').catch(() => '(none)');
  return JSON.stringify([await read('web/owner.json'), await read('capabilities.json')]);
};

const token = fc.stringMatching(/^[A-Za-z0-9_\-=.;:%"' ]{0,60}$/);
const junk = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.constant(''),
  fc.constant('{"__proto__":{"x":1}}'),
  fc.constant('a=1&a=2&__proto__=x'),
  fc.json({ maxDepth: 3 }),
);

test('random requests to every route never get a 5xx and never change stored state', { timeout: 300_000 }, async () => {
  const owner = await WebClient.for(agent.web.url, fleet.units.plug!, '127.0.0.9');
  assert.equal((await owner.login(fleet.units.plug!.adminPassword!)).status, 303);
  const csrf = WebClient.csrfOf((await owner.get('/')).body);
  const before = await snapshot();
  const routes = agent.web.routes;
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: routes.length - 1 }),
      fc.constantFrom(
        'application/x-www-form-urlencoded',
        'application/json',
        'text/plain',
        'multipart/form-data; boundary=x',
        '',
      ),
      junk,
      token,
      fc.boolean(),
      fc.boolean(),
      fc.stringMatching(/^z[a-z0-9]{1,12}$/),
      fc.dictionary(fc.stringMatching(/^x-[a-z]{1,10}$/), token, { maxKeys: 3 }),
      async (i, contentType, body, cookie, withSession, withCsrf, param, extra) => {
        const r = routes[i]!;
        const path = r.path.replace(/:[a-z]+/g, param);
        const c = await WebClient.for(agent.web.url, fleet.units.plug!, '127.0.0.9');
        const cookies = withSession
          ? `${[...owner.cookies].map(([k, v]) => `${k}=${v}`).join('; ')}; junk=${cookie}`
          : `__Host-bulwark-session=${cookie}`;
        const headers: Record<string, string> = {
          ...extra,
          cookie: cookies.replace(/[^\x20-\x7e]/g, ''),
          ...(contentType ? { 'content-type': contentType } : {}),
        };
        if (withCsrf) headers['x-csrf-token'] = csrf;
        // A route that takes no secret must never be driven to change state with a real token: keep the
        // capability path random (param never names a real capability) and POST only junk.
        const a = await c.send(r.method, path, {
          raw: r.method === 'POST' ? body : undefined,
          headers,
          cookies: false,
        });
        assert.ok(a.status < 500, `${r.method} ${path} answered ${a.status}: ${a.body.slice(0, 200)}`);
      },
    ),
    { numRuns: 300 },
  );
  assert.equal(await snapshot(), before);
  // The agent is still up and the owner can still log in (from a fresh address).
  const after = await WebClient.for(agent.web.url, fleet.units.plug!, '127.0.0.10');
  assert.equal((await after.login(fleet.units.plug!.adminPassword!)).status, 303);
});

test('oversized bodies, paths and cookies get a 4xx, not a crash', async () => {
  const c = await WebClient.for(agent.web.url, fleet.units.plug!);
  assert.equal(
    (
      await c.send('POST', '/login', {
        raw: 'a'.repeat(100_000),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
    ).status,
    413,
  );
  assert.ok((await c.send('GET', '/' + 'a'.repeat(2000))).status >= 400);
  const big = await c.send('GET', '/login', { headers: { cookie: 'x=' + 'y'.repeat(6000) } });
  assert.ok(big.status < 500);
  const badHost = await c.send('GET', '/login', { headers: { host: 'evil.example' } });
  assert.equal(badHost.status, 421);
});
