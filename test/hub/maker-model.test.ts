// A maker's own products, described by model files written here: a garage-door opener (risk class
// 'lock', a sensitive door that is 'open' or 'closed') and a thermostat (a setpoint from 5 to 30).
// Real device agents and a real hub service on 127.0.0.1, and the cloud's store importing the batch
// manifest, each treat the units as what their model files say, not as any built-in product.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hasCode } from '../../src/errors/index.ts';
import { ChannelRequestError, createChannelServer, spkiSha256 } from '../../src/channel/index.ts';
import {
  DevicePairingExchange,
  PairingWindow,
  createPairingVerifierRecord,
  pairingVerifierFromRecord,
  servePairingExchange,
} from '../../src/pairing/index.ts';
import { canonicalModel, modelFromDocument } from '../../src/models/index.ts';
import { initFactory, loadFactory, provisionUnits, type ProvisionedUnit } from '../../src/identity/index.ts';
import { HubStore, startHubService, type HubService } from '../../src/hub/index.ts';
import { deviceView, modelOf, openCloudStore, readManifest } from '../../src/cloud/index.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import { startTestDevice, stranger, tempDir } from './support.ts';

const LOCAL = '127.0.0.1';
const support = { endsOn: '2037-06-30' };
const garageDoor = {
  schema: 'bulwark.model/v1',
  id: 'garage-door',
  name: 'Garage Door Opener',
  serialPrefix: 'GDO',
  riskClass: 'lock',
  privacyClass: 'standard',
  initialPasswordMode: 'sticker',
  capabilities: [
    {
      id: 'door',
      kind: 'lock',
      actions: ['open', 'close', 'get'],
      value: { type: 'enum', values: ['open', 'closed'] },
      sensitive: true,
      description: 'Opens or closes the garage door',
    },
  ],
  sensors: ['contact'],
  actuators: ['motor'],
  networks: ['wifi'],
  supportPeriod: support,
};
const thermostat = {
  schema: 'bulwark.model/v1',
  id: 'thermostat',
  name: 'Room Thermostat',
  serialPrefix: 'THM',
  riskClass: 'standard',
  privacyClass: 'standard',
  initialPasswordMode: 'sticker',
  capabilities: [
    {
      id: 'setpoint',
      kind: 'level',
      actions: ['set', 'get'],
      value: { type: 'number', min: 5, max: 30, step: 0.5 },
      unit: '°C',
      description: 'The temperature to hold',
    },
    {
      id: 'temperature',
      kind: 'reading',
      actions: ['get'],
      value: { type: 'number', min: -10, max: 50 },
      unit: '°C',
      description: 'Room temperature',
    },
  ],
  sensors: ['temperature'],
  actuators: ['valve'],
  networks: ['wifi'],
  supportPeriod: support,
};

let work: string;
let factoryDir: string;
let door: ProvisionedUnit;
let thermo: ProvisionedUnit;
const agents: DeviceAgent[] = [];
const services: HubService[] = [];

before(async () => {
  work = await tempDir('bulwark-maker-model-');
  factoryDir = join(work, 'factory');
  await initFactory(factoryDir);
  for (const [name, doc] of [
    ['garage-door', garageDoor],
    ['thermostat', thermostat],
  ] as const)
    await writeFile(join(work, `${name}.model.json`), JSON.stringify(doc, null, 2));
  const units = join(work, 'units');
  const provision = async (name: string): Promise<ProvisionedUnit> =>
    (await provisionUnits({ factoryDir, model: join(work, `${name}.model.json`), count: 1, outDir: units }))[0]!;
  door = await provision('garage-door');
  thermo = await provision('thermostat');
});
after(async () => {
  await Promise.all(services.map((s) => s.close().catch(() => undefined)));
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
});

async function hubService(name: string, stateDir = join(work, name)): Promise<HubService> {
  const service = await startHubService({
    stateDir,
    web: false,
    config: { channel: { reconnectBaseMs: 50, reconnectMaxMs: 500 } },
  });
  services.push(service);
  return service;
}

async function agent(unit: ProvisionedUnit, name: string): Promise<DeviceAgent> {
  const a = await startTestDevice(unit, join(work, name));
  agents.push(a);
  return a;
}

