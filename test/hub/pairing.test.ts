// Pairing and control over real TLS on 127.0.0.1: both pairing modes, refusals by the window,
// the model and the code, the 21st attempt, pinned keys after pairing, unpairing on either
// side, factory reset, the owner's window on the admin page, and automations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { hasCode } from '../../src/errors/index.ts';
import { pairWithDevice } from '../../src/pairing/index.ts';
import { connectChannel, createChannelServer, pinnedPeers, ChannelRequestError } from '../../src/channel/index.ts';
import { provisionUnits } from '../../src/identity/index.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import { makeFleet, WebClient, type TestFleet } from '../support/device.ts';
import { startTestDevice, startTestHub, stranger, journalOf, eventually } from './support.ts';

let fleet: TestFleet;
const agents: DeviceAgent[] = [];
const LOCAL = '127.0.0.1';

before(async () => {
  fleet = await makeFleet(['plug', 'lock', 'camera']);
});
after(async () => {
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
});

async function device(model: 'plug' | 'lock' | 'camera', name: string): Promise<DeviceAgent> {
  const agent = await startTestDevice(fleet.units[model]!, join(fleet.work, name));
  agents.push(agent);
  return agent;
}

/** A setup code that passes the check digit but is not the unit's. */
function wrongCode(code: string): string {
  const digits = code.replace(/\D/g, '');
  for (let d = 0; d < 10; d++) {
    const candidate = ((Number(digits[0]) + 1 + d) % 10) + digits.slice(1, 11);
    for (let c = 0; c < 10; c++) {
      const full = candidate + c;
      let sum = 0;
      for (let i = 0; i < 12; i++) {
        let n = Number(full[11 - i]);
        if (i % 2 === 1) {
          n *= 2;
          if (n > 9) n -= 9;
        }
        sum += n;
      }
      if (sum % 10 === 0 && full !== digits) return full;
    }
  }
  throw new Error('no wrong code found');
}

test(
  'a plug pairs by push button inside its window; the hub switches it and sees its state; the journal has the ' +
    'attempt and the channel',
  { timeout: 60_000 },
  async () => {
    const plug = await device('plug', 'pb-plug');
    const hub = await startTestHub(fleet.work, 'hub-pb');
    try {
      assert.match(plug.hub.openPairingWindow('button'), /push button/);
      const d = await hub.pair({ address: `${LOCAL}:${plug.hub.port}` });
      assert.equal(d.serial, plug.bundle.unit.serial);
      assert.equal(d.mode, 'push-button');
      assert.equal(d.connected, true);
      assert.deepEqual(d.access, ['energy', 'power']);
      assert.deepEqual(d.state, { power: false, energy: 0 });
      assert.equal(plug.hub.hubs().length, 1);
      assert.equal(plug.hub.hubs()[0]!.pin, hub.pin, "the device pinned exactly the hub's key");
      assert.equal(plug.hub.pairingStatus().open, false, 'a success closes the window');
      assert.equal(await hub.call(d.serial, 'power', 'on'), true);
      await eventually(() => hub.device(d.serial).state.power === true, 2_000, 'state event');
      await plug.capabilities.invoke('power', 'off');
      await eventually(() => hub.device(d.serial).state.power === false, 2_000, 'state pushed by the device');
      const rows = await journalOf(plug);
      assert.ok(
        rows.some(
          (r) =>
            r.surface === 'pairing' &&
            r.event === 'pairing' &&
            r.result === 'success' &&
            r.identity === hub.pin &&
            /push-button/.test(r.detail ?? ''),
        ),
      );
      assert.ok(
        rows.some(
          (r) =>
            r.surface === 'hub' &&
            r.event === 'channel-connect' &&
            r.result === 'success' &&
            r.identity === hub.pin &&
            r.detail === 'TLS 1.3, resumed',
        ),
        "the first pinned channel resumed the pairing connection's TLS session",
      );
      assert.ok(rows.some((r) => r.surface === 'hub' && r.event === 'control' && r.detail === 'power on'));
      const stored = JSON.parse(await readFile(join(fleet.work, 'pb-plug', 'hubs.json'), 'utf8')) as {
        hubs: Array<{ pin: string; mode: string }>;
      };
      assert.deepEqual(
        stored.hubs.map((h) => [h.pin, h.mode]),
        [[hub.pin, 'push-button']],
      );
    } finally {
      await hub.close();
    }
  },
);

