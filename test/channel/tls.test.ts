// The channel over real TLS on 127.0.0.1: requests, typed errors, timeouts, pinning on both
// sides, TLS 1.3 only, session resumption, reconnect after a server restart, keepalive.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasCode } from '../../src/errors/index.ts';
import {
  createChannelServer,
  connectChannel,
  createChannelClientContext,
  reconnectingClient,
  pinnedPeers,
  encodeMessage,
  ChannelRequestError,
  FrameDecoder,
  parseMessage,
  type ChannelServerOptions,
  type ChannelConnection,
  type ChannelError,
  type EventMessage,
  type ChannelConfig,
} from '../../src/channel/index.ts';
import { makeIdentity, type TestIdentity } from './fixtures.ts';

interface Peer {
  readonly name: string;
}

let hub: TestIdentity;
let device: TestIdentity;
let stranger: TestIdentity;
const LOCAL = '127.0.0.1';

before(async () => {
  [hub, device, stranger] = await Promise.all([makeIdentity('HUB1'), makeIdentity('DEV1'), makeIdentity('EVE1')]);
});

/** A device-side server that pins the hub and answers a few test capabilities. */
async function deviceServer(extra: Partial<ChannelServerOptions<Peer>> = {}) {
  const seen = { requests: 0, connections: [] as ChannelConnection<Peer>[], refused: [] as ChannelError[] };
  const server = await createChannelServer<Peer>({
    key: device.key,
    cert: device.cert,
    host: LOCAL,
    pinnedPeer: pinnedPeers([[hub.pin, { name: 'hub' }]]),
    onConnection: (conn) => {
      seen.connections.push(conn);
      conn.onRequest(async ({ capability, action, value }) => {
        seen.requests++;
        if (capability === 'switch') return action === 'get' ? true : value;
        if (capability === 'camera')
          throw new ChannelRequestError('CAPABILITY_DENIED', 'snapshot needs an explicit grant');
        if (capability === 'slow') return sleep(10_000, null, { ref: false });
        if (capability === 'crash') throw new Error('secret internal detail');
        throw new ChannelRequestError('UNKNOWN_CAPABILITY', `no ${capability}`);
      });
    },
    onRefused: (error) => {
      seen.refused.push(error);
    },
    ...extra,
  });
  return { server, seen };
}

function hubConnect(
  port: number,
  over: { identity?: TestIdentity; pins?: Buffer[]; config?: Partial<ChannelConfig> } = {},
) {
  const me = over.identity ?? hub;
  return connectChannel<Peer>({
    host: LOCAL,
    port,
    key: me.key,
    cert: me.cert,
    pinnedPeer: pinnedPeers((over.pins ?? [device.pin]).map((p) => [p, { name: 'device' }] as const)),
    ...(over.config ? { config: over.config } : {}),
  });
}

test(
  'request, response, typed error, internal error and timeout end to end over TLS 1.3 on 127.0.0.1',
  { timeout: 20_000 },
  async () => {
    const { server, seen } = await deviceServer();
    try {
      const conn = await hubConnect(server.port, { config: { requestTimeoutMs: 300 } });
      assert.equal(conn.peer.name, 'device');
      assert.deepEqual(conn.peerSpkiSha256, device.pin);
      assert.equal(await conn.request('switch', 'set', false), false);
      assert.equal(await conn.request('switch', 'get'), true);
      await assert.rejects(
        conn.request('camera', 'snapshot'),
        (e) =>
          e instanceof ChannelRequestError &&
          e.remoteCode === 'CAPABILITY_DENIED' &&
          e.message === 'snapshot needs an explicit grant',
      );
      await assert.rejects(
        conn.request('crash', 'now'),
        (e) => e instanceof ChannelRequestError && e.remoteCode === 'INTERNAL' && !e.message.includes('secret'),
      );
      const started = performance.now();
      await assert.rejects(conn.request('slow', 'wait'), (e) => hasCode(e, 'CHANNEL_REQUEST_TIMEOUT'));
      assert.ok(performance.now() - started >= 290);
      // Many at once, all answered.
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => conn.request('switch', 'set', i)));
      assert.deepEqual(
        answers,
        Array.from({ length: 50 }, (_, i) => i),
      );
      assert.equal(seen.connections[0]?.peer.name, 'hub');
      assert.equal(seen.connections[0]?.resumed, false);

      // Events from the device reach the hub.
      const got = new Promise<EventMessage>((resolve) => conn.onEvent((e) => resolve(e)));
      seen.connections[0]?.sendEvent('state', true, { capability: 'switch', at: 1_750_000_000_000 });
      assert.deepEqual(await got, {
        type: 'event',
        name: 'state',
        capability: 'switch',
        value: true,
        at: 1_750_000_000_000,
      });

      const info = await conn.close('closing');
      assert.deepEqual(info, { reason: 'closing', initiator: 'local' });
      await assert.rejects(conn.request('switch', 'get'), (e) => hasCode(e, 'CHANNEL_CLOSED'));
    } finally {
      await server.close();
    }
  },
);

