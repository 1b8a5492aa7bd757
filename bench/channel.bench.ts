/**
 * The hub-device channel: connection establishments per second, full handshake and resumed,
 * for our channel (TLS 1.3, mutual authentication, SPKI pin checks on both sides, the
 * server's greeting awaited, a bye on close) against bare node:tls mutual TLS 1.3 with the same keys and
 * settings, side by side in one run; then the request round trip over one channel against a
 * bare TLS echo of a frame of the same size.
 *
 * Client and server share this process (and its one thread), so every figure is the cost of
 * both ends together on loopback. Runs alternate between ours and bare in rounds so drift in
 * the machine's load hits both alike.
 */
import tls from 'node:tls';
import { once } from 'node:events';
import {
  createChannelServer,
  connectChannel,
  pinnedPeers,
  encodeMessage,
  type ChannelResumption,
} from '../src/channel/index.ts';
import { makeIdentity, type TestIdentity } from '../test/channel/fixtures.ts';
import type { BenchResult } from './report.ts';

const LOCAL = '127.0.0.1';
const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

/** Bounded counts of the run. */
export interface ChannelBenchOptions {
  /** Establishments per kind (full, resumed) per side (ours, bare). */
  readonly handshakes: number;
  /** Requests timed for the round trip. */
  readonly requests: number;
  /** Rounds the handshakes are split into, alternating ours and bare. */
  readonly rounds: number;
}

const defaults: ChannelBenchOptions = { handshakes: 300, requests: 2_000, rounds: 30 };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** One establishment: how long it took to be usable, and whether the session was resumed. */
interface Establishment {
  readonly ms: number;
  readonly reused: boolean;
}

interface Side {
  /** Establishes one connection and closes it; the next starts after. */
  establish(resume: boolean): Promise<Establishment & { readonly cycleMs: number }>;
  /** Prepares a ticket for resumption. */
  prime(): Promise<void>;
  close(): Promise<void>;
}

async function ourSide(hub: TestIdentity, device: TestIdentity): Promise<Side> {
  const server = await createChannelServer({
    key: device.key,
    cert: device.cert,
    host: LOCAL,
    pinnedPeer: pinnedPeers([[hub.pin, { name: 'hub' }]]),
    onConnection: () => {},
    config: { maxConnections: 64 },
  });
  const pinnedPeer = pinnedPeers([[device.pin, { name: 'device' }]]);
  let resumption: ChannelResumption | undefined;
  const connect = async (resume: boolean): Promise<Establishment & { cycleMs: number }> => {
    const t = performance.now();
    const conn = await connectChannel({
      host: LOCAL,
      port: server.port,
      key: hub.key,
      cert: hub.cert,
      pinnedPeer,
      ...(resume && resumption ? { resumption } : {}),
    });
    const ms = performance.now() - t;
    await conn.close();
    resumption = conn.resumption ?? resumption;
    return { ms, reused: conn.resumed, cycleMs: performance.now() - t };
  };
  return {
    establish: connect,
    prime: async () => {
      await connect(false);
    },
    close: () => server.close(),
  };
}