test(
  'a lock pairs by setup code; its bolt needs an explicit grant on the hub, then the hub locks it',
  { timeout: 60_000 },
  async () => {
    const lock = await device('lock', 'sc-lock');
    const hub = await startTestHub(fleet.work, 'hub-sc');
    try {
      lock.hub.openPairingWindow('owner');
      const d = await hub.pair({ address: `${LOCAL}:${lock.hub.port}`, setupCode: fleet.units.lock!.setupCode });
      assert.equal(d.mode, 'setup-code');
      assert.deepEqual(d.access, []);
      assert.deepEqual(d.notGranted, ['bolt']);
      await assert.rejects(hub.call(d.serial, 'bolt', 'unlock'), (e) => hasCode(e, 'HUB_CAPABILITY_NOT_GRANTED'));
      hub.grant(d.serial, 'bolt');
      assert.equal(await hub.call(d.serial, 'bolt', 'unlock'), 'unlocked');
      assert.equal(await hub.call(d.serial, 'bolt', 'lock'), 'locked');
      hub.revoke(d.serial, 'bolt');
      await assert.rejects(hub.call(d.serial, 'bolt', 'unlock'), (e) => hasCode(e, 'HUB_CAPABILITY_NOT_GRANTED'));
      assert.equal(lock.hub.hubs()[0]!.mode, 'setup-code');
    } finally {
      await hub.close();
    }
  },
);

test(
  'a lock and a camera refuse push-button pairing even with the window open; nothing is counted or pinned',
  { timeout: 60_000 },
  async () => {
    const lock = await device('lock', 'pb-lock');
    const camera = await device('camera', 'pb-camera');
    const hub = await startTestHub(fleet.work, 'hub-pb-lock');
    try {
      for (const d of [lock, camera]) {
        d.hub.openPairingWindow('button');
        await assert.rejects(hub.pair({ address: `${LOCAL}:${d.hub.port}` }), (e) =>
          hasCode(e, 'PAIRING_PUSH_BUTTON_REFUSED'),
        );
        assert.equal(d.hub.hubs().length, 0);
        assert.equal(d.hub.pairingStatus().failures, 0);
        // A camera's journal keeps no detail (privacy class 'sensitive'); the lock's says why.
        assert.ok(
          (await journalOf(d, 'pairing')).some(
            (r) =>
              r.event === 'pairing' &&
              r.result === 'refused' &&
              (d === camera || /PAIRING_PUSH_BUTTON_REFUSED/.test(r.detail ?? '')),
          ),
        );
      }
      assert.equal(hub.devices().length, 0);
    } finally {
      await hub.close();
    }
  },
);

test(
  'a closed window refuses with PAIRING_WINDOW_CLOSED: never opened, and after a success',
  { timeout: 60_000 },
  async () => {
    const plug = await device('plug', 'closed-plug');
    const hub = await startTestHub(fleet.work, 'hub-closed');
    const other = await startTestHub(fleet.work, 'hub-closed-2');
    try {
      await assert.rejects(hub.pair({ address: `${LOCAL}:${plug.hub.port}` }), (e) =>
        hasCode(e, 'PAIRING_WINDOW_CLOSED'),
      );
      await assert.rejects(
        hub.pair({ address: `${LOCAL}:${plug.hub.port}`, setupCode: fleet.units.plug!.setupCode }),
        (e) => hasCode(e, 'PAIRING_WINDOW_CLOSED'),
      );
      plug.hub.openPairingWindow('button');
      await hub.pair({ address: `${LOCAL}:${plug.hub.port}` });
      await assert.rejects(
        other.pair({ address: `${LOCAL}:${plug.hub.port}` }),
        (e) => hasCode(e, 'PAIRING_WINDOW_CLOSED'),
        'the first hub wins; the window shut',
      );
      assert.equal(plug.hub.hubs().length, 1);
    } finally {
      await hub.close();
      await other.close();
    }
  },
);

