/**
 * Memory under unauthenticated load (issue 24): the device agent's admin page, the hub's admin
 * page and the cloud's owner API, each as its own process as it ships (the agent with the
 * supervisor's flags, the hub and the cloud through `bulwark ... run`, so with whatever runtime
 * settings their launcher applies). Each is measured idle, then flooded with unauthenticated HTTPS
 * requests (a new TLS connection each, a bounded number in flight, from many loopback addresses:
 * GET /, POST /login with a bad form, garbage paths, a foreign Host), and its RSS is read at the end
 * of the flood, at its peak during it, and one minute after. The targets are figures, not asserts.
 */
import tls from 'node:tls';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { initFactory, provisionUnits } from '../src/identity/index.ts';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../src/device/index.ts';
import type { BenchResult, Metric } from './report.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The bounds of one run: counts, concurrency and time. */
export interface MemoryFloodConfig {
  /** Requests per surface, each on a connection of its own. */
  readonly requests: number;
  /** Requests in flight at once. */
  readonly concurrency: number;
  /** Requests come from 127.0.0.<first> to 127.0.0.<last>, in turn. */
  readonly sources: { readonly first: number; readonly last: number };
  /** Quiet time after the surface is ready before its idle figure, ms. */
  readonly settleMs: number;
  /** Quiet time after the flood before the last figure, ms. */
  readonly afterMs: number;
  /** How often RSS is sampled during the flood, ms. */
  readonly sampleMs: number;
  /** A request not answered in this time counts as unanswered, ms. */
  readonly requestTimeoutMs: number;
  /** The surfaces measured, in order. */
  readonly surfaces: readonly SurfaceName[];
}

/** A surface under test. */
export type SurfaceName = 'device' | 'hub' | 'cloud';

/** The run: 50,000 requests per surface, 32 in flight from 50 addresses, one minute after. */
export const defaultMemoryFloodConfig: MemoryFloodConfig = {
  requests: 50_000,
  concurrency: 32,
  sources: { first: 10, last: 59 },
  settleMs: 5_000,
  afterMs: 60_000,
  sampleMs: 250,
  requestTimeoutMs: 10_000,
  surfaces: ['device', 'hub', 'cloud'],
};

/** The defaults, narrowed for a quick look by BULWARK_BENCH_FLOOD_REQUESTS, _AFTER_MS and _SURFACES. */
export function memoryFloodConfigFromEnv(env: NodeJS.ProcessEnv = process.env): MemoryFloodConfig {
  const n = (v: string | undefined, d: number): number => (v && /^\d+$/.test(v) ? Number(v) : d);
  const d = defaultMemoryFloodConfig;
  const surfaces = (env.BULWARK_BENCH_FLOOD_SURFACES ?? '')
    .split(',')
    .filter((s): s is SurfaceName => s === 'device' || s === 'hub' || s === 'cloud');
  return {
    ...d,
    requests: n(env.BULWARK_BENCH_FLOOD_REQUESTS, d.requests),
    afterMs: n(env.BULWARK_BENCH_FLOOD_AFTER_MS, d.afterMs),
    surfaces: surfaces.length ? surfaces : d.surfaces,
  };
}

/** One surface process: where it answers and how to end it. */
interface SurfaceProcess {
  readonly pid: number;
  readonly port: number;
  /** How the process was started, for the report. */
  readonly command: string;
  /** Lines the process wrote to stderr so far (its service log). */
  logLines(): number;
  stop(): Promise<void>;
}

