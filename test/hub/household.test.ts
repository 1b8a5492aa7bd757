// One household across the hub and its devices (issue 26): a person the owner removes on the hub is removed on every
// paired device's own page too, over the pinned channel, and their sessions there end within a second. Only removals
// travel: a person added on the hub is not added to any device.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { copyFile, readFile, mkdir } from 'node:fs/promises';
import { startHubService, HUB_INITIAL_PASSWORD_FILE, type HubService } from '../../src/hub/index.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import type { ProvisionedUnit } from '../../src/identity/index.ts';
import { makeFleet, signedIn, WebClient, type TestFleet } from '../support/device.ts';
import { startTestDevice } from './support.ts';
import { freePort } from '../cloud/support.ts';

const BEA_PASSWORD = 'copper-meadow-lantern-47';

let fleet: TestFleet;
let service: HubService;
let plug: DeviceAgent;
let hubOwnerPassword: string;
let hubTrust: ProvisionedUnit;

before(async () => {
  fleet = await makeFleet(['plug', 'lock']);
  plug = await startTestDevice(fleet.units.plug!, join(fleet.work, 'household-plug'));
  const state = join(fleet.work, 'hub');
  service = await startHubService({ stateDir: state, web: { port: 0 } });
  hubOwnerPassword = (await readFile(join(state, HUB_INITIAL_PASSWORD_FILE), 'utf8')).trim();
  const dir = join(fleet.work, 'hub-trust');
  await mkdir(dir);
  await copyFile(join(state, 'hub-cert.pem'), join(dir, 'web-cert.pem'));
  hubTrust = { serial: 'hub', dir, setupCode: '', claimCode: '' };
});
after(async () => {
  await service?.close();
  await plug?.close();
});

test('a person removed on the hub is removed on its paired plug too, and their sessions there end', async () => {
  const hubOwner = await signedIn(service.web!.url, hubTrust, 'admin', hubOwnerPassword);
  const plugUnit = fleet.units.plug!;
  const plugOwner = await signedIn(plug.web.url, plugUnit, 'admin', plugUnit.adminPassword!);
  plug.hub.openPairingWindow('button');
  const pair = { address: `127.0.0.1:${plug.hub.port}`, csrf: hubOwner.csrf };
  assert.equal((await hubOwner.c.send('POST', '/devices/pair', { json: pair })).status, 200);
  for (const [owner, where] of [
    [hubOwner, 'hub'],
    [plugOwner, 'plug'],
  ] as const) {
    const form = { name: 'bea', role: 'member', password: BEA_PASSWORD, csrf: owner.csrf };
    assert.equal((await owner.c.send('POST', '/people', { form })).status, 303, `bea added on the ${where}`);
  }
  const beaOnHub = await signedIn(service.web!.url, hubTrust, 'bea', BEA_PASSWORD);
  const beaOnPlug = await signedIn(plug.web.url, plugUnit, 'bea', BEA_PASSWORD);

  const removedAt = Date.now();
  const removal = await hubOwner.c.send('POST', '/people/bea/remove', {
    json: { password: hubOwnerPassword, csrf: hubOwner.csrf },
  });
  assert.equal(removal.status, 200, removal.body);
  const devices = (JSON.parse(removal.body) as { devices: { removed: string[]; unreachable: string[] } }).devices;
  assert.deepEqual(devices, { removed: [plugUnit.serial], unreachable: [] });
  assert.equal((await beaOnHub.c.get('/')).status, 303, 'her hub session ended');
  assert.equal((await beaOnPlug.c.get('/')).status, 303, 'her plug session ended');
  assert.ok(Date.now() - removedAt < 1_000, 'within one second');
  const again = await WebClient.for(plug.web.url, plugUnit);
  assert.equal((await again.login(BEA_PASSWORD, 'bea')).status, 401, 'she is no longer a person of the plug');

  const journal = await plugOwner.c.get('/api/journal?tier=security&limit=1000');
  const entries = (JSON.parse(journal.body) as { entries: Array<{ event: string; detail?: string }> }).entries;
  const removed = entries.find((e) => e.event === 'user-removed');
  assert.match(removed?.detail ?? '', /^bea: removed by paired hub [0-9a-f]{8}; 1 session\(s\) ended$/);
});

