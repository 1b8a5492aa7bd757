// Named users with roles on the hub's admin page (issue 26), on a real hub with a real plug and lock:
// the first owner (admin, the first-run password) adds a member and a guest; the member switches the
// plug but is refused pairing, grants and the lockout setting; the guest is refused the lock's bolt
// (even though the hub holds the grant); removing the member ends their open session at once; one
// person's wrong passwords do not lock out another; the hub's journal names who did what.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { copyFile, readFile, mkdir } from 'node:fs/promises';
import { startHubService, HUB_INITIAL_PASSWORD_FILE, type HubService } from '../../src/hub/index.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeFleet, WebClient, type TestFleet } from '../support/device.ts';
import { startTestDevice } from './support.ts';

const MEMBER_PASSWORD = 'copper-meadow-lantern-47';
const GUEST_PASSWORD = 'quiet-harbour-violin-85';

let fleet: TestFleet;
let service: HubService;
let plug: DeviceAgent;
let lock: DeviceAgent;
let ownerPassword: string;
let trust: ProvisionedUnit;

before(async () => {
  fleet = await makeFleet(['plug', 'lock']);
  plug = await startTestDevice(fleet.units.plug!, join(fleet.work, 'users-plug'));
  lock = await startTestDevice(fleet.units.lock!, join(fleet.work, 'users-lock'));
  const state = join(fleet.work, 'hub');
  service = await startHubService({ stateDir: state, web: { port: 0 } });
  ownerPassword = (await readFile(join(state, HUB_INITIAL_PASSWORD_FILE), 'utf8')).trim();
  const dir = join(fleet.work, 'hub-trust');
  await mkdir(dir);
  await copyFile(join(state, 'hub-cert.pem'), join(dir, 'web-cert.pem'));
  trust = { serial: 'hub', dir, setupCode: '', claimCode: '' };
});
after(async () => {
  await service?.close();
  await plug?.close();
  await lock?.close();
});

async function signedIn(name: string, password: string, from?: string): Promise<{ c: WebClient; csrf: string }> {
  const c = await WebClient.for(service.web!.url, trust, from);
  const r = await c.login(password, name);
  assert.equal(r.status, 303, `${name} logs in: ${r.body}`);
  const home = await c.get('/');
  assert.equal(home.status, 200);
  return { c, csrf: WebClient.csrfOf(home.body) };
}

const errorCodeOf = (body: string): string => (JSON.parse(body) as { error: { code: string } }).error.code;

test('the owner pairs a plug and a lock, grants the bolt, and adds a member and a guest', async () => {
  const o = await signedIn('admin', ownerPassword);
  lock.hub.openPairingWindow('owner');
  plug.hub.openPairingWindow('button');
  const lockSetup = fleet.units.lock!.setupCode;
  const pairLock = { address: `127.0.0.1:${lock.hub.port}`, setupCode: lockSetup, csrf: o.csrf };
  assert.equal((await o.c.send('POST', '/devices/pair', { json: pairLock })).status, 200);
  const pairPlug = { address: `127.0.0.1:${plug.hub.port}`, csrf: o.csrf };
  assert.equal((await o.c.send('POST', '/devices/pair', { json: pairPlug })).status, 200);
  const bolt = `/devices/${fleet.units.lock!.serial}/grant/bolt`;
  assert.equal((await o.c.send('POST', bolt, { json: { csrf: o.csrf } })).status, 200);
  for (const [name, role, password] of [
    ['Bea', 'member', MEMBER_PASSWORD],
    ['gus', 'guest', GUEST_PASSWORD],
  ] as const) {
    const r = await o.c.send('POST', '/people', { form: { name, role, password, csrf: o.csrf } });
    assert.equal(r.status, 303, r.body);
  }
  const page = await o.c.get('/people');
  assert.match(page.body, /data-person="bea"/);
  assert.match(page.body, /data-person="gus"/);
  assert.doesNotMatch(service.hub.store.getMeta('web.users') ?? '', new RegExp(MEMBER_PASSWORD));
});

test('the member switches the plug but is refused pairing, grants and the lockout setting', async () => {
  const m = await signedIn('bea', MEMBER_PASSWORD);
  assert.match((await m.c.get('/')).body, /Signed in as bea \(member\)/);
  const plugSerial = fleet.units.plug!.serial;
  const on = await m.c.send('POST', `/devices/${plugSerial}/call/power/on`, { json: { csrf: m.csrf } });
  assert.equal(on.status, 200, on.body);
  const refused: Array<[string, Record<string, string>]> = [
    ['/devices/pair', { address: `127.0.0.1:${plug.hub.port}` }],
    [`/devices/${fleet.units.lock!.serial}/revoke/bolt`, {}],
    [`/devices/${plugSerial}/unpair`, {}],
    ['/settings/lockout', { name: 'gus' }],
    ['/people', { name: 'eve', role: 'owner', password: GUEST_PASSWORD }],
  ];
  for (const [path, fields] of refused) {
    const r = await m.c.send('POST', path, { json: { ...fields, csrf: m.csrf } });
    assert.equal(r.status, 403, `${path} answered ${r.status}`);
    assert.equal(errorCodeOf(r.body), 'ROLE_REFUSED', path);
  }
  assert.equal(service.hub.devices().length, 2, 'nothing was unpaired');
  const page = await m.c.get('/people');
  assert.equal(page.status, 403);
  assert.match(page.body, /Only the owner can manage the people who use this hub/);
});

