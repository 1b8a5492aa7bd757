/**
 * The listening service: the agent's start-up time and idle RSS next to a bare `node` process
 * and a bare node:https server, and the owner's login latency during a 30 s guessing flood from
 * many addresses (bench/login-flood.ts), next to the same logins with no attack. Then a maker's
 * product: a thermostat from a model file, its agent driving the example Python driver on two
 * files; the agent process alone is measured (the driver is a process of its own). And the plug on the
 * built-in `simulated` driver, the simulation reached through the driver client, and the plug booted
 * from a firmware image (the bundled agent a slot runs).
 * The agent runs from the built JavaScript (dist/) with the supervisor's flags and environment,
 * as on a device.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { initFactory, provisionUnits, type ProvisionedUnit } from '../src/identity/index.ts';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../src/device/index.ts';
import { buildDeviceImage } from '../src/release/index.ts';
import { readImageArchive } from '../src/update/index.ts';
import { measureLoginFlood } from './login-flood.ts';
import type { BenchResult } from './report.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILT_AGENT = join(ROOT, 'dist', 'device', 'agent-main.js');
const PYTHON_DRIVER = join(ROOT, 'examples', 'thermostat-driver', 'driver.py');

/** The thermostat the example driver serves (examples/thermostat-driver/README.md), as a maker's model file. */
/** The example driver's own model file: what a maker ships beside the driver. */
const THERMOSTAT_MODEL = join(ROOT, 'examples', 'thermostat-driver', 'thermostat.model.json');

interface Started {
  child: ChildProcess;
  startupMs: number;
  port: number;
}

async function startProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ...env } });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('process did not get ready')), 30_000);
    createInterface({ input: child.stdout }).on('line', (l) => {
      try {
        const m = JSON.parse(l) as { event?: string; webPort?: number };
        if (m.event === 'listening') {
          clearTimeout(timer);
          resolve(m.webPort ?? 0);
        }
      } catch {
        /* other output */
      }
    });
    child.once('exit', () => reject(new Error('process exited early')));
  });
  return { child, startupMs: performance.now() - t0, port };
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function stop(p: Started): Promise<void> {
  p.child.kill('SIGTERM');
  await new Promise((r) => {
    if (p.child.exitCode !== null) r(undefined);
    else p.child.once('exit', r);
  });
}

/** The processes whose parent is `pid` (from /proc, so it needs no tool). */
async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the fields after its last ')' are fixed.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

async function waitFor(what: string, ms: number, probe: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The owner's login during a guessing flood, on an agent of its own (fresh state). */
async function loginUnderFlood(
  u: ProvisionedUnit,
  work: string,
  log: (s: string) => void,
): Promise<BenchResult['metrics']> {
  const state = join(work, 'state-flood');
  const args = [...AGENT_NODE_FLAGS, BUILT_AGENT, '--bundle', u.dir, '--state', state, '--web-port', '0'];
  const agent = await startProcess(args, AGENT_ENV);
  try {
    return await measureLoginFlood(`https://127.0.0.1:${agent.port}`, u, log);
  } finally {
    await stop(agent);
  }
}

/**
 * A thermostat from a model file, provisioned here, its agent started with the example Python driver
 * (`--driver python3 driver.py ...`, as `device run` passes it on) on a relay and a sensor file. Each
 * run waits until the driver, initialised by the agent, has switched the relay on (18.5 degC under the
 * 20 degC setpoint), then 2 s more, and takes the agent's RSS alone and the driver's beside it.
 */
async function thermostatIdle(
  work: string,
  runs: number,
  plugRss: number,
  log: (s: string) => void,
): Promise<BenchResult['metrics']> {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    log('  thermostat with the Python driver: skipped, python3 not installed (apt-get install python3)');
    return [];
  }
  const outDir = join(work, 'thermostats');
  const [unit] = await provisionUnits({ factoryDir: join(work, 'factory'), model: THERMOSTAT_MODEL, count: 1, outDir });
  const agentRss: number[] = [],
    driverRss: number[] = [];
  for (let i = 0; i < runs; i++) {
    const relay = join(work, `relay-${i}`);
    const sensor = join(work, `temp1_input-${i}`);
    await writeFile(relay, '0\n');
    await writeFile(sensor, '18500\n');
    const driver = { program: 'python3', args: [PYTHON_DRIVER, '--relay', relay, '--temperature', sensor] };
    const args = [...AGENT_NODE_FLAGS, BUILT_AGENT, '--bundle', unit!.dir, '--state', join(work, `thermo-state-${i}`)];
    const a = await startProcess(
      [...args, '--web-port', '0', '--hub-port', '0', '--driver-json', JSON.stringify(driver)],
      AGENT_ENV,
    );
    try {
      await waitFor(
        'the driver to switch the relay',
        15_000,
        async () => (await readFile(relay, 'utf8')).trim() === '1',
      );
      await new Promise((r) => setTimeout(r, 2000));
      agentRss.push(await rssMiB(a.child.pid!));
      const children = await childrenOf(a.child.pid!);
      driverRss.push((await Promise.all(children.map(rssMiB))).reduce((x, y) => x + y, 0));
    } finally {
      await stop(a);
    }
  }
  const [agentMiB, driverMiB] = [median(agentRss).toFixed(1), median(driverRss).toFixed(1)];
  log(`  idle RSS: thermostat agent ${agentMiB} MiB, its Python driver ${driverMiB}`);
  return [
    {
      name: 'thermostat agent idle RSS (Python driver)',
      value: median(agentRss),
      unit: 'MiB',
      better: 'lower',
      baseline: { name: 'plug agent, simulated hardware', value: plugRss },
      goal: { max: 60 },
      note:
        `The agent process alone; its driver (python3 examples/thermostat-driver/driver.py) is another ` +
        `process of ${driverMiB} MiB. Model from a file. Median of ${runs} starts, 2 s after ` +
        `the driver switched the relay.`,
    },
  ];
}