test('a person added on the hub is not added to its devices: only removals travel', async () => {
  const hubOwner = await signedIn(service.web!.url, hubTrust, 'admin', hubOwnerPassword);
  const form = { name: 'cal', role: 'member', password: BEA_PASSWORD, csrf: hubOwner.csrf };
  assert.equal((await hubOwner.c.send('POST', '/people', { form })).status, 303);
  const onPlug = await WebClient.for(plug.web.url, fleet.units.plug!);
  assert.equal((await onPlug.login(BEA_PASSWORD, 'cal')).status, 401);
});

test('a removal a device missed while it was off reaches it when it is back', { timeout: 60_000 }, async () => {
  const lockUnit = fleet.units.lock!;
  const state = join(fleet.work, 'household-lock');
  const hubPort = await freePort();
  let lock = await startTestDevice(lockUnit, state, { hubPort });
  try {
    const hubOwner = await signedIn(service.web!.url, hubTrust, 'admin', hubOwnerPassword);
    const lockOwner = await signedIn(lock.web.url, lockUnit, 'admin', lockUnit.adminPassword!);
    lock.hub.openPairingWindow('owner');
    const pair = { address: `127.0.0.1:${hubPort}`, setupCode: lockUnit.setupCode, csrf: hubOwner.csrf };
    assert.equal((await hubOwner.c.send('POST', '/devices/pair', { json: pair })).status, 200);
    for (const owner of [hubOwner, lockOwner]) {
      const form = { name: 'dan', role: 'member', password: BEA_PASSWORD, csrf: owner.csrf };
      assert.equal((await owner.c.send('POST', '/people', { form })).status, 303);
    }
    await lock.close();
    const removal = await hubOwner.c.send('POST', '/people/dan/remove', {
      json: { password: hubOwnerPassword, csrf: hubOwner.csrf },
    });
    const devices = (JSON.parse(removal.body) as { devices: { removed: string[]; unreachable: string[] } }).devices;
    assert.ok(devices.unreachable.includes(lockUnit.serial), 'the lock was off');
    lock = await startTestDevice(lockUnit, state, { hubPort });
    let status = 303;
    for (let i = 0; i < 300 && status !== 401; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await (await WebClient.for(lock.web.url, lockUnit)).login(BEA_PASSWORD, 'dan')).status;
    }
    assert.equal(status, 401, 'dan is no longer a person of the lock once the hub reached it');
    assert.equal(service.hub.store.getMeta('people.pending-revocations'), undefined, 'nothing left to deliver');
  } finally {
    await lock.close();
  }
});

test("a person the owner removes on a device's own page is removed on its hub too", async () => {
  const hubOwner = await signedIn(service.web!.url, hubTrust, 'admin', hubOwnerPassword);
  const plugUnit = fleet.units.plug!;
  const plugOwner = await signedIn(plug.web.url, plugUnit, 'admin', plugUnit.adminPassword!);
  for (const owner of [hubOwner, plugOwner]) {
    const form = { name: 'eve', role: 'guest', password: BEA_PASSWORD, csrf: owner.csrf };
    assert.equal((await owner.c.send('POST', '/people', { form })).status, 303);
  }
  const eveOnHub = await signedIn(service.web!.url, hubTrust, 'eve', BEA_PASSWORD);
  const removedAt = Date.now();
  const removal = await plugOwner.c.send('POST', '/people/eve/remove', {
    json: { password: plugUnit.adminPassword!, csrf: plugOwner.csrf },
  });
  assert.equal(removal.status, 200, removal.body);
  let status = 200;
  while (status !== 303 && Date.now() - removedAt < 1_000) {
    status = (await eveOnHub.c.get('/')).status;
    if (status !== 303) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(status, 303, 'her hub session ended within a second');
  const entries = service.journal.list();
  assert.ok(entries.some((e) => e.event === 'user-removed' && /^eve: removed by paired device /.test(e.detail ?? '')));
});
