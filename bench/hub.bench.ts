/**
 * The hub benchmark, side by side in one run:
 * - channel establishments per second between the hub and a real device agent's hub surface
 *   (pin lookup over the paired hubs, journal entries for every connection), full handshake and
 *   resumed, against bare node:tls mutual TLS 1.3 with the same keys. bench/channel.bench.ts
 *   measures the bare channel the same way; this one measures the device surface built on it.
 * - the command round trip hub -> device -> hub (Hub.call: access list, channel request, the
 *   device's answer) with 1,000 simulated paired devices connected to one hub, against the same
 *   hub with one device. The devices live in a child process, so the hub's thread is alone.
 * - the time to pair with SPAKE2+ (setup code), end to end to a working channel (pairing
 *   exchange, pins stored durably on both sides, pinned channel up, states synced), against
 *   push-button pairing; each device is an agent process of its own.
 */
import tls from 'node:tls';
import { cpus, loadavg } from 'node:os';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  connectChannel,
  createChannelClientContext,
  pinnedPeers,
  type ChannelResumption,
} from '../src/channel/index.ts';
import { Hub, HubStore, createHubIdentity, type HubIdentity } from '../src/hub/index.ts';
import {
  startDeviceAgent,
  pressButton,
  agentEntry,
  AGENT_NODE_FLAGS,
  AGENT_ENV,
  type DeviceAgent,
} from '../src/device/index.ts';
import { makeFleet } from '../test/support/device.ts';
import { tempDir } from '../test/hub/support.ts';
import type { BenchResult } from './report.ts';

const LOCAL = '127.0.0.1';
const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

/** Bounded counts of the run. */
export interface HubBenchOptions {
  /** Establishments per kind (full, resumed) per side (ours, bare). */
  readonly handshakes: number;
  readonly rounds: number;
  /** Simulated paired devices on the hub. */
  readonly devices: number;
  /** Commands timed. */
  readonly calls: number;
  /** Pairings timed per mode. */
  readonly pairings: number;
}

const defaults: HubBenchOptions = { handshakes: 300, rounds: 20, devices: 1_000, calls: 3_000, pairings: 30 };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

type Establish = (resume: boolean) => Promise<{ reused: boolean }>;

/** The hub connecting to the device agent's hub surface as its links do: one parsed identity for every connection. */
function ours(agent: DeviceAgent, hub: HubIdentity, devicePin: Buffer): Establish {
  const pinnedPeer = pinnedPeers([[devicePin, 'device']]);
  const context = createChannelClientContext(hub);
  let resumption: ChannelResumption | undefined;
  return async (resume) => {
    const conn = await connectChannel({
      host: LOCAL,
      port: agent.hub.port,
      key: hub.key,
      cert: hub.cert,
      context,
      pinnedPeer,
      ...(resume && resumption ? { resumption } : {}),
    });
    await conn.close();
    resumption = conn.resumption ?? resumption;
    return { reused: conn.resumed };
  };
}

