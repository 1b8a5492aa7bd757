// One household on every surface (issue 26's acceptance): the owner invites a member and a guest in the cloud and
// names them on the plug's, the lock's and the hub's own pages. The member switches the plug everywhere but cannot
// change the lockout or the pairing window; the guest is refused the lock's bolt everywhere. One removal in the cloud
// ends the member's sessions in the cloud, on the plug and on the hub within a second (cloud -> plug over MQTT,
// plug -> hub over the pinned channel), and each journal names who did what.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { copyFile, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { initFactory, provisionUnits, type ProvisionedUnit } from '../../src/identity/index.ts';
import { startCloud, type CloudService } from '../../src/cloud/index.ts';
import { startDeviceAgent, pressButton, type DeviceAgent } from '../../src/device/index.ts';
import { startHubService, HUB_INITIAL_PASSWORD_FILE, type HubService } from '../../src/hub/index.ts';
import { ApiClient, waitFor, waitForMail, type ApiAnswer } from '../cloud/support.ts';
import { signedIn, WebClient } from '../support/device.ts';

const CLOUD_PASSWORD = 'marble falcon tundra 42 softly';
const LOCAL_PASSWORD = 'copper-meadow-lantern-47';

let work: string;
let cloud: CloudService;
let hub: HubService;
let hubTrust: ProvisionedUnit;
let hubOwnerPassword: string;
const units: Record<'plug' | 'lock', ProvisionedUnit> = {} as never;
const agents: Partial<Record<'plug' | 'lock', DeviceAgent>> = {};
let nextAddress = 20;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-household-'));
  const factoryDir = join(work, 'factory');
  await initFactory(factoryDir);
  for (const model of ['plug', 'lock'] as const)
    units[model] = (await provisionUnits({ factoryDir, model, count: 1, outDir: join(work, `units-${model}`) }))[0]!;
  cloud = await startCloud({
    factoryDir,
    stateDir: join(work, 'cloud'),
    manifests: ['plug', 'lock'].map((m) => join(work, `units-${m}`, 'manifest.json')),
    broker: { port: 0 },
    api: { port: 0 },
  });
  for (const model of ['plug', 'lock'] as const) {
    const agent = await startDeviceAgent({
      bundleDir: units[model].dir,
      stateDir: join(work, `dev-${model}`),
      webPort: 0,
      hubPort: 0,
      mode: 'development',
      cloudUrl: cloud.brokerUrl,
    });
    agents[model] = agent;
    assert.equal(await agent.cloud!.waitConnected(10_000), true);
  }
  const hubState = join(work, 'hub');
  hub = await startHubService({ stateDir: hubState, web: { port: 0 } });
  hubOwnerPassword = (await readFile(join(hubState, HUB_INITIAL_PASSWORD_FILE), 'utf8')).trim();
  const dir = join(work, 'hub-trust');
  await mkdir(dir);
  await copyFile(join(hubState, 'hub-cert.pem'), join(dir, 'web-cert.pem'));
  hubTrust = { serial: 'hub', dir, setupCode: '', claimCode: '' };
});

after(async () => {
  await hub?.close();
  for (const a of Object.values(agents)) await a?.close();
  await cloud?.close();
});

/** A cloud client from its own loopback address. */
function cloudClient(): ApiClient {
  return new ApiClient(cloud.api.url, cloud.credentials.caCertPem, `127.0.0.${nextAddress++}`);
}

/** The token of the newest link to `path` the cloud wrote to its maildir for `to`. */
async function mailedToken(to: string, path: string): Promise<string> {
  const mail = await waitForMail(join(work, 'cloud', 'mail'), to, new RegExp(`${path}\\?token=`));
  return decodeURIComponent(new RegExp(`${path}\\?token=([A-Za-z0-9._%-]+)`).exec(mail.text)![1]!);
}

async function confirmedAccount(email: string): Promise<ApiClient> {
  const c = cloudClient();
  assert.equal((await c.register(email, CLOUD_PASSWORD)).status, 202);
  const token = await mailedToken(email, '/verify');
  assert.equal((await c.send('POST', '/v1/accounts/verify', { json: { token } })).status, 200);
  assert.equal((await c.login(email, CLOUD_PASSWORD)).status, 200);
  return c;
}

