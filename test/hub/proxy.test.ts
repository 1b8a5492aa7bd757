// An attacker between hub and device during setup-code pairing. A plain TCP relay records every
// byte: pairing completes between the real ends, the recording holds no plaintext, and replaying
// it gets nowhere with either end. A TLS-terminating proxy (its own key towards each side) sees
// the plaintext but cannot complete pairing as either side, the right code notwithstanding; the
// hub's messages it recorded, replayed to the device, fail too; and once the real ends have
// paired directly, the proxy's key is refused by the hub.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { once } from 'node:events';
import { hasCode } from '../../src/errors/index.ts';
import { randomBytes } from 'node:crypto';
import { HubPairingExchange, encodeHubMessage, pairWithDevice } from '../../src/pairing/index.ts';
import {
  connectChannel,
  pinnedPeers,
  FrameDecoder,
  parseMessage,
  type RequestMessage,
} from '../../src/channel/index.ts';
import type { DeviceAgent } from '../../src/device/index.ts';
import type { HubIdentity } from '../../src/hub/index.ts';
import { makeFleet, type TestFleet } from '../support/device.ts';
import { startTestDevice, startTestHub, stranger, journalOf, eventually } from './support.ts';

const LOCAL = '127.0.0.1';
const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;
let fleet: TestFleet;
const agents: DeviceAgent[] = [];
const closers: Array<() => Promise<void> | void> = [];

before(async () => {
  fleet = await makeFleet(['lock', 'plug']);
});
after(async () => {
  for (const c of closers) await c();
  await Promise.all(agents.map((a) => a.close()));
});

interface Recording {
  toDevice: Buffer[];
  toHub: Buffer[];
}

const open = new WeakMap<net.Server, Set<net.Socket>>();

function listen(server: net.Server): Promise<number> {
  const sockets = new Set<net.Socket>();
  open.set(server, sockets);
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => server.listen(0, LOCAL, () => resolve((server.address() as net.AddressInfo).port)));
}

/** Stops listening and cuts every connection still open. */
function stop(server: net.Server): Promise<void> {
  const closed = new Promise<void>((resolve) => {
    server.close(() => resolve());
  });
  for (const s of open.get(server) ?? []) s.destroy();
  return closed;
}

/** A plain TCP relay to `port` that records both directions. */
async function tcpRelay(
  port: number,
): Promise<{ port: number; recording: Recording; server: net.Server; sockets: Set<net.Socket> }> {
  const recording: Recording = { toDevice: [], toHub: [] };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((hubSide) => {
    const deviceSide = net.connect(port, LOCAL);
    for (const s of [hubSide, deviceSide]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    hubSide.on('data', (d: Buffer) => {
      recording.toDevice.push(Buffer.from(d));
      deviceSide.write(d);
    });
    deviceSide.on('data', (d: Buffer) => {
      recording.toHub.push(Buffer.from(d));
      hubSide.write(d);
    });
    hubSide.on('end', () => deviceSide.end());
    deviceSide.on('end', () => hubSide.end());
  });
  const relayPort = await listen(server);
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await stop(server);
  });
  return { port: relayPort, recording, server, sockets };
}

/** A TLS-terminating proxy with its own key towards each side; records the plaintext both ways. */
async function tlsProxy(port: number, me: HubIdentity): Promise<{ port: number; recording: Recording }> {
  const recording: Recording = { toDevice: [], toHub: [] };
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    { key: me.key, cert: me.cert, ...TLS13, requestCert: true, rejectUnauthorized: false },
    (hubSide) => {
      const deviceSide = tls.connect({
        host: LOCAL,
        port,
        key: me.key,
        cert: me.cert,
        ...TLS13,
        rejectUnauthorized: false,
      });
      for (const s of [hubSide, deviceSide]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
      }
      hubSide.on('data', (d: Buffer) => {
        recording.toDevice.push(Buffer.from(d));
        deviceSide.write(d);
      });
      deviceSide.on('data', (d: Buffer) => {
        recording.toHub.push(Buffer.from(d));
        hubSide.write(d);
      });
      hubSide.on('end', () => deviceSide.end());
      deviceSide.on('end', () => hubSide.end());
    },
  );
  server.on('tlsClientError', () => undefined);
  const proxyPort = await listen(server);
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await stop(server);
  });
  return { port: proxyPort, recording };
}