test('the guest is refused the lock’s bolt on the hub, though the hub holds the grant', async () => {
  const g = await signedIn('gus', GUEST_PASSWORD);
  const lockSerial = fleet.units.lock!.serial;
  const bolt = await g.c.send('POST', `/devices/${lockSerial}/call/bolt/unlock`, { json: { csrf: g.csrf } });
  assert.equal(bolt.status, 403);
  assert.equal(errorCodeOf(bolt.body), 'ROLE_REFUSED');
  const plugOff = await g.c.send('POST', `/devices/${fleet.units.plug!.serial}/call/power/off`, {
    json: { csrf: g.csrf },
  });
  assert.equal(plugOff.status, 200, 'a plug is not sensitive');
  const api = JSON.parse((await g.c.get('/api/devices')).body) as {
    devices: Array<{ serial: string; capabilities: Array<{ id: string }> }>;
  };
  const seen = api.devices.find((d) => d.serial === lockSerial)!;
  assert.deepEqual(seen.capabilities, [], 'the guest does not see the bolt');
  assert.doesNotMatch((await g.c.get('/')).body, /\/call\/bolt\//);
});

test('removing the member, behind the owner’s password, ends their open session at once', async () => {
  const o = await signedIn('admin', ownerPassword);
  const m = await signedIn('bea', MEMBER_PASSWORD);
  const wrong = await o.c.send('POST', '/people/bea/remove', { form: { password: 'not-it', csrf: o.csrf } });
  assert.equal(wrong.status, 401);
  assert.equal((await m.c.get('/api/devices')).status, 200);
  const started = Date.now();
  const removed = await o.c.send('POST', '/people/bea/remove', { form: { password: ownerPassword, csrf: o.csrf } });
  assert.equal(removed.status, 303, removed.body);
  assert.equal((await m.c.get('/api/devices')).status, 401, 'the next request is refused');
  assert.ok(Date.now() - started < 1_000, 'within one second');
  const again = await WebClient.for(service.web!.url, trust);
  assert.equal((await again.login(MEMBER_PASSWORD, 'bea')).status, 401);
});

test('one person’s wrong passwords do not lock out another or the owner', async () => {
  const ownerBrowser = await signedIn('admin', ownerPassword, '127.0.0.3');
  await ownerBrowser.c.send('POST', '/logout', { form: { csrf: ownerBrowser.csrf } });
  const guesser = await WebClient.for(service.web!.url, trust, '127.0.0.3');
  const answers: number[] = [];
  for (let i = 0; i < 7; i++) answers.push((await guesser.login(`wrong-${i}-guess`, 'gus')).status);
  assert.ok(answers.includes(429), `the guesses back off: ${answers.join(',')}`);
  assert.equal((await ownerBrowser.c.login(ownerPassword, 'admin')).status, 303, 'the owner’s browser is not held');
  const gus = await WebClient.for(service.web!.url, trust, '127.0.0.4');
  assert.equal((await gus.login(GUEST_PASSWORD, 'gus')).status, 303, 'gus logs in from his own browser');
  const stranger = await WebClient.for(service.web!.url, trust, '127.0.0.7');
  assert.equal((await stranger.login(ownerPassword, 'nobody')).status, 401, 'a name nobody has is nobody’s');
});

test('the hub’s journal names who did what', () => {
  const entries = service.journal.list({ limit: 1_000, tier: 'security' });
  const has = (identity: string, event: string, detail?: RegExp): boolean =>
    entries.some((e) => e.identity === identity && e.event === event && (!detail || detail.test(e.detail ?? '')));
  assert.ok(has('bea', 'login'), 'the member’s login');
  const plugSerial = fleet.units.plug!.serial;
  assert.ok(has('bea', 'control', new RegExp(`${plugSerial} call power on`)), 'the member switched the plug');
  assert.ok(has('bea', 'role-refused', /POST devices pair/), 'the member was refused pairing');
  assert.ok(has('gus', 'role-refused', /call bolt unlock/), 'the guest was refused the bolt');
  assert.ok(has('admin', 'control', /^POST people$/), 'the owner added people');
  assert.ok(has('admin', 'control', /POST people bea remove/), 'the owner removed the member');
  assert.ok(has('(unknown)', 'login'), 'a login as a name nobody has is journalled as unknown');
});