test(
  'an unpinned client key is refused by the server before any request is read or answered',
  { timeout: 20_000 },
  async () => {
    const { server, seen } = await deviceServer();
    try {
      await assert.rejects(hubConnect(server.port, { identity: stranger }), (e) => hasCode(e, 'CHANNEL_REFUSED'));
      // A raw client that sends a request the moment its handshake completes gets nothing back.
      const socket = tls.connect({
        host: LOCAL,
        port: server.port,
        key: stranger.key,
        cert: stranger.cert,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
      });
      const received: Buffer[] = [];
      socket.on('data', (d: Buffer) => received.push(d));
      socket.on('error', () => {});
      socket.once('secureConnect', () =>
        socket.write(encodeMessage({ type: 'request', id: 1, capability: 'switch', action: 'set', value: true })),
      );
      await once(socket, 'close');
      assert.equal(Buffer.concat(received).length, 0);
      assert.equal(seen.requests, 0);
      assert.equal(seen.connections.length, 0);
      assert.ok(seen.refused.length >= 2);
      assert.ok(seen.refused.every((e) => e.code === 'CHANNEL_PEER_NOT_PINNED'));
    } finally {
      await server.close();
    }
  },
);

test('an unpinned server key is refused by the client, which never sends a request', { timeout: 20_000 }, async () => {
  const { server, seen } = await deviceServer();
  try {
    await assert.rejects(hubConnect(server.port, { pins: [stranger.pin] }), (e) =>
      hasCode(e, 'CHANNEL_PEER_NOT_PINNED'),
    );
    await sleep(50);
    assert.equal(seen.requests, 0);
    for (const c of seen.connections) assert.equal((await c.closed).initiator, 'peer');
  } finally {
    await server.close();
  }
});

test(
  'a client offering only TLS 1.2 is refused, and our client refuses a TLS 1.2 server',
  { timeout: 20_000 },
  async () => {
    const { server, seen } = await deviceServer();
    try {
      const socket = tls.connect({
        host: LOCAL,
        port: server.port,
        key: hub.key,
        cert: hub.cert,
        rejectUnauthorized: false,
        maxVersion: 'TLSv1.2',
      });
      const [err] = (await once(socket, 'error')) as [Error & { code?: string }];
      assert.match(err.code ?? '', /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/);
      await sleep(20);
      assert.ok(seen.refused.some((e) => e.code === 'CHANNEL_TLS_FAILED'));
      assert.equal(seen.connections.length, 0);
    } finally {
      await server.close();
    }
    const old = tls.createServer({ key: device.key, cert: device.cert, maxVersion: 'TLSv1.2', minVersion: 'TLSv1.2' });
    old.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => old.listen(0, LOCAL, resolve));
    try {
      const port = (old.address() as { port: number }).port;
      await assert.rejects(hubConnect(port), (e) => hasCode(e, 'CHANNEL_TLS_FAILED'));
    } finally {
      old.close();
    }
  },
);

