/**
 * The device's downloader, given to tuf-js as its Fetcher: every request is confined to the
 * repository's base URL, follows no redirect, stops at the length the metadata allows (an
 * endless or oversized answer is cut at the signed length), and is bounded in time twice: the
 * server must send something at least every `idleTimeoutMs`, and the whole file must arrive
 * before its deadline (a slow server is cut off).
 */
import { request as httpRequest, type IncomingMessage, type ClientRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { open, unlink, rename } from 'node:fs/promises';
import { writeAll } from '../storage/index.ts';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Fetcher } from 'tuf-js';
import type * as TufErrorModule from 'tuf-js/dist/error.js';
import { UpdateRefusedError } from './errors.ts';
import { floorTlsConnection } from './tls-at-floor.ts';
import type { DeviceUpdateConfig } from './config.ts';

type TufErrors = typeof TufErrorModule;
let tufErrors: Promise<TufErrors> | undefined;
function loadTufErrors(): Promise<TufErrors> {
  // tuf-js tells "no newer root" from a failure by its own DownloadHTTPError class, which its index does not export.
  // A CommonJS module's `default` is its exports, under Node and in a bundled image alike.
  tufErrors ??= import('tuf-js/dist/error.js').then((m) => m.default as TufErrors);
  return tufErrors;
}

/** What {@link receiveBody} needs from the download it serves. */
interface BodyReceiver {
  readonly role: string;
  readonly maxLength: number;
  readonly onChunk: (chunk: Buffer) => Promise<void> | void;
  readonly finish: (err?: Error) => void;
  readonly isSettled: () => boolean;
  /** Adds `bytes` to the count received and returns the new total. */
  readonly count: (bytes: number) => number;
  /** The error for a status other than 200 (tuf-js's own class, so it can tell a missing root). */
  readonly notFound: (status: number) => Error;
}

