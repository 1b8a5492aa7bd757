/**
 * A small client of the owner API (`/v1`), as a companion app or a script would use it: HTTPS
 * that trusts only the given CA, a bearer token after register or login, JSON both ways, every
 * request bounded in time and size. Answers are returned, not thrown, so a caller can show a
 * refusal (a claim by serial alone, a wrong code) as plainly as a success.
 *
 * @example
 * const owner = new OwnerApiClient(cloud.api.url, cloud.credentials.caCertPem);
 * await owner.register('me@example.com', 'marble falcon tundra 42 softly'); // 202: a link is mailed
 * await owner.confirmAddress(tokenFromTheMail);
 * await owner.login('me@example.com', 'marble falcon tundra 42 softly');
 * const refused = await owner.claim(serial);             // 400: the serial alone is never enough
 * const claimed = await owner.claim(serial, claimCode);  // 201 while the device's claim window is open
 * await owner.command(serial, 'power', 'on');
 */
import { request } from 'node:https';
import { CloudError } from './errors.ts';

/** One answer of the API. */
export interface OwnerApiAnswer<T = Record<string, unknown>> {
  readonly status: number;
  /** The parsed body on success. */
  readonly body: T;
  /** The error's stable code and message on refusal. */
  readonly error?: { readonly code: string; readonly message: string };
}

/** The owner API client. */
export class OwnerApiClient {
  readonly #base: URL;
  readonly #ca: string;
  readonly #timeoutMs: number;
  #token: string | undefined;

  /** `baseUrl`: the API's https URL; `caCertPem`: the only CA trusted for it (the manufacturer CA). */
  constructor(baseUrl: string, caCertPem: string, options: { timeoutMs?: number } = {}) {
    this.#base = new URL(baseUrl);
    if (this.#base.protocol !== 'https:') throw new CloudError('API_URL_INVALID', 'the owner API is https only');
    this.#ca = caCertPem;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** True after a successful register or login. */
  get loggedIn(): boolean {
    return this.#token !== undefined;
  }

  /** Sends one request; GET when `body` is undefined. */
  send<T = Record<string, unknown>>(method: 'GET' | 'POST', path: string, body?: object): Promise<OwnerApiAnswer<T>> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...(data ? { 'content-type': 'application/json' } : {}),
      ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
    };
    return new Promise((resolve, reject) => {
      const req = request(
        {
          method,
          host: this.#base.hostname,
          port: this.#base.port,
          path,
          headers,
          ca: this.#ca,
          servername: this.#base.hostname.match(/^[\d.]+$|:/) ? 'localhost' : this.#base.hostname,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > 1_048_576) req.destroy(new CloudError('API_ANSWER_TOO_LARGE', 'answer over 1 MiB'));
            else chunks.push(c);
          });
          res.on('end', () => {
            let parsed: unknown = {};
            try {
              parsed = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
            } catch {
              parsed = {};
            }
            const status = res.statusCode ?? 0;
            const error = (parsed as { error?: { code: string; message: string } }).error;
            resolve({ status, body: parsed as T, ...(status >= 400 && error ? { error } : {}) });
          });
        },
      );
      req.on('error', reject);
      req.setTimeout(this.#timeoutMs, () =>
        req.destroy(new CloudError('API_TIMEOUT', 'the owner API did not answer in time')),
      );
      req.end(data);
    });
  }

  /**
   * Signs up: 202 whether or not the address had an account (a link to confirm it is mailed); log in
   * afterwards. The account claims devices once the address is confirmed ({@link confirmAddress}).
   */
  register(email: string, password: string): Promise<OwnerApiAnswer<{ ok: boolean; message: string }>> {
    return this.send('POST', '/v1/accounts', { email, password });
  }

  /** Confirms an address with the token of the mailed link (`.../verify?token=<token>`). */
  confirmAddress(token: string): Promise<OwnerApiAnswer<{ ok: boolean }>> {
    return this.send('POST', '/v1/accounts/verify', { token });
  }

  /** Logs in. */
  async login(email: string, password: string): Promise<OwnerApiAnswer<{ token: string }>> {
    const a = await this.send<{ token: string }>('POST', '/v1/sessions', { email, password });
    if (a.status === 200) this.#token = a.body.token;
    return a;
  }

  /** Claims a device: needs the claim code from its label and its claim window open (its button). */
  claim(serial: string, claimCode?: string): Promise<OwnerApiAnswer<{ device: Record<string, unknown> }>> {
    return this.send('POST', '/v1/claims', { serial, ...(claimCode !== undefined ? { claimCode } : {}) });
  }

  /** Lists the account's devices. */
  devices(): Promise<OwnerApiAnswer<{ devices: Array<Record<string, unknown>> }>> {
    return this.send('GET', '/v1/devices');
  }

  /** Reads one of the account's devices. */
  device(serial: string): Promise<OwnerApiAnswer<{ device: Record<string, unknown> }>> {
    return this.send('GET', `/v1/devices/${encodeURIComponent(serial)}`);
  }

  /** Reads the device's latest telemetry, at most `limit` readings. */
  telemetry(
    serial: string,
    limit = 100,
  ): Promise<
    OwnerApiAnswer<{
      telemetry: Array<{ seq: number; at: string; receivedAt: string; values: Record<string, unknown> }>;
    }>
  > {
    return this.send('GET', `/v1/devices/${encodeURIComponent(serial)}/telemetry?limit=${limit}`);
  }

  /** Sends a command and waits for the device's reply (status 'done' or 'failed'). */
  command(
    serial: string,
    capability: string,
    action: string,
    value?: number | boolean,
  ): Promise<
    OwnerApiAnswer<{
      command: { id: string; status: string; value?: unknown; error?: { code: string; message: string } };
    }>
  > {
    return this.send('POST', `/v1/devices/${encodeURIComponent(serial)}/commands`, {
      capability,
      action,
      ...(value !== undefined ? { value } : {}),
    });
  }

  /** Lets the device go: it is no longer the account's, and its telemetry is erased. */
  release(serial: string): Promise<OwnerApiAnswer> {
    return this.send('POST', `/v1/devices/${encodeURIComponent(serial)}/release`, {});
  }

  /** Deletes the account and all its data (needs the password again). */
  async deleteAccount(password: string): Promise<OwnerApiAnswer> {
    const a = await this.send('POST', '/v1/me/delete', { password });
    if (a.status === 200) this.#token = undefined;
    return a;
  }
}