/** Starts `args` under this Node and waits for `ready` to find the port in a stdout line. */
async function startSurface(
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: (line: string) => number | undefined,
): Promise<SurfaceProcess> {
  const child: ChildProcess = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  });
  let lines = 0;
  createInterface({ input: child.stderr! }).on('line', () => lines++);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 60 s: ${args.join(' ')}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${args.join(' ')}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const p = ready(line);
      if (p === undefined) return;
      clearTimeout(timer);
      resolve(p);
    });
  });
  return {
    pid: child.pid!,
    port,
    command: args.map((a) => a.replace(ROOT, '')).join(' '),
    logLines: () => lines,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** The CLI as it ships: the built JavaScript when `npm run build` made it, else the `bulwark` command. */
function cliEntry(): string {
  const built = join(ROOT, 'dist', 'cli', 'main.js');
  return existsSync(built) ? built : join(ROOT, 'bin', 'bulwark.js');
}

const portOf = (pattern: RegExp) => (line: string) => {
  const m = pattern.exec(line);
  return m ? Number(m[1]) : undefined;
};

/** Starts the named surface in `work` (a factory and a provisioned unit are made there first). */
async function startNamed(name: SurfaceName, work: string): Promise<SurfaceProcess> {
  const factoryDir = join(work, 'factory');
  if (!existsSync(factoryDir)) await initFactory(factoryDir);
  const state = join(work, `state-${name}`);
  if (name === 'device') {
    const [unit] = await provisionUnits({ factoryDir, model: 'plug', count: 1, outDir: join(work, 'units') });
    const agent = join(ROOT, 'dist', 'device', 'agent-main.js');
    if (!existsSync(agent)) throw new Error('build first: npm run build');
    const args = [...AGENT_NODE_FLAGS, agent, '--bundle', unit!.dir, '--state', state, '--web-port', '0'];
    return startSurface(args, AGENT_ENV, (line) => {
      const m = /^\{"event":"listening".*"webPort":(\d+)/.exec(line);
      return m ? Number(m[1]) : undefined;
    });
  }
  if (name === 'hub') {
    const args = [cliEntry(), 'hub', 'run', '--state', state, '--web-port', '0', '--host', '127.0.0.1'];
    args.push('--log-format', 'text'); // its ready line as a person reads it (through a pipe it would be JSON)
    return startSurface(args, {}, portOf(/^hub ready: https:\/\/127\.0\.0\.1:(\d+)/));
  }
  const args = [cliEntry(), 'cloud', 'run', '--factory', factoryDir, '--state', state];
  args.push('--host', '127.0.0.1', '--mqtt-port', '0', '--api-port', '0');
  return startSurface(args, {}, portOf(/owners https:\/\/127\.0\.0\.1:(\d+)/));
}

async function rssMiB(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The n-th request of the flood: the four kinds in turn, each a little different from the last. */
export function floodRequest(n: number, port: number): string {
  const host = `127.0.0.1:${port}`;
  const tag = n.toString(36);
  const close = 'Connection: close\r\n';
  switch (n % 4) {
    case 0:
      return `GET / HTTP/1.1\r\nHost: ${host}\r\n${close}\r\n`;
    case 1: {
      const body = `password=guess-${tag}&csrf=forged-${tag}`;
      return (
        `POST /login HTTP/1.1\r\nHost: ${host}\r\nOrigin: https://${host}\r\n` +
        `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n${close}\r\n${body}`
      );
    }
    case 2: {
      const paths = [`/${tag}/%zz/../../etc/passwd`, `/api/${tag}?x=${'A'.repeat(n % 700)}`, `/.env.${tag}`];
      return `GET ${paths[(n >> 2) % paths.length]} HTTP/1.1\r\nHost: ${host}\r\n${close}\r\n`;
    }
    default:
      return `GET / HTTP/1.1\r\nHost: evil-${tag}.example\r\n${close}\r\n`;
  }
}

/** Sends one request on a fresh TLS connection; resolves with its status (0: no answer). */
function sendOne(port: number, localAddress: string, request: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    let head = '';
    // net.connect takes localAddress through tls.connect; Node's types for tls leave it out.
    const options: tls.ConnectionOptions & { localAddress: string } = {
      host: '127.0.0.1',
      port,
      localAddress,
      rejectUnauthorized: false,
    };
    const socket = tls.connect(options);
    const done = (): void => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      resolve(m ? Number(m[1]) : 0);
    };
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('secureConnect', () => socket.end(request));
    socket.on('data', (chunk: Buffer) => {
      if (head.length < 32) head += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.once('close', done);
  });
}

/** What the flood got back. */
interface FloodOutcome {
  readonly ms: number;
  readonly statuses: ReadonlyMap<number, number>;
  readonly peakMiB: number;
}

/** Floods the surface on `port`, sampling the RSS of `pid` as it goes. */
async function flood(port: number, pid: number, cfg: MemoryFloodConfig): Promise<FloodOutcome> {
  const statuses = new Map<number, number>();
  let peakMiB = 0;
  const sampler = setInterval(() => {
    void rssMiB(pid).then(
      (v) => (peakMiB = Math.max(peakMiB, v)),
      () => undefined,
    );
  }, cfg.sampleMs);
  const { first, last } = cfg.sources;
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < cfg.requests) {
      const n = next++;
      const source = `127.0.0.${first + (n % (last - first + 1))}`;
      const status = await sendOne(port, source, floodRequest(n, port), cfg.requestTimeoutMs);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, worker));
  clearInterval(sampler);
  return { ms: performance.now() - t0, statuses, peakMiB };
}

