// Test support for RabbitMQ (Debian's 3.10): an epmd of the test's own, an Erlang cookie made at test
// time, and nodes started from what `writeRabbitmqConfig` wrote, each as its own process group on
// its own ports and folders, so a cluster is N calls sharing one epmd and one cookie. Every wait is
// bounded, and stopping leaves no beam.smp or epmd behind (processesMatching checks).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Socket } from 'node:net';
import { freePort, waitFor } from '../cloud/support.ts';
import type { WrittenRabbitmqNode } from '../../src/cloud/index.ts';

const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';

/** Kept to the last part of a child's output, for an error message. */
function tail(text: string, max = 4_000): string {
  return text.length > max ? text.slice(-max) : text;
}

/** Waits up to `ms` for `child` to exit; true when it did. */
function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** The pids whose command line contains every one of `parts` (read from /proc: no ps needed). */
export async function processesMatching(...parts: string[]): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = cmd.split('\0').join(' ');
    if (cmd !== '' && parts.every((p) => args.includes(p))) pids.push(Number(entry));
  }
  return pids;
}

/** An epmd of the test's own: the nodes register with it, and it ends with the test. */
export interface TestEpmd {
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts epmd in the foreground on a free loopback port (a child of this process, not a daemon). */
export async function startEpmd(): Promise<TestEpmd> {
  const port = await freePort();
  const child = spawn('epmd', ['-port', String(port), '-address', '127.0.0.1'], { stdio: 'ignore' });
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`epmd exited ${child.exitCode}`);
      return canConnect(port);
    },
    10_000,
    'epmd to listen',
  );
  return {
    port,
    async stop() {
      child.kill('SIGTERM');
      if (!(await exited(child, 5_000))) child.kill('SIGKILL');
      await exited(child, 5_000);
    },
  };
}

/**
 * Makes `<dir>/home` with a random `.erlang.cookie` (0400): the HOME of every node of one cluster
 * and of rabbitmqctl. The cookie is the distribution's password, made here and never reused.
 */
export async function makeCookieHome(dir: string): Promise<string> {
  const home = join(dir, 'home');
  await mkdir(home, { recursive: true, mode: 0o700 });
  await writeFile(join(home, '.erlang.cookie'), randomBytes(24).toString('hex').toUpperCase(), { mode: 0o400 });
  return home;
}

function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(1_000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.connect(port, host);
  });
}

/** A node started from a `writeRabbitmqConfig` folder. */
export interface TestRabbitmqNode {
  readonly node: WrittenRabbitmqNode;
  /** The Erlang VM's pid (from the node's pid file), for a SIGKILL of the node alone. */
  beamPid(): Promise<number | undefined>;
  /** Sends `signal` to the node's whole process group (script and VM) and waits for the script to end. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Starts it again with the same files and data (after a kill or stop). */
  restart(): Promise<void>;
  /** Stops it (SIGTERM: RabbitMQ's own shutdown), killing the group if that takes longer than the bound. */
  stop(): Promise<void>;
  /** Runs rabbitmqctl against this node; rejects on a non-zero exit or after `timeoutMs`. */
  rabbitmqctl(args: readonly string[], timeoutMs?: number): Promise<string>;
  /** What the node wrote (its log goes to stdout), the last 200 kB. */
  log(): string;
}

/** The environment of the node and of rabbitmqctl: its env file, the cluster's cookie and epmd. */
function nodeEnv(node: WrittenRabbitmqNode, home: string, epmdPort: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    HOME: home,
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_CONF_ENV_FILE: node.files.envFile,
    RABBITMQ_LOGS: '-',
  };
}

/**
 * Starts the node in `node` (written by writeRabbitmqConfig) as its own process group, registered
 * with `epmdPort`, its cookie in `home`; resolves when its MQTT listener accepts connections.
 */
export async function startRabbitmqNode(o: {
  node: WrittenRabbitmqNode;
  home: string;
  epmdPort: number;
  readyTimeoutMs?: number;
}): Promise<TestRabbitmqNode> {
  const env = nodeEnv(o.node, o.home, o.epmdPort);
  let child: ChildProcess | undefined;
  let text = '';
  const start = async (): Promise<void> => {
    const c = spawn(join(RABBITMQ_BIN, 'rabbitmq-server'), [], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child = c;
    // Listeners open before the boot ends (definitions, the MQTT client id tracker): wait for both.
    let booted = false;
    let recent = '';
    const keep = (b: Buffer): void => {
      const chunk = b.toString();
      text += chunk;
      if (text.length > 400_000) text = text.slice(-200_000);
      recent = (recent + chunk).slice(-4_096);
      if (recent.includes('Server startup complete')) booted = true;
    };
    c.stdout.on('data', keep);
    c.stderr.on('data', keep);
    try {
      await waitFor(
        () => {
          if (c.exitCode !== null) throw new Error(`rabbitmq-server exited ${c.exitCode}: ${tail(text)}`);
          return booted && canConnect(o.node.settings.mqttPort);
        },
        o.readyTimeoutMs ?? 120_000,
        `RabbitMQ node ${o.node.nodeName} to listen for MQTT`,
        200,
      );
    } catch (err) {
      await kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${tail(text)}`);
    }
  };
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c?.pid || c.exitCode !== null || c.signalCode !== null) return;
    try {
      process.kill(-c.pid, signal);
    } catch {
      // The group is already gone.
    }
    await exited(c, 10_000);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    if (!c?.pid || c.exitCode !== null || c.signalCode !== null) return;
    // The script forwards SIGTERM to the VM and waits for RabbitMQ's shutdown.
    c.kill('SIGTERM');
    if (!(await exited(c, 30_000))) await kill('SIGKILL');
  };
  await start();
  return {
    node: o.node,
    async beamPid() {
      const text = await readFile(o.node.files.pidFile, 'utf8').catch(() => '');
      return /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
    },
    kill,
    restart: start,
    stop,
    rabbitmqctl: (args, timeoutMs = 60_000) => runCtl(['-n', o.node.nodeName, ...args], env, timeoutMs),
    log: () => text,
  };
}

function runCtl(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const opts = { env, timeout: timeoutMs, killSignal: 'SIGKILL' as const, maxBuffer: 4 * 1024 * 1024 };
    execFile(join(RABBITMQ_BIN, 'rabbitmqctl'), [...args], opts, (err, stdout, stderr) => {
      if (err === null) resolve(stdout + stderr);
      else
        reject(
          new Error(`rabbitmqctl ${args.join(' ')} ended ${err.code ?? err.signal}: ${tail(stdout + stderr, 2_000)}`),
        );
    });
  });
}

/** The pids whose parent is `pid` (from /proc: the VM's erl_child_setup, to check it is gone at the end). */
export async function childPids(pid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the command name (which may hold spaces): state, then the parent's pid.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) pids.push(Number(entry));
  }
  return pids;
}