test(
  'a wrong setup code fails on both sides and pins nothing; a typo is caught by the check digit before the ' +
    'device spends an attempt',
  { timeout: 60_000 },
  async () => {
    const lock = await device('lock', 'wrong-lock');
    const hub = await startTestHub(fleet.work, 'hub-wrong');
    try {
      lock.hub.openPairingWindow('button');
      await assert.rejects(
        hub.pair({ address: `${LOCAL}:${lock.hub.port}`, setupCode: '1234-5678-9012' }),
        (e) => hasCode(e, 'HUB_SETUP_CODE_MALFORMED') || hasCode(e, 'PAIRING_CONFIRMATION_FAILED'),
      );
      const before = lock.hub.pairingStatus().failures;
      await assert.rejects(
        hub.pair({ address: `${LOCAL}:${lock.hub.port}`, setupCode: wrongCode(fleet.units.lock!.setupCode) }),
        (e) => hasCode(e, 'PAIRING_CONFIRMATION_FAILED'),
      );
      assert.equal(lock.hub.pairingStatus().failures, before + 1);
      assert.equal(lock.hub.pairingStatus().open, true);
      assert.equal(lock.hub.hubs().length, 0);
      assert.equal(hub.devices().length, 0);
      // The reason survives the journal's redactor (no 'code: value' shape in the detail).
      await eventually(
        async () =>
          (await journalOf(lock, 'pairing')).some(
            (r) =>
              r.event === 'pairing' && r.result === 'failure' && /^PAIRING_CONFIRMATION_FAILED/.test(r.detail ?? ''),
          ),
        2_000,
        'failure in the journal',
      );
      // The right code still works in the same window.
      const d = await hub.pair({ address: `${LOCAL}:${lock.hub.port}`, setupCode: fleet.units.lock!.setupCode });
      assert.equal(d.serial, lock.bundle.unit.serial);
    } finally {
      await hub.close();
    }
  },
);

test(
  '20 failed attempts close the window; the 21st, even with the right code, is refused',
  { timeout: 120_000 },
  async () => {
    const plug = await device('plug', 'many-plug');
    const eve = await stranger('Eve');
    plug.hub.openPairingWindow('button');
    const wrong = wrongCode(fleet.units.plug!.setupCode);
    for (let i = 1; i <= 20; i++) {
      await assert.rejects(
        pairWithDevice({ host: LOCAL, port: plug.hub.port, identity: eve, mode: 'setup-code', setupCode: wrong }),
        (e) => hasCode(e, 'PAIRING_CONFIRMATION_FAILED'),
        `attempt ${i}`,
      );
    }
    assert.deepEqual([plug.hub.pairingStatus().open, plug.hub.pairingStatus().reason], [false, 'too-many-failures']);
    const hub = await startTestHub(fleet.work, 'hub-many');
    try {
      await assert.rejects(
        hub.pair({ address: `${LOCAL}:${plug.hub.port}`, setupCode: fleet.units.plug!.setupCode }),
        (e) => hasCode(e, 'PAIRING_TOO_MANY_ATTEMPTS'),
      );
      await assert.rejects(
        hub.pair({ address: `${LOCAL}:${plug.hub.port}` }),
        (e) => hasCode(e, 'PAIRING_TOO_MANY_ATTEMPTS'),
        'push button too',
      );
      assert.equal(plug.hub.hubs().length, 0);
      const failures = (await journalOf(plug, 'pairing')).filter(
        (r) => r.event === 'pairing' && r.result === 'failure',
      );
      assert.equal(failures.length, 20);
      // A new physical act opens a new window.
      plug.hub.openPairingWindow('button');
      await hub.pair({ address: `${LOCAL}:${plug.hub.port}`, setupCode: fleet.units.plug!.setupCode });
    } finally {
      await hub.close();
    }
  },
);

test('a hub that learns its guess was wrong and hangs up has still spent an attempt', { timeout: 60_000 }, async () => {
  const plug = await device('plug', 'hangup-plug');
  plug.hub.openPairingWindow('button');
  const eve = await stranger('Eve');
  const conn = await connectChannel({
    host: LOCAL,
    port: plug.hub.port,
    key: eve.key,
    cert: eve.cert,
    pinnedPeer: () => ({}),
  });
  const { HubPairingExchange } = await import('../../src/pairing/index.ts');
  const ex = new HubPairingExchange({
    mode: 'setup-code',
    setupCode: wrongCode(fleet.units.plug!.setupCode),
    ownPin: eve.pin,
    peerPin: conn.peerSpkiSha256,
  });
  const hello = ex.start();
  assert.equal(hello.kind, 'send');
  let share = hello.kind === 'send' ? ex.receive(await conn.request('pairing', hello.action, hello.value)) : hello;
  // The device's model document comes first, part by part; none of it tests the code.
  while (share.kind === 'send' && share.action === 'model')
    share = ex.receive(await conn.request('pairing', share.action, share.value));
  assert.equal(share.kind === 'send' && share.action, 'share');
  assert.equal(plug.hub.pairingStatus().failures, 0);
  // The device's answer to the share tells the hub its guess was wrong; it hangs up instead of confirming.
  const answer = share.kind === 'send' ? await conn.request('pairing', share.action, share.value) : null;
  assert.throws(
    () => ex.receive(answer),
    (e) => hasCode(e, 'PAIRING_CONFIRMATION_FAILED'),
  );
  await conn.close('bye');
  assert.equal(plug.hub.pairingStatus().failures, 1);
});

