// The hub's HTTPS admin page: the first password in a 0600 file, login with lockout, every other
// route behind a session, CSRF token and Origin on every change, a Host allow-list; pairing by
// setup code and by push button from the page, control, grants and unpairing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { copyFile, readFile, stat, mkdir } from 'node:fs/promises';
import { startHubService, HUB_INITIAL_PASSWORD_FILE, type HubService } from '../../src/hub/index.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeFleet, WebClient, type TestFleet } from '../support/device.ts';
import { startTestDevice } from './support.ts';

let fleet: TestFleet;
let service: HubService;
let plug: DeviceAgent;
let lock: DeviceAgent;
let password: string;
let trust: ProvisionedUnit;

before(async () => {
  fleet = await makeFleet(['plug', 'lock']);
  plug = await startTestDevice(fleet.units.plug!, join(fleet.work, 'web-plug'));
  lock = await startTestDevice(fleet.units.lock!, join(fleet.work, 'web-lock'));
  const state = join(fleet.work, 'hub');
  service = await startHubService({ stateDir: state, web: { port: 0 } });
  password = (await readFile(join(state, HUB_INITIAL_PASSWORD_FILE), 'utf8')).trim();
  // WebClient trusts exactly one certificate, read as <dir>/web-cert.pem: here the hub's.
  const dir = join(fleet.work, 'hub-trust');
  await mkdir(dir);
  await copyFile(join(state, 'hub-cert.pem'), join(dir, 'web-cert.pem'));
  trust = { serial: 'hub', dir, setupCode: '', claimCode: '' };
});
after(async () => {
  await service.close();
  await plug.close();
  await lock.close();
});

async function client(from?: string): Promise<WebClient> {
  return WebClient.for(service.web!.url, trust, from);
}

async function loggedIn(): Promise<{ c: WebClient; csrf: string }> {
  const c = await client();
  const page = await c.get('/login');
  const r = await c.send('POST', '/login', { form: { password, csrf: WebClient.csrfOf(page.body) } });
  assert.equal(r.status, 303);
  const home = await c.get('/');
  assert.equal(home.status, 200);
  return { c, csrf: WebClient.csrfOf(home.body) };
}

test('the first password is in a 0600 file; every route but the login page needs a session', async () => {
  assert.equal((await stat(join(fleet.work, 'hub', HUB_INITIAL_PASSWORD_FILE))).mode & 0o777, 0o600);
  const c = await client();
  for (const path of ['/', '/api/devices']) {
    const r = await c.get(path);
    assert.ok(r.status === 303 || r.status === 401, `${path} -> ${r.status}`);
  }
  const r = await c.send('POST', '/devices/pair', { json: { address: '127.0.0.1:1' } });
  assert.equal(r.status, 401);
  const login = await c.get('/login');
  assert.equal(login.status, 200);
  assert.match(String(login.headers['content-security-policy']), /default-src 'none'/);
  assert.equal(login.headers['x-frame-options'], 'DENY');
  for (const route of service.web!.routes) {
    if (route.method === 'POST')
      assert.ok(route.csrf || route.path === '/login', `${route.path} changes state without a CSRF check`);
    if (route.access === 'public')
      assert.ok(
        ['/login', '/static/app.css', '/static/app.js', '/static/icon.svg', '/favicon.ico'].includes(route.path),
        `${route.path} is public`,
      );
  }
});

test('a wrong password is refused and repeated guesses back off; a foreign Host is refused', async () => {
  const c = await client('127.0.0.9');
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const page = await c.get('/login');
    statuses.push(
      (await c.send('POST', '/login', { form: { password: `guess-${i}`, csrf: WebClient.csrfOf(page.body) } })).status,
    );
  }
  assert.equal(statuses[0], 401);
  assert.ok(statuses.includes(429), `no back-off: ${statuses.join(',')}`);
  const foreign = await c.send('GET', '/login', { headers: { host: 'evil.example' } });
  assert.equal(foreign.status, 421);
});

