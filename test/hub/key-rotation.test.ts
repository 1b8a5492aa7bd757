// The device's hub channel key rotation over real TLS on 127.0.0.1: a paired hub re-pins on the
// device's signed statement and keeps control without pairing again; a hub offline during the
// rotation re-pins when it returns, the device keeping its old key until then; a statement signed
// by another key is refused, journalled, and leaves the pin as it was.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { createPrivateKey } from 'node:crypto';
import { createChannelServer, pinnedPeers, spkiSha256 } from '../../src/channel/index.ts';
import { encodeKeyRotation, signKeyRotation } from '../../src/pairing/index.ts';
import { Hub } from '../../src/hub/index.ts';
import type { JournalRecordInput } from '../../src/journal/index.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import { makeFleet, type TestFleet } from '../support/device.ts';
import { startTestDevice, stranger, journalOf, eventually } from './support.ts';

let fleet: TestFleet;
const agents: DeviceAgent[] = [];
const hubs: Hub[] = [];
const LOCAL = '127.0.0.1';

before(async () => {
  fleet = await makeFleet(['plug']);
});
after(async () => {
  await Promise.all([...agents, ...hubs].map((x) => x.close().catch(() => undefined)));
});

async function plug(name: string): Promise<DeviceAgent> {
  const agent = await startTestDevice(fleet.units.plug!, join(fleet.work, name));
  agents.push(agent);
  return agent;
}

/** A hub in `name` whose connection journal is kept in `rows`. */
async function journalledHub(name: string, rows: JournalRecordInput[]): Promise<Hub> {
  const hub = await Hub.start({
    stateDir: join(fleet.work, name),
    config: { channel: { reconnectBaseMs: 50, reconnectMaxMs: 300 } },
    journal: { record: (entry) => rows.push(entry) },
  });
  hubs.push(hub);
  return hub;
}

/** The pin of the key a server shows at `port` to any client, 'sha256:<hex>'. */
function presentedPin(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: LOCAL, port, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      if (cert) resolve('sha256:' + spkiSha256(cert).toString('hex'));
      else reject(new Error('no certificate'));
    });
    socket.on('error', reject);
  });
}

const pinHex = (pin: Buffer | undefined): string => 'sha256:' + (pin?.toString('hex') ?? '');

test(
  'a device rotates its channel key: the hub re-pins on the signed statement, keeps control without pairing again, ' +
    'and the device then shows the new key',
  { timeout: 60_000 },
  async () => {
    const device = await plug('rotate-plug');
    const rows: JournalRecordInput[] = [];
    const hub = await journalledHub('hub-rotate', rows);
    device.hub.openPairingWindow('button');
    const { serial } = await hub.pair({ address: `${LOCAL}:${device.hub.port}` });
    const oldPin = device.hub.channelKey().pin;
    assert.equal(oldPin, pinHex(spkiSha256(device.bundle.webCertPem)), 'before a rotation: the factory web key');
    assert.equal(await presentedPin(device.hub.port), oldPin);

    const started = await device.hub.rotateChannelKey();
    const newPin = started.pending!.pin;
    assert.notEqual(newPin, oldPin);
    await eventually(() => device.hub.channelKey().pending === undefined, 10_000, 'the switch after the ack');
    assert.equal(device.hub.channelKey().pin, newPin);
    assert.equal(await presentedPin(device.hub.port), newPin, 'new handshakes show the new key');

    assert.equal(pinHex(hub.store.device(serial)?.pin), newPin, 'the hub re-pinned');
    await eventually(() => hub.store.device(serial)?.previousPin === undefined, 10_000, 'the old pin dropped');
    await hub.whenConnected(serial, 10_000);
    assert.equal(await hub.call(serial, 'power', 'on'), true, 'control without pairing again');
    assert.equal(hub.device(serial).pin, newPin);

    const rotated = rows.filter((r) => r.event === 'channel-key-rotated');
    assert.equal(rotated.length, 1);
    assert.equal(rotated[0]!.identity, serial);
    assert.equal(rows.filter((r) => r.event === 'pairing').length, 1, 'paired once only');
    assert.deepEqual(
      device.hub.hubs().map((h) => h.pin),
      [hub.pin],
    );
    const deviceEvents = (await journalOf(device, 'hub')).map((r) => r.event);
    for (const e of ['channel-key-rotation', 'channel-key-acknowledged', 'channel-key-switched'])
      assert.ok(deviceEvents.includes(e), e);
  },
);