test('after pairing, a different key on either side is refused', { timeout: 60_000 }, async () => {
  const plug = await device('plug', 'pin-plug');
  const hub = await startTestHub(fleet.work, 'hub-pin');
  try {
    plug.hub.openPairingWindow('button');
    const d = await hub.pair({ address: `${LOCAL}:${plug.hub.port}` });
    // A stranger's key at the device: no capability, and the channel is closed on it.
    const eve = await stranger('Eve');
    const conn = await connectChannel({
      host: LOCAL,
      port: plug.hub.port,
      key: eve.key,
      cert: eve.cert,
      pinnedPeer: () => ({}),
    });
    await assert.rejects(
      conn.request('power', 'on'),
      (e) => e instanceof ChannelRequestError && e.remoteCode === 'CAPABILITY_DENIED',
    );
    assert.equal((await conn.closed).reason, 'not-paired');
    assert.equal(await plug.capabilities.invoke('power', 'get'), false, 'the stranger changed nothing');
    assert.ok(
      (await journalOf(plug, 'hub')).some(
        (r) => r.event === 'request' && r.result === 'refused' && r.identity === `sha256:${eve.pin.toString('hex')}`,
      ),
    );
    // A stranger's key in place of the device: the hub refuses it at the TLS handshake.
    const port = plug.hub.port;
    await plug.close();
    agents.splice(agents.indexOf(plug), 1);
    await eventually(() => !hub.device(d.serial).connected, 5_000, 'hub sees the device gone');
    const impostor = await stranger('Impostor');
    let served = 0;
    const fake = await createChannelServer({
      key: impostor.key,
      cert: impostor.cert,
      host: LOCAL,
      port,
      pinnedPeer: () => ({}),
      onConnection: (c) => {
        served++;
        c.onRequest(() => true);
      },
    });
    try {
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(hub.device(d.serial).connected, false);
      assert.equal(served, 0, 'the hub never completed a channel with the impostor');
      await assert.rejects(hub.call(d.serial, 'power', 'on'), (e) => hasCode(e, 'HUB_DEVICE_OFFLINE'));
      await assert.rejects(
        connectChannel({
          host: LOCAL,
          port,
          key: hub.identity.key,
          cert: hub.identity.cert,
          pinnedPeer: pinnedPeers([[Buffer.from(d.pin.slice(7), 'hex'), 'device']]),
        }),
        (e) => hasCode(e, 'CHANNEL_PEER_NOT_PINNED'),
      );
    } finally {
      await fake.close();
    }
  } finally {
    await hub.close();
  }
});

test(
  'unpairing on either side ends the channel and forgets the keys; factory reset forgets every hub',
  { timeout: 60_000 },
  async () => {
    const plug = await device('plug', 'unpair-plug');
    const lock = await device('lock', 'unpair-lock');
    const hub = await startTestHub(fleet.work, 'hub-unpair');
    try {
      plug.hub.openPairingWindow('button');
      lock.hub.openPairingWindow('button');
      const p = await hub.pair({ address: `${LOCAL}:${plug.hub.port}` });
      const l = await hub.pair({ address: `${LOCAL}:${lock.hub.port}`, setupCode: fleet.units.lock!.setupCode });
      // Hub side.
      assert.deepEqual(await hub.unpair(p.serial), { toldDevice: true });
      assert.equal(plug.hub.hubs().length, 0);
      assert.throws(
        () => hub.device(p.serial),
        (e) => hasCode(e, 'HUB_DEVICE_UNKNOWN'),
      );
      assert.equal(hub.store.device(p.serial), undefined);
      // Device side: the owner unpairs every hub; the hub hears it and forgets the device.
      assert.equal(lock.hub.hubs().length, 1);
      await lock.hub.unpairHub(hub.pin);
      await eventually(() => hub.devices().length === 0, 5_000, 'the hub forgetting the lock');
      assert.equal(hub.store.device(l.serial), undefined);
      // Factory reset (holding the button) forgets every hub too.
      lock.hub.openPairingWindow('button');
      await hub.pair({ address: `${LOCAL}:${lock.hub.port}`, setupCode: fleet.units.lock!.setupCode });
      const { pressButton } = await import('../../src/device/index.ts');
      assert.match(await pressButton(join(fleet.work, 'unpair-lock'), 'hold'), /factory reset/);
      assert.equal(lock.hub.hubs().length, 0);
      await eventually(() => hub.devices().length === 0, 5_000, 'the hub forgetting the reset lock');
      await assert.rejects(readFile(join(fleet.work, 'unpair-lock', 'hubs.json')), { code: 'ENOENT' });
      // And a press opens a new window.
      assert.match(await pressButton(join(fleet.work, 'unpair-lock'), 'press'), /pairing window open/);
    } finally {
      await hub.close();
    }
  },
);

