// The hub's side of every connection to a device is journalled too (issue 15): each pairing
// attempt with its result, and each attempt of the pinned channel to a paired device, accepted
// or failed, with the device's address and serial, in the hub service's connection journal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import type { DeviceAgent } from '../../src/device/index.ts';
import { startHubService, type HubService } from '../../src/hub/index.ts';
import { makeFleet, type TestFleet } from '../support/device.ts';
import { startTestDevice, eventually } from './support.ts';

let fleet: TestFleet;
let lock: DeviceAgent;
let service: HubService;
const LOCAL = '127.0.0.1';

before(async () => {
  fleet = await makeFleet(['lock']);
  lock = await startTestDevice(fleet.units.lock!, join(fleet.work, 'lock'));
  service = await startHubService({ stateDir: join(fleet.work, 'hub'), web: false });
});
after(async () => {
  await service.close();
  await lock.close();
});

/** A port that accepts TCP and hangs up at once: nothing there speaks TLS. */
async function hangUp(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, LOCAL, resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

test(
  'a pairing refused and one accepted, then the pinned channel, are each in the hub journal',
  { timeout: 60_000 },
  async () => {
    const address = `${LOCAL}:${lock.hub.port}`;
    const source = `${LOCAL}:${lock.hub.port}`;
    const dead = await hangUp();
    try {
      await assert.rejects(
        service.hub.pair({ address: `${LOCAL}:${dead.port}`, setupCode: fleet.units.lock!.setupCode }),
      );
    } finally {
      dead.server.close();
    }
    lock.hub.openPairingWindow('owner');
    const d = await service.hub.pair({ address, setupCode: fleet.units.lock!.setupCode });
    const entries = (): ReturnType<HubService['journal']['list']> => service.journal.list({ limit: 100 });
    await eventually(
      () => entries().some((e) => e.event === 'channel-connect' && e.result === 'success'),
      5_000,
      'channel',
    );
    const refused = entries().find((e) => e.event === 'pairing' && e.result === 'failure');
    assert.ok(refused, 'the refused pairing is journalled');
    assert.equal(refused.source, `${LOCAL}:${dead.port}`);
    const paired = entries().find((e) => e.event === 'pairing' && e.result === 'success');
    assert.equal(paired?.source, source);
    assert.equal(paired?.identity, d.serial);
    const channel = entries().find((e) => e.event === 'channel-connect' && e.result === 'success');
    assert.equal(channel?.source, source);
    assert.equal(channel?.identity, d.serial);
  },
);

test(
  'a paired device that is gone leaves failed channel attempts in the hub journal',
  { timeout: 60_000 },
  async () => {
    const serial = fleet.units.lock!.serial;
    const before = service.journal.list({ limit: 500 }).filter((e) => e.event === 'channel-connect').length;
    await lock.close();
    await eventually(
      () =>
        service.journal
          .list({ limit: 500 })
          .some((e) => e.event === 'channel-connect' && e.result === 'failure' && e.identity === serial),
      20_000,
      'a failed reconnect attempt',
    );
    assert.ok(service.journal.list({ limit: 500 }).filter((e) => e.event === 'channel-connect').length > before);
  },
);