test(
  'a second connect resumes the TLS session (isSessionReused) and both sides still know the pinned peer',
  { timeout: 20_000 },
  async () => {
    const { server, seen } = await deviceServer();
    try {
      const first = await hubConnect(server.port);
      assert.equal(first.resumed, false);
      const resumption = first.resumption;
      assert.ok(resumption);
      await first.close();
      const pinnedPeer = pinnedPeers([[device.pin, { name: 'device' }]]);
      const second = await connectChannel<Peer>({
        host: LOCAL,
        port: server.port,
        key: hub.key,
        cert: hub.cert,
        pinnedPeer,
        resumption,
      });
      assert.equal(second.resumed, true);
      assert.equal(second.peer.name, 'device');
      assert.deepEqual(second.peerSpkiSha256, device.pin);
      assert.equal(await second.request('switch', 'get'), true);
      const serverSide = seen.connections.at(-1);
      assert.equal(serverSide?.resumed, true);
      assert.equal(serverSide?.peer.name, 'hub');
      await second.close();

      // A resumed session is no way around an unpinned key: the client re-checks the remembered pin.
      await assert.rejects(
        connectChannel<Peer>({
          host: LOCAL,
          port: server.port,
          key: hub.key,
          cert: hub.cert,
          pinnedPeer: pinnedPeers([[stranger.pin, { name: 'x' }]]),
          resumption,
        }),
        (e) => hasCode(e, 'CHANNEL_PEER_NOT_PINNED'),
      );
    } finally {
      await server.close();
    }
  },
);

test('a server that unpins a client refuses it on resumption too', { timeout: 20_000 }, async () => {
  let allowed = true;
  const { server, seen } = await deviceServer({
    pinnedPeer: (pin) => (allowed && pin.equals(hub.pin) ? { name: 'hub' } : undefined),
  });
  try {
    const first = await hubConnect(server.port);
    const resumption = first.resumption;
    await first.close();
    allowed = false;
    await assert.rejects(
      connectChannel<Peer>({
        host: LOCAL,
        port: server.port,
        key: hub.key,
        cert: hub.cert,
        pinnedPeer: pinnedPeers([[device.pin, { name: 'device' }]]),
        resumption,
      }),
      (e) => hasCode(e, 'CHANNEL_REFUSED'),
    );
    assert.equal(seen.refused.at(-1)?.code, 'CHANNEL_PEER_NOT_PINNED');
  } finally {
    await server.close();
  }
});

test(
  'a reconnecting client comes back after the server restarts, with back-off, and says so',
  { timeout: 20_000 },
  async () => {
    let { server } = await deviceServer();
    const port = server.port;
    const link = reconnectingClient<Peer>({
      host: LOCAL,
      port,
      key: hub.key,
      cert: hub.cert,
      pinnedPeer: pinnedPeers([[device.pin, { name: 'device' }]]),
      config: { reconnectBaseMs: 20, reconnectMaxMs: 200, reconnectJitter: 0.5 },
    });
    const log: string[] = [];
    link
      .on('connected', () => log.push('connected'))
      .on('disconnected', (i) => log.push(`disconnected:${i.reason}`))
      .on('retrying', (r) => log.push(`retry:${r.attempt}`));
    try {
      await link.whenConnected();
      assert.equal(await link.request('switch', 'get'), true);
      const down = once(link, 'disconnected');
      await server.close();
      await down;
      await assert.rejects(link.request('switch', 'get'), (e) => hasCode(e, 'CHANNEL_NOT_CONNECTED'));
      await sleep(150); // a few attempts fail against the closed port
      ({ server } = await deviceServer({ port }));
      const [conn] = (await once(link, 'connected')) as [ChannelConnection<Peer>];
      assert.equal(conn.peer.name, 'device');
      assert.equal(await link.request('switch', 'set', 7), 7);
      assert.equal(link.connects, 2);
      assert.deepEqual(log.slice(0, 2), ['connected', 'disconnected:shutdown']);
      assert.ok(log.filter((l) => l.startsWith('retry:')).length >= 2, log.join(' '));
      assert.equal(log.at(-1), 'connected');
    } finally {
      await link.close();
      await server.close();
    }
  },
);