async function claimWithButton(c: ApiClient, model: 'plug' | 'lock'): Promise<void> {
  assert.match(await pressButton(join(work, `dev-${model}`), 'press'), /claim window open/);
  const answer = await waitFor(
    async () => {
      const r = await c.claim(units[model].serial, units[model].claimCode);
      return r.json.error?.code === 'CLAIM_WINDOW_CLOSED' ? undefined : r;
    },
    5_000,
    'the claim window',
  );
  assert.equal(answer!.status, 201, answer!.body);
}

const command = (c: ApiClient, serial: string, capability: string, action: string): Promise<ApiAnswer> =>
  c.send('POST', `/v1/devices/${serial}/commands`, { json: { capability, action } });

test('a member and a guest on every surface; one removal in the cloud ends the member everywhere', async (t) => {
  const plug = agents.plug!,
    lock = agents.lock!;
  // The owner: a cloud account with both devices, the devices' own pages, and the hub with both paired.
  const alice = await confirmedAccount('alice@example.com');
  await claimWithButton(alice, 'plug');
  await claimWithButton(alice, 'lock');
  const hubOwner = await signedIn(hub.web!.url, hubTrust, 'admin', hubOwnerPassword);
  plug.hub.openPairingWindow('button');
  const pairPlug = { address: `127.0.0.1:${plug.hub.port}`, csrf: hubOwner.csrf };
  assert.equal((await hubOwner.c.send('POST', '/devices/pair', { json: pairPlug })).status, 200);
  lock.hub.openPairingWindow('owner');
  const pairLock = { address: `127.0.0.1:${lock.hub.port}`, setupCode: units.lock.setupCode, csrf: hubOwner.csrf };
  assert.equal((await hubOwner.c.send('POST', '/devices/pair', { json: pairLock })).status, 200);
  const plugOwner = await signedIn(plug.web.url, units.plug, 'admin', units.plug.adminPassword!);
  const lockOwner = await signedIn(lock.web.url, units.lock, 'admin', units.lock.adminPassword!);

  // Invitations by mail, carrying each person's name on the devices; the local pages name them the same.
  for (const [email, role, name] of [
    ['bea@example.com', 'member', 'bea'],
    ['cal@example.com', 'guest', 'cal'],
  ] as const) {
    const invited = await alice.send('POST', '/v1/household/invitations', { json: { email, role, name } });
    assert.equal(invited.status, 202, invited.body);
  }
  const bea = await confirmedAccount('bea@example.com');
  const cal = await confirmedAccount('cal@example.com');
  for (const [c, email] of [
    [bea, 'bea@example.com'],
    [cal, 'cal@example.com'],
  ] as const) {
    const token = await mailedToken(email, '/invitations/accept');
    assert.equal((await c.send('POST', '/v1/household/accept', { json: { token } })).status, 200);
  }
  for (const owner of [hubOwner, plugOwner, lockOwner])
    for (const [name, role] of [
      ['bea', 'member'],
      ['cal', 'guest'],
    ] as const) {
      const form = { name, role, password: LOCAL_PASSWORD, csrf: owner.csrf };
      assert.equal((await owner.c.send('POST', '/people', { form })).status, 303, `${name} added`);
    }

  // The member switches the plug from the cloud, its own page and the hub, and changes nothing about security.
  const fromCloud = await command(bea, units.plug.serial, 'power', 'on');
  assert.equal((fromCloud.json.command as { status: string } | undefined)?.status, 'done', fromCloud.body);
  const beaPlug = await signedIn(plug.web.url, units.plug, 'bea', LOCAL_PASSWORD);
  const beaHub = await signedIn(hub.web!.url, hubTrust, 'bea', LOCAL_PASSWORD);
  const off = await beaPlug.c.send('POST', '/api/capabilities/power/off', { json: { csrf: beaPlug.csrf } });
  assert.equal(off.status, 200, off.body);
  const viaHub = `/devices/${units.plug.serial}/call/power/on`;
  assert.equal((await beaHub.c.send('POST', viaHub, { json: { csrf: beaHub.csrf } })).status, 200);
  for (const [who, path, fields] of [
    [beaPlug, '/settings/lockout', { name: 'cal' }],
    [beaPlug, '/api/actions/pairing-window', {}],
    [beaHub, '/settings/lockout', { name: 'cal' }],
    [beaHub, '/devices/pair', { address: `127.0.0.1:${plug.hub.port}` }],
  ] as const) {
    const r = await who.c.send('POST', path, { json: { ...fields, csrf: who.csrf } });
    assert.equal(r.status, 403, `the member is refused ${path}`);
  }

  // The guest is refused the lock's bolt on every surface.
  const calLock = await signedIn(lock.web.url, units.lock, 'cal', LOCAL_PASSWORD);
  const calHub = await signedIn(hub.web!.url, hubTrust, 'cal', LOCAL_PASSWORD);
  assert.equal((await command(cal, units.lock.serial, 'bolt', 'unlock')).status, 403, 'in the cloud');
  const onLock = await calLock.c.send('POST', '/api/capabilities/bolt/unlock', { json: { csrf: calLock.csrf } });
  assert.equal(onLock.status, 403, "on the lock's page");
  const boltViaHub = `/devices/${units.lock.serial}/call/bolt/unlock`;
  assert.equal((await calHub.c.send('POST', boltViaHub, { json: { csrf: calHub.csrf } })).status, 403, 'on the hub');
  assert.equal(lock.capabilities.list().find((c) => c.id === 'bolt')!.value, 'locked', 'the bolt never moved');
  // Nor does the cloud's API tell her whether it is bolted (the owner sees it).
  const stateIds = async (who: typeof cal): Promise<string[]> =>
    (
      (await who.send('GET', `/v1/devices/${units.lock.serial}`)).json.device as { state: Array<{ id: string }> }
    ).state.map((c) => c.id);
  assert.ok((await stateIds(alice)).includes('bolt'), "the owner sees the bolt's state");
  assert.ok(!(await stateIds(cal)).includes('bolt'), "the guest's view of the lock has no bolt");

  // One removal in the cloud.
  const people = (await alice.send('GET', '/v1/household')).json.people as Array<{ email: string; memberId: string }>;
  const beaId = people.find((p) => p.email === 'bea@example.com')!.memberId;
  const removedAt = Date.now();
  const removal = await alice.send('POST', '/v1/household/remove', { json: { memberId: beaId } });
  assert.equal(removal.status, 200, removal.body);
  assert.deepEqual(removal.json.devices, { removed: [units.lock.serial, units.plug.serial].sort(), unreachable: [] });
  const ended = async (): Promise<boolean> =>
    (await bea.send('GET', '/v1/devices')).status === 401 &&
    (await beaPlug.c.get('/')).status === 303 &&
    (await beaHub.c.get('/')).status === 303;
  await waitFor(ended, 1_000, "bea's sessions on the cloud, the plug and the hub", 20);
  const took = Date.now() - removedAt;
  t.diagnostic(`the member's sessions ended on the cloud, the plug and the hub ${took} ms after the removal`);
  assert.ok(took < 1_000, `ended everywhere in ${took} ms`);
  const again = await WebClient.for(hub.web!.url, hubTrust);
  assert.equal((await again.login(LOCAL_PASSWORD, 'bea')).status, 401, 'she is no longer a person of the hub');
  const calStill = await calHub.c.get('/');
  assert.equal(calStill.status, 200, 'the guest is untouched');

  // Who did what, in each journal.
  const aliceId = (await cloud.store.accountByEmail('alice@example.com'))!.id;
  const beaAccount = (await cloud.store.accountByEmail('bea@example.com'))!.id;
  const cloudEntries = cloud.journal.list();
  assert.ok(
    cloudEntries.some(
      (e) => e.event === 'command' && e.identity === beaAccount && /power on as member/.test(e.detail!),
    ),
    "the cloud's journal names the member who switched the plug",
  );
  assert.ok(
    cloudEntries.some((e) => e.event === 'command' && e.result === 'refused' && /bolt unlock as guest/.test(e.detail!)),
    "and the guest's refused bolt",
  );
  assert.ok(cloudEntries.some((e) => e.event === 'household-remove' && e.identity === aliceId));
  const plugEntries = await plug.journal.list({ limit: 1_000 });
  assert.ok(
    plugEntries.some(
      (e) => e.event === 'user-removed' && /^bea: removed by the owner in the cloud; 1 session/.test(e.detail!),
    ),
    "the plug's journal: removed by the owner in the cloud",
  );
  assert.ok(plugEntries.some((e) => e.identity === 'bea' && e.event === 'login' && e.result === 'success'));
  const hubEntries = hub.journal.list();
  assert.ok(
    hubEntries.some((e) => e.event === 'user-removed' && e.detail?.startsWith(`bea: removed by paired device `)),
    "the hub's journal: removed by a paired device",
  );
  assert.ok(
    hubEntries.some((e) => e.identity === 'bea' && /call power on/.test(e.detail ?? '')),
    'bea switched',
  );
});