test(
  "the hub pairs and drives a maker's garage door and thermostat as their model files say, and keeps their " +
    'models across a restart',
  { timeout: 90_000 },
  async () => {
    const doorAgent = await agent(door, 'door');
    const thermoAgent = await agent(thermo, 'thermo');
    let service = await hubService('hub');
    const hub = service.hub;

    doorAgent.hub.openPairingWindow('owner');
    await assert.rejects(
      hub.pair({ address: `${LOCAL}:${doorAgent.hub.port}` }),
      (e) => hasCode(e, 'PAIRING_PUSH_BUTTON_REFUSED'),
      'a lock-class model pairs by setup code only, whatever its id',
    );
    const refusals = service.journal.list({ surface: 'pairing', result: 'failure' });
    assert.ok(refusals.some((r) => /push-button: PAIRING_PUSH_BUTTON_REFUSED/.test(r.detail ?? '')));
    const d = await hub.pair({ address: `${LOCAL}:${doorAgent.hub.port}`, setupCode: door.setupCode });
    assert.equal(d.model, 'garage-door');
    assert.equal(d.modelName, 'Garage Door Opener');
    assert.deepEqual(
      d.capabilities.map((c) => [c.id, c.kind, c.actions]),
      [['door', 'lock', ['open', 'close', 'get']]],
    );
    assert.deepEqual(d.access, [], 'the sensitive door starts without a grant');
    assert.deepEqual(d.notGranted, ['door']);
    await assert.rejects(hub.call(d.serial, 'door', 'close'), (e) => hasCode(e, 'HUB_CAPABILITY_NOT_GRANTED'));
    hub.grant(d.serial, 'door');
    assert.equal(await hub.call(d.serial, 'door', 'get'), 'open', "the door starts at its enum's first value");
    assert.equal(await hub.call(d.serial, 'door', 'close'), 'closed');
    assert.equal(await hub.call(d.serial, 'door', 'open'), 'open');
    await assert.rejects(hub.call(d.serial, 'door', 'lock'), (e) => hasCode(e, 'HUB_ACTION_UNKNOWN'));

    thermoAgent.hub.openPairingWindow('button');
    const t = await hub.pair({ address: `${LOCAL}:${thermoAgent.hub.port}` });
    assert.equal(t.mode, 'push-button', 'a standard-risk model may pair by push button');
    assert.equal(t.modelName, 'Room Thermostat');
    assert.deepEqual(t.access, ['setpoint', 'temperature']);
    assert.equal(t.state.setpoint, 5, "a level outside 0..100's default starts at its minimum");
    assert.equal(await hub.call(t.serial, 'setpoint', 'set', 21.5), 21.5);
    for (const bad of [4.5, 30.5, 21.3])
      await assert.rejects(
        hub.call(t.serial, 'setpoint', 'set', bad),
        (e) => e instanceof ChannelRequestError && e.remoteCode === 'BAD_VALUE',
        `the device refuses ${bad}`,
      );
    const reading = await hub.call(t.serial, 'temperature', 'get');
    assert.ok(typeof reading === 'number' && reading >= -10 && reading <= 50);

    await service.close();
    services.pop();
    service = await hubService('hub');
    const again = service.hub.devices();
    assert.deepEqual(
      again.map((v) => [v.serial, v.modelName, v.capabilities.map((c) => c.id), v.access]),
      [
        [d.serial, 'Garage Door Opener', ['door'], ['door']],
        [t.serial, 'Room Thermostat', ['setpoint', 'temperature'], ['setpoint', 'temperature']],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      'after a restart the hub knows each model from what the device gave, not from a catalogue',
    );
    await service.hub.whenConnected(t.serial);
    assert.equal(await service.hub.call(t.serial, 'setpoint', 'get'), 21.5);
  },
);

test(
  'a device whose model document is another model than the id it announces is refused before it pins the hub',
  { timeout: 30_000 },
  async () => {
    const liar = await stranger('Liar');
    const record = createPairingVerifierRecord('1234-5678-9012', { iterations: 1_000 });
    const verifier = {
      ...pairingVerifierFromRecord(record),
      salt: new Uint8Array(Buffer.from(record.pbkdf2.salt, 'base64')),
      iterations: record.pbkdf2.iterations,
    };
    const window = new PairingWindow();
    window.open(performance.now(), 'button');
    const outcomes: string[] = [];
    // Says 'plug' (push button allowed) but gives the garage door's document.
    const fake = await createChannelServer({
      key: liar.key,
      cert: liar.cert,
      host: LOCAL,
      port: 0,
      pinnedPeer: () => ({}),
      onConnection: (c) =>
        servePairingExchange(
          c,
          new DevicePairingExchange({
            serial: 'PLG-ABCDEFGH23',
            model: 'plug',
            modelDocument: Buffer.from(canonicalModel(modelFromDocument(garageDoor))),
            allowsPushButton: true,
            verifier,
            ownPin: spkiSha256(liar.cert),
            peerPin: c.peerSpkiSha256,
            window,
            hubCount: () => 0,
          }),
          { onStep: (step) => void (step.outcome && outcomes.push(step.outcome.kind)) },
        ),
    });
    const service = await hubService('hub-liar');
    try {
      await assert.rejects(service.hub.pair({ address: `${LOCAL}:${fake.port}` }), (e) =>
        hasCode(e, 'HUB_MODEL_INVALID'),
      );
      assert.deepEqual(service.hub.devices(), []);
      assert.deepEqual(outcomes, [], 'the device never reached a pairing outcome');
      const failures = service.journal.list({ surface: 'pairing', result: 'failure' });
      assert.ok(failures.some((r) => r.detail === 'push-button: HUB_MODEL_INVALID'));
    } finally {
      await fake.close();
    }
  },
);

test('an older store opens: a device with only a built-in id uses the catalogue, an unknown id stays off', async () => {
  const dir = await tempDir();
  const store = HubStore.open(dir);
  const pin = Buffer.alloc(32, 1);
  const base = { host: LOCAL, port: 9, pin, mode: 'setup-code', pairedAt: new Date(0).toISOString() } as const;
  store.addDevice({ ...base, serial: 'PLG-ABCDEFGH23', model: 'plug' }, ['power']);
  store.addDevice({ ...base, serial: 'THM-ABCDEFGH23', model: 'thermostat' }, ['setpoint']);
  store.close();
  const service = await hubService('old-store', dir);
  try {
    const views = service.hub.devices();
    assert.deepEqual(
      views.map((v) => [v.serial, v.modelName, v.capabilities.map((c) => c.id)]),
      [['PLG-ABCDEFGH23', 'Smart Plug', ['power', 'energy']]],
    );
  } finally {
    await service.close();
    services.pop();
  }
});

test('the cloud imports the manifest with its models: the thermostat is a thermostat, old units built-in', async () => {
  const manifestPath = join(work, 'units', 'manifest.json');
  const { caCertPem } = await loadFactory(factoryDir);
  const store = await openCloudStore({ stateDir: join(work, 'cloud') });
  try {
    assert.deepEqual(await store.importUnits(await readManifest(manifestPath, caCertPem), Date.now()), {
      added: 2,
      existing: 0,
    });
    const t = (await store.getDevice(thermo.serial))!;
    assert.equal(t.model, 'thermostat');
    assert.equal(modelOf(t)?.name, 'Room Thermostat');
    assert.deepEqual(
      modelOf(t)?.capabilities.map((c) => c.id),
      ['setpoint', 'temperature'],
    );
    const view = deviceView(t);
    assert.equal(view.modelName, 'Room Thermostat');
    assert.deepEqual(view.controls, [], 'a setpoint set by value is not a remote action');
    const g = (await store.getDevice(door.serial))!;
    assert.equal(modelOf(g)?.riskClass, 'lock');
    assert.deepEqual(deviceView(g).controls, [], 'a sensitive door is never controlled from the cloud');

    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
      units: Array<Record<string, unknown>>;
      models?: Record<string, unknown>;
    };
    const old = {
      ...manifest,
      models: undefined,
      units: [{ ...manifest.units[0], serial: 'PLG-ABCDEFGH23', model: 'plug', modelDigest: undefined }],
    };
    await writeFile(join(work, 'old-manifest.json'), JSON.stringify(old));
    await store.importUnits(await readManifest(join(work, 'old-manifest.json'), caCertPem), Date.now());
    const plug = (await store.getDevice('PLG-ABCDEFGH23'))!;
    assert.equal(plug.modelSpec, undefined);
    assert.equal(modelOf(plug)?.name, 'Smart Plug', 'a unit from a manifest without models: the built-in');
    assert.deepEqual(deviceView(plug).controls, [{ capability: 'power', actions: ['on', 'off', 'toggle'] }]);

    const [digest, model] = Object.entries(manifest.models!)[0]!;
    const forged = { ...manifest, models: { [digest]: { ...(model as object), riskClass: 'standard' } } };
    await writeFile(join(work, 'forged-manifest.json'), JSON.stringify(forged));
    await assert.rejects(readManifest(join(work, 'forged-manifest.json'), caCertPem), (e) =>
      hasCode(e, 'MANIFEST_INVALID'),
    );
  } finally {
    await store.close();
  }
});