test('a reconnecting client gives up after reconnectMaxAttempts failures in a row', { timeout: 20_000 }, async () => {
  const { server } = await deviceServer();
  const port = server.port;
  await server.close();
  const link = reconnectingClient<Peer>({
    host: LOCAL,
    port,
    key: hub.key,
    cert: hub.cert,
    pinnedPeer: pinnedPeers([[device.pin, { name: 'device' }]]),
    config: { reconnectBaseMs: 10, reconnectMaxMs: 20, reconnectMaxAttempts: 3 },
  });
  const [error] = (await once(link, 'gave-up')) as [ChannelError];
  assert.equal(error.code, 'CHANNEL_SOCKET_FAILED');
  assert.equal(link.stopped, true);
  await assert.rejects(link.whenConnected(), (e) => hasCode(e, 'CHANNEL_NOT_CONNECTED'));
});

test('keepalive detects a silent peer and closes the channel with CHANNEL_PEER_DEAD', { timeout: 20_000 }, async () => {
  // A peer that greets the client, then never sends another byte (it still reads).
  let pingsSeen = 0;
  const silent = tls.createServer(
    { key: device.key, cert: device.cert, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' },
    (socket) => {
      const decoder = new FrameDecoder();
      socket.on('error', () => {});
      socket.write(encodeMessage({ type: 'pong', n: 0 }));
      socket.on('data', (chunk: Buffer) => {
        for (const body of decoder.push(chunk)) if (parseMessage(body).type === 'ping') pingsSeen++;
      });
    },
  );
  await new Promise<void>((resolve) => silent.listen(0, LOCAL, resolve));
  try {
    const port = (silent.address() as { port: number }).port;
    const conn = await hubConnect(port, { config: { keepaliveMs: 40, deadAfterMs: 200 } });
    const started = performance.now();
    const info = await conn.closed;
    const took = performance.now() - started;
    assert.equal(info.error?.code, 'CHANNEL_PEER_DEAD');
    assert.equal(info.reason, 'peer-dead');
    assert.ok(took >= 150 && took < 1_000, `closed after ${took} ms`);
    assert.ok(pingsSeen >= 3, `the client kept pinging (${pingsSeen})`);
  } finally {
    silent.close();
  }
});

test(
  'closing the server says bye to every channel, and a channel with traffic stays up past deadAfterMs',
  { timeout: 20_000 },
  async () => {
    const { server, seen } = await deviceServer({ config: { keepaliveMs: 30, deadAfterMs: 90 } });
    const conn = await hubConnect(server.port, { config: { keepaliveMs: 30, deadAfterMs: 90 } });
    await sleep(300); // only keepalive traffic
    assert.equal(conn.isOpen, true);
    assert.equal(seen.connections[0]?.isOpen, true);
    await server.close('shutdown');
    assert.deepEqual(await conn.closed, { reason: 'shutdown', initiator: 'peer' });
  },
);

test(
  'a shared client context connects, resumes, stays TLS 1.3-only, and must match the identity',
  { timeout: 20_000 },
  async () => {
    const { server } = await deviceServer();
    const context = createChannelClientContext(hub);
    const pinnedPeer = pinnedPeers([[device.pin, { name: 'device' }]]);
    try {
      const first = await connectChannel<Peer>({
        host: LOCAL,
        port: server.port,
        key: hub.key,
        cert: hub.cert,
        pinnedPeer,
        context,
      });
      assert.equal(await first.request('switch', 'get'), true);
      await first.close();
      const second = await connectChannel<Peer>({
        host: LOCAL,
        port: server.port,
        key: hub.key,
        cert: hub.cert,
        pinnedPeer,
        context,
        resumption: first.resumption,
      });
      assert.equal(second.resumed, true);
      await second.close();
      await assert.rejects(
        connectChannel<Peer>({
          host: LOCAL,
          port: server.port,
          key: stranger.key,
          cert: stranger.cert,
          pinnedPeer,
          context,
        }),
        (e) => hasCode(e, 'CHANNEL_CONFIG_INVALID'),
      );
    } finally {
      await server.close();
    }
    const old = tls.createServer({ key: device.key, cert: device.cert, maxVersion: 'TLSv1.2', minVersion: 'TLSv1.2' });
    old.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => old.listen(0, LOCAL, resolve));
    try {
      const port = (old.address() as { port: number }).port;
      await assert.rejects(
        connectChannel<Peer>({ host: LOCAL, port, key: hub.key, cert: hub.cert, pinnedPeer, context }),
        (e) => hasCode(e, 'CHANNEL_TLS_FAILED'),
      );
    } finally {
      old.close();
    }
  },
);

