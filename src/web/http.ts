/**
 * A small HTTP layer over node:https for the device's admin service: a route table that states
 * each route's access (public, setup, session) and CSRF rule up front, bounded body reading,
 * typed error mapping and the security headers on every answer. Fastify was measured first:
 * it alone lifted the agent's idle RSS from 50 to 75 MiB, past the 60 MiB budget of a plug.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { BulwarkError, InvalidInputError } from '../errors/index.ts';
import { writeAll } from '../storage/index.ts';

/** Who may call a route: anyone, anyone while the setup window is open, or a logged-in owner. */
export type RouteAccess = 'public' | 'session';

/** A parsed request as handlers see it. */
export interface WebRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly params: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  readonly cookies: ReadonlyMap<string, string>;
  readonly sourceAddress: string;
  readonly sourcePort: number;
  /** Parsed body fields (form or JSON object of primitives); empty for GET. */
  readonly body: Readonly<Record<string, unknown>>;
  /** True when the client asked for JSON (API routes, fetch). */
  readonly wantsJson: boolean;
  /** On a route with `body: 'file'` only: streams the body into a new file (see {@link saveBodyStream}). */
  readonly saveBody?: (target: BodyFileTarget) => Promise<SavedBody>;
  /** On a session's page: what its last action said ("Power is now on."), left by a redirect's `notice`. */
  readonly notice?: string;
  /** On a session's page: why its last action failed, left by a redirect's `error`. */
  readonly noticeError?: string;
}

/** What a handler returns; the server writes it with the security headers. */
export type WebResponse =
  | {
      readonly kind: 'html';
      readonly status?: number;
      readonly body: string;
      readonly headers?: Record<string, string | string[]>;
    }
  | {
      readonly kind: 'json';
      readonly status?: number;
      readonly body: unknown;
      readonly headers?: Record<string, string | string[]>;
    }
  | {
      readonly kind: 'text';
      readonly status?: number;
      readonly body: string;
      readonly contentType: string;
      readonly headers?: Record<string, string | string[]>;
    }
  | {
      readonly kind: 'redirect';
      readonly location: string;
      readonly headers?: Record<string, string | string[]>;
      /** What the action did, shown once on the session's next page (never put in the URL). */
      readonly notice?: string;
      /** Why the action failed, shown once on the session's next page as an error. */
      readonly error?: string;
    };

/** One route. `path` segments starting with ':' are parameters. */
export interface Route<Ctx> {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly access: RouteAccess;
  /** State-changing routes need the CSRF token and a same-origin Origin header. */
  readonly csrf: boolean;
  /**
   * 'fields' (the default): a form or JSON body, parsed within the limits before the handler runs.
   * 'file': a raw `application/octet-stream` body the handler streams to a file with `req.saveBody`,
   * after the session and the CSRF token (in the `x-csrf-token` header) are checked.
   */
  readonly body?: 'fields' | 'file';
  readonly handler: (req: WebRequest, ctx: Ctx) => Promise<WebResponse> | WebResponse;
}

/** Thrown for HTTP-level refusals with a status and stable code. */
export class HttpError extends BulwarkError {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(code, message);
    this.status = status;
    this.headers = headers;
  }
}

/** Limits on what a request may carry. */
export interface HttpLimits {
  readonly maxBodyBytes: number;
  readonly maxFields: number;
  readonly maxFieldBytes: number;
  readonly maxCookieHeaderBytes: number;
  readonly maxPathBytes: number;
}

/** The defaults: an admin page needs little. */
export const defaultHttpLimits: HttpLimits = {
  maxBodyBytes: 8_192,
  maxFields: 16,
  maxFieldBytes: 1_024,
  maxCookieHeaderBytes: 4_096,
  maxPathBytes: 512,
};

/** Parses a Cookie header; malformed pairs are ignored, the first of a repeated name wins. */
export function parseCookies(header: string | undefined, limits: HttpLimits = defaultHttpLimits): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header || header.length > limits.maxCookieHeaderBytes) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 1) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name) || cookies.has(name)) continue;
    if (/^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/.test(value)) cookies.set(name, value);
  }
  return cookies;
}

/**
 * A `__Host-` cookie: Secure, HttpOnly, SameSite=Strict, Path=/ and no Domain, so no subdomain or plain-HTTP page can
 * set or read it.
 */
export function hostCookie(name: string, value: string, maxAgeSeconds?: number): string {
  if (!name.startsWith('__Host-')) throw new Error('cookie name must start with __Host-');
  const age = maxAgeSeconds === undefined ? '' : `; Max-Age=${maxAgeSeconds}`;
  return `${name}=${value}; Path=/; Secure; HttpOnly; SameSite=Strict${age}`;
}

function bodyTooLarge(maxBytes: number): HttpError {
  return new HttpError(413, 'BODY_TOO_LARGE', `request body over ${maxBytes} bytes`);
}