/** The channel requests found in a plaintext byte stream. */
function requestsIn(chunks: Buffer[]): RequestMessage[] {
  const decoder = new FrameDecoder();
  const out: RequestMessage[] = [];
  for (const body of decoder.push(Buffer.concat(chunks))) {
    const m = parseMessage(body);
    if (m.type === 'request') out.push(m);
  }
  return out;
}

/** The response values found in a plaintext byte stream. */
function responsesIn(chunks: Buffer[]): unknown[] {
  const decoder = new FrameDecoder();
  const out: unknown[] = [];
  for (const body of decoder.push(Buffer.concat(chunks))) {
    const m = parseMessage(body);
    if (m.type === 'response') out.push(m.value);
  }
  return out;
}

/** Sends `bytes` to `port` raw and waits until the other end hangs up (or 3 s pass). */
async function replayRaw(port: number, bytes: Buffer): Promise<Buffer> {
  const socket = net.connect(port, LOCAL);
  socket.on('error', () => undefined);
  const got: Buffer[] = [];
  socket.on('data', (d: Buffer) => got.push(d));
  await once(socket, 'connect');
  socket.write(bytes);
  await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 3_000))]);
  socket.destroy();
  return Buffer.concat(got);
}

test(
  'a plain TCP relay: pairing completes end to end, the relay saw only ciphertext, and replaying its recording ' +
    'pairs nobody',
  { timeout: 60_000 },
  async () => {
    const lock = await startTestDevice(fleet.units.lock!, join(fleet.work, 'relay-lock'));
    agents.push(lock);
    const relay = await tcpRelay(lock.hub.port);
    const hub = await startTestHub(fleet.work, 'hub-relay');
    closers.push(() => hub.close());
    lock.hub.openPairingWindow('button');
    const d = await hub.pair({ address: `${LOCAL}:${relay.port}`, setupCode: fleet.units.lock!.setupCode });
    assert.equal(d.serial, lock.bundle.unit.serial);
    hub.grant(d.serial, 'bolt');
    assert.equal(await hub.call(d.serial, 'bolt', 'unlock'), 'unlocked');
    const all = Buffer.concat([...relay.recording.toDevice, ...relay.recording.toHub]);
    assert.ok(all.length > 1_000, 'the relay carried the pairing and the channel');
    for (const secret of [
      'pairing',
      'setup-code',
      '"v":1',
      'bolt',
      'unlock',
      lock.bundle.unit.serial,
      fleet.units.lock!.setupCode.replace(/\D/g, ''),
    ]) {
      assert.equal(all.includes(Buffer.from(secret)), false, `the relay read '${secret}'`);
    }
    // Replaying what the hub sent, against a fresh window: TLS 1.3 handshakes are never the same twice.
    lock.hub.openPairingWindow('button');
    const answer = await replayRaw(lock.hub.port, Buffer.concat(relay.recording.toDevice));
    assert.equal(answer.includes(Buffer.from('paired')), false);
    // Replaying what the device sent, to a hub that pairs through the relay's address: refused too.
    const fakeDevice = net.createServer((s) => {
      s.on('error', () => undefined);
      s.write(Buffer.concat(relay.recording.toHub));
      s.end();
    });
    const fakePort = await listen(fakeDevice);
    closers.push(() => stop(fakeDevice));
    const other = await startTestHub(fleet.work, 'hub-relay-other');
    closers.push(() => other.close());
    await assert.rejects(
      other.pair({ address: `${LOCAL}:${fakePort}`, setupCode: fleet.units.lock!.setupCode }),
      (e) => hasCode(e, 'CHANNEL_TLS_FAILED') || hasCode(e, 'CHANNEL_SOCKET_FAILED') || hasCode(e, 'CHANNEL_REFUSED'),
    );
    assert.equal(other.devices().length, 0);
    assert.deepEqual(
      lock.hub.hubs().map((h) => h.pin),
      [hub.pin],
      'only the real hub is pinned',
    );
    assert.equal(lock.hub.pairingStatus().open, true, 'the replay did not even count as an attempt');
  },
);

