// Test support for the cloud: a factory with units, a real PostgreSQL and a real Mosquitto started
// as unprivileged users on temporary folders and free loopback ports, an owner API client, and
// device MQTT options. Every wait is bounded.
import { mkdtemp, readFile, chmod, chown, readdir, rm, mkdir } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, delimiter } from 'node:path';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, Socket, type AddressInfo } from 'node:net';
import { request as httpsRequest } from 'node:https';
import pg from 'pg';
import mqtt, { type MqttClient } from 'mqtt';
import { simpleParser } from 'mailparser';
import {
  initFactory,
  provisionUnits,
  loadCaSigner,
  createCertificateRequest,
  type ProvisionedUnit,
} from '../../src/identity/index.ts';
import {
  factoryIssuer,
  writeBrokerConfig,
  type CloudService,
  type WrittenBrokerConfig,
} from '../../src/cloud/index.ts';

/** A factory with `count` provisioned units of `model`. */
export async function makeUnits(
  model: string,
  count: number,
  work?: string,
): Promise<{ work: string; factoryDir: string; units: ProvisionedUnit[]; manifest: string }> {
  const dir = work ?? (await mkdtemp(join(tmpdir(), 'bulwark-cloud-')));
  const factoryDir = join(dir, 'factory');
  if (!existsSync(join(factoryDir, 'factory.json'))) await initFactory(factoryDir);
  const units = await provisionUnits({ factoryDir, model, count, outDir: join(dir, 'units') });
  return { work: dir, factoryDir, units, manifest: join(dir, 'units', 'manifest.json') };
}

