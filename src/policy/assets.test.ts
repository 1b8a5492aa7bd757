import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEPT_AFTER_FACTORY_RESET, OWNER_DATA_FILES } from '../device/index.ts';
import { OPERATIONAL_IDENTITY_FILE, OUTBOX_FILE } from '../cloudlink/index.ts';
import { initFactory, provisionUnits, type ProvisionedUnit } from '../identity/index.ts';
import { getModel } from '../models/index.ts';
import type { ModelSpec } from '../models/index.ts';
import { buildAssetInventory, CLOUD_OUTBOX_STATE_FILE, OPERATIONAL_IDENTITY_STATE_FILE } from './assets.ts';
import type { AssetInventory } from './assets.ts';
import { loadExampleProfile } from './load.ts';
import type { ExampleModel } from './load.ts';

async function inventoryOf(id: ExampleModel, driver?: 'stdio' | 'socket'): Promise<AssetInventory> {
  const profile = await loadExampleProfile(id);
  return buildAssetInventory({ profile, model: getModel(id), ...(driver ? { driver } : {}) });
}

const bundleFiles = (inv: AssetInventory): string[] =>
  inv.securityAssets.filter((a) => a.location.place !== 'state').map((a) => a.location.file);

let work: string;
const units: Record<string, ProvisionedUnit> = {};
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'bulwark-assets-'));
  await initFactory(join(work, 'factory'));
  for (const model of ['plug', 'camera']) {
    const [u] = await provisionUnits({
      factoryDir: join(work, 'factory'),
      model,
      count: 1,
      outDir: join(work, 'units'),
    });
    units[model] = u!;
  }
});
after(() => rm(work, { recursive: true, force: true }));

test('the camera lists its image and sound data as sensitive, the plug its power readings as personal', async () => {
  const camera = await inventoryOf('camera');
  const plug = await inventoryOf('plug');
  const classOf = (inv: AssetInventory, id: string) => inv.dataAssets.find((d) => d.id === id)?.privacyClass;
  assert.equal(classOf(camera, 'sensor-camera'), 'sensitive');
  assert.match(camera.dataAssets.find((d) => d.id === 'sensor-camera')!.what, /image/);
  assert.equal(classOf(camera, 'sensor-microphone'), 'sensitive');
  assert.equal(classOf(camera, 'capability-snapshot'), 'sensitive');
  assert.match(camera.dataAssets.find((d) => d.id === 'capability-snapshot')!.leaves, /never in cloud telemetry/);
  assert.equal(camera.modelPrivacyClass, 'sensitive');
  assert.equal(classOf(plug, 'sensor-power-meter'), 'personal');
  assert.equal(classOf(plug, 'sensor-camera'), undefined);
  assert.match(plug.dataAssets.find((d) => d.id === 'capability-energy')!.leaves, /to the cloud in telemetry/);
  assert.equal(plug.modelPrivacyClass, 'standard');
});

test("a product that keeps no personal data classes its sensors' data as not personal", async () => {
  const sensor = await inventoryOf('sensor');
  assert.deepEqual(
    sensor.dataAssets.filter((d) => d.id.startsWith('sensor-')).map((d) => [d.id, d.privacyClass]),
    [
      ['sensor-temperature', 'not personal'],
      ['sensor-humidity', 'not personal'],
    ],
  );
});

test('the sticker password hash is listed for a sticker-mode model only', async () => {
  assert.ok(bundleFiles(await inventoryOf('plug')).includes('admin-password.phc'));
  assert.ok(!bundleFiles(await inventoryOf('camera')).includes('admin-password.phc'));
});

test('every bundle file listed is in a freshly provisioned bundle, and every file there is listed', async () => {
  for (const model of ['plug', 'camera'] as const) {
    const present = (await readdir(units[model]!.dir)).sort();
    assert.deepEqual(bundleFiles(await inventoryOf(model)).sort(), present, model);
  }
});

test('each bundle file the inventory says is mode 0600 is 0600 in a provisioned bundle', async () => {
  const secret = (await inventoryOf('plug')).securityAssets.filter(
    (a) => a.location.place !== 'state' && a.protection.startsWith('mode 0600'),
  );
  assert.ok(secret.length >= 5);
  for (const a of secret) {
    const { mode } = await stat(join(units.plug!.dir, a.location.file));
    assert.equal(mode & 0o777, 0o600, a.location.file);
  }
});

