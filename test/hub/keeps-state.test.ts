// What the hub keeps across a second pairing and across its own restart: a re-paired lock keeps its bolt grant
// only when the owner confirms, and a threshold automation fires on a crossing that happened while the hub was down.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { provisionUnits } from '../../src/identity/index.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import type { Hub } from '../../src/hub/index.ts';
import { makeFleet, type TestFleet } from '../support/device.ts';
import { startTestDevice, startTestHub, eventually } from './support.ts';

let fleet: TestFleet;
const agents: DeviceAgent[] = [];
const LOCAL = '127.0.0.1';

before(async () => {
  fleet = await makeFleet(['lock']);
});
after(async () => {
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
});

/** Opens the lock's window (the button) and pairs it again by its setup code. */
async function pairLock(hub: Hub, lock: DeviceAgent, keepGrants: boolean) {
  lock.hub.openPairingWindow('button');
  return hub.pair({ address: `${LOCAL}:${lock.hub.port}`, setupCode: fleet.units.lock!.setupCode, keepGrants });
}

test('a lock paired again keeps its bolt grant when the owner confirms, and loses it otherwise', async () => {
  const lock = await startTestDevice(fleet.units.lock!, join(fleet.work, 'lock'));
  agents.push(lock);
  const hub = await startTestHub(fleet.work, 'hub-grants');
  try {
    const first = await pairLock(hub, lock, false);
    assert.equal(first.droppedGrants, undefined, 'a first pairing drops nothing');
    hub.grant(first.serial, 'bolt');
    const kept = await pairLock(hub, lock, true);
    assert.ok(kept.access.includes('bolt'), 'confirmed: the bolt grant is kept');
    assert.deepEqual(kept.keptGrants, ['bolt']);
    assert.ok(hub.store.access(first.serial).includes('bolt'), 'and stored');
    assert.equal(await hub.call(first.serial, 'bolt', 'lock'), 'locked');
    const dropped = await pairLock(hub, lock, false);
    assert.ok(!dropped.access.includes('bolt'), 'not confirmed: dropped as before');
    assert.deepEqual(dropped.droppedGrants, ['bolt'], 'and the owner is told');
    assert.deepEqual(dropped.notGranted, ['bolt']);
  } finally {
    await hub.close();
  }
});

test(
  'a threshold automation fires on a crossing that happened while the hub was down',
  { timeout: 60_000 },
  async () => {
    const units = await provisionUnits({
      factoryDir: fleet.factoryDir,
      model: 'plug',
      count: 2,
      outDir: join(fleet.work, 'u'),
    });
    const a = await startTestDevice(units[0]!, join(fleet.work, 'restart-a'));
    const b = await startTestDevice(units[1]!, join(fleet.work, 'restart-b'));
    agents.push(a, b);
    let hub = await startTestHub(fleet.work, 'hub-restart', { automationMinIntervalMs: 10 });
    try {
      a.hub.openPairingWindow('button');
      b.hub.openPairingWindow('button');
      const pa = await hub.pair({ address: `${LOCAL}:${a.hub.port}` });
      const pb = await hub.pair({ address: `${LOCAL}:${b.hub.port}` });
      assert.equal(hub.device(pa.serial).state.energy, 0, 'plug A is off: it draws nothing');
      hub.addAutomation({
        whenSerial: pa.serial,
        whenCapability: 'energy',
        op: 'above',
        threshold: 10,
        thenSerial: pb.serial,
        thenCapability: 'power',
        thenAction: 'on',
      });
      await hub.close();
      await a.capabilities.invoke('power', 'on'); // 0 W -> about 60 W, with no hub to see it
      hub = await startTestHub(fleet.work, 'hub-restart', { automationMinIntervalMs: 10 });
      await hub.whenConnected(pa.serial);
      await eventually(
        async () => (await b.capabilities.invoke('power', 'get')) === true,
        5_000,
        'plug B switched by the crossing seen across the restart',
      );
    } finally {
      await hub.close();
    }
  },
);