test('a device that was off when the owner removed someone in the cloud hears of it once it is back', async () => {
  const alice = cloudClient();
  assert.equal((await alice.login('alice@example.com', CLOUD_PASSWORD)).status, 200);
  await agents.lock!.close();
  await waitFor(async () => !(await cloud.store.getDevice(units.lock.serial))?.online, 10_000, 'the lock offline');
  const people = (await alice.send('GET', '/v1/household')).json.people as Array<{ email: string; memberId: string }>;
  const calId = people.find((p) => p.email === 'cal@example.com')!.memberId;
  const removal = await alice.send('POST', '/v1/household/remove', { json: { memberId: calId } });
  assert.deepEqual(removal.json.devices, { removed: [units.plug.serial], unreachable: [units.lock.serial] });
  assert.equal((await cloud.store.pendingRemovals(units.lock.serial)).length, 1, 'kept for the lock');

  const lock = (agents.lock = await startDeviceAgent({
    bundleDir: units.lock.dir,
    stateDir: join(work, 'dev-lock'),
    webPort: 0,
    hubPort: 0,
    mode: 'development',
    cloudUrl: cloud.brokerUrl,
  }));
  await waitFor(async () => (await cloud.store.pendingRemovals(units.lock.serial)).length === 0, 15_000, 'delivery');
  const entries = await lock.journal.list({ limit: 1_000 });
  assert.ok(
    entries.some((e) => e.event === 'user-removed' && /^cal: removed by the owner in the cloud/.test(e.detail!)),
    'the lock removed her when it was back, from the cloud',
  );
  const calAgain = await WebClient.for(lock.web.url, units.lock);
  assert.equal((await calAgain.login(LOCAL_PASSWORD, 'cal')).status, 401, 'she is no longer a person of the lock');
});

