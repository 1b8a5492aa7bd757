/**
 * The demo's stand-in for a person's browser: HTTPS to one device, trusting exactly that unit's
 * certificate, with a cookie jar, fetching forms and their CSRF tokens like a browser does.
 */
import { request } from 'node:https';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** An HTTP answer. */
export interface DemoAnswer {
  readonly status: number;
  readonly body: string;
}

/** What a request adds: form fields, this session's CSRF token, another Origin header. */
interface DemoRequestOptions {
  form?: Record<string, string>;
  csrf?: boolean;
  origin?: string;
}

/** A minimal browser for the demo. */
export class DemoBrowser {
  readonly #url: URL;
  readonly #ca: string;
  readonly #local: string;
  readonly #cookies = new Map<string, string>();
  #csrf = '';

  private constructor(url: string, ca: string, local: string) {
    this.#url = new URL(url);
    this.#ca = ca;
    this.#local = local;
  }

  /** A browser for the device at `url`, pinned to the certificate in the unit bundle. */
  static async open(url: string, bundleDir: string, localAddress: string): Promise<DemoBrowser> {
    return new DemoBrowser(url, await readFile(join(bundleDir, 'web-cert.pem'), 'utf8'), localAddress);
  }

  /** Sends a request; `csrf` adds this session's token, `origin` overrides the Origin header. */
  request(method: string, path: string, o: DemoRequestOptions = {}): Promise<DemoAnswer> {
    const form = { ...(o.form ?? {}), ...(o.csrf ? { csrf: this.#csrf } : {}) };
    const body = method === 'POST' ? new URLSearchParams(form).toString() : undefined;
    const headers: Record<string, string> = { accept: path.startsWith('/api/') ? 'application/json' : 'text/html' };
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.origin = o.origin ?? this.#url.origin;
    }
    if (this.#cookies.size) headers.cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return new Promise((resolve, reject) => {
      const options = {
        method,
        host: this.#url.hostname,
        port: this.#url.port,
        path,
        headers,
        ca: this.#ca,
        servername: 'localhost',
        localAddress: this.#local,
        agent: false,
      };
      const req = request(options, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => {
          for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
            const [pair] = c.split(';');
            const eq = pair!.indexOf('=');
            if (/Max-Age=0/.test(c)) this.#cookies.delete(pair!.slice(0, eq));
            else this.#cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
          }
          const token = /name="csrf" value="([^"]+)"/.exec(text);
          if (token) this.#csrf = token[1]!;
          resolve({ status: res.statusCode ?? 0, body: text });
        });
      });
      req.on('error', reject);
      req.setTimeout(20_000, () => req.destroy(new Error('request timed out')));
      req.end(body);
    });
  }

  /** Fetches the login form and posts the credentials with its token. */
  async login(username: string, password: string): Promise<DemoAnswer> {
    await this.request('GET', '/login');
    const answer = await this.request('POST', '/login', { form: { username, password }, csrf: true });
    if (answer.status === 303) await this.request('GET', '/'); // picks up the session's CSRF token
    return answer;
  }
}