/** The four figures of one surface, in MiB, and how the flood went. */
interface SurfaceFigures {
  readonly idle: number;
  readonly peak: number;
  readonly end: number;
  readonly after: number;
  readonly flood: FloodOutcome;
  readonly logLines: number;
  readonly command: string;
}

async function measureSurface(name: SurfaceName, work: string, cfg: MemoryFloodConfig): Promise<SurfaceFigures> {
  const surface = await startNamed(name, work);
  try {
    await new Promise((r) => setTimeout(r, cfg.settleMs));
    const idle = await rssMiB(surface.pid);
    const linesBefore = surface.logLines();
    const outcome = await flood(surface.port, surface.pid, cfg);
    const end = await rssMiB(surface.pid);
    await new Promise((r) => setTimeout(r, cfg.afterMs));
    const after = await rssMiB(surface.pid);
    const peak = Math.max(outcome.peakMiB, end);
    const logLines = surface.logLines() - linesBefore;
    return { idle, peak, end, after, flood: outcome, logLines, command: surface.command };
  } finally {
    await surface.stop();
  }
}

function describe(f: SurfaceFigures, cfg: MemoryFloodConfig): string {
  const answers = [...f.flood.statuses]
    .sort(([a], [b]) => a - b)
    .map(([s, c]) => `${c} ${s === 0 ? 'unanswered' : s}`)
    .join(', ');
  const hosts = cfg.sources.last - cfg.sources.first + 1;
  return (
    `${cfg.requests} requests in ${(f.flood.ms / 1000).toFixed(1)} s (${cfg.concurrency} in flight, ${hosts} ` +
    `addresses): ${answers}. Idle ${f.idle.toFixed(1)}, peak ${f.peak.toFixed(1)}, end ${f.end.toFixed(1)}, ` +
    `${cfg.afterMs / 1000} s after ${f.after.toFixed(1)} MiB; ${f.logLines} service-log lines during the flood. ` +
    `Process: node ${f.command}`
  );
}

const LABEL: Record<SurfaceName, string> = {
  device: 'device agent admin page',
  hub: 'hub admin page',
  cloud: 'cloud owner API',
};

/** The metrics of one surface, with the targets as goals. */
function surfaceMetrics(name: SurfaceName, f: SurfaceFigures, cfg: MemoryFloodConfig): Metric[] {
  const note = describe(f, cfg);
  const idle = { name: `${LABEL[name]} idle`, value: f.idle };
  const after = `${LABEL[name]} RSS ${cfg.afterMs / 1000} s after the flood`;
  const mib = { unit: 'MiB', better: 'lower' } as const;
  if (name === 'device') {
    return [
      { name: `${LABEL[name]} idle RSS`, value: f.idle, ...mib, goal: { max: 60 }, note },
      { name: `${LABEL[name]} peak RSS during the flood`, value: f.peak, ...mib, baseline: idle, goal: { max: 110 } },
      { name: after, value: f.after, ...mib, baseline: idle },
    ];
  }
  const endGoal = name === 'hub' ? { goal: { ratio: 1.5, max: 160 } } : {};
  const afterGoal = { goal: { ratio: name === 'hub' ? 1.2 : 1.5 } };
  return [
    { name: `${LABEL[name]} RSS at the end of the flood`, value: f.end, ...mib, baseline: idle, ...endGoal, note },
    { name: `${LABEL[name]} peak RSS during the flood`, value: f.peak, ...mib, baseline: idle },
    { name: after, value: f.after, ...mib, baseline: idle, ...afterGoal },
  ];
}

/** Runs the memory-under-flood benchmark, one surface after another (2 cores: no contention). */
export async function benchMemoryFlood(
  log: (s: string) => void,
  cfg: MemoryFloodConfig = memoryFloodConfigFromEnv(),
): Promise<BenchResult> {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-bench-memory-'));
  const metrics: Metric[] = [];
  try {
    for (const name of cfg.surfaces) {
      log(`  ${LABEL[name]}: idle, ${cfg.requests} unauthenticated requests, then ${cfg.afterMs / 1000} s quiet`);
      const f = await measureSurface(name, work, cfg);
      log(`  ${LABEL[name]}: ${describe(f, cfg)}`);
      metrics.push(...surfaceMetrics(name, f, cfg));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return {
    id: 'memory',
    title: `Memory under an unauthenticated flood (${cfg.requests} HTTPS requests per surface, RSS)`,
    metrics,
  };
}