test('a hub that was down when a device passed a removal on hears it when its channel is back', async () => {
  const alice = cloudClient();
  assert.equal((await alice.login('alice@example.com', CLOUD_PASSWORD)).status, 200);
  const invited = await alice.send('POST', '/v1/household/invitations', {
    json: { email: 'dee@example.com', role: 'member', name: 'dee' },
  });
  assert.equal(invited.status, 202);
  const dee = await confirmedAccount('dee@example.com');
  const token = await mailedToken('dee@example.com', '/invitations/accept');
  assert.equal((await dee.send('POST', '/v1/household/accept', { json: { token } })).status, 200);
  const hubOwner = await signedIn(hub.web!.url, hubTrust, 'admin', hubOwnerPassword);
  const form = { name: 'dee', role: 'member', password: LOCAL_PASSWORD, csrf: hubOwner.csrf };
  assert.equal((await hubOwner.c.send('POST', '/people', { form })).status, 303, 'dee is a person of the hub only');

  await hub.close();
  const people = (await alice.send('GET', '/v1/household')).json.people as Array<{ email: string; memberId: string }>;
  const deeId = people.find((p) => p.email === 'dee@example.com')!.memberId;
  assert.equal((await alice.send('POST', '/v1/household/remove', { json: { memberId: deeId } })).status, 200);
  await waitFor(
    () => agents.plug!.hub.hubs().some((h) => h.pendingRemovals?.includes('dee')),
    5_000,
    'the plug keeping the removal for its hub',
  );

  hub = await startHubService({ stateDir: join(work, 'hub'), web: { port: 0 } });
  await waitFor(
    async () => (await (await WebClient.for(hub.web!.url, hubTrust)).login(LOCAL_PASSWORD, 'dee')).status === 401,
    20_000,
    'the hub removing dee once the plug reached it',
  );
  const entries = hub.journal.list();
  assert.ok(entries.some((e) => e.event === 'user-removed' && e.detail?.startsWith('dee: removed by paired device ')));
  await waitFor(() => !agents.plug!.hub.hubs().some((h) => h.pendingRemovals?.length), 5_000, 'nothing left to tell');
});