/** Refuses (413) a Content-Length that is malformed or over `maxBytes`, before any byte is read. */
function checkDeclaredLength(declaredLength: string | undefined, maxBytes: number): void {
  if (declaredLength !== undefined && (!/^\d{1,15}$/.test(declaredLength) || Number(declaredLength) > maxBytes)) {
    throw bodyTooLarge(maxBytes);
  }
}

/**
 * The one loop that reads every request body: hands each chunk to `take` and refuses (413) once
 * more than `maxBytes` arrived. A stream that fails (the client hung up) is a 400 REQUEST_ABORTED;
 * an error of `take` itself (a full disk) passes through as it is. Returns the body's size.
 */
async function consumeBody(
  stream: AsyncIterable<Buffer> | Iterable<Buffer>,
  maxBytes: number,
  take: (chunk: Buffer) => void | Promise<void>,
): Promise<number> {
  let size = 0;
  let taking = false;
  try {
    for await (const chunk of stream) {
      size += chunk.length;
      if (size > maxBytes) throw bodyTooLarge(maxBytes);
      taking = true;
      await take(chunk);
      taking = false;
    }
  } catch (err) {
    if (err instanceof HttpError || taking) throw err;
    throw new HttpError(400, 'REQUEST_ABORTED', 'the request body did not arrive whole');
  }
  return size;
}

/**
 * Reads a request body from a stream, refusing (413) a declared or actual size over the limit
 * before buffering more than the limit.
 */
export async function readBodyStream(
  stream: AsyncIterable<Buffer> | Iterable<Buffer>,
  declaredLength: string | undefined,
  limits: HttpLimits,
): Promise<Buffer> {
  checkDeclaredLength(declaredLength, limits.maxBodyBytes);
  const chunks: Buffer[] = [];
  await consumeBody(stream, limits.maxBodyBytes, (chunk) => {
    chunks.push(chunk);
  });
  return Buffer.concat(chunks);
}

/** Where a streamed body is written, and how large it may be. */
export interface BodyFileTarget {
  /** The folder the file is made in (created 0700 when missing). */
  readonly dir: string;
  /** The largest body accepted, bytes: a larger declared or actual size is refused (413). */
  readonly maxBytes: number;
}

/** A body written to a file: the caller owns the file and removes it. */
export interface SavedBody {
  readonly path: string;
  readonly bytes: number;
}

/** The name pattern of the files {@link saveBodyStream} makes (so a folder's leftovers can be found). */
export const SAVED_BODY_NAME = /^[0-9a-f]{32}\.body$/;

/**
 * Streams a request body into a new file in `target.dir` (random name, mode 0600, created with
 * 'wx'), never holding more than one chunk in memory. A declared or actual size over
 * `target.maxBytes` is refused (413); on any failure the partial file is removed.
 *
 * @example
 * const { path, bytes } = await saveBodyStream(req, req.headers['content-length'], { dir, maxBytes: 64 << 20 });
 */
export async function saveBodyStream(
  stream: AsyncIterable<Buffer> | Iterable<Buffer>,
  declaredLength: string | undefined,
  target: BodyFileTarget,
): Promise<SavedBody> {
  checkDeclaredLength(declaredLength, target.maxBytes);
  await mkdir(target.dir, { recursive: true, mode: 0o700 });
  const path = join(target.dir, `${randomBytes(16).toString('hex')}.body`);
  const file = await open(path, 'wx', 0o600);
  try {
    const bytes = await consumeBody(stream, target.maxBytes, async (chunk) => {
      await writeAll(file, chunk);
    });
    await file.close();
    return { path, bytes };
  } catch (err) {
    await file.close().catch(() => undefined);
    await rm(path, { force: true });
    throw err;
  }
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function checkFields(entries: Array<[string, unknown]>, limits: HttpLimits): Record<string, unknown> {
  if (entries.length > limits.maxFields) throw new InvalidInputError('too many fields');
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of entries) {
    if (FORBIDDEN_KEYS.has(k) || k.length > 64) throw new InvalidInputError('bad field name');
    if (typeof v === 'string' && Buffer.byteLength(v) > limits.maxFieldBytes)
      throw new InvalidInputError(`field ${k} too long`);
    if (v !== null && typeof v === 'object') throw new InvalidInputError(`field ${k} must be a primitive`);
    if (k in out) throw new InvalidInputError(`field ${k} repeated`);
    out[k] = v;
  }
  return out;
}

/** Parses a form or JSON body into a flat object of primitives; anything else is a typed 4xx. */
export function parseBody(
  raw: Buffer,
  contentType: string | undefined,
  limits: HttpLimits = defaultHttpLimits,
): Record<string, unknown> {
  if (raw.length > limits.maxBodyBytes) throw bodyTooLarge(limits.maxBodyBytes);
  if (raw.length === 0) return Object.create(null) as Record<string, unknown>;
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const text = raw.toString('utf8');
  if (!text.isWellFormed() || text.includes('\uFFFD')) throw new InvalidInputError('body is not valid UTF-8');
  if (type === 'application/x-www-form-urlencoded') {
    return checkFields([...new URLSearchParams(text).entries()], limits);
  }
  if (type === 'application/json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new InvalidInputError('body is not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidInputError('JSON body must be an object');
    }
    return checkFields(Object.entries(value), limits);
  }
  throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'use application/x-www-form-urlencoded or application/json');
}