test(
  'a TLS-terminating proxy cannot complete pairing as either side, even though the hub types the right code',
  { timeout: 60_000 },
  async () => {
    const lock = await startTestDevice(fleet.units.lock!, join(fleet.work, 'mitm-lock'));
    agents.push(lock);
    const mallory = await stranger('Mallory');
    const proxy = await tlsProxy(lock.hub.port, mallory);
    const hub = await startTestHub(fleet.work, 'hub-mitm');
    closers.push(() => hub.close());
    lock.hub.openPairingWindow('button');
    await assert.rejects(hub.pair({ address: `${LOCAL}:${proxy.port}`, setupCode: fleet.units.lock!.setupCode }), (e) =>
      hasCode(e, 'PAIRING_CONFIRMATION_FAILED'),
    );
    assert.equal(hub.devices().length, 0, 'the hub pinned nothing');
    assert.equal(lock.hub.hubs().length, 0, 'the device pinned nothing');
    await eventually(() => lock.hub.pairingStatus().failures === 1, 2_000, 'the device counting the attempt');
    // The journal names the key the device saw: the proxy's.
    await eventually(
      async () =>
        (await journalOf(lock, 'pairing')).some(
          (r) =>
            r.event === 'pairing' && r.result === 'failure' && r.identity === `sha256:${mallory.pin.toString('hex')}`,
        ),
      2_000,
      'the failure in the journal',
    );

    // The proxy saw the hub's pairing messages; replayed from its own connection, they fail.
    const recorded = requestsIn(proxy.recording.toDevice).filter((r) => r.capability === 'pairing');
    // Between hello and share the hub asked for the device's model document, part by part.
    assert.deepEqual(
      recorded.map((r) => r.action).filter((a) => a !== 'model'),
      ['hello', 'share'],
      'the hub stopped before confirming',
    );
    const conn = await connectChannel({
      host: LOCAL,
      port: lock.hub.port,
      key: mallory.key,
      cert: mallory.cert,
      pinnedPeer: () => ({}),
    });
    const answers = [];
    for (const r of recorded) answers.push(await conn.request('pairing', r.action, r.value));
    const original = responsesIn(proxy.recording.toHub)
      .map((v) => JSON.parse(String(v)) as { t: string; y?: string })
      .find((m) => m.t === 'share');
    const fresh = JSON.parse(String(answers.at(-1))) as { t: string; y: string };
    assert.equal(fresh.t, 'share');
    assert.ok(original?.y && original.y !== fresh.y, 'the device answered with a fresh share');
    // Completing needs a confirmation made from the hub's secret x and the code: the proxy has neither.
    const final = await conn.request(
      'pairing',
      'confirm',
      encodeHubMessage({ t: 'confirm', cp: randomBytes(32) }).value,
    );
    assert.deepEqual(JSON.parse(String(final)), { v: 1, t: 'refused', code: 'PAIRING_CONFIRMATION_FAILED' });
    await conn.closed;
    await eventually(() => lock.hub.pairingStatus().failures === 2, 2_000, 'the replay counted as a failed attempt');
    assert.equal(lock.hub.hubs().length, 0);

    // As the device towards the hub: the hub pairs only through a proxy whose key it then pins, and
    // the exchange fails before that. With a real pairing done directly, the proxy is refused.
    lock.hub.openPairingWindow('button');
    const d = await hub.pair({ address: `${LOCAL}:${lock.hub.port}`, setupCode: fleet.units.lock!.setupCode });
    await assert.rejects(
      connectChannel({
        host: LOCAL,
        port: proxy.port,
        key: hub.identity.key,
        cert: hub.identity.cert,
        pinnedPeer: pinnedPeers([[Buffer.from(d.pin.slice(7), 'hex'), 'lock']]),
      }),
      (e) => hasCode(e, 'CHANNEL_PEER_NOT_PINNED'),
    );
    const before = proxy.recording.toDevice.length;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(
      requestsIn(proxy.recording.toDevice.slice(before)).length,
      0,
      'no request of the paired hub passed through the proxy',
    );
  },
);

