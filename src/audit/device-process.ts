/**
 * The audited device's running process, observed from this host: the process that listens on
 * the target's port (found through /proc/net/tcp, /proc/net/tcp6 and the processes' open
 * sockets), its command line, its environment and its other listening TCP ports. Linux only, and
 * only for a device on this host whose process the auditor's account may inspect; otherwise
 * `how` says why nothing was observed. Bounded: processes scanned, descriptors read per process,
 * bytes read per file. Environment values stay in memory; checks put only what they judge in
 * evidence.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { AuditContext } from './context.ts';
import type { HttpsTarget } from './net.ts';

/** A listening TCP socket from /proc/net/tcp or tcp6. */
export interface ListeningSocket {
  /** The bound address ('0.0.0.0', '127.0.0.1', '::', '::1', ...). */
  readonly address: string;
  readonly port: number;
  /** The socket's inode, which names it in /proc/<pid>/fd. */
  readonly inode: string;
}

/** The running process of the device. */
export interface DeviceProcess {
  readonly pid: number;
  /** True when the device runs inside the auditor's own process (an in-process agent). */
  readonly self: boolean;
  /** /proc/<pid>/cmdline: the executable first. */
  readonly argv: readonly string[];
  /** /proc/<pid>/environ: the environment the process was started with. */
  readonly env: Readonly<Record<string, string>>;
  /** Every TCP port the process listens on. */
  readonly listening: readonly ListeningSocket[];
}

/** Bounds of the observation. */
const PROCESS_BOUNDS = Object.freeze({
  maxProcesses: 4_096,
  maxDescriptorsPerProcess: 4_096,
  maxProcFileBytes: 1_048_576, // bytes, /proc/net/tcp* and a process's cmdline or environ
  maxInspectorAnswerBytes: 65_536, // bytes
});

const TCP_LISTEN = '0A';

/** Parses /proc/net/tcp (`v6` false) or /proc/net/tcp6 text into its listening sockets. */
export function parseProcNetTcp(text: string, v6: boolean): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
    const [hex, portHex] = f[1]!.split(':');
    if (hex === undefined || portHex === undefined) continue;
    out.push({ address: v6 ? ipv6Of(hex) : ipv4Of(hex), port: parseInt(portHex, 16), inode: f[9]! });
  }
  return out;
}

/** The kernel prints each 32-bit word of an address in host (little-endian) byte order. */
function wordBytes(hex8: string): number[] {
  return [6, 4, 2, 0].map((i) => parseInt(hex8.slice(i, i + 2), 16));
}

function ipv4Of(hex: string): string {
  return wordBytes(hex).join('.');
}

function ipv6Of(hex: string): string {
  const bytes = [0, 8, 16, 24].flatMap((i) => wordBytes(hex.slice(i, i + 8)));
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const text = groups.join(':');
  if (text === '0:0:0:0:0:0:0:0') return '::';
  if (text === '0:0:0:0:0:0:0:1') return '::1';
  return text;
}

/** The address to connect to for a socket bound to `address` (a wildcard is reached on loopback). */
export function connectAddressOf(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '::1';
  return address;
}

async function readProcText(path: string): Promise<string | undefined> {
  try {
    const buf = await readFile(path);
    return buf.subarray(0, PROCESS_BOUNDS.maxProcFileBytes).toString('utf8');
  } catch {
    return undefined;
  }
}

async function listeningSockets(): Promise<ListeningSocket[]> {
  const v4 = await readProcText('/proc/net/tcp');
  const v6 = await readProcText('/proc/net/tcp6');
  return [...parseProcNetTcp(v4 ?? '', false), ...parseProcNetTcp(v6 ?? '', true)];
}

/** The socket inodes a process holds open; empty when its descriptors cannot be read. */
async function socketInodes(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds.slice(0, PROCESS_BOUNDS.maxDescriptorsPerProcess)) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(m[1]!);
  }
  return inodes;
}

/** The process holding one of `inodes`: the auditor's own first (an in-process agent), then the others. */
async function ownerOf(inodes: ReadonlySet<string>): Promise<{ pid: number; sockets: Set<string> } | undefined> {
  const hit = async (pid: number): Promise<{ pid: number; sockets: Set<string> } | undefined> => {
    const sockets = await socketInodes(pid);
    return [...inodes].some((i) => sockets.has(i)) ? { pid, sockets } : undefined;
  };
  const own = await hit(process.pid);
  if (own) return own;
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).map(Number);
  for (const pid of pids.slice(0, PROCESS_BOUNDS.maxProcesses)) {
    if (pid === process.pid) continue;
    const found = await hit(pid);
    if (found) return found;
  }
  return undefined;
}