test(
  'pairing from the page: setup code for the lock, push button for the plug; control, grant and unpair; CSRF ' +
    'and Origin enforced',
  { timeout: 60_000 },
  async () => {
    const { c, csrf } = await loggedIn();
    lock.hub.openPairingWindow('owner');
    plug.hub.openPairingWindow('button');
    const forged = await c.send('POST', '/devices/pair', {
      form: { address: `127.0.0.1:${lock.hub.port}`, setupCode: fleet.units.lock!.setupCode, csrf },
      origin: 'https://evil.example',
    });
    assert.equal(forged.status, 403);
    const noToken = await c.send('POST', '/devices/pair', {
      form: { address: `127.0.0.1:${lock.hub.port}`, setupCode: fleet.units.lock!.setupCode },
    });
    assert.equal(noToken.status, 403);
    assert.equal(service.hub.devices().length, 0);
    const pairedLock = await c.send('POST', '/devices/pair', {
      form: { address: `127.0.0.1:${lock.hub.port}`, setupCode: fleet.units.lock!.setupCode, csrf },
    });
    assert.equal(pairedLock.status, 303, pairedLock.body);
    const pushLock = await c.send('POST', '/devices/pair', { json: { address: `127.0.0.1:${plug.hub.port}`, csrf } });
    assert.equal(pushLock.status, 200, pushLock.body);
    const page = await c.get('/');
    assert.match(page.body, new RegExp(fleet.units.lock!.serial));
    assert.match(page.body, new RegExp(fleet.units.plug!.serial));
    assert.match(page.body, /The hub may not use this: it is sensitive[^]*?>Let the hub use it<\/button>/);
    const lockSerial = fleet.units.lock!.serial;
    const denied = await c.send('POST', `/devices/${lockSerial}/call/bolt/unlock`, { json: { csrf } });
    assert.equal(denied.status, 403);
    assert.match(denied.body, /HUB_CAPABILITY_NOT_GRANTED/);
    // The page's own forms: the notice after each says what changed, in the model's words, on the page the redirect
    // leads to (the location itself carries no text: anyone could write a link's).
    const notice = async (r: { headers: Record<string, unknown> }): Promise<string> => {
      assert.equal(r.headers.location, '/');
      return /<p class="notice" role="status">([^<]*)<\/p>/.exec((await c.get('/')).body)?.[1] ?? '';
    };
    const granted = await c.send('POST', `/devices/${lockSerial}/grant/bolt`, { form: { csrf } });
    assert.equal(granted.status, 303);
    assert.equal(await notice(granted), `The hub may now use Bolt on Smart Door Lock ${lockSerial}.`);
    const locked = await c.send('POST', `/devices/${lockSerial}/call/bolt/lock`, { form: { csrf } });
    assert.equal(await notice(locked), `Smart Door Lock ${lockSerial} — Bolt: locked.`);
    assert.equal(await notice(locked), '', 'a notice is shown once');
    const unlocked = await c.send('POST', `/devices/${lockSerial}/call/bolt/unlock`, { json: { csrf } });
    assert.equal(unlocked.status, 200);
    assert.deepEqual(JSON.parse(unlocked.body), { ok: true, value: 'unlocked' });
    const wrong = await c.send('POST', '/devices/pair', {
      json: { address: `127.0.0.1:${lock.hub.port}`, setupCode: fleet.units.lock!.setupCode, csrf },
    });
    assert.equal(wrong.status, 409);
    assert.match(wrong.body, /PAIRING_WINDOW_CLOSED/);
    const unpaired = await c.send('POST', `/devices/${lockSerial}/unpair`, { json: { csrf } });
    assert.equal(unpaired.status, 200);
    assert.deepEqual(JSON.parse(unpaired.body), { ok: true, toldDevice: true });
    assert.equal(lock.hub.hubs().length, 0);
    const api = JSON.parse((await c.get('/api/devices')).body) as { devices: Array<{ serial: string }> };
    assert.deepEqual(
      api.devices.map((d) => d.serial),
      [fleet.units.plug!.serial],
    );
  },
);

test(
  "the owner changes the hub's password: the current one is checked, a weak one refused, then every session " +
    'ends and the first-password file is gone',
  async () => {
    const { c, csrf } = await loggedIn();
    const form = (
      currentPassword: string,
      newPassword: string,
      confirmPassword = newPassword,
    ): Record<string, string> => ({ currentPassword, newPassword, confirmPassword, csrf });
    const next = 'copper lantern orbit 71 quietly';
    assert.equal((await c.send('POST', '/password', { form: form('not-the-password', next) })).status, 401);
    const weak = await c.send('POST', '/password', { form: form(password, 'password1234') });
    assert.equal(weak.status, 422);
    assert.match(weak.body, /not accepted/);
    assert.equal((await c.send('POST', '/password', { form: form(password, next, next + 'x') })).status, 422);
    assert.equal(
      (
        await c.send('POST', '/password', {
          form: { currentPassword: password, newPassword: next, confirmPassword: next },
        })
      ).status,
      403,
      'no CSRF token',
    );
    assert.equal((await c.get('/')).status, 200, 'refusals change nothing');
    const changed = await c.send('POST', '/password', { form: form(password, next) });
    assert.equal(changed.status, 303);
    assert.equal(changed.headers.location, '/login');
    assert.equal((await c.get('/')).status, 303, 'the session ended');
    await assert.rejects(stat(join(fleet.work, 'hub', HUB_INITIAL_PASSWORD_FILE)), { code: 'ENOENT' });
    const fresh = await client('127.0.0.12');
    const old = await fresh.send('POST', '/login', {
      form: { password, csrf: WebClient.csrfOf((await fresh.get('/login')).body) },
    });
    assert.equal(old.status, 401);
    password = next;
    await loggedIn();
  },
);