/** A free TCP port on 127.0.0.1 (released before returning; good enough for tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter))
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

function systemUser(name: string): { uid: number; gid: number } | undefined {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', name]).toString().trim()),
      gid: Number(execFileSync('id', ['-g', name]).toString().trim()),
    };
  } catch {
    return undefined;
  }
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  for (const e of await readdir(path, { withFileTypes: true })) {
    if (e.isDirectory()) await chownTree(join(path, e.name), uid, gid);
    else await chown(join(path, e.name), uid, gid);
  }
}

// ---- PostgreSQL -----------------------------------------------------------------------------

function postgresBin(): string | undefined {
  const direct = onPath('postgres') && onPath('initdb') ? onPath('postgres')!.replace(/postgres$/, '') : undefined;
  if (direct) return direct;
  if (!existsSync('/usr/lib/postgresql')) return undefined;
  const versions = readdirSync('/usr/lib/postgresql')
    .filter((v) => existsSync(join('/usr/lib/postgresql', v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join('/usr/lib/postgresql', versions[0], 'bin') + '/' : undefined;
}

/** A running PostgreSQL for one test file. */
export interface TestPostgres {
  readonly port: number;
  /** A new empty database; returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

function run(
  cmd: string,
  args: string[],
  user: { uid: number; gid: number } | undefined,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 4096) err += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} exited ${code}: ${err}`));
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * Starts PostgreSQL on a temporary folder and a free port. PostgreSQL refuses to run as root,
 * so under root initdb and the server run as the `postgres` system user (else `nobody`).
 */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed');
  const root = process.getuid?.() === 0;
  const user = root ? (systemUser('postgres') ?? systemUser('nobody')) : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-pg-'));
  const data = join(dir, 'data');
  await mkdir(data, { mode: 0o700 });
  if (user) await chownTree(dir, user.uid, user.gid);
  await run(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'bulwark', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'],
    user,
    60_000,
  );
  const port = await freePort();
  const server: ChildProcess = spawn(
    join(bin, 'postgres'),
    [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=60',
      '-c',
      'shared_buffers=32MB',
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
    },
  );
  let log = '';
  server.stderr!.on('data', (c: Buffer) => {
    if (log.length < 16_384) log += c.toString();
  });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const admin = `postgres://bulwark@127.0.0.1:${port}/postgres`;
  try {
    await waitFor(
      async () => {
        if (server.exitCode !== null) throw new Error(`postgres exited: ${log}`);
        const c = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 1_000 });
        try {
          await c.connect();
          await c.end();
          return true;
        } catch {
          await c.end().catch(() => undefined);
          return false;
        }
      },
      30_000,
      'PostgreSQL to accept connections',
      100,
    );
  } catch (err) {
    server.kill('SIGKILL');
    throw err;
  }
  return {
    port,
    async createDatabase(name: string) {
      if (!/^[a-z][a-z0-9_]{0,40}$/.test(name)) throw new Error('bad database name');
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return `postgres://bulwark@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      if (server.exitCode === null) {
        server.kill('SIGINT'); // fast shutdown
        const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---- Mosquitto ------------------------------------------------------------------------------

/** True when Debian's mosquitto and mosquitto-clients are installed (for the benchmark; tests use needTool). */
export function haveMosquitto(): boolean {
  return (
    (onPath('mosquitto') ?? (existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : undefined)) !== undefined &&
    onPath('mosquitto_pub') !== undefined &&
    onPath('mosquitto_sub') !== undefined
  );
}

function mosquittoBin(): string {
  return onPath('mosquitto') ?? '/usr/sbin/mosquitto';
}

/** A Mosquitto started from a `broker-config` folder. */
export interface TestMosquitto {
  /** The device listener. */
  readonly url: string;
  /** The enrolment listener (birth certificates, the cloud instances and their admin identities). */
  readonly enrolmentUrl: string;
  readonly port: number;
  readonly config: Pick<WrittenBrokerConfig, 'confFile'> & { settings: { port: number } };
  readonly pid: number | undefined;
  /** The pid file Mosquitto writes (`pid_file`), when the configuration was written here. */
  readonly pidFile: string | undefined;
  /** Kills it with `signal` and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port with the same persistence folder. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

/**
 * Writes a broker configuration with the same code as `bulwark cloud broker-config` (or uses
 * `written`): revocation included (CRL, dynamic-security plugin, admin identities, pid file in `dir`),
 * and starts Mosquitto on it as an unprivileged user (`mosquitto`, else `nobody`).
 */
export async function startMosquitto(o: {
  factoryDir: string;
  dir: string;
  instances?: string[];
  written?: Pick<WrittenBrokerConfig, 'confFile'> & { settings: { port: number; enrolmentPort?: number } };
}): Promise<TestMosquitto> {
  const root = process.getuid?.() === 0;
  const user = root ? (systemUser('mosquitto') ?? systemUser('nobody')) : undefined;
  let config:
    (Pick<WrittenBrokerConfig, 'confFile'> & { settings: { port: number; enrolmentPort?: number } }) | undefined =
    o.written;
  let pidFile: string | undefined;
  if (!config) {
    const issuer = await factoryIssuer(o.factoryDir);
    const caKeyPem = await readFile(join(o.factoryDir, 'ca', 'ca-key.pem'), 'utf8');
    pidFile = join(o.dir, 'mosquitto.pid');
    config = await writeBrokerConfig({
      outDir: o.dir,
      caCertPem: issuer.caCertPem,
      server: await issuer.issueServer(['localhost']),
      ca: await loadCaSigner(issuer.caCertPem, caKeyPem),
      settings: {
        port: await freePort(),
        enrolmentPort: await freePort(),
        instances: o.instances ?? ['1', '2'],
        pidFile,
        ...(user ? { user: systemUser('mosquitto') ? 'mosquitto' : 'nobody' } : {}),
      },
    });
  }
  const c = config;
  if (user) {
    // Mosquitto reads its files as that user: let it through the temporary parents.
    for (let p = o.dir; p.length > tmpdir().length && p.startsWith(tmpdir()); p = join(p, '..'))
      await chmod(p, 0o711).catch(() => undefined);
    await chownTree(o.dir, user.uid, user.gid);
  }
  let proc: ChildProcess | undefined;
  let text = '';
  const start = async (): Promise<void> => {
    proc = spawn(mosquittoBin(), ['-c', c.confFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    proc.stderr!.on('data', (b: Buffer) => {
      text += b.toString();
      if (text.length > 200_000) text = text.slice(-100_000);
    });
    const p = proc;
    await waitFor(
      async () => {
        if (p.exitCode !== null) throw new Error(`mosquitto exited ${p.exitCode}: ${text.slice(-2000)}`);
        return new Promise<boolean>((resolve) => {
          const s = new Socket();
          s.once('connect', () => {
            s.destroy();
            resolve(true);
          });
          s.once('error', () => resolve(false));
          s.connect(c.settings.port, '127.0.0.1');
        });
      },
      15_000,
      'mosquitto to listen',
      50,
    );
  };
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill(signal);
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    url: `mqtts://127.0.0.1:${c.settings.port}`,
    enrolmentUrl: `mqtts://127.0.0.1:${c.settings.enrolmentPort ?? c.settings.port + 1}`,
    port: c.settings.port,
    config: c,
    get pid() {
      return proc?.pid;
    },
    pidFile,
    kill,
    restart: start,
    async stop() {
      await kill('SIGTERM');
    },
    log: () => text,
  };
}

// ---- device MQTT sessions --------------------------------------------------------------------

/**
 * An mqtt.js session that must be accepted (MQTT 3.1.1, no reconnect): resolves on CONNACK, rejects
 * when refused or closed first. The client goes into `track`, for the test's after() to end.
 */