test('private keys and the factory label are secret files, kept at mode 0600', async () => {
  const assets = (await inventoryOf('plug')).securityAssets;
  for (const file of ['device-key.pem', 'web-key.pem', 'admin-password.phc', 'pairing-verifier.json', 'label.json']) {
    const asset = assets.find((a) => a.location.file === file);
    assert.ok(asset, file);
    assert.ok(asset.properties.includes('confidentiality'), file);
    assert.match(asset.protection, /^mode 0600/, file);
  }
  assert.equal(assets.find((a) => a.location.file === 'label.json')?.location.place, 'factory');
  assert.deepEqual(assets.find((a) => a.location.file === 'update-root.json')?.properties, [
    'integrity',
    'authenticity',
  ]);
});

test('every state file listed is one the device keeps', async () => {
  const owner = new Set(OWNER_DATA_FILES.map((f) => f.file));
  const files = (await inventoryOf('camera')).securityAssets
    .filter((a) => a.location.place === 'state')
    .map((a) => a.location.file);
  assert.ok(files.length >= OWNER_DATA_FILES.length + 3);
  for (const file of files) assert.ok(owner.has(file) || KEPT_AFTER_FACTORY_RESET.test(file), file);
  assert.equal(OPERATIONAL_IDENTITY_STATE_FILE, OPERATIONAL_IDENTITY_FILE);
  assert.equal(CLOUD_OUTBOX_STATE_FILE, OUTBOX_FILE);
});

test('the cloud link and its state are listed only for a product the profile puts on the cloud', async () => {
  const camera = await inventoryOf('camera');
  const bulb = await inventoryOf('bulb');
  const ids = (inv: AssetInventory) => inv.networkInterfaces.map((n) => n.id);
  assert.deepEqual(ids(camera), ['admin-page', 'hub-channel', 'cloud-mqtt', 'update-client', 'discovery']);
  assert.deepEqual(ids(bulb), ['admin-page', 'hub-channel', 'update-client', 'discovery']);
  assert.equal(camera.networkInterfaces.find((n) => n.id === 'cloud-mqtt')?.onByDefault, false);
  const stateFiles = (inv: AssetInventory) => inv.securityAssets.map((a) => a.location.file);
  assert.ok(stateFiles(camera).includes(OPERATIONAL_IDENTITY_FILE));
  assert.ok(!stateFiles(bulb).includes(OPERATIONAL_IDENTITY_FILE));
});

test('the admin page and hub channel show the default ports and the pairing the model allows', async () => {
  const hubOf = async (m: ExampleModel) =>
    (await inventoryOf(m)).networkInterfaces.find((n) => n.id === 'hub-channel')!;
  const [bulbHub, cameraHub] = [await hubOf('bulb'), await hubOf('camera')];
  const admin = (await inventoryOf('plug')).networkInterfaces[0]!;
  assert.equal(admin.endpoint, 'TCP 8443');
  assert.match(admin.protocol, /TLS 1\.2 or 1\.3/);
  assert.equal(cameraHub.endpoint, 'TCP 5541');
  assert.match(cameraHub.authentication, /with the setup code only/);
  assert.match(bulbHub.authentication, /with the setup code or the button/);
});

test('a unit run with a driver lists the driver interface, by the transport it uses', async () => {
  const none = await inventoryOf('plug');
  assert.equal(
    none.networkInterfaces.find((n) => n.id === 'driver'),
    undefined,
  );
  const socket = (await inventoryOf('plug', 'socket')).networkInterfaces.find((n) => n.id === 'driver');
  assert.equal(socket?.direction, 'local');
  assert.match(socket.endpoint, /^Unix socket \/run\/bulwark-driver\/driver\.sock$/);
  const stdio = (await inventoryOf('plug', 'stdio')).networkInterfaces.find((n) => n.id === 'driver');
  assert.match(stdio!.endpoint, /standard input and output/);
});

test("a maker's model drives the inventory: its capabilities and networks are the ones listed", async () => {
  const profile = await loadExampleProfile('sensor');
  const base = getModel('sensor');
  const model: ModelSpec = {
    ...base,
    networks: ['thread', 'bluetooth-le'],
    capabilities: [
      ...base.capabilities,
      { id: 'door', kind: 'reading', actions: ['get'], value: { type: 'boolean' }, sensitive: true, description: 'd' },
    ],
  };
  const inv = buildAssetInventory({ profile, model });
  assert.deepEqual(inv.links, ['thread', 'bluetooth-le']);
  const door = inv.dataAssets.find((d) => d.id === 'capability-door');
  assert.equal(door?.privacyClass, 'sensitive');
  assert.match(door.leaves, /hub paired with the setup code/);
});
