// The hub's parts without devices: addresses, automations' crossing rule, its key and
// certificate, the store, and the control socket's refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode } from '../errors/index.ts';
import { spkiSha256 } from '../channel/index.ts';
import {
  Hub,
  HubStore,
  callHubControl,
  createHubIdentity,
  crosses,
  dueRules,
  listenForControl,
  loadOrCreateHubIdentity,
  parseDeviceAddress,
  type AutomationRule,
} from './index.ts';

const temp = (): Promise<string> => mkdtemp(join(tmpdir(), 'bulwark-hub-unit-'));

test('device addresses: host, host:port, [v6]:port; anything else is HUB_ADDRESS_INVALID', () => {
  assert.deepEqual(parseDeviceAddress('192.0.2.10', 5541), { host: '192.0.2.10', port: 5541 });
  assert.deepEqual(parseDeviceAddress('plug.local:6000', 5541), { host: 'plug.local', port: 6000 });
  assert.deepEqual(parseDeviceAddress('[::1]:7000', 5541), { host: '::1', port: 7000 });
  assert.deepEqual(parseDeviceAddress('::1', 5541), { host: '::1', port: 5541 });
  for (const bad of ['', 'a b', 'host:0', 'host:70000', 'http://x', '[::1', 'x'.repeat(300)]) {
    assert.throws(
      () => parseDeviceAddress(bad, 5541),
      (e) => hasCode(e, 'HUB_ADDRESS_INVALID'),
      bad,
    );
  }
});

test('an automation fires on a crossing only, and at most once per interval', () => {
  const above = { op: 'above' as const, threshold: 10 };
  assert.equal(crosses(above, 5, 12), true);
  assert.equal(crosses(above, 10, 10.5), true);
  assert.equal(crosses(above, 12, 15), false, 'already above: no new crossing');
  assert.equal(crosses(above, undefined, 15), false, 'no previous reading: no crossing');
  assert.equal(crosses(above, 'x', 15), false);
  assert.equal(crosses({ op: 'below', threshold: 0 }, 1, -1), true);
  const rule: AutomationRule = {
    id: 1,
    whenSerial: 'S',
    whenCapability: 'temperature',
    op: 'above',
    threshold: 20,
    thenSerial: 'P',
    thenCapability: 'power',
    thenAction: 'on',
  };
  const lastRun = new Map<number, number>();
  assert.equal(dueRules([rule], 'S', 'temperature', 19, 21, lastRun, 1_000, 500).length, 1);
  assert.equal(dueRules([rule], 'S', 'temperature', 19, 21, lastRun, 1_200, 500).length, 0, 'within the interval');
  assert.equal(dueRules([rule], 'S', 'temperature', 19, 21, lastRun, 1_600, 500).length, 1);
  assert.equal(dueRules([rule], 'S', 'humidity', 19, 21, lastRun, 9_000, 500).length, 0);
});