/** Bare node:tls mutual TLS 1.3 with the device's key on the server and the hub's on the client. */
async function bare(agent: DeviceAgent, hub: HubIdentity): Promise<{ establish: Establish; close(): Promise<void> }> {
  const server = tls.createServer(
    {
      key: agent.bundle.webKeyPem,
      cert: agent.bundle.webCertPem,
      ...TLS13,
      requestCert: true,
      rejectUnauthorized: false,
      sessionTimeout: 3_600,
    },
    (s) => {
      s.on('error', () => undefined);
      s.resume();
    },
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, LOCAL, resolve));
  const port = (server.address() as { port: number }).port;
  // The same advantage as ours: the client's key and certificate parsed once.
  const secureContext = tls.createSecureContext({ key: hub.key, cert: hub.cert, ...TLS13 });
  let session: Buffer | undefined;
  return {
    establish: async (resume) => {
      const socket = tls.connect({
        host: LOCAL,
        port,
        secureContext,
        ...TLS13,
        rejectUnauthorized: false,
        ...(resume && session ? { session } : {}),
      });
      socket.on('session', (s: Buffer) => {
        session = s;
      });
      const ticket = resume ? undefined : once(socket, 'session');
      await once(socket, 'secureConnect');
      if (ticket) await ticket;
      const reused = socket.isSessionReused();
      socket.end();
      await once(socket, 'close');
      return { reused };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Alternating rounds; the median of per-round rates (connect-to-closed cycles per second). */
async function race(sides: Record<'ours' | 'bare', Establish>, count: number, rounds: number, resume: boolean) {
  const rates = { ours: [] as number[], bare: [] as number[] };
  const reused = { ours: 0, bare: 0 };
  const size = Math.ceil(count / rounds);
  for (let done = 0, r = 0; done < count; done += size, r++) {
    const n = Math.min(size, count - done);
    for (const name of r % 2 === 0 ? (['ours', 'bare'] as const) : (['bare', 'ours'] as const)) {
      const t = performance.now();
      for (let i = 0; i < n; i++) if ((await sides[name](resume)).reused) reused[name]++;
      rates[name].push(n / ((performance.now() - t) / 1_000));
    }
  }
  return { ours: median(rates.ours), bare: median(rates.bare), reused };
}

/** Starts a device agent as its own process (as `bulwark device run` does) on free ports. */
async function agentProcess(
  bundleDir: string,
  stateDir: string,
): Promise<{ hubPort: number; stateDir: string; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      ...AGENT_NODE_FLAGS,
      agentEntry(),
      '--bundle',
      bundleDir,
      '--state',
      stateDir,
      '--host',
      LOCAL,
      '--web-port',
      '0',
      '--hub-port',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ...AGENT_ENV, NODE_OPTIONS: '' } },
  );
  const hubPort = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`agent exited ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as { event?: string; hubPort?: number };
      if (m.event === 'listening' && typeof m.hubPort === 'number') resolve(m.hubPort);
    });
  });
  return {
    hubPort,
    stateDir,
    stop: async () => {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Starts `count` simulated devices in a child process that pin `hub`; returns their ports and pins. */
async function simulatedDevices(
  count: number,
  hub: HubIdentity,
): Promise<{ devices: Array<{ port: number; pin: Buffer }>; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL('./hub-devices.ts', import.meta.url));
  const child = spawn(process.execPath, [script, String(count), hub.pin.toString('hex')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const devices: Array<{ port: number; pin: Buffer }> = [];
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`simulated devices exited ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as { ready?: boolean; port?: number; pin?: string };
      if (m.ready) resolve();
      else devices.push({ port: m.port!, pin: Buffer.from(m.pin!, 'hex') });
    });
  });
  return {
    devices,
    stop: async () => {
      const exited = once(child, 'exit');
      child.stdin.end();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** A hub whose store already holds `devices` (as if paired), started and connected to all of them. */
async function hubWith(
  devices: Array<{ port: number; pin: Buffer }>,
  hub: HubIdentity,
  log: (s: string) => void,
): Promise<{ hub: Hub; serials: string[] }> {
  const stateDir = await tempDir('bulwark-hub-bench-');
  const { writeFileAtomic, SECRET_FILE_MODE } = await import('../src/storage/index.ts');
  await writeFileAtomic(join(stateDir, 'hub-key.pem'), hub.key, SECRET_FILE_MODE);
  await writeFileAtomic(join(stateDir, 'hub-cert.pem'), hub.cert);
  const store = HubStore.open(stateDir);
  const serials = devices.map(
    (_, i) =>
      `PLG-${String(i)
        .padStart(4, '0')
        .replace(/[01]/g, (d) => (d === '0' ? 'Z' : 'Y'))}BENCH2`,
  );
  for (const [i, d] of devices.entries()) {
    store.addDevice(
      {
        serial: serials[i]!,
        model: 'plug',
        host: LOCAL,
        port: d.port,
        pin: d.pin,
        mode: 'setup-code',
        pairedAt: new Date().toISOString(),
      },
      ['power'],
    );
  }
  store.close();
  const t = performance.now();
  const started = await Hub.start({ stateDir });
  await Promise.all(serials.map((s) => started.whenConnected(s, 60_000)));
  log(`    ${devices.length} device(s) connected and synced in ${(performance.now() - t).toFixed(0)} ms`);
  return { hub: started, serials };
}

async function roundTrips(hub: Hub, serials: string[], calls: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < calls + 200; i++) {
    const serial = serials[Math.floor(Math.random() * serials.length)]!;
    const t = performance.now();
    await hub.call(serial, 'power', 'toggle');
    if (i >= 200) times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b);
}

/**
 * Runs the hub benchmark.
 *
 * @example
 * const result = await benchHub((s) => process.stderr.write(s + '\n'));
 */
export async function benchHub(log: (s: string) => void, options: Partial<HubBenchOptions> = {}): Promise<BenchResult> {
  const o = { ...defaults, ...options };
  const fleet = await makeFleet(['plug', 'lock']);
  const agent = await startDeviceAgent({
    bundleDir: fleet.units.plug!.dir,
    stateDir: join(fleet.work, 'plug'),
    host: LOCAL,
    webPort: 0,
    hubPort: 0,
    mode: 'production',
  });
  const pairingHub = await Hub.start({ stateDir: join(fleet.work, 'hub') });
  try {
    // 1. Establishments against the real device surface (the hub paired first, so its key is pinned).
    agent.hub.openPairingWindow('owner');
    const plug = await pairingHub.pair({
      address: `${LOCAL}:${agent.hub.port}`,
      setupCode: fleet.units.plug!.setupCode,
    });
    await pairingHub.close();
    const devicePin = Buffer.from(plug.pin.slice(7), 'hex');
    const hubKeys = pairingHub.identity;
    const b = await bare(agent, hubKeys);
    const sides = { ours: ours(agent, hubKeys, devicePin), bare: b.establish };
    log('  warming up');
    await race(sides, 20, 2, false);
    log(
      `  ${o.handshakes} full handshakes each against the device's hub surface and bare node:tls, ${o.rounds} ` +
        `alternating rounds`,
    );
    const full = await race(sides, o.handshakes, o.rounds, false);
    log(`  ${o.handshakes} resumed handshakes each`);
    await sides.ours(false);
    await sides.bare(false);
    const resumed = await race(sides, o.handshakes, o.rounds, true);
    await b.close();

    // 2. Round trips with 1,000 simulated devices on one hub, and with one.
    const benchHubKeys = await createHubIdentity('Bench hub');
    log(`  starting ${o.devices} simulated devices in a child process`);
    const sim = await simulatedDevices(o.devices, benchHubKeys);
    let many: number[];
    let one: number[];
    try {
      const big = await hubWith(sim.devices, benchHubKeys, log);
      try {
        log(`  ${o.calls} commands to random devices among ${o.devices}`);
        many = await roundTrips(big.hub, big.serials, o.calls);
      } finally {
        await big.hub.close();
      }
      const small = await hubWith(sim.devices.slice(0, 1), benchHubKeys, log);
      try {
        log(`  ${o.calls} commands to one device`);
        one = await roundTrips(small.hub, small.serials, o.calls);
      } finally {
        await small.hub.close();
      }
    } finally {
      await sim.stop();
    }

    // 3. Time to pair, end to end to a working channel, with each device its own process (as on a network).
    const pairTimes = { code: [] as number[], push: [] as number[] };
    const timingHub = await Hub.start({ stateDir: join(fleet.work, 'hub-pairing') });
    const plugProcess = await agentProcess(fleet.units.plug!.dir, join(fleet.work, 'plug-process'));
    const lockProcess = await agentProcess(fleet.units.lock!.dir, join(fleet.work, 'lock-process'));
    try {
      log(
        `  ${o.pairings} pairings each by setup code (lock) and by push button (plug), devices in their own ` +
          `processes, after 3 warm-up`,
      );
      for (let i = 0; i < o.pairings + 3; i++) {
        for (const mode of ['code', 'push'] as const) {
          const target = mode === 'code' ? lockProcess : plugProcess;
          await pressButton(target.stateDir, 'press');
          await new Promise((r) => setTimeout(r, 100)); // the person walks from the device to the hub
          const t = performance.now();
          const d = await timingHub.pair({
            address: `${LOCAL}:${target.hubPort}`,
            ...(mode === 'code' ? { setupCode: fleet.units.lock!.setupCode } : {}),
          });
          const ms = performance.now() - t;
          if (!d.connected) throw new Error('paired without a working channel');
          if (i >= 3) pairTimes[mode].push(ms);
          await timingHub.unpair(d.serial);
        }
      }
    } finally {
      await timingHub.close();
      await plugProcess.stop();
      await lockProcess.stop();
    }
    const code = [...pairTimes.code].sort((a, b) => a - b);
    const push = [...pairTimes.push].sort((a, b) => a - b);

    return {
      id: 'hub',
      title: 'Local hub: device surface handshakes, commands with 1,000 devices, time to pair (loopback)',
      metrics: [
        {
          name: 'hub-device channel establishments per second, full handshake',
          value: full.ours,
          unit: 'conn/s',
          better: 'higher',
          baseline: { name: 'bare node:tls mutual TLS 1.3, same keys', value: full.bare },
          goal: { ratio: 0.8 },
          note:
            `Against a running device agent's hub surface: TLS 1.3 with both keys pinned, the paired-hub lookup, ` +
            `the greeting, a bye, and a journal entry per connection. Both clients parse their key and ` +
            `certificate once, as the hub's links do. Each cycle from connect until closed, one at a time, hub ` +
            `and device in one process; median of ${o.rounds} alternating rounds.`,
        },
        {
          name: 'hub-device channel establishments per second, resumed session',
          value: resumed.ours,
          unit: 'conn/s',
          better: 'higher',
          baseline: { name: 'bare node:tls resumed, same keys', value: resumed.bare },
          note:
            `${resumed.reused.ours}/${o.handshakes} of ours and ${resumed.reused.bare}/${o.handshakes} bare were ` +
            `resumed.`,
        },
        {
          name: `command round trip p50, ${o.devices} devices on one hub`,
          value: percentile(many, 50),
          unit: 'ms',
          better: 'lower',
          baseline: { name: 'the same hub with one device', value: percentile(one, 50) },
          note:
            `Hub.call(serial, 'power', 'toggle') to a random device among ${o.devices} simulated paired devices ` +
            `(each its own key and pinned channel, in a child process), ${o.calls} sequential calls after 200 ` +
            `warm-up; includes the access-list check and the device's state event.`,
        },
        {
          name: `command round trip p99, ${o.devices} devices on one hub`,
          value: percentile(many, 99),
          unit: 'ms',
          better: 'lower',
          baseline: { name: 'the same hub with one device', value: percentile(one, 99) },
          goal: { max: 10 },
        },
        {
          name: 'time to pair by setup code (SPAKE2+), median',
          value: percentile(code, 50),
          unit: 'ms',
          better: 'lower',
          baseline: { name: 'push-button pairing', value: percentile(push, 50) },
          goal: { max: 40 },
          note:
            `From hub.pair() to a working channel: TLS handshake, PBKDF2 (10,000 iterations) on the hub, SPAKE2+ ` +
            `on both sides, both pins stored durably (device file fsync, hub SQLite synchronous=FULL), the ` +
            `pinned channel (resuming the pairing connection's TLS session) and the state sync. The device is ` +
            `its own agent process, as on a network; the window opened by its button 100 ms before. Max ` +
            `${code[code.length - 1]!.toFixed(1)} ms over ${o.pairings}; machine load average ` +
            `${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores.`,
        },
        {
          name: 'time to pair by setup code (SPAKE2+), p90',
          value: percentile(code, 90),
          unit: 'ms',
          better: 'lower',
          baseline: { name: 'push-button pairing', value: percentile(push, 90) },
          goal: { max: 40 },
        },
      ],
    };
  } finally {
    await pairingHub.close();
    await agent.close();
  }
}
