/**
 * Peers side by side in one run (issue 20, part 5): `npm run bench -- peers`.
 * - Idle RSS: the plug agent as it ships (built JavaScript, the supervisor's flags) against a matter.js 0.17 OnOff
 *   light and a HAP-NodeJS 1.2 lightbulb accessory, each its own process, started in turn in interleaved rounds and
 *   read from /proc/<pid>/status after the same settle time; the median per side.
 * - Setup: Bulwark's setup-code pairing (as bench/hub.bench.ts times it: the device its own agent process, its window
 *   opened by the button, hub.pair() until a working channel) against matter.js commissioning (PASE with the
 *   passcode, the commissioning steps, CASE and CommissioningComplete) by a matter.js controller, interleaved.
 * - Secure session establishments per second: the channel's handshakes (bench/channel.bench.ts, run here) against
 *   matter.js CASE, full and resumed.
 * The peers are installed at pinned versions into a cache outside the project's lockfile (bench/peers/install.ts) and
 * kept on loopback (bench/peers/loopback-guard.ts). A peer that cannot run gets its row with the reason; the run
 * goes on. Every process started is ended before the function returns.
 */
import { randomBytes, randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { AGENT_ENV, AGENT_NODE_FLAGS, agentEntry, pressButton } from '../src/device/index.ts';
import { Hub } from '../src/hub/index.ts';
import { makeFleet, type TestFleet } from '../test/support/device.ts';
import { benchChannel } from './channel.bench.ts';
import { HAP_PEER, MATTER_PEER, defaultPeersCache, installPeer, type PeerInstall } from './peers/install.ts';
import { rssMiB, startPeerProcess, stopAllPeerProcesses, type PeerProcess } from './peers/processes.ts';
import type { BenchResult, Metric } from './report.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOCAL = '127.0.0.1';

/** The bounds of one run: counts and time. */
export interface PeersBenchOptions {
  /** Interleaved rounds of idle RSS (each side started once per round). */
  readonly rssRounds: number;
  /** Quiet time after a process is ready before its RSS is read, ms. */
  readonly settleMs: number;
  /** Setup-code pairings timed (after 3 warm-up). */
  readonly pairings: number;
  /** matter.js commissionings timed (after 1 warm-up), each of a fresh light. */
  readonly commissionings: number;
  /** CASE establishments per kind (full, resumed), in `caseRounds` alternating rounds. */
  readonly caseCount: number;
  readonly caseRounds: number;
  /** The channel bench's counts, run here for the ratio. */
  readonly channel: { readonly handshakes: number; readonly rounds: number; readonly requests: number };
  /** A process not ready in this time is ended and its side reported as failed, ms. */
  readonly readyTimeoutMs: number;
  /** One controller request (a commissioning, a CASE batch) may take this long, ms. */
  readonly requestTimeoutMs: number;
  /** SIGTERM's grace before SIGKILL, ms. */
  readonly stopGraceMs: number;
  /** npm install of one peer may take this long, ms. */
  readonly installTimeoutMs: number;
  /** The peers' cache root. */
  readonly cacheRoot: string;
}

/** About two minutes on this machine once the peers are cached. */
export const defaultPeersBenchOptions: PeersBenchOptions = {
  rssRounds: 3,
  settleMs: 5_000,
  pairings: 10,
  commissionings: 5,
  caseCount: 100,
  caseRounds: 10,
  channel: { handshakes: 200, rounds: 10, requests: 500 },
  readyTimeoutMs: 60_000,
  requestTimeoutMs: 60_000,
  stopGraceMs: 5_000,
  installTimeoutMs: 300_000,
  cacheRoot: defaultPeersCache(),
};

/** A figure, or why there is none. */
type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const fail = (reason: string): Outcome<never> => ({ ok: false, reason });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Setup codes made at run time, none of the forms both protocols refuse (all one digit, 12345678, 87654321). */
function setupDigits(): string {
  for (;;) {
    const digits = String(randomInt(1, 99_999_999)).padStart(8, '0');
    if (!/^(\d)\1{7}$/.test(digits) && digits !== '12345678' && digits !== '87654321') return digits;
  }
}

/** A free UDP port on loopback for a matter.js light (asked of the kernel, then released). */
async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, LOCAL, resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** What the peers' processes share in this run: their installs, secrets, a work folder. */
interface PeerRun {
  readonly o: PeersBenchOptions;
  readonly work: string;
  readonly fleet: TestFleet;
  readonly matter: PeerInstall;
  readonly hap: PeerInstall;
  /** The matter.js lights' passcode (every light of the run, so the one controller can commission each). */
  readonly passcode: string;
}

const baseEnv = (): NodeJS.ProcessEnv => ({ ...process.env, NODE_OPTIONS: '' });

function matterEnv(storage: string, run: PeerRun): NodeJS.ProcessEnv {
  return {
    ...baseEnv(),
    MATTER_STORAGE_PATH: storage,
    // Errors only: the least logging work for the peer, and its stderr stays short for a failure's reason.
    MATTER_LOG_LEVEL: 'error',
    MATTER_LOG_FORMAT: 'plain',
    // matter.js's own option for its mDNS interface; the loopback guard pins what it does not cover.
    MATTER_MDNS_NETWORKINTERFACE: 'lo',
    BULWARK_PEER_PASSCODE: String(Number(run.passcode)),
  };
}

/** A device agent's argv as the supervisor builds it, on loopback with free ports. */
function agentArgs(entry: string, bundle: string, state: string): string[] {
  const where = ['--host', LOCAL, '--web-port', '0', '--hub-port', '0'];
  return [...AGENT_NODE_FLAGS, entry, '--bundle', bundle, '--state', state, ...where];
}

/** The plug agent as `bulwark device run` starts it: the built JavaScript, the supervisor's flags and environment. */
async function startPlug(run: PeerRun): Promise<PeerProcess> {
  const agent = join(ROOT, 'dist', 'device', 'agent-main.js');
  if (!existsSync(agent)) throw new Error('build first: npm run build');
  const state = await mkdtemp(join(run.work, 'plug-'));
  return startPeerProcess({
    args: agentArgs(agent, run.fleet.units.plug!.dir, state),
    env: { ...baseEnv(), ...AGENT_ENV },
    isReady: (l) => l.event === 'listening',
    readyTimeoutMs: run.o.readyTimeoutMs,
    stopGraceMs: run.o.stopGraceMs,
  });
}

/** A fresh matter.js OnOff light (new storage, port and discriminator); its ready line carries its port. */
async function startMatterLight(run: PeerRun): Promise<PeerProcess & { discriminator: number }> {
  if (!run.matter.ok) throw new Error(run.matter.reason);
  const discriminator = randomInt(0, 4096);
  const light = await startPeerProcess({
    args: [run.matter.runner('matter-light.ts'), String(await freeUdpPort())],
    env: {
      ...matterEnv(await mkdtemp(join(run.work, 'matter-light-')), run),
      BULWARK_PEER_DISCRIMINATOR: String(discriminator),
    },
    isReady: (l) => l.ready === true,
    readyTimeoutMs: run.o.readyTimeoutMs,
    stopGraceMs: run.o.stopGraceMs,
  });
  return Object.assign(light, { discriminator });
}

/** A fresh HAP-NodeJS lightbulb (new storage, setup code and accessory id). */
async function startHapLight(run: PeerRun): Promise<PeerProcess> {
  if (!run.hap.ok) throw new Error(run.hap.reason);
  const d = setupDigits();
  const mac = [...randomBytes(6)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  return startPeerProcess({
    args: [run.hap.runner('hap-light.ts')],
    env: {
      ...baseEnv(),
      BULWARK_PEER_PINCODE: `${d.slice(0, 3)}-${d.slice(3, 5)}-${d.slice(5)}`,
      BULWARK_PEER_USERNAME: mac,
      BULWARK_PEER_STORAGE: await mkdtemp(join(run.work, 'hap-')),
    },
    isReady: (l) => l.ready === true,
    readyTimeoutMs: run.o.readyTimeoutMs,
    stopGraceMs: run.o.stopGraceMs,
  });
}

type Side = 'plug' | 'matter' | 'hap';
const SIDES: readonly Side[] = ['plug', 'matter', 'hap'];

/** Starts one side, lets it settle, reads its RSS, ends it. */
async function idleOnce(run: PeerRun, side: Side): Promise<{ rss: number; ready: Record<string, unknown> }> {
  const start = { plug: startPlug, matter: startMatterLight, hap: startHapLight }[side];
  const p = await start(run);
  try {
    await sleep(run.o.settleMs);
    return { rss: await rssMiB(p.pid), ready: p.ready };
  } finally {
    await p.stop();
  }
}

/** Idle RSS samples per side, and what each peer's loopback guard pinned (its ready line). */
interface IdleRss {
  readonly samples: Record<Side, Outcome<number[]>>;
  readonly guards: Partial<Record<Side, string>>;
}

/** What a loopback guard pinned and refused, as one line for a note. */
function guardText(guard: unknown): string {
  const g = guard as { pinned?: string[]; refused?: string[] } | undefined;
  const pinned = g?.pinned?.length ? g.pinned.join('; ') : 'nothing';
  return `pinned ${pinned}${g?.refused?.length ? `; refused ${g.refused.join('; ')}` : ''}`;
}

/** Idle RSS per side in interleaved rounds (the order turns each round); a side that fails once is dropped. */
async function idleRss(run: PeerRun, log: (s: string) => void): Promise<IdleRss> {
  const samples: Record<Side, number[]> = { plug: [], matter: [], hap: [] };
  const failed: Partial<Record<Side, string>> = {};
  const guards: Partial<Record<Side, string>> = {};
  for (let r = 0; r < run.o.rssRounds; r++) {
    for (const side of [...SIDES.slice(r % 3), ...SIDES.slice(0, r % 3)]) {
      if (failed[side]) continue;
      try {
        const got = await idleOnce(run, side);
        samples[side].push(got.rss);
        if (got.ready.guard) guards[side] ??= guardText(got.ready.guard);
        log(`    round ${r + 1} ${side}: ${got.rss.toFixed(1)} MiB`);
      } catch (err) {
        failed[side] = (err as Error).message;
        log(`    ${side} could not run: ${failed[side]}`);
      }
    }
  }
  for (const [side, g] of Object.entries(guards)) log(`    ${side} loopback guard: ${g}`);
  const outcome = (side: Side): Outcome<number[]> =>
    failed[side] ? fail(failed[side]) : { ok: true, value: samples[side] };
  return { samples: { plug: outcome('plug'), matter: outcome('matter'), hap: outcome('hap') }, guards };
}

/** Bulwark's side of setup: a hub, and the lock as its own agent process with a setup code. */
interface OurPairing {
  pairOnce(): Promise<number>;
  close(): Promise<void>;
}

async function ourPairing(run: PeerRun): Promise<OurPairing> {
  const lock = run.fleet.units.lock!;
  const state = join(run.work, 'lock');
  const hub = await Hub.start({ stateDir: join(run.work, 'hub') });
  let agent: PeerProcess;
  try {
    agent = await startPeerProcess({
      args: agentArgs(agentEntry(), lock.dir, state),
      env: { ...baseEnv(), ...AGENT_ENV },
      isReady: (l) => l.event === 'listening' && typeof l.hubPort === 'number',
      readyTimeoutMs: run.o.readyTimeoutMs,
      stopGraceMs: run.o.stopGraceMs,
    });
  } catch (err) {
    await hub.close();
    throw err;
  }
  const address = `${LOCAL}:${Number(agent.ready.hubPort)}`;
  return {
    // As bench/hub.bench.ts times it: the button opens the window, the person walks to the hub, then pair().
    pairOnce: async () => {
      await pressButton(state, 'press');
      await sleep(100);
      const t = performance.now();
      const d = await hub.pair({ address, setupCode: lock.setupCode });
      const ms = performance.now() - t;
      if (!d.connected) throw new Error('paired without a working channel');
      await hub.unpair(d.serial);
      return ms;
    },
    close: async () => {
      await hub.close();
      await agent.stop();
    },
  };
}

/** matter.js's side: one controller process, and a fresh light for every commissioning. */
interface MatterSetup {
  readonly controller: PeerProcess;
  /** The light commissioned last, kept running for the CASE figures. */
  light?: PeerProcess;
}

async function startMatterController(run: PeerRun): Promise<PeerProcess> {
  if (!run.matter.ok) throw new Error(run.matter.reason);
  return startPeerProcess({
    args: [run.matter.runner('matter-controller.ts')],
    env: matterEnv(await mkdtemp(join(run.work, 'matter-controller-')), run),
    isReady: (l) => l.ready === true,
    readyTimeoutMs: run.o.readyTimeoutMs,
    stopGraceMs: run.o.stopGraceMs,
  });
}

async function commissionOnce(run: PeerRun, m: MatterSetup): Promise<number> {
  await m.light?.stop();
  const light = await startMatterLight(run);
  m.light = light;
  const a = await m.controller.request(
    { op: 'commission', port: Number(light.ready.port), discriminator: light.discriminator },
    run.o.requestTimeoutMs,
  );
  if (a.ok !== true) throw new Error(`commissioning failed: ${String(a.error)}`);
  return Number(a.ms);
}

interface SetupTimes {
  readonly ours: number[];
  readonly matter: Outcome<number[]>;
  readonly matterSetup?: MatterSetup;
}

/** Interleaved: each round a commissioning between pairings; matter.js dropped at its first failure. */
async function setupTimes(run: PeerRun, log: (s: string) => void): Promise<SetupTimes> {
  const ours: number[] = [];
  const matter: number[] = [];
  let reason: string | undefined;
  let m: MatterSetup | undefined;
  try {
    m = { controller: await startMatterController(run) };
    log(`    matter.js controller loopback guard: ${guardText(m.controller.ready.guard)}`);
  } catch (err) {
    reason = `controller: ${(err as Error).message}`;
  }
  const pairing = await ourPairing(run);
  try {
    const total = run.o.pairings + 3;
    const perRound = Math.ceil(total / (run.o.commissionings + 1));
    for (let i = 0; i < run.o.commissionings + 1; i++) {
      for (let k = 0; k < perRound && ours.length < total; k++) ours.push(await pairing.pairOnce());
      if (m && !reason) {
        try {
          const ms = await commissionOnce(run, m);
          if (i > 0) matter.push(ms);
          log(`    commissioning ${i + 1}${i === 0 ? ' (warm-up)' : ''}: ${ms.toFixed(0)} ms`);
        } catch (err) {
          reason = (err as Error).message;
          log(`    matter.js commissioning could not run: ${reason}`);
        }
      }
    }
  } finally {
    await pairing.close();
  }
  // The first three pairings are the warm-up, as in bench/hub.bench.ts.
  return { ours: ours.slice(3), matter: reason ? fail(reason) : { ok: true, value: matter }, matterSetup: m };
}

/** Establishments per second, connect until closed, and until usable. */
interface Rates {
  readonly rate: number;
  readonly usableRate: number;
  readonly note: string;
}

interface HandshakeRates {
  readonly ours: { readonly full: number; readonly resumed: number };
  readonly matter: Outcome<{ full: Rates; resumed: Rates }>;
}

/** The channel's handshakes per second, as bench/channel.bench.ts measures them (full and resumed). */
async function channelRates(run: PeerRun): Promise<{ full: number; resumed: number }> {
  const r = await benchChannel(() => undefined, run.o.channel);
  const find = (kind: string): number => {
    const m = r.metrics.find((x) => x.name.startsWith('channel establishments per second') && x.name.endsWith(kind));
    if (!m) throw new Error(`the channel bench has no '${kind}' figure`);
    return m.value;
  };
  return { full: find('full handshake'), resumed: find('resumed session') };
}

function caseRates(answer: Record<string, unknown>, count: number): { full: Rates; resumed: Rates } {
  const kind = (k: 'full' | 'resumed'): Rates => {
    const r = answer[k] as { rate: number; usableRate: number; distinct: number; offeredResumption: number };
    const note =
      `${r.distinct}/${count} distinct sessions, ${r.offeredResumption}/${count} with a resumption record at ` +
      `hand; until usable ${r.usableRate.toFixed(0)}/s`;
    return { rate: r.rate, usableRate: r.usableRate, note };
  };
  return { full: kind('full'), resumed: kind('resumed') };
}

/** The channel's rates, then matter.js CASE against the light commissioned last. */
async function handshakeRates(run: PeerRun, setup: SetupTimes, log: (s: string) => void): Promise<HandshakeRates> {
  log(`    channel: ${run.o.channel.handshakes} handshakes each kind (bench/channel.bench.ts)`);
  const ours = await channelRates(run);
  if (!setup.matter.ok || !setup.matterSetup?.light) {
    const why = setup.matter.ok ? 'no light commissioned' : setup.matter.reason;
    return { ours, matter: fail(`needs a commissioned light: ${why}`) };
  }
  log(`    matter.js: ${run.o.caseCount} CASE establishments each kind`);
  const a = await setup.matterSetup.controller
    .request({ op: 'case', count: run.o.caseCount, rounds: run.o.caseRounds }, run.o.requestTimeoutMs)
    .catch((err: Error): Record<string, unknown> => ({ ok: false, error: err.message }));
  if (a.ok !== true) return { ours, matter: fail(`CASE failed: ${String(a.error)}`) };
  return { ours, matter: { ok: true, value: caseRates(a, run.o.caseCount) } };
}

/** Our figure against a peer's, or against the reason the peer has none. */
function against(base: Omit<Metric, 'baseline' | 'unavailable'>, peerName: string, peer: Outcome<number>): Metric {
  return peer.ok
    ? { ...base, baseline: { name: peerName, value: peer.value } }
    : { ...base, unavailable: { name: peerName, reason: peer.reason } };
}

function ours<T>(o: Outcome<T>, what: string): T {
  if (!o.ok) throw new Error(`${what} could not be measured: ${o.reason}`);
  return o.value;
}

const medianOf = (o: Outcome<number[]>): Outcome<number> =>
  o.ok ? (o.value.length ? { ok: true, value: median(o.value) } : fail('no sample')) : o;

function rssMetrics(run: PeerRun, idle: IdleRss): Metric[] {
  const rss = idle.samples;
  const plug = median(ours(rss.plug, 'the plug agent'));
  const samples = (side: Side): string => {
    const s = rss[side];
    return s.ok ? `${side} samples ${s.value.map((v) => v.toFixed(1)).join(', ')} MiB` : '';
  };
  const loopback = (side: Side): string => (idle.guards[side] ? ` Its loopback guard ${idle.guards[side]}.` : '');
  const how =
    `Median of ${run.o.rssRounds} interleaved runs, VmRSS ${run.o.settleMs / 1000} s after each process said it ` +
    `was ready, never paired or commissioned. The plug is the built agent with the supervisor's node flags and ` +
    `malloc settings, as \`bulwark device run\` starts it; the peers run with Node's defaults, as their examples ` +
    `do, on the same Node ${process.version}, their mDNS kept on loopback.`;
  const base = { value: plug, unit: 'MiB', better: 'lower', goal: { max: 60 } } as const;
  return [
    against(
      {
        ...base,
        name: 'plug agent idle RSS vs a matter.js OnOff light',
        note:
          `${how} matter.js light measured at 195 MiB when the target was set. ${samples('plug')}; ` +
          `${samples('matter')}.${loopback('matter')}`,
      },
      `matter.js ${MATTER_PEER.version} OnOff light`,
      medianOf(rss.matter),
    ),
    against(
      {
        ...base,
        name: 'plug agent idle RSS vs a HAP-NodeJS lightbulb',
        note: `Measured as above, in the same rounds. ${samples('hap')}.${loopback('hap')}`,
      },
      `HAP-NodeJS ${HAP_PEER.version} lightbulb`,
      medianOf(rss.hap),
    ),
  ];
}

function setupMetric(run: PeerRun, s: SetupTimes): Metric {
  const sorted = [...s.ours].sort((a, b) => a - b);
  return against(
    {
      name: 'time to pair by setup code (SPAKE2+) vs matter.js commissioning (PASE then CASE), median',
      value: median(s.ours),
      unit: 'ms',
      better: 'lower',
      goal: { max: 40 },
      note:
        `Ours: ${s.ours.length} pairings of the lock (its own agent process) from hub.pair() to a working channel, ` +
        `as bench/hub.bench.ts times them (max ${sorted[sorted.length - 1]?.toFixed(1)} ms). matter.js: ` +
        `${run.o.commissionings} commissionings after one warm-up, each of a fresh light process, by a matter.js ` +
        `controller process at the light's known loopback address: PASE (SPAKE2+, PBKDF2), attestation, CSR, ` +
        `NOC, CASE and CommissioningComplete; no reads after it. matter.js commissioning measured at 422 ms when ` +
        `the target was set. Interleaved, one commissioning between pairings.`,
    },
    `matter.js ${MATTER_PEER.version} commissioning`,
    medianOf(s.matter),
  );
}

function handshakeMetrics(run: PeerRun, h: HandshakeRates): Metric[] {
  const how =
    `Connect until closed, one at a time. The channel's client and server share one process (as in ` +
    `bench/channel.bench.ts, ${run.o.channel.handshakes} each, median of ${run.o.channel.rounds} rounds); ` +
    `matter.js's controller and light are two processes over UDP on loopback (${run.o.caseCount} each, ` +
    `median of ${run.o.caseRounds} alternating rounds, the session closed before the next).`;
  const kind = (k: 'full' | 'resumed'): Outcome<number> =>
    h.matter.ok ? { ok: true, value: h.matter.value[k].rate } : h.matter;
  const detail = (k: 'full' | 'resumed'): string => (h.matter.ok ? ` matter.js: ${h.matter.value[k].note}.` : '');
  const base = { unit: 'conn/s', better: 'higher' } as const;
  return [
    against(
      {
        ...base,
        name: 'channel establishments per second vs matter.js CASE, full',
        value: h.ours.full,
        note:
          'Full TLS 1.3 handshake against CASE Sigma1-3 with its resumption record deleted first. ' +
          `${how}${detail('full')}`,
      },
      `matter.js ${MATTER_PEER.version} CASE, full`,
      kind('full'),
    ),
    against(
      {
        ...base,
        name: 'channel establishments per second vs matter.js CASE, resumed',
        value: h.ours.resumed,
        note: `TLS 1.3 resumption against CASE resumption (Sigma1 with a resumption id).${detail('resumed')}`,
      },
      `matter.js ${MATTER_PEER.version} CASE, resumed`,
      kind('resumed'),
    ),
  ];
}

async function installs(o: PeersBenchOptions, log: (s: string) => void): Promise<[PeerInstall, PeerInstall]> {
  const got: PeerInstall[] = [];
  for (const peer of [MATTER_PEER, HAP_PEER]) {
    const t = performance.now();
    const r = await installPeer(peer, { root: o.cacheRoot, timeoutMs: o.installTimeoutMs });
    const took = `${((performance.now() - t) / 1000).toFixed(1)} s`;
    log(
      `  ${peer.id}@${peer.version}: ${r.ok ? `${r.reused ? 'cached' : 'installed'} in ${r.dir} (${took})` : r.reason}`,
    );
    got.push(r);
  }
  return [got[0]!, got[1]!];
}

/**
 * Runs the peers benchmark.
 *
 * @example
 * const result = await benchPeers((s) => process.stderr.write(s + '\n'));
 */
export async function benchPeers(
  log: (s: string) => void,
  options: Partial<PeersBenchOptions> = {},
): Promise<BenchResult> {
  const o = { ...defaultPeersBenchOptions, ...options };
  const [matter, hap] = await installs(o, log);
  const work = await mkdtemp(join(tmpdir(), 'bulwark-bench-peers-'));
  const run: PeerRun = { o, work, fleet: await makeFleet(['plug', 'lock']), matter, hap, passcode: setupDigits() };
  const load = `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${cpus().length} cores`;
  let setup: SetupTimes | undefined;
  try {
    log(`  idle RSS, ${o.rssRounds} interleaved rounds (${load})`);
    const rss = await idleRss(run, log);
    log(`  ${o.pairings} setup-code pairings against ${o.commissionings} matter.js commissionings, interleaved`);
    setup = await setupTimes(run, log);
    log('  secure session establishments per second');
    const h = await handshakeRates(run, setup, log);
    return {
      id: 'peers',
      title: `Peers side by side: matter.js ${MATTER_PEER.version} and HAP-NodeJS ${HAP_PEER.version} (loopback)`,
      metrics: [...rssMetrics(run, rss), setupMetric(run, setup), ...handshakeMetrics(run, h)].map((m, i) =>
        i === 0 ? { ...m, note: `${m.note ?? ''} Run started at ${load}.`.trim() } : m,
      ),
    };
  } finally {
    await setup?.matterSetup?.controller.request({ op: 'quit' }, o.stopGraceMs).catch(() => undefined);
    await stopAllPeerProcesses(o.stopGraceMs);
    await rm(work, { recursive: true, force: true });
    await rm(run.fleet.work, { recursive: true, force: true });
  }
}