test("the hub's self-signed certificate carries its key, verifies, and names loopback", async () => {
  const id = await createHubIdentity('Test hub');
  const cert = new X509Certificate(id.cert);
  assert.ok(cert.verify(cert.publicKey));
  assert.ok(cert.checkPrivateKey(createPrivateKey(id.key)));
  assert.equal(cert.subject, 'CN=Test hub');
  assert.equal(cert.ca, false);
  assert.match(cert.subjectAltName ?? '', /DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
  assert.deepEqual(id.pin, spkiSha256(id.cert));
  assert.notDeepEqual((await createHubIdentity()).pin, id.pin, 'every hub its own key');
});

test('the hub key is made once, 0600, and refused once others can read it', async () => {
  const dir = await temp();
  const first = await loadOrCreateHubIdentity(dir);
  assert.equal((await stat(join(dir, 'hub-key.pem'))).mode & 0o777, 0o600);
  assert.deepEqual((await loadOrCreateHubIdentity(dir)).pin, first.pin);
  await chmod(join(dir, 'hub-key.pem'), 0o644);
  await assert.rejects(loadOrCreateHubIdentity(dir), (e) => hasCode(e, 'HUB_KEY_INSECURE'));
});

test(
  'the store keeps devices with their access lists, replaces a serial paired again, and forgets its ' +
    'automations with it',
  async () => {
    const dir = await temp();
    const store = HubStore.open(dir);
    const pin = Buffer.alloc(32, 7);
    store.addDevice(
      {
        serial: 'LCK-AAAAAAAAAA',
        model: 'lock',
        host: '127.0.0.1',
        port: 5541,
        pin,
        mode: 'setup-code',
        pairedAt: 't',
      },
      [],
    );
    store.addDevice(
      {
        serial: 'PLG-AAAAAAAAAA',
        model: 'plug',
        host: '127.0.0.1',
        port: 5542,
        pin,
        mode: 'push-button',
        pairedAt: 't',
      },
      ['power'],
    );
    store.setAccess('LCK-AAAAAAAAAA', 'bolt', true);
    assert.deepEqual(store.access('LCK-AAAAAAAAAA'), ['bolt']);
    store.addAutomation({
      whenSerial: 'PLG-AAAAAAAAAA',
      whenCapability: 'energy',
      op: 'above',
      threshold: 1,
      thenSerial: 'LCK-AAAAAAAAAA',
      thenCapability: 'bolt',
      thenAction: 'lock',
    });
    store.addDevice(
      {
        serial: 'LCK-AAAAAAAAAA',
        model: 'lock',
        host: '127.0.0.1',
        port: 6000,
        pin,
        mode: 'setup-code',
        pairedAt: 't2',
      },
      [],
    );
    assert.deepEqual(store.access('LCK-AAAAAAAAAA'), [], 'pairing again starts a fresh access list');
    assert.equal(store.device('LCK-AAAAAAAAAA')?.port, 6000);
    assert.throws(() =>
      store.addDevice(
        { serial: 'X', model: 'plug', host: 'h', port: 1, pin: Buffer.alloc(31), mode: 'push-button', pairedAt: 't' },
        [],
      ),
    );
    assert.equal(store.removeDevice('PLG-AAAAAAAAAA'), true);
    assert.deepEqual(store.automations(), []);
    store.close();
    for (const f of ['hub.db']) assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600);
    const again = HubStore.open(dir);
    assert.deepEqual(
      again.devices().map((d) => d.serial),
      ['LCK-AAAAAAAAAA'],
    );
    again.close();
  },
);

test('the control socket is 0600 and maps errors to codes; no hub running is HUB_NOT_RUNNING', async () => {
  const dir = await temp();
  await assert.rejects(callHubControl(dir, 'devices'), (e) => hasCode(e, 'HUB_NOT_RUNNING'));
  const hub = await Hub.start({ stateDir: dir });
  const server = await listenForControl(dir, hub);
  try {
    assert.equal((await stat(join(dir, 'hub.sock'))).mode & 0o777, 0o600);
    assert.deepEqual(await callHubControl(dir, 'devices'), []);
    await assert.rejects(callHubControl(dir, 'nope' as never), (e) => hasCode(e, 'HUB_CONTROL_BAD_REQUEST'));
    await assert.rejects(
      callHubControl(dir, 'call', { serial: 'PLG-AAAAAAAAAA', capability: 'power', action: 'on' }),
      (e) => hasCode(e, 'HUB_DEVICE_UNKNOWN'),
    );
    await assert.rejects(
      callHubControl(dir, 'call', { serial: 'x'.repeat(100), capability: 'power', action: 'on' }),
      (e) => hasCode(e, 'HUB_CONTROL_BAD_REQUEST'),
    );
    await assert.rejects(
      callHubControl(dir, 'pair', { address: '127.0.0.1:1', setupCode: '1234-5678-9012' }),
      (e) => hasCode(e, 'HUB_SETUP_CODE_MALFORMED') || hasCode(e, 'CHANNEL_SOCKET_FAILED'),
    );
    const status = (await callHubControl(dir, 'status')) as { pin: string; devices: number };
    assert.equal(status.pin, hub.pin);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await hub.close();
  }
});
