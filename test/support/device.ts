// Test support: a factory, provisioned units and running device agents, all made at test time.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { initFactory, provisionUnits, type ProvisionedUnit } from '../../src/identity/index.ts';
import { startDeviceAgent, type DeviceAgent } from '../../src/device/index.ts';

/** A factory and one provisioned unit per requested model. */
export interface TestFleet {
  readonly work: string;
  readonly factoryDir: string;
  readonly units: Record<string, ProvisionedUnit>;
}

/** Provisions one unit of each model in `models` into a new temporary folder. */
export async function makeFleet(models: string[]): Promise<TestFleet> {
  const work = await mkdtemp(join(tmpdir(), 'bulwark-test-'));
  const factoryDir = join(work, 'factory');
  await initFactory(factoryDir);
  const units: Record<string, ProvisionedUnit> = {};
  for (const model of models) {
    const [u] = await provisionUnits({ factoryDir, model, count: 1, outDir: join(work, 'units') });
    units[model] = u!;
  }
  return { work, factoryDir, units };
}

/** Starts an in-process agent for `unit` on a free loopback port. */
export async function startAgent(unit: ProvisionedUnit, stateDir: string, host = '127.0.0.1'): Promise<DeviceAgent> {
  return startDeviceAgent({ bundleDir: unit.dir, stateDir, host, webPort: 0, hubPort: 0, mode: 'development' });
}

/** One HTTP answer. */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A small HTTPS client with a cookie jar that trusts exactly the unit's own certificate. */
export class WebClient {
  readonly base: URL;
  readonly ca: string;
  readonly localAddress: string | undefined;
  readonly cookies = new Map<string, string>();

  private constructor(base: string, ca: string, localAddress?: string) {
    this.base = new URL(base);
    this.ca = ca;
    this.localAddress = localAddress;
  }

  /** A client for the agent at `url`, pinned to the unit's certificate, optionally from another loopback address. */
  static async for(url: string, unit: ProvisionedUnit, localAddress?: string): Promise<WebClient> {
    return new WebClient(url, await readFile(join(unit.dir, 'web-cert.pem'), 'utf8'), localAddress);
  }

  /** Sends a request; `origin: false` leaves the Origin header out. */
  send(
    method: string,
    path: string,
    o: {
      form?: Record<string, string>;
      json?: unknown;
      headers?: Record<string, string>;
      origin?: string | false;
      raw?: Buffer | string;
      cookies?: boolean;
    } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    let body: Buffer | undefined;
    if (o.form) {
      body = Buffer.from(new URLSearchParams(o.form).toString());
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
    }
    if (o.json !== undefined) {
      body = Buffer.from(JSON.stringify(o.json));
      headers['content-type'] ??= 'application/json';
      headers.accept ??= 'application/json';
    }
    if (o.raw !== undefined) body = Buffer.from(o.raw);
    if (o.origin !== false && method !== 'GET') headers.origin ??= o.origin ?? this.base.origin;
    if (o.cookies !== false && this.cookies.size)
      headers.cookie ??= [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const options: RequestOptions = {
      method,
      host: this.base.hostname,
      port: this.base.port,
      path,
      headers,
      ca: this.ca,
      servername: 'localhost',
      ...(this.localAddress ? { localAddress: this.localAddress } : {}),
      agent: false,
    };
    return new Promise((resolve, reject) => {
      const req = httpsRequest(options, (res) => {
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
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.on('error', reject);
      req.setTimeout(20_000, () => req.destroy(new Error('request timed out')));
      req.end(body);
    });
  }

  get(path: string): Promise<Answer> {
    return this.send('GET', path);
  }

  /** The CSRF token embedded in a page's form. */
  static csrfOf(html: string): string {
    const m = /name="csrf" value="([^"]+)"/.exec(html);
    if (!m) throw new Error('no CSRF token in page');
    return m[1]!.replace(/&#(\d+);/g, (_x, n: string) => String.fromCharCode(Number(n)));
  }

  /** Sets the owner's password through the password form (the session must be logged in); returns its answer. */
  async changePassword(current: string, next: string): Promise<Answer> {
    const csrf = WebClient.csrfOf((await this.get('/password')).body);
    const form = { currentPassword: current, newPassword: next, confirmPassword: next, csrf };
    return this.send('POST', '/password', { form });
  }

  /** Logs in through the form as a browser would; returns the login POST's answer. */
  async login(password: string, username = 'admin'): Promise<Answer> {
    const page = await this.get('/login');
    return this.send('POST', '/login', { form: { username, password, csrf: WebClient.csrfOf(page.body) } });
  }
}

/** A client of a device's or the hub's own page, logged in as `name`, with the CSRF token of its home page. */
export async function signedIn(
  url: string,
  unit: ProvisionedUnit,
  name: string,
  password: string,
): Promise<{ c: WebClient; csrf: string }> {
  const c = await WebClient.for(url, unit);
  const r = await c.login(password, name);
  if (r.status !== 303) throw new Error(`${name} did not log in (${r.status}): ${r.body.slice(0, 200)}`);
  const home = await c.get('/');
  if (home.status !== 200) throw new Error(`${name}'s home page answered ${home.status}`);
  return { c, csrf: WebClient.csrfOf(home.body) };
}
