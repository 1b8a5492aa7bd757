// No debugger on a production device (issue 14, part 5), tried as an attacker on the same machine
// would: start `bulwark device run` with NODE_OPTIONS=--inspect, and scan every loopback TCP port
// of a running device (after SIGUSR1 to each of its processes) for a Node inspector.
// Bounded: one spawn each, the scan at most 500 connects at a time and 45 s in all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { existsSync } from 'node:fs';
import { readFile, readdir, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeFleet, type TestFleet } from '../support/device.ts';

const BIN = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));
const HOST = '127.0.0.1';
const SCAN = { concurrency: 500, connectTimeoutMs: 500, budgetMs: 45_000 };
const PROBE = { concurrency: 32, timeoutMs: 1_500, maxBytes: 65_536 };
/** What a Node inspector answers to GET /json/version (or /json/list). */
const INSPECTOR_ANSWER = /"Browser"\s*:\s*"node\.js|webSocketDebuggerUrl|"Protocol-Version"/;

let fleet: TestFleet;
before(async () => {
  fleet = await makeFleet(['plug']);
});
after(async () => {
  await rm(fleet.work, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
}

/** `bulwark device run` for the plug, in production mode, with `extraEnv`. */
function deviceRun(state: string, extraEnv: Record<string, string> = {}): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  delete env.BULWARK_MODE;
  const args = [
    BIN,
    'device',
    'run',
    '--bundle',
    fleet.units.plug!.dir,
    '--state',
    state,
    '--web-port',
    '0',
    '--hub-port',
    '0',
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '',
    err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  return { child, out: () => out, err: () => err };
}

/** The exit code, or null when the process was still running after `ms` (it and its children are then killed). */
function exitWithin(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve(child.exitCode);
      return;
    }
    const timer = setTimeout(() => {
      // Children too: an agent left behind would hold the supervisor's stderr pipe open.
      void processTree(child.pid!).then((pids) => {
        for (const pid of pids) kill(pid, 'SIGKILL');
        resolve(null);
      });
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

function readyOf(run: Run, ms: number): Promise<{ webPort: number; hubPort: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line; stderr: ${run.err()}`)), ms);
    const check = (): void => {
      const m = /ready: https:\/\/[^:\s]+:(\d+)\S* hub port (\d+)/.exec(run.out());
      if (m) {
        clearTimeout(timer);
        resolve({ webPort: Number(m[1]), hubPort: Number(m[2]) });
      }
    };
    run.child.stdout!.on('data', check);
    run.child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`exited early; stderr: ${run.err()}`));
    });
  });
}

/** Whether a TCP connection to `port` is accepted within `timeoutMs`. */
function connects(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: HOST, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Runs `work` on each item with at most `concurrency` at a time, stopping at `deadline`; returns the items done. */
async function bounded<T>(
  items: readonly T[],
  concurrency: number,
  deadline: number,
  work: (x: T) => Promise<void>,
): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && Date.now() < deadline) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return next;
}

/** Every TCP port 1..65535 on the loopback address that accepts a connection. */
async function scanLoopback(): Promise<number[]> {
  const ports = Array.from({ length: 65_535 }, (_x, i) => i + 1);
  const open: number[] = [];
  const done = await bounded(ports, SCAN.concurrency, Date.now() + SCAN.budgetMs, async (p) => {
    if (await connects(p, SCAN.connectTimeoutMs)) open.push(p);
  });
  assert.equal(done, ports.length, `the scan did not finish within ${SCAN.budgetMs} ms`);
  return open.sort((a, b) => a - b);
}

/** Whether `port` answers plain HTTP GET /json/version as a Node inspector does (TLS ports just fail). */
function isInspector(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: HOST, port });
    let text = '';
    const done = (found: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(found);
    };
    const timer = setTimeout(() => done(false), PROBE.timeoutMs);
    const request = `GET /json/version HTTP/1.1\r\nHost: ${HOST}:${port}\r\nConnection: close\r\n\r\n`;
    s.once('connect', () => s.write(request));
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (INSPECTOR_ANSWER.test(text)) done(true);
      else if (text.length > PROBE.maxBytes) done(false);
    });
    s.once('error', () => done(false));
    s.once('close', () => done(INSPECTOR_ANSWER.test(text)));
  });
}

/** `root` and every process below it (from /proc). */
async function processTree(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (stat) parents.set(Number(name), ppid);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

/** Listening TCP sockets by local port: their socket inodes (from /proc/net/tcp and tcp6). */
async function listeningInodes(): Promise<Map<number, Set<string>>> {
  const byPort = new Map<number, Set<string>>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = (await readFile(file, 'utf8').catch(() => '')).split('\n').slice(1);
    for (const cols of lines.map((l) => l.trim().split(/\s+/)).filter((c) => c[3] === '0A')) {
      const port = parseInt(cols[1]!.split(':')[1]!, 16);
      byPort.set(port, (byPort.get(port) ?? new Set()).add(cols[9]!));
    }
  }
  return byPort;
}

/** The socket inodes `pids` hold open. */
async function socketsOf(pids: number[]): Promise<Set<string>> {
  const held = new Set<string>();
  for (const pid of pids) {
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
      const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
      if (m) held.add(m[1]!);
    }
  }
  return held;
}

test(
  'device run with NODE_OPTIONS=--inspect refuses at once (exit 78, naming the inspector) and starts nothing',
  { timeout: 60_000 },
  async () => {
    const state = join(fleet.work, 'state-inspect');
    const started = Date.now();
    const run = deviceRun(state, { NODE_OPTIONS: '--inspect=127.0.0.1:0' });
    const code = await exitWithin(run.child, 15_000);
    assert.equal(code, 78, `exit code (null: still running after 15 s); stdout: ${run.out()} stderr: ${run.err()}`);
    assert.match(run.err(), /DEBUG_INTERFACE_REFUSED/);
    assert.match(run.err(), /Node inspector \(--inspect=127\.0\.0\.1:0 in NODE_OPTIONS/);
    assert.match(run.err(), /development mode/);
    assert.doesNotMatch(run.out(), /ready/, 'no ready line');
    assert.doesNotMatch(run.err(), /booting/, 'the supervisor booted no agent');
    assert.equal(existsSync(state), false, 'no agent ran: its state folder was never made, so no port opened');
    assert.ok(Date.now() - started < 15_000);
  },
);

test(
  'no loopback port of a running production device is a Node inspector, even after SIGUSR1 to its processes',
  { timeout: 90_000 },
  async (t) => {
    const run = deviceRun(join(fleet.work, 'state-scan'));
    try {
      const { webPort, hubPort } = await readyOf(run, 30_000);
      const tree = await processTree(run.child.pid!);
      assert.ok(tree.length >= 2, 'the supervisor and its agent');
      for (const pid of tree) kill(pid, 'SIGUSR1');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(run.child.exitCode, null, 'SIGUSR1 did not stop the supervisor');
      assert.match(run.err(), /SIGUSR1 ignored/);

      const open = await scanLoopback();
      assert.ok(
        open.includes(webPort) && open.includes(hubPort),
        `the scan sees the device (open: ${open.join(', ')})`,
      );
      const inspectors: number[] = [];
      await bounded(open, PROBE.concurrency, Date.now() + 30_000, async (p) => {
        if (await isInspector(p)) inspectors.push(p);
      });

      // An inspector of another program on this machine is not the device's; one we cannot place counts as the
      // device's.
      const [listening, ours] = [await listeningInodes(), await socketsOf(await processTree(run.child.pid!))];
      const held = (p: number): boolean => [...(listening.get(p) ?? [])].some((i) => ours.has(i));
      assert.ok(held(webPort) && held(hubPort), "the device's own ports are attributed to it");
      const foreign = inspectors.filter((p) => listening.has(p) && !held(p));
      if (foreign.length) t.diagnostic(`inspectors of other programs on this machine: ${foreign.join(', ')}`);
      t.diagnostic(`${open.length} open loopback ports scanned`);
      assert.deepEqual(
        inspectors.filter((p) => !foreign.includes(p)),
        [],
        'no inspector belongs to the device',
      );
    } finally {
      run.child.kill('SIGTERM');
      await exitWithin(run.child, 10_000);
    }
  },
);
