/**
 * The listening service: the agent's start-up time and idle RSS next to a bare `node` process
 * and a bare node:https server, and the owner's login latency during a 30 s guessing flood from
 * many addresses (bench/login-flood.ts), next to the same logins with no attack.
 * The agent runs from the built JavaScript (dist/) with the supervisor's flags and environment,
 * as on a device.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { initFactory, provisionUnits, type ProvisionedUnit } from '../src/identity/index.ts';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../src/device/index.ts';
import { measureLoginFlood } from './login-flood.ts';
import type { BenchResult } from './report.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILT_AGENT = join(ROOT, 'dist', 'device', 'agent-main.js');

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
      title: 'Listening service (plug agent from dist/, hardened flags)',
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
      ],
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