test(
  "replaying a recorded pairing transcript fails, with the hub's own key or another",
  { timeout: 60_000 },
  async () => {
    const lock = await startTestDevice(fleet.units.lock!, join(fleet.work, 'replay-lock'));
    agents.push(lock);
    const hubKeys = await stranger('Hub');
    // Record a complete, successful exchange as the hub sends it.
    lock.hub.openPairingWindow('button');
    const recorded: Array<{ action: string; value: string }> = [];
    const conn = await connectChannel({
      host: LOCAL,
      port: lock.hub.port,
      key: hubKeys.key,
      cert: hubKeys.cert,
      pinnedPeer: () => ({}),
    });
    const ex = new HubPairingExchange({
      mode: 'setup-code',
      setupCode: fleet.units.lock!.setupCode,
      ownPin: hubKeys.pin,
      peerPin: conn.peerSpkiSha256,
    });
    let step = ex.start();
    while (step.kind === 'send') {
      recorded.push({ action: step.action, value: step.value });
      step = ex.receive(await conn.request('pairing', step.action, step.value));
    }
    await conn.close('done');
    assert.equal(lock.hub.hubs().length, 1);
    await lock.hub.unpairHub(lock.hub.hubs()[0]!.pin);
    // Replay it, from the same key and from another, in a fresh window.
    for (const who of [hubKeys, await stranger('Replayer')]) {
      lock.hub.openPairingWindow('button');
      const again = await connectChannel({
        host: LOCAL,
        port: lock.hub.port,
        key: who.key,
        cert: who.cert,
        pinnedPeer: () => ({}),
      });
      const answers: string[] = [];
      for (const r of recorded) answers.push(String(await again.request('pairing', r.action, r.value)));
      const confirmed = answers[recorded.findIndex((r) => r.action === 'confirm')]!;
      assert.deepEqual(JSON.parse(confirmed), { v: 1, t: 'refused', code: 'PAIRING_CONFIRMATION_FAILED' });
      await again.closed;
      assert.equal(lock.hub.hubs().length, 0);
    }
    // And a full pairing with the real code through pairWithDevice still works afterwards.
    await pairWithDevice({
      host: LOCAL,
      port: lock.hub.port,
      identity: hubKeys,
      mode: 'setup-code',
      setupCode: fleet.units.lock!.setupCode,
    });
    assert.equal(lock.hub.hubs().length, 1);
  },
);

test(
  'push button through a TLS-terminating proxy: the pins each side saw differ, and neither side pairs',
  { timeout: 60_000 },
  async () => {
    const plug = await startTestDevice(fleet.units.plug!, join(fleet.work, 'mitm-plug'));
    agents.push(plug);
    const proxy = await tlsProxy(plug.hub.port, await stranger('Mallory'));
    const hub = await startTestHub(fleet.work, 'hub-mitm-pb');
    closers.push(() => hub.close());
    plug.hub.openPairingWindow('button');
    await assert.rejects(hub.pair({ address: `${LOCAL}:${proxy.port}` }), (e) =>
      hasCode(e, 'PAIRING_FINGERPRINT_MISMATCH'),
    );
    assert.equal(hub.devices().length, 0);
    assert.equal(plug.hub.hubs().length, 0);
    assert.equal(plug.hub.pairingStatus().open, true);
  },
);