export function connectAccepted(
  url: string,
  o: { ca: string; cert: string; key: string; clientId: string },
  track: MqttClient[],
): Promise<MqttClient> {
  const client = mqtt.connect(url, { ...o, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000 });
  track.push(client);
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

// ---- device MQTT options ----------------------------------------------------------------------

/** mqtt.js options for a unit's certificate (client id = serial unless given). */
export async function deviceMqttOptions(
  unit: ProvisionedUnit,
  clientId = unit.serial,
): Promise<{
  ca: string;
  cert: string;
  key: string;
  clientId: string;
  protocolVersion: 4;
  reconnectPeriod: 0;
  connectTimeout: number;
}> {
  const file = (n: string): Promise<string> => readFile(join(unit.dir, n), 'utf8');
  return {
    ca: await file('ca-cert.pem'),
    cert: await file('device-cert.pem'),
    key: await file('device-key.pem'),
    clientId,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  };
}

/**
 * An operational certificate for `serial` from the cloud's own issuing CA, as enrolment would give the unit
 * (a fresh key, a CSR, issued and recorded): what a device connects with once birth certificates only enrol.
 * `caPem` is the manufacturer CA, which the device checks the broker against.
 */
export async function operationalCertificate(
  cloud: Pick<CloudService, 'identities' | 'credentials'>,
  serial: string,
): Promise<{ certPem: string; keyPem: string; caPem: string }> {
  const request = await createCertificateRequest(serial);
  const issued = await cloud.identities.authority.issue(serial, request.csrPem, 'first');
  return { certPem: issued.certPem, keyPem: request.privateKeyPem, caPem: cloud.credentials.caCertPem };
}

/** The identity a CloudLink needs, from a unit bundle. */
export async function linkIdentity(
  unit: ProvisionedUnit,
): Promise<{ serial: string; caCertPem: string; deviceCertPem: string; deviceKeyPem: string }> {
  const file = (n: string): Promise<string> => readFile(join(unit.dir, n), 'utf8');
  return {
    serial: unit.serial,
    caCertPem: await file('ca-cert.pem'),
    deviceCertPem: await file('device-cert.pem'),
    deviceKeyPem: await file('device-key.pem'),
  };
}

// ---- owner API client -------------------------------------------------------------------------

/** One answer. */
export interface ApiAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly json: { error?: { code: string; message: string }; [k: string]: unknown };
}

/** A client of the owner API: bearer token, or cookies with the CSRF token like a browser. */
export class ApiClient {
  readonly base: URL;
  readonly ca: string;
  token: string | undefined;
  csrf: string | undefined;
  readonly cookies = new Map<string, string>();
  readonly localAddress: string | undefined;

  /** `localAddress` sends from another loopback address (127.0.0.2, ...), as another source. */
  constructor(url: string, caCertPem: string, localAddress?: string) {
    this.base = new URL(url);
    this.ca = caCertPem;
    this.localAddress = localAddress;
  }

  send(
    method: string,
    path: string,
    o: {
      json?: unknown;
      form?: Record<string, string>;
      raw?: string;
      headers?: Record<string, string>;
      bearer?: boolean;
      origin?: string | false;
    } = {},
  ): Promise<ApiAnswer> {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    let body: Buffer | undefined;
    if (o.json !== undefined) {
      body = Buffer.from(JSON.stringify(o.json));
      headers['content-type'] = 'application/json';
    }
    if (o.form) {
      body = Buffer.from(new URLSearchParams(o.form).toString());
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    if (o.raw !== undefined) body = Buffer.from(o.raw);
    if (o.bearer !== false && this.token) headers.authorization ??= `Bearer ${this.token}`;
    if (this.cookies.size) headers.cookie ??= [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (o.origin) headers.origin = o.origin;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          method,
          host: this.base.hostname,
          port: this.base.port,
          path,
          headers,
          ca: this.ca,
          servername: 'localhost',
          agent: false,
          ...(this.localAddress ? { localAddress: this.localAddress } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
              const [pair] = c.split(';');
              const eq = pair!.indexOf('=');
              const name = pair!.slice(0, eq),
                value = pair!.slice(eq + 1);
              if (/Max-Age=0/i.test(c) || value === '') this.cookies.delete(name);
              else this.cookies.set(name, value);
            }
            const text = Buffer.concat(chunks).toString('utf8');
            let json = {};
            try {
              json = text ? (JSON.parse(text) as object) : {};
            } catch {
              json = {};
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: json });
          });
        },
      );
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error('request timed out')));
      req.end(body);
    });
  }

  /** Registers and keeps the token. */
  async register(email: string, password: string): Promise<ApiAnswer> {
    const a = await this.send('POST', '/v1/accounts', { json: { email, password } });
    if (a.status === 201) {
      this.token = a.json.token as string;
      this.csrf = a.json.csrfToken as string;
    }
    return a;
  }

  /** Logs in and keeps the token. */
  async login(email: string, password: string): Promise<ApiAnswer> {
    const a = await this.send('POST', '/v1/sessions', { json: { email, password } });
    if (a.status === 200) {
      this.token = a.json.token as string;
      this.csrf = a.json.csrfToken as string;
    }
    return a;
  }

  /**
   * Signs up, confirms the address with the link mailed to the cloud's maildir, and logs in: the
   * login's answer (200), or the sign-up's when it was refused.
   */
  async signUp(maildir: string, email: string, password: string): Promise<ApiAnswer> {
    const a = await this.send('POST', '/v1/accounts', { json: { email, password } });
    if (a.status !== 202) return a;
    const mail = await waitForMail(maildir, email.toLowerCase(), /\/verify\?token=/);
    const token = /\/verify\?token=([A-Za-z0-9._%-]+)/.exec(mail.text)![1]!;
    const confirmed = await this.send('POST', '/v1/accounts/verify', { json: { token: decodeURIComponent(token) } });
    if (confirmed.status !== 200) return confirmed;
    return this.login(email, password);
  }

  claim(serial: string, claimCode?: string): Promise<ApiAnswer> {
    return this.send('POST', '/v1/claims', { json: { serial, ...(claimCode !== undefined ? { claimCode } : {}) } });
  }
}