/** The agent's RSS 2 s after ready, once per run with `argsOf(run)`, each process stopped after. */
async function idleRssOf(runs: number, argsOf: (run: number) => string[]): Promise<number[]> {
  const rss: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = await startProcess(argsOf(i), AGENT_ENV);
    try {
      await new Promise((r) => setTimeout(r, 2000));
      rss.push(await rssMiB(a.child.pid!));
    } finally {
      await stop(a);
    }
  }
  return rss;
}

/**
 * The plug on the built-in `simulated` driver (`driver: { builtin: 'simulated' }`): the same simulation,
 * reached through the driver client in-process, as the one hardware path would have it.
 */
async function simulatedDriverIdle(
  u: ProvisionedUnit,
  work: string,
  runs: number,
  plugRss: number,
  log: (s: string) => void,
): Promise<BenchResult['metrics']> {
  const rss = await idleRssOf(runs, (i) => {
    const state = join(work, `sim-driver-state-${i}`);
    const args = [...AGENT_NODE_FLAGS, BUILT_AGENT, '--bundle', u.dir, '--state', state, '--web-port', '0'];
    return [...args, '--driver-json', JSON.stringify({ builtin: 'simulated' })];
  });
  log(`  idle RSS: plug agent on the built-in simulated driver ${median(rss).toFixed(1)} MiB`);
  return [
    {
      name: 'plug agent idle RSS (built-in simulated driver)',
      value: median(rss),
      unit: 'MiB',
      better: 'lower',
      baseline: { name: 'plug agent, simulated hardware used directly', value: plugRss },
      goal: { max: 60 },
      note:
        `driver: { builtin: 'simulated' }, in-process through DriverClient. ` +
        `Median of ${runs} starts, 2 s after ready.`,
    },
  ];
}

/**
 * The plug booted from a firmware image (`release build-image`, unpacked as a slot is), next to the
 * same plug from the installed runtime: an image runs its own bundled code and Node's built-ins only.
 */