test(
  'the owner opens the pairing window from the admin page, with session and CSRF; the dashboard shows it',
  { timeout: 60_000 },
  async () => {
    const plug = await device('plug', 'owner-plug');
    const c = await WebClient.for(plug.web.url, fleet.units.plug!);
    assert.equal((await c.send('POST', '/api/actions/pairing-window', { json: {} })).status, 401);
    assert.equal((await c.login(fleet.units.plug!.adminPassword!)).status, 303);
    const page = await c.get('/');
    assert.match(page.body, /Open the hub pairing window/);
    assert.match(page.body, /No hub paired\. Press the button or open pairing here to add one\./);
    const csrf = WebClient.csrfOf(page.body);
    assert.equal((await c.send('POST', '/api/actions/pairing-window', { form: { csrf: 'wrong' } })).status, 403);
    assert.equal(plug.hub.pairingStatus().open, false);
    const ok = await c.send('POST', '/api/actions/pairing-window', { json: { csrf } });
    assert.equal(ok.status, 200, ok.body);
    assert.match(ok.body, /pairing window open/);
    assert.equal(plug.hub.pairingStatus().openedBy, 'owner');
    assert.match((await c.get('/')).body, /Pairing is open for about \d+ more minutes?\./);
    const hub = await startTestHub(fleet.work, 'hub-owner');
    try {
      await hub.pair({ address: `${LOCAL}:${plug.hub.port}` });
    } finally {
      await hub.close();
    }
  },
);

test('automation: when plug A draws more than 10 W, plug B switches on', { timeout: 60_000 }, async () => {
  const units = await provisionUnits({
    factoryDir: fleet.factoryDir,
    model: 'plug',
    count: 2,
    outDir: join(fleet.work, 'units-auto'),
  });
  const a = await startTestDevice(units[0]!, join(fleet.work, 'auto-a'));
  const b = await startTestDevice(units[1]!, join(fleet.work, 'auto-b'));
  agents.push(a, b);
  const hub = await startTestHub(fleet.work, 'hub-auto', { automationMinIntervalMs: 10 });
  try {
    a.hub.openPairingWindow('button');
    b.hub.openPairingWindow('button');
    const pa = await hub.pair({ address: `${LOCAL}:${a.hub.port}` });
    const pb = await hub.pair({ address: `${LOCAL}:${b.hub.port}` });
    assert.throws(
      () =>
        hub.addAutomation({
          whenSerial: pa.serial,
          whenCapability: 'power',
          op: 'above',
          threshold: 10,
          thenSerial: pb.serial,
          thenCapability: 'power',
          thenAction: 'on',
        }),
      (e) => hasCode(e, 'HUB_CAPABILITY_UNKNOWN'),
      'a switch is not a reading',
    );
    const rule = hub.addAutomation({
      whenSerial: pa.serial,
      whenCapability: 'energy',
      op: 'above',
      threshold: 10,
      thenSerial: pb.serial,
      thenCapability: 'power',
      thenAction: 'on',
    });
    assert.equal(hub.automations().length, 1);
    assert.equal(await b.capabilities.invoke('power', 'get'), false);
    await a.capabilities.invoke('power', 'on'); // A's energy reading goes from 0 to ~60 W
    await eventually(
      async () => (await b.capabilities.invoke('power', 'get')) === true,
      5_000,
      'plug B switched by the automation',
    );
    assert.equal(hub.removeAutomation(rule.id), true);
  } finally {
    await hub.close();
  }
});