/** One message of a maildir, parsed. */
export interface ReceivedMail {
  readonly file: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** Every message delivered to the maildir `dir` (new/ and cur/), oldest first. */
export async function readMaildir(dir: string): Promise<ReceivedMail[]> {
  const out: ReceivedMail[] = [];
  for (const sub of ['new', 'cur']) {
    const names = await readdir(join(dir, sub)).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const parsed = await simpleParser(await readFile(join(dir, sub, name)));
      const to = Array.isArray(parsed.to) ? parsed.to[0]?.text : parsed.to?.text;
      out.push({ file: name, to: to ?? '', subject: parsed.subject ?? '', text: parsed.text ?? '' });
    }
  }
  return out;
}

/** Waits (10 s at most) for a message to `to` whose text matches `body`; the newest such one. */
export async function waitForMail(dir: string, to: string, body: RegExp): Promise<ReceivedMail> {
  const mail = await waitFor(
    async () => (await readMaildir(dir)).filter((m) => m.to === to && body.test(m.text)).at(-1),
    10_000,
    `a message to ${to} matching ${body}`,
  );
  return mail!;
}

/** A message the test SMTP server accepted, and whether its session had switched to TLS first. */
export interface SmtpReceived extends ReceivedMail {
  readonly overTls: boolean;
}

/** A real SMTP server (smtp-server) on loopback offering STARTTLS with a certificate made now by a test CA. */
export interface TestSmtp {
  readonly port: number;
  /** The CA the server's certificate chains to (the cloud's `mail.smtp.caPem`). */
  readonly caPem: string;
  readonly received: SmtpReceived[];
  /** Waits (10 s at most) for a message to `to` whose text matches `body`; the newest such one. */
  waitFor(to: string, body: RegExp): Promise<SmtpReceived>;
  close(): Promise<void>;
}

/** Starts a {@link TestSmtp}. */
export async function startTestSmtp(): Promise<TestSmtp> {
  const { SMTPServer } = await import('smtp-server');
  const { createTestCa, certificateIssuer } = await import('../../src/cloud/index.ts');
  const ca = await createTestCa('Test SMTP CA');
  const server = await (await certificateIssuer(ca.certPem, ca.keyPem)).issueServer(['localhost']);
  const received: SmtpReceived[] = [];
  const smtp = new SMTPServer({
    key: server.keyPem,
    cert: server.certPem,
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: false,
    onData(stream, session, done) {
      simpleParser(stream)
        .then((m) => {
          const to = Array.isArray(m.to) ? m.to[0]?.text : m.to?.text;
          const file = m.messageId ?? String(received.length);
          received.push({ file, to: to ?? '', subject: m.subject ?? '', text: m.text ?? '', overTls: session.secure });
          done();
        })
        .catch((err: Error) => done(err));
    },
  });
  const port = await new Promise<number>((resolve) =>
    smtp.listen(0, '127.0.0.1', () => resolve((smtp.server.address() as AddressInfo).port)),
  );
  return {
    port,
    caPem: ca.certPem,
    received,
    waitFor: async (to, body) =>
      (await waitFor(() => received.filter((m) => m.to === to && body.test(m.text)).at(-1), 10_000, `mail to ${to}`))!,
    close: () => new Promise((resolve) => smtp.close(() => resolve())),
  };
}