function isOnThisHost(target: HttpsTarget): boolean {
  if (target.loopback) return true;
  const local = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  return local.includes(target.host);
}

async function observe(target: HttpsTarget | undefined): Promise<{ process?: DeviceProcess; how: string }> {
  if (target === undefined) return { how: 'no --url: the auditor does not know which process is the device' };
  if (process.platform !== 'linux')
    return { how: `the auditor runs on ${process.platform}: it reads running processes on Linux only` };
  if (!isOnThisHost(target))
    return { how: `${target.host} is not an address of this host: the device's process runs elsewhere` };
  const sockets = await listeningSockets();
  const onPort = sockets.filter((s) => s.port === target.port);
  if (onPort.length === 0) return { how: `no listening socket on port ${target.port} in /proc/net/tcp or tcp6` };
  const owner = await ownerOf(new Set(onPort.map((s) => s.inode)));
  if (owner === undefined)
    return { how: `the process listening on port ${target.port} is not one this account may inspect` };
  const cmdline = await readProcText(`/proc/${owner.pid}/cmdline`);
  const environ = await readProcText(`/proc/${owner.pid}/environ`);
  if (cmdline === undefined || environ === undefined)
    return { how: `the command line or environment of process ${owner.pid} cannot be read` };
  const env: Record<string, string> = {};
  for (const pair of environ.split('\0')) {
    const eq = pair.indexOf('=');
    if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const argv = cmdline.replace(/\0$/, '').split('\0');
  const listening = sockets.filter((s) => owner.sockets.has(s.inode));
  const self = owner.pid === process.pid;
  const how =
    `process ${owner.pid}${self ? " (the auditor's own: the agent runs in-process)" : ''} listens on port ` +
    `${target.port}`;
  return { process: { pid: owner.pid, self, argv, env, listening }, how };
}

const observed = new WeakMap<AuditContext, Promise<{ process?: DeviceProcess; how: string }>>();

/**
 * The device's running process at the primary target, observed once per audit; `how` says what was found or why not.
 */
export function deviceProcess(ctx: AuditContext): Promise<{ process?: DeviceProcess; how: string }> {
  let p = observed.get(ctx);
  if (p === undefined) {
    p = observe(ctx.target).catch((err: unknown) => ({
      how: `the process could not be observed: ${(err as Error).message?.slice(0, 120)}`,
    }));
    observed.set(ctx, p);
  }
  return p;
}

/** What an inspector probe saw: the Node inspector's version answer, or why the port is not one. */
export interface InspectorAnswer {
  readonly inspector: boolean;
  readonly text: string;
}

/**
 * Asks `host:port` what a Node inspector answers to (GET /json/version over plain HTTP); reads at
 * most a few KiB and sends nothing else. A TLS or other service answers with an error or not at all.
 */
export function probeInspector(host: string, port: number, timeoutMs: number): Promise<InspectorAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (a: InspectorAnswer): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve(a);
      }
    };
    const req = request(
      {
        host,
        port,
        path: '/json/version',
        method: 'GET',
        headers: { host: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString('utf8');
          if (body.length > PROCESS_BOUNDS.maxInspectorAnswerBytes)
            finish({ inspector: false, text: `${res.statusCode}: a long answer, not an inspector's` });
        });
        res.on('end', () => finish(judgeInspectorAnswer(res.statusCode ?? 0, body)));
        res.on('error', () => finish({ inspector: false, text: `${res.statusCode}: the answer broke off` }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      finish({ inspector: false, text: `no HTTP answer (${err.code ?? err.message})` }),
    );
    const timer = setTimeout(
      () => finish({ inspector: false, text: `no HTTP answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
    req.end();
  });
}

function judgeInspectorAnswer(status: number, body: string): InspectorAnswer {
  let v: { Browser?: unknown; 'Protocol-Version'?: unknown } | undefined;
  try {
    v = JSON.parse(body) as typeof v;
  } catch {
    v = undefined;
  }
  const browser = typeof v?.Browser === 'string' ? v.Browser.slice(0, 40) : undefined;
  if (status === 200 && (browser !== undefined || v?.['Protocol-Version'] !== undefined)) {
    return {
      inspector: true,
      text:
        `a debugger protocol answered (${browser ?? 'DevTools protocol'}): anyone who reaches it can run code ` +
        `in the device`,
    };
  }
  return { inspector: false, text: `${status}: not an inspector` };
}