/** A required string field of a request body, at most `max` characters; else a typed 400 naming it. */
export function requiredField(value: unknown, name: string, max = 256): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new InvalidInputError(`field ${name} is missing or too long`, { field: name });
  }
  return value;
}

/** A route table; matching is exact on method and segment count. */
export class Router<Ctx> {
  readonly #routes: Route<Ctx>[] = [];

  /** Adds a route. */
  add(route: Route<Ctx>): this {
    this.#routes.push(route);
    return this;
  }

  /** Every registered route (tests enumerate it so no route escapes the access checks). */
  list(): ReadonlyArray<Pick<Route<Ctx>, 'method' | 'path' | 'access' | 'csrf'>> {
    return this.#routes.map(({ method, path, access, csrf }) => ({ method, path, access, csrf }));
  }

  /** Finds the route for a method and path, with its parameters; `allowed` lists methods that match the path. */
  match(method: string, path: string): { route?: Route<Ctx>; params: Record<string, string>; pathKnown: boolean } {
    const parts = path.split('/');
    let pathKnown = false;
    for (const route of this.#routes) {
      const pattern = route.path.split('/');
      if (pattern.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < pattern.length && ok; i++) {
        const p = pattern[i]!,
          v = parts[i]!;
        if (p.startsWith(':')) {
          if (!/^[A-Za-z0-9._-]{1,64}$/.test(v)) ok = false;
          else params[p.slice(1)] = v;
        } else if (p !== v) ok = false;
      }
      if (!ok) continue;
      pathKnown = true;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params, pathKnown };
    }
    return { params: {}, pathKnown };
  }

  /** The route for a method and path; 404 for an unknown path, 405 with `Allow` for a known path. */
  resolve(method: string, path: string): { route: Route<Ctx>; params: Record<string, string> } {
    const { route, params, pathKnown } = this.match(method, path);
    if (route) return { route, params };
    if (!pathKnown) throw new HttpError(404, 'NOT_FOUND', 'not found');
    const allowed = new Set<string>();
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']) if (this.match(m, path).route) allowed.add(m);
    throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'method not allowed', { allow: [...allowed].join(', ') });
  }
}

/**
 * The same-origin rule of every state change, on every surface. A browser's `Sec-Fetch-Site`
 * (which a page cannot forge) must say same-origin when present; the Origin must be this host,
 * or `null` only when Sec-Fetch-Site vouches for it (a form posted under `no-referrer`).
 * `allowNonBrowser` lets a request carrying neither header through (an app with a bearer
 * session, which no browser sends by itself); the caller must then require another proof.
 */
export function checkSameOrigin(req: Pick<WebRequest, 'headers'>, options: { allowNonBrowser?: boolean } = {}): void {
  const origin = req.headers.origin;
  const fetchSite = req.headers['sec-fetch-site'];
  if (fetchSite !== undefined && fetchSite !== 'same-origin') {
    throw new HttpError(403, 'CSRF_ORIGIN_MISMATCH', 'cross-origin request refused');
  }
  if (origin === undefined && fetchSite === undefined && options.allowNonBrowser === true) return;
  const sameOrigin =
    origin === `https://${req.headers.host ?? ''}` || (origin === 'null' && fetchSite === 'same-origin');
  if (!sameOrigin) throw new HttpError(403, 'CSRF_ORIGIN_MISMATCH', 'cross-origin request refused');
}

/** The Content-Security-Policy of every page: our own scripts and styles only, no framing. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Headers on every response, errors included. */
export function securityHeaders(): Record<string, string> {
  return {
    'strict-transport-security': 'max-age=31536000',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=()',
    'cache-control': 'no-store',
  };
}

/** An answer ready for the wire: status, headers (the security set included) and body bytes. */
export interface RenderedResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer;
}

/** Renders a WebResponse with the security headers; `head` drops the body but keeps its length. */
export function renderResponse(r: WebResponse, head: boolean): RenderedResponse {
  const headers: Record<string, string | string[]> = { ...securityHeaders(), ...(r.headers ?? {}) };
  if (r.kind === 'redirect') {
    return { status: 303, headers: { ...headers, location: r.location, 'content-length': '0' }, body: Buffer.alloc(0) };
  }
  let body: string, type: string;
  if (r.kind === 'json') {
    body = JSON.stringify(r.body);
    type = 'application/json; charset=utf-8';
  } else if (r.kind === 'html') {
    body = r.body;
    type = 'text/html; charset=utf-8';
  } else {
    body = r.body;
    type = r.contentType;
  }
  const bytes = Buffer.from(body, 'utf8');
  headers['content-type'] = type;
  headers['content-length'] = String(bytes.length);
  return { status: r.status ?? 200, headers, body: head ? Buffer.alloc(0) : bytes };
}