async function bareSide(hub: TestIdentity, device: TestIdentity): Promise<Side> {
  const server = tls.createServer(
    {
      key: device.key,
      cert: device.cert,
      ...TLS13,
      requestCert: true,
      rejectUnauthorized: false,
      sessionTimeout: 3_600,
    },
    (socket) => {
      socket.on('error', () => {});
      socket.resume();
    },
  );
  server.maxConnections = 64;
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, LOCAL, resolve));
  const port = (server.address() as { port: number }).port;
  let session: Buffer | undefined;
  const connect = async (resume: boolean, waitForTicket = false): Promise<Establishment & { cycleMs: number }> => {
    const t = performance.now();
    const socket = tls.connect({
      host: LOCAL,
      port,
      key: hub.key,
      cert: hub.cert,
      ...TLS13,
      rejectUnauthorized: false,
      ...(resume && session ? { session } : {}),
    });
    socket.on('session', (s: Buffer) => {
      session = s;
    });
    const ticket = waitForTicket ? once(socket, 'session') : undefined;
    await once(socket, 'secureConnect');
    const ms = performance.now() - t;
    if (ticket) await ticket;
    const reused = socket.isSessionReused();
    socket.end();
    await once(socket, 'close');
    return { ms, reused, cycleMs: performance.now() - t };
  };
  return {
    establish: (resume) => connect(resume),
    prime: async () => {
      await connect(false, true);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface RaceResult {
  /** Establish-and-close cycles per second: all the work of both ends, for ours and bare alike. */
  readonly rate: number;
  /** Establishments per second counting only the time until usable. */
  readonly usableRate: number;
  readonly reused: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Runs `count` establishments per side in `rounds` alternating rounds and takes the median of
 * the per-round rates, so a burst of load from elsewhere on the machine skews one round, not
 * the figure.
 */
async function race(
  sides: { ours: Side; bare: Side },
  count: number,
  rounds: number,
  resume: boolean,
): Promise<{ ours: RaceResult; bare: RaceResult }> {
  const perRound = {
    ours: { rate: [] as number[], usable: [] as number[], reused: 0 },
    bare: { rate: [] as number[], usable: [] as number[], reused: 0 },
  };
  const size = Math.ceil(count / rounds);
  for (let done = 0, r = 0; done < count; done += size, r++) {
    const n = Math.min(size, count - done);
    for (const name of r % 2 === 0 ? (['ours', 'bare'] as const) : (['bare', 'ours'] as const)) {
      let ms = 0;
      let cycleMs = 0;
      for (let i = 0; i < n; i++) {
        const e = await sides[name].establish(resume);
        ms += e.ms;
        cycleMs += e.cycleMs;
        if (e.reused) perRound[name].reused++;
      }
      perRound[name].rate.push(n / (cycleMs / 1_000));
      perRound[name].usable.push(n / (ms / 1_000));
    }
  }
  const result = (p: { rate: number[]; usable: number[]; reused: number }): RaceResult => ({
    rate: median(p.rate),
    usableRate: median(p.usable),
    reused: p.reused,
  });
  return { ours: result(perRound.ours), bare: result(perRound.bare) };
}

/** Request round trips over one channel, and a bare TLS echo of an equal-sized frame. */
async function roundTrips(
  hub: TestIdentity,
  device: TestIdentity,
  requests: number,
): Promise<{ ours: number[]; bare: number[] }> {
  const server = await createChannelServer({
    key: device.key,
    cert: device.cert,
    host: LOCAL,
    pinnedPeer: pinnedPeers([[hub.pin, { name: 'hub' }]]),
    onConnection: (conn) => conn.onRequest(({ value }) => value ?? null),
  });
  const echo = tls.createServer(
    { key: device.key, cert: device.cert, ...TLS13, requestCert: true, rejectUnauthorized: false },
    (socket) => {
      socket.setNoDelay(true);
      socket.on('error', () => {});
      socket.on('data', (d: Buffer) => socket.write(d));
    },
  );
  await new Promise<void>((resolve) => echo.listen(0, LOCAL, resolve));
  try {
    const conn = await connectChannel({
      host: LOCAL,
      port: server.port,
      key: hub.key,
      cert: hub.cert,
      pinnedPeer: pinnedPeers([[device.pin, { name: 'device' }]]),
    });
    const ours: number[] = [];
    for (let i = 0; i < requests + 200; i++) {
      const t = performance.now();
      await conn.request('switch', 'set', i % 2 === 0);
      if (i >= 200) ours.push(performance.now() - t);
    }
    await conn.close();

    const socket = tls.connect({
      host: LOCAL,
      port: (echo.address() as { port: number }).port,
      key: hub.key,
      cert: hub.cert,
      ...TLS13,
      rejectUnauthorized: false,
    });
    await once(socket, 'secureConnect');
    socket.setNoDelay(true);
    const frame = encodeMessage({ type: 'request', id: 1, capability: 'switch', action: 'set', value: true });
    const bare: number[] = [];
    for (let i = 0; i < requests + 200; i++) {
      const t = performance.now();
      socket.write(frame);
      let got = 0;
      while (got < frame.length) got += ((await once(socket, 'data')) as [Buffer])[0].length;
      if (i >= 200) bare.push(performance.now() - t);
    }
    socket.end();
    await once(socket, 'close');
    return { ours: ours.sort((a, b) => a - b), bare: bare.sort((a, b) => a - b) };
  } finally {
    await server.close();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  }
}

/**
 * Runs the channel benchmark.
 *
 * @example
 * const result = await benchChannel((s) => process.stderr.write(s + '\n'));
 */
export async function benchChannel(
  log: (s: string) => void,
  options: Partial<ChannelBenchOptions> = {},
): Promise<BenchResult> {
  const o = { ...defaults, ...options };
  const [hub, device] = await Promise.all([makeIdentity('HUB1'), makeIdentity('DEV1')]);
  const sides = { ours: await ourSide(hub, device), bare: await bareSide(hub, device) };
  try {
    log('  warming up');
    await race(sides, 20, 2, false);
    await sides.ours.prime();
    await sides.bare.prime();
    log(`  ${o.handshakes} full handshakes each, ours and bare, in ${o.rounds} alternating rounds`);
    const full = await race(sides, o.handshakes, o.rounds, false);
    log(`  ${o.handshakes} resumed handshakes each`);
    await sides.ours.prime();
    await sides.bare.prime();
    const resumed = await race(sides, o.handshakes, o.rounds, true);
    log(`  ${o.requests} request round trips over one channel, and as many bare TLS echoes`);
    const rtt = await roundTrips(hub, device, o.requests);
    const how =
      'Each connection is timed from connect until it has closed, one at a time, so all the work of both ends ' +
      "counts (bare TLS 1.3 is usable at the client's secureConnect, before its server has even checked the " +
      'client certificate). Client and server share one process and thread.';
    const usable = (r: { ours: RaceResult; bare: RaceResult }): string =>
      `Counting only the time until usable: ${r.ours.usableRate.toFixed(0)} vs ${r.bare.usableRate.toFixed(0)} ` +
      `conn/s (${(r.ours.usableRate / r.bare.usableRate).toFixed(2)}x).`;
    return {
      id: 'channel',
      title: 'Hub-device channel: pinned mutual TLS 1.3 (loopback, one process)',
      metrics: [
        {
          name: 'channel establishments per second, full handshake',
          value: full.ours.rate,
          unit: 'conn/s',
          better: 'higher',
          baseline: { name: 'bare node:tls mutual TLS 1.3, same keys', value: full.bare.rate },
          goal: { ratio: 0.8 },
          note:
            `${o.handshakes} each, median of ${o.rounds} alternating rounds. Ours adds both SPKI pin checks, the ` +
            `server's greeting (which proves to the client that the server accepted its key) and a bye on close. ` +
            `${how} ${usable(full)}`,
        },
        {
          name: 'channel establishments per second, resumed session',
          value: resumed.ours.rate,
          unit: 'conn/s',
          better: 'higher',
          baseline: { name: 'bare node:tls resumed, same keys', value: resumed.bare.rate },
          note:
            `${resumed.ours.reused}/${o.handshakes} of ours and ${resumed.bare.reused}/${o.handshakes} bare were ` +
            `resumed (isSessionReused); median of ${o.rounds} alternating rounds. ${how} ${usable(resumed)}`,
        },
        {
          name: 'request round trip p50, one channel',
          value: percentile(rtt.ours, 50),
          unit: 'ms',
          better: 'lower',
          baseline: { name: 'bare TLS echo of a same-size frame', value: percentile(rtt.bare, 50) },
          note: `${o.requests} sequential requests after 200 warm-up; the handler answers at once.`,
        },
        {
          name: 'request round trip p99, one channel',
          value: percentile(rtt.ours, 99),
          unit: 'ms',
          better: 'lower',
          baseline: { name: 'bare TLS echo of a same-size frame', value: percentile(rtt.bare, 99) },
          goal: { max: 10 },
        },
      ],
    };
  } finally {
    await sides.ours.close();
    await sides.bare.close();
  }
}