test(
  'a hub offline during the rotation re-pins when it returns; until then the device keeps its old key',
  { timeout: 60_000 },
  async () => {
    const device = await plug('offline-plug');
    const rowsA: JournalRecordInput[] = [];
    const rowsB: JournalRecordInput[] = [];
    const hubA = await journalledHub('hub-a', rowsA);
    let hubB = await journalledHub('hub-b', rowsB);
    device.hub.openPairingWindow('button');
    const { serial } = await hubA.pair({ address: `${LOCAL}:${device.hub.port}` });
    device.hub.openPairingWindow('button');
    await hubB.pair({ address: `${LOCAL}:${device.hub.port}` });
    const oldPin = device.hub.channelKey().pin;
    await hubB.close();

    const status = await device.hub.rotateChannelKey();
    const newPin = status.pending!.pin;
    await eventually(() => pinHex(hubA.store.device(serial)?.pin) === newPin, 10_000, 'hub A re-pinned');
    await eventually(
      () => device.hub.channelKey().pending?.waitingFor.join() === hubB.pin,
      5_000,
      'only hub B left to acknowledge',
    );
    assert.equal(await presentedPin(device.hub.port), oldPin, 'the old key stays while a hub has not re-pinned');
    assert.equal(await hubA.call(serial, 'power', 'on'), true, 'hub A, holding both pins, keeps control');

    hubB = await journalledHub('hub-b', rowsB);
    await eventually(() => device.hub.channelKey().pending === undefined, 10_000, 'the switch once B acknowledged');
    assert.equal(await presentedPin(device.hub.port), newPin);
    for (const hub of [hubA, hubB]) {
      assert.equal(pinHex(hub.store.device(serial)?.pin), newPin);
      await eventually(() => hub.store.device(serial)?.previousPin === undefined, 10_000, 'old pin dropped');
      await hub.whenConnected(serial, 10_000);
      assert.equal(await hub.call(serial, 'power', 'off'), false, 'the plug is off: control works');
    }
  },
);

test(
  'a rotation statement signed by another key is refused and journalled, and the pin is unchanged',
  { timeout: 60_000 },
  async () => {
    const device = await plug('forged-plug');
    const rows: JournalRecordInput[] = [];
    const hub = await journalledHub('hub-forged', rows);
    device.hub.openPairingWindow('button');
    const { serial } = await hub.pair({ address: `${LOCAL}:${device.hub.port}` });
    const pinBefore = hub.store.device(serial)!.pin;
    const port = device.hub.port;
    await device.close();

    // Whoever holds the device's channel key could serve this; the statement is what is forged.
    const forger = await stranger('Forger');
    const next = await stranger('Next key');
    const forged = signKeyRotation({
      serial,
      oldKey: createPrivateKey(forger.key),
      oldCertificate: forger.cert,
      newCertificate: next.cert,
      issuedAt: new Date(),
    });
    const real = signKeyRotation({
      serial,
      oldKey: createPrivateKey(device.bundle.webKeyPem),
      oldCertificate: device.bundle.webCertPem,
      newCertificate: next.cert,
      issuedAt: new Date(),
    });
    // It names the pinned key and carries it, but the signature is the forger's.
    const text = encodeKeyRotation({ ...forged, oldPin: real.oldPin, oldPublicKey: real.oldPublicKey });
    const asked: string[] = [];
    const server = await createChannelServer<string>({
      key: device.bundle.webKeyPem,
      cert: device.bundle.webCertPem,
      host: LOCAL,
      port,
      pinnedPeer: pinnedPeers([[hub.identity.pin, 'hub']]),
      onConnection: (conn) => {
        conn.onRequest(({ action, value }) => {
          asked.push(action);
          if (action === 'rotation-part') return text.slice(Number(value) * 200, (Number(value) + 1) * 200);
          return action === 'sync' ? 0 : true;
        });
        conn.sendEvent('key-rotation', Math.ceil(text.length / 200));
      },
    });
    try {
      await eventually(() => rows.some((r) => r.event === 'channel-key-rotation-refused'), 10_000, 'the refusal');
      const refused = rows.find((r) => r.event === 'channel-key-rotation-refused')!;
      assert.equal(refused.result, 'refused');
      assert.equal(refused.identity, serial);
      assert.match(refused.detail ?? '', /bad-signature/);
      assert.ok(asked.includes('rotation-part'), 'the hub fetched the statement');
      assert.ok(!asked.includes('rotation-ack'), 'and did not acknowledge it');
      assert.deepEqual(hub.store.device(serial)!.pin, pinBefore, 'the pin is unchanged');
      assert.equal(hub.store.device(serial)!.previousPin, undefined);
      assert.ok(!rows.some((r) => r.event === 'channel-key-rotated'));
    } finally {
      await server.close();
    }
  },
);
