/**
 * The listening service: the agent's start-up time and idle RSS next to a bare `node` process
 * and a bare node:https server, and the owner's login latency while one attacker floods the
 * login with wrong passwords (bounded to 30 s), next to the same logins with no attack.
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
import { WebClient } from '../test/support/device.ts';
import type { BenchResult } from './report.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILT_AGENT = join(ROOT, 'dist', 'device', 'agent-main.js');

interface Started { child: ChildProcess; startupMs: number; port: number }

async function startProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ...env } });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('process did not get ready')), 30_000);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try { const m = JSON.parse(l) as { event?: string; webPort?: number }; if (m.event === 'listening') { clearTimeout(timer); resolve(m.webPort ?? 0); } } catch { /* other output */ }
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
  await new Promise((r) => { if (p.child.exitCode !== null) r(undefined); else p.child.once('exit', r); });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!; };

async function ownerLogins(url: string, unit: ProvisionedUnit, count: number, deadline: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count && Date.now() < deadline; i++) {
    const c = await WebClient.for(url, unit, '127.0.0.2');
    const t = performance.now();
    const a = await c.login(unit.adminPassword!);
    times.push(performance.now() - t);
    if (a.status !== 303) throw new Error(`owner login answered ${a.status}`);
  }
  return times;
}

/** Runs the listening-service benchmark. */
export async function benchWeb(log: (s: string) => void, floodSeconds = 30): Promise<BenchResult> {
  if (!existsSync(BUILT_AGENT)) throw new Error('build first: npm run build');
  const work = await mkdtemp(join(tmpdir(), 'bulwark-bench-web-'));
  try {
    await initFactory(join(work, 'factory'));
    const [unit] = await provisionUnits({ factoryDir: join(work, 'factory'), model: 'plug', count: 1, outDir: join(work, 'units') });
    const u = unit!;
    const runs = 5;
    const agentStart: number[] = [], agentRss: number[] = [], bareStart: number[] = [], bareRss: number[] = [], httpsStart: number[] = [], httpsRss: number[] = [];
    for (let i = 0; i < runs; i++) {
      const a = await startProcess([...AGENT_NODE_FLAGS, BUILT_AGENT, '--bundle', u.dir, '--state', join(work, `state-${i}`), '--web-port', '0'], AGENT_ENV);
      await new Promise((r) => setTimeout(r, 2000));
      agentStart.push(a.startupMs); agentRss.push(await rssMiB(a.child.pid!));
      await stop(a);
      const b = await startProcess(['-e', "process.stdout.write(JSON.stringify({event:'listening'})+'\\n'); setInterval(() => {}, 1000)"]);
      await new Promise((r) => setTimeout(r, 2000));
      bareStart.push(b.startupMs); bareRss.push(await rssMiB(b.child.pid!));
      await stop(b);
      const h = await startProcess([join(ROOT, 'bench', 'bare-https.js'), join(u.dir, 'web-key.pem'), join(u.dir, 'web-cert.pem')]);
      await new Promise((r) => setTimeout(r, 2000));
      httpsStart.push(h.startupMs); httpsRss.push(await rssMiB(h.child.pid!));
      await stop(h);
    }
    log(`  idle RSS: agent ${median(agentRss).toFixed(1)} MiB, bare node ${median(bareRss).toFixed(1)}, bare https ${median(httpsRss).toFixed(1)}`);

    // Login latency: quiet, then under a bounded flood from one attacker address.
    const agent = await startProcess([...AGENT_NODE_FLAGS, BUILT_AGENT, '--bundle', u.dir, '--state', join(work, 'state-flood'), '--web-port', '0'], AGENT_ENV);
    const url = `https://127.0.0.1:${agent.port}`;
    try {
      const quiet = await ownerLogins(url, u, 60, Date.now() + 60_000);
      const deadline = Date.now() + floodSeconds * 1000;
      let attempts = 0, locked = 0;
      // Each of 8 parallel attacker connections fetches the form and its token, then posts a guess,
      // as a real attacker must (a stale token only earns a cheap 403).
      const flood = Array.from({ length: 8 }, async () => {
        const attacker = await WebClient.for(url, u, '127.0.0.3');
        while (Date.now() < deadline) {
          const r = await attacker.login(`guess-${attempts}`);
          attempts++;
          if (r.status === 429) locked++;
        }
      });
      const underAttack = await ownerLogins(url, u, 1000, deadline);
      await Promise.all(flood);
      log(`  flood: ${attempts} attempts in ${floodSeconds} s, ${locked} answered 429; owner logins ${underAttack.length}`);
      return {
        id: 'web', title: 'Listening service (plug agent from dist/, hardened flags)',
        metrics: [
          { name: 'agent idle RSS', value: median(agentRss), unit: 'MiB', better: 'lower', baseline: { name: 'bare node process', value: median(bareRss) }, goal: { max: 60 }, note: `bare node:https server on the same key: ${median(httpsRss).toFixed(1)} MiB. Median of ${runs} starts, 2 s after ready.` },
          { name: 'agent start-up to listening', value: median(agentStart), unit: 'ms', better: 'lower', baseline: { name: 'bare node:https server', value: median(httpsStart) }, note: `bare node process: ${median(bareStart).toFixed(0)} ms` },
          { name: 'owner login p99 under a wrong-password flood', value: pct(underAttack, 99), unit: 'ms', better: 'lower', baseline: { name: 'owner login p99, no attack', value: pct(quiet, 99) }, note: `p50 ${median(underAttack).toFixed(1)} ms under attack vs ${median(quiet).toFixed(1)} ms quiet; the attacker (8 parallel connections from one address, ${floodSeconds} s) made ${attempts} attempts, ${locked} answered 429 without a hash.` },
        ],
      };
    } finally {
      await stop(agent);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