test(
  'closing does not hang on a peer that never closes its side: the socket is destroyed after a grace period',
  { timeout: 20_000 },
  async () => {
    // A peer that greets, then ignores our bye and our end (half-open allowed, never ends).
    const stubborn = tls.createServer(
      {
        key: device.key,
        cert: device.cert,
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
        allowHalfOpen: true,
      },
      (socket) => {
        socket.on('error', () => {});
        socket.write(encodeMessage({ type: 'pong', n: 0 }));
        socket.resume();
      },
    );
    await new Promise<void>((resolve) => stubborn.listen(0, LOCAL, resolve));
    try {
      const conn = await hubConnect((stubborn.address() as { port: number }).port);
      const started = performance.now();
      const info = await conn.close('closing');
      const took = performance.now() - started;
      assert.deepEqual(info, { reason: 'closing', initiator: 'local' });
      assert.ok(took >= 900 && took < 3_000, `closed after ${took} ms`);
    } finally {
      stubborn.close();
    }
  },
);

test(
  "an event the server sends the moment it accepts a client reaches the client's onEvent, on every reconnect too",
  { timeout: 20_000 },
  async () => {
    const { server } = await deviceServer({
      onConnection: (conn) => {
        conn.sendEvent('state', 'hello', { capability: 'switch', at: 1 });
      },
    });
    const pinnedPeer = pinnedPeers([[device.pin, { name: 'device' }]]);
    try {
      const heard: EventMessage[] = [];
      const conn = await connectChannel<Peer>({
        host: LOCAL,
        port: server.port,
        key: hub.key,
        cert: hub.cert,
        pinnedPeer,
        onEvent: (e) => heard.push(e),
      });
      await sleep(20);
      assert.deepEqual(heard, [{ type: 'event', name: 'state', capability: 'switch', value: 'hello', at: 1 }]);
      await conn.close();

      const link = reconnectingClient<Peer>({
        host: LOCAL,
        port: server.port,
        key: hub.key,
        cert: hub.cert,
        pinnedPeer,
        config: { reconnectBaseMs: 10 },
      });
      const linkHeard: string[] = [];
      link.onEvent((e) => linkHeard.push(String(e.value)));
      try {
        const first = await link.whenConnected();
        await first.close('testing');
        await once(link, 'connected');
        await sleep(20);
        assert.deepEqual(linkHeard, ['hello', 'hello']);
      } finally {
        await link.close();
      }
    } finally {
      await server.close();
    }
  },
);

test('a peer that stops reading is cut off once maxQueuedBytes are waiting for it', { timeout: 20_000 }, async () => {
  const deaf = tls.createServer(
    { key: device.key, cert: device.cert, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' },
    (socket) => {
      socket.on('error', () => {});
      socket.write(encodeMessage({ type: 'pong', n: 0 }));
      socket.pause();
    },
  );
  await new Promise<void>((resolve) => deaf.listen(0, LOCAL, resolve));
  try {
    const conn = await hubConnect((deaf.address() as { port: number }).port, {
      config: { maxFrameBytes: 1_024, maxQueuedBytes: 65_536 },
    });
    let sent = 0;
    for (; sent < 200_000 && conn.isOpen; sent++)
      conn.sendEvent('telemetry', 'x'.repeat(256), { capability: 'meter', at: sent });
    const info = await conn.closed;
    assert.equal(info.error?.code, 'CHANNEL_BACKPRESSURE');
    assert.ok(sent < 200_000);
    assert.throws(
      () => conn.sendEvent('state', 1),
      (e) => hasCode(e, 'CHANNEL_CLOSED'),
    );
  } finally {
    deaf.close();
  }
});