/** Streams a response into `onChunk`: 200 only, bounded by `maxLength` (announced or received). */
function receiveBody(r: IncomingMessage, o: BodyReceiver): void {
  const { role, maxLength, finish } = o;
  const status = r.statusCode ?? 0;
  if (status !== 200) {
    r.resume();
    finish(o.notFound(status));
    return;
  }
  const declared = Number(r.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxLength) {
    finish(
      new UpdateRefusedError(
        'UPDATE_TOO_LARGE',
        `${role}: the server announced ${declared} bytes, more than the ${maxLength} allowed`,
        { role },
      ),
    );
    return;
  }
  r.on('data', (chunk: Buffer) => {
    if (o.isSettled()) return;
    if (o.count(chunk.length) > maxLength) {
      finish(
        new UpdateRefusedError(
          'UPDATE_TOO_LARGE',
          `${role}: the download went past the ${maxLength} bytes allowed; stopped`,
          {
            role,
          },
        ),
      );
      return;
    }
    const pending = o.onChunk(chunk);
    if (pending) {
      r.pause();
      pending.then(
        () => {
          if (!o.isSettled()) r.resume();
        },
        (e: unknown) => finish(e instanceof Error ? e : new Error(String(e))),
      );
    }
  });
  r.on('end', () => finish());
  r.on('error', (e) =>
    finish(
      new UpdateRefusedError(
        'UPDATE_UNREACHABLE',
        `${role}: connection lost (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        { role },
      ),
    ),
  );
  r.on('aborted', () => finish(new UpdateRefusedError('UPDATE_UNREACHABLE', `${role}: connection lost`, { role })));
}

/** What a file is, judged from its URL: a metadata role or an image. */
export function roleOfUrl(url: string): string {
  const m = /\/(?:\d+\.)?(root|timestamp|snapshot|targets)\.json$/.exec(url);
  return m ? m[1]! : 'image';
}

/** Settings of a {@link BoundedFetcher}. */
export interface BoundedFetcherOptions {
  /** The repository base URL; nothing outside it is fetched. */
  readonly baseUrl: string;
  /** Where downloads in progress are written (the state folder, never a RAM-backed /tmp). */
  readonly tmpDir: string;
  readonly config: Pick<
    DeviceUpdateConfig,
    'idleTimeoutMs' | 'metadataDeadlineMs' | 'downloadDeadlineBaseMs' | 'minDownloadBytesPerSecond' | 'tlsTrust'
  >;
  /** PEM of the manufacturer CA, pinned for https when tlsTrust is 'manufacturer-ca'. */
  readonly caCertPem?: string;
  /**
   * The unit's clock floor, ms, set only while the wall clock is below it: with the pinned manufacturer CA,
   * the server's certificate is then verified at the floor (tls-at-floor.ts) rather than at the wall clock.
   */
  readonly certificateTimeAt?: number;
}

/** A tuf-js Fetcher with the device's bounds. */
export class BoundedFetcher implements Fetcher {
  readonly #o: BoundedFetcherOptions;
  /**
   * Why the most recent download failed (undefined when it succeeded): tuf-js rewraps some
   * errors, this keeps the cause.
   */
  lastFailure: UpdateRefusedError | undefined;
  /** The role of the most recent download. */
  lastRole: string | undefined;
  #abortCurrent: ((err: UpdateRefusedError) => void) | undefined;
  #aborted = false;

  constructor(o: BoundedFetcherOptions) {
    this.#o = o;
  }

  /** Ends the download in progress (and refuses any later one): the agent is stopping. */
  abort(): void {
    this.#aborted = true;
    this.#abortCurrent?.(
      new UpdateRefusedError('UPDATE_UNREACHABLE', 'the download was stopped: the device is shutting down'),
    );
  }

  #fail(err: UpdateRefusedError): never {
    this.lastFailure = err;
    throw err;
  }

  /** The GET for `target`: no keep-alive agent; over https, TLS 1.2 at least and the configured trust. */
  #requestOptions(target: URL): RequestOptions {
    const https = target.protocol === 'https:';
    const cfg = this.#o.config;
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const request = {
      method: 'GET',
      host,
      port: target.port || (https ? 443 : 80),
      path: target.pathname,
      headers: { 'user-agent': 'bulwark-updater/1', accept: '*/*' },
    };
    const pinned = cfg.tlsTrust === 'manufacturer-ca' ? this.#o.caCertPem : undefined;
    const at = this.#o.certificateTimeAt;
    if (https && pinned && at !== undefined) {
      const tls = { host, port: Number(request.port), servername: target.hostname, caPem: pinned, at };
      // No agent: the request takes the socket verified at the floor, and closes it afterwards.
      return {
        ...request,
        headers: { ...request.headers, connection: 'close' },
        createConnection: floorTlsConnection(tls),
      };
    }
    return {
      ...request,
      agent: false as const,
      ...(https
        ? { minVersion: 'TLSv1.2' as const, servername: target.hostname, ...(pinned ? { ca: pinned } : {}) }
        : {}),
    };
  }

  /** Keeps an HTTP refusal as the last failure; a missing next root is how TUF learns it has the newest. */
  #noteHttpFailure(role: string, status: number): void {
    if (role === 'root' && (status === 404 || status === 403)) return;
    this.lastFailure = new UpdateRefusedError('UPDATE_UNREACHABLE', `${role}: the repository answered HTTP ${status}`, {
      role,
      status,
    });
  }

  /**
   * Downloads `url`, handing each chunk to `onChunk` (awaited: back-pressure), refusing more
   * than `maxLength` bytes and anything slower than the deadline.
   */
  async #get(
    url: string,
    maxLength: number,
    deadlineMs: number,
    onChunk: (chunk: Buffer) => Promise<void> | void,
  ): Promise<number> {
    const role = roleOfUrl(url);
    this.lastRole = role;
    this.lastFailure = undefined;
    const base = this.#o.baseUrl.replace(/\/+$/, '') + '/';
    if (!url.startsWith(base))
      this.#fail(
        new UpdateRefusedError('UPDATE_UNREACHABLE', `refused to fetch outside the repository: ${url.slice(0, 80)}`),
      );
    if (this.#aborted)
      this.#fail(new UpdateRefusedError('UPDATE_UNREACHABLE', 'the download was stopped: the device is shutting down'));
    const { DownloadHTTPError } = await loadTufErrors();
    const target = new URL(url);
    const https = target.protocol === 'https:';
    const cfg = this.#o.config;
    let req: ClientRequest | undefined;
    let res: IncomingMessage | undefined;
    let received = 0;
    try {
      return await new Promise<number>((resolve, reject) => {
        let settled = false;
        const finish = (err?: Error): void => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          if (err) {
            req?.destroy();
            reject(err);
          } else resolve(received);
        };
        const deadline = setTimeout(
          () =>
            finish(new UpdateRefusedError('UPDATE_TIMEOUT', `${role}: not received within ${deadlineMs} ms`, { role })),
          deadlineMs,
        );
        this.#abortCurrent = finish;
        req = (https ? httpsRequest : httpRequest)(this.#requestOptions(target), (r) => {
          res = r;
          receiveBody(r, {
            role,
            maxLength,
            onChunk,
            finish,
            isSettled: () => settled,
            count: (bytes) => (received += bytes),
            notFound: (status) => new DownloadHTTPError(`HTTP ${status} for ${role}`, status),
          });
        });
        req.setTimeout(cfg.idleTimeoutMs, () =>
          finish(
            new UpdateRefusedError('UPDATE_TIMEOUT', `${role}: the server sent nothing for ${cfg.idleTimeoutMs} ms`, {
              role,
            }),
          ),
        );
        req.on('error', (e) =>
          finish(
            // A refusal of the peer verified at the clock floor (tls-at-floor.ts) keeps its reason.
            e instanceof UpdateRefusedError
              ? e
              : new UpdateRefusedError(
                  'UPDATE_UNREACHABLE',
                  `${role}: ${(e as NodeJS.ErrnoException).code ?? 'connection failed'}`,
                  { role },
                ),
          ),
        );
        req.end();
      });
    } catch (err) {
      res?.destroy();
      if (err instanceof UpdateRefusedError) this.#fail(err);
      if (err instanceof DownloadHTTPError) this.#noteHttpFailure(role, err.statusCode);
      throw err;
    }
  }

  /** tuf-js: metadata into memory, bounded by `maxLength` and the metadata deadline. */
  async downloadBytes(url: string, maxLength: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    await this.#get(url, maxLength, this.#o.config.metadataDeadlineMs, (c) => {
      chunks.push(c);
    });
    return Buffer.concat(chunks);
  }

  /** tuf-js: a file into a temporary file in `tmpDir`, removed after `handler`. */
  async downloadFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T> {
    const tmp = join(this.#o.tmpDir, `.${randomBytes(8).toString('hex')}.part`);
    try {
      await this.downloadTo(url, maxLength, tmp);
      return await handler(tmp);
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  /**
   * Downloads an image of `length` bytes to `path` (written as `path.part`, fsynced, renamed),
   * with a deadline of downloadDeadlineBaseMs plus the length at the slowest accepted rate.
   */
  async downloadTo(
    url: string,
    length: number,
    path: string,
    onProgress?: (done: number, total: number) => void,
  ): Promise<void> {
    const cfg = this.#o.config;
    const deadline = cfg.downloadDeadlineBaseMs + Math.ceil((length / cfg.minDownloadBytesPerSecond) * 1000);
    await writeDownload(path, length, (take) => this.#get(url, length, deadline, take), onProgress);
  }
}

/**
 * Writes what `source` hands over into `path.part` (mode 0600, fsynced), then renames it to `path`;
 * on any failure the part is removed. The one writer of downloads, from a network or a folder.
 */
export async function writeDownload(
  path: string,
  length: number,
  source: (take: (chunk: Buffer) => Promise<void>) => Promise<unknown>,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const part = `${path}.part`;
  await unlink(part).catch(() => undefined);
  const out = await open(part, 'wx', 0o600);
  let ok = false;
  try {
    let done = 0;
    await source(async (chunk) => {
      await writeAll(out, chunk);
      done += chunk.length;
      onProgress?.(done, length);
    });
    await out.sync();
    ok = true;
  } finally {
    await out.close();
    if (!ok) await unlink(part).catch(() => undefined);
  }
  await rename(part, path);
}