async function imageBootIdle(
  u: ProvisionedUnit,
  work: string,
  runs: number,
  plugRss: number,
  log: (s: string) => void,
): Promise<BenchResult['metrics']> {
  const tar = join(work, 'plug-image.tar');
  const built = await buildDeviceImage(tar, { model: 'plug', version: '1.1.0', securityVersion: 1 });
  const slot = join(work, 'slot');
  await readImageArchive(tar, { maxEntries: 10_000, maxUnpackedBytes: 512 * 1_048_576 }, { into: slot });
  const entry = join(slot, built.manifest.entry);
  const rss = await idleRssOf(runs, (i) => {
    const args = [...AGENT_NODE_FLAGS, entry, '--bundle', u.dir, '--state', join(work, `image-state-${i}`)];
    // Booted as a factory image is with --factory-image: from its own unpacked files, no slot record needed.
    return [...args, '--web-port', '0', '--slot', 'factory'];
  });
  const mib = (n: number): string => (n / 1_048_576).toFixed(2);
  log(
    `  idle RSS: plug agent booted from its image ${median(rss).toFixed(1)} MiB ` +
      `(image ${mib(built.archiveBytes)} MiB as a tar, ${mib(built.unpackedBytes)} MiB unpacked)`,
  );
  return [
    {
      name: 'plug agent idle RSS booted from a firmware image',
      value: median(rss),
      unit: 'MiB',
      better: 'lower',
      baseline: { name: 'plug agent from the installed runtime (dist/)', value: plugRss },
      goal: { max: 60 },
      note:
        `release build-image --model plug, unpacked as a slot; ${built.files.length} files. ` +
        `Median of ${runs} starts, 2 s after ready.`,
    },
  ];
}

/** Runs the listening-service benchmark. */
export async function benchWeb(log: (s: string) => void): Promise<BenchResult> {
  if (!existsSync(BUILT_AGENT)) throw new Error('build first: npm run build');
  const work = await mkdtemp(join(tmpdir(), 'bulwark-bench-web-'));
  try {
    await initFactory(join(work, 'factory'));
    const [unit] = await provisionUnits({
      factoryDir: join(work, 'factory'),
      model: 'plug',
      count: 1,
      outDir: join(work, 'units'),
    });
    const u = unit!;
    const runs = 5;
    const agentStart: number[] = [],
      agentRss: number[] = [],
      bareStart: number[] = [],
      bareRss: number[] = [],
      httpsStart: number[] = [],
      httpsRss: number[] = [];
    for (let i = 0; i < runs; i++) {
      const a = await startProcess(
        [...AGENT_NODE_FLAGS, BUILT_AGENT, '--bundle', u.dir, '--state', join(work, `state-${i}`), '--web-port', '0'],
        AGENT_ENV,
      );
      await new Promise((r) => setTimeout(r, 2000));
      agentStart.push(a.startupMs);
      agentRss.push(await rssMiB(a.child.pid!));
      await stop(a);
      const b = await startProcess([
        '-e',
        "process.stdout.write(JSON.stringify({event:'listening'})+'\\n'); setInterval(() => {}, 1000)",
      ]);
      await new Promise((r) => setTimeout(r, 2000));
      bareStart.push(b.startupMs);
      bareRss.push(await rssMiB(b.child.pid!));
      await stop(b);
      const h = await startProcess([
        join(ROOT, 'bench', 'bare-https.js'),
        join(u.dir, 'web-key.pem'),
        join(u.dir, 'web-cert.pem'),
      ]);
      await new Promise((r) => setTimeout(r, 2000));
      httpsStart.push(h.startupMs);
      httpsRss.push(await rssMiB(h.child.pid!));
      await stop(h);
    }
    log(
      `  idle RSS: agent ${median(agentRss).toFixed(1)} MiB, bare node ${median(bareRss).toFixed(1)}, bare ` +
        `https ${median(httpsRss).toFixed(1)}`,
    );

    return {
      id: 'web',
      title: 'Listening service (plug agent from dist/, hardened flags; a thermostat agent with a Python driver)',
      metrics: [
        {
          name: 'agent idle RSS',
          value: median(agentRss),
          unit: 'MiB',
          better: 'lower',
          baseline: { name: 'bare node process', value: median(bareRss) },
          goal: { max: 60 },
          note:
            `bare node:https server on the same key: ${median(httpsRss).toFixed(1)} MiB. ` +
            `Median of ${runs} starts, 2 s after ready.`,
        },
        {
          name: 'agent start-up to listening',
          value: median(agentStart),
          unit: 'ms',
          better: 'lower',
          baseline: { name: 'bare node:https server', value: median(httpsStart) },
          note: `bare node process: ${median(bareStart).toFixed(0)} ms`,
        },
        ...(await loginUnderFlood(u, work, log)),
        ...(await simulatedDriverIdle(u, work, runs, median(agentRss), log)),
        ...(await imageBootIdle(u, work, runs, median(agentRss), log)),
        ...(await thermostatIdle(work, runs, median(agentRss), log)),
      ],
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
