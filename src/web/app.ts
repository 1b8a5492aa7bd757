/**
 * The one HTTPS application core of every web surface: the device's admin page, the hub's, and
 * the cloud's owner API and app. A surface supplies its routes, its pages and a session port; the
 * core owns everything else: the Host allow-list, route resolution (404, or 405 with `Allow`),
 * session lookup through the port, bounded body parsing, the CSRF token plus the same-origin rule
 * on every state change, the status of each error, the security header set on every answer and a
 * journal entry for every refusal. `handle()` answers a request object with no socket (as hono's
 * `app.request()` does), so routes get fast unit tests; `listen()` puts the same app on
 * listenHttps (the TLS profile, timeouts and the admission guard).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { BulwarkError, codeOf, httpStatusOf } from '../errors/index.ts';
import { LogLimiter, formatSource, type JournalRecordInput, type LogLimiterConfig } from '../journal/index.ts';
import {
  HttpError,
  checkSameOrigin,
  defaultHttpLimits,
  hostCookie,
  parseBody,
  parseCookies,
  readBodyStream,
  renderResponse,
  saveBodyStream,
  securityHeaders,
  type BodyFileTarget,
  type HttpLimits,
  type RenderedResponse,
  type SavedBody,
  type Router,
  type WebRequest,
  type WebResponse,
} from './http.ts';
import {
  ClientEventCounts,
  clientErrorOf,
  listenHttps,
  type HttpsListenOptions,
  type HttpsListener,
  type HttpsRecord,
} from './https-server.ts';
import { NoticeBox } from './notices.ts';

/** A request as `handle()` takes it: no socket needed. */
export interface AppRequest {
  readonly method: string;
  /** The request target: path and query, e.g. '/api/journal?limit=5'. */
  readonly url: string;
  readonly headers?: IncomingHttpHeaders;
  readonly body?: string | Buffer;
  readonly sourceAddress?: string;
  readonly sourcePort?: number;
}

/** How a surface tells the core who is calling. `Ctx` is what its handlers get. */
export interface SessionPort<Ctx> {
  /** The context of a public route (nobody logged in). */
  anonymous(): Ctx;
  /**
   * The context of the caller's live session, or undefined: the core then answers 401 (JSON) or a
   * redirect to the login page. May throw an HttpError of its own (the device's setup redirect).
   */
  find(req: WebRequest): Ctx | undefined | Promise<Ctx | undefined>;
  /** True when `token` is the CSRF token of the session in `ctx`. */
  verifyCsrf(ctx: Ctx, token: string): boolean;
  /** True for a caller no browser can be (an app's bearer token): neither token nor Origin is asked of it. */
  exemptFromCsrf?(ctx: Ctx): boolean;
  /** Who the session belongs to, for journal entries. */
  identityOf?(ctx: Ctx): string | undefined;
  /**
   * Refuses the caller this route (throws, e.g. a role's 403) once their session is found, before the
   * body is read: every session route passes here, so no route escapes the surface's role checks.
   */
  authorize?(ctx: Ctx, req: WebRequest, route: { readonly method: string; readonly path: string }): void;
  /**
   * A key for the session in `ctx` (its id), under which a redirect's notice waits for the session's next
   * page; absent or undefined: the surface's redirects carry no notice.
   */
  noticeKey?(ctx: Ctx): string | undefined;
}

/** One journal entry about a request; the source comes from the request. */
export interface SurfaceEvent {
  readonly event: string;
  readonly result: JournalRecordInput['result'];
  readonly identity?: string;
  readonly detail?: string;
}

/** Where a surface's connection attempts, logins and refusals go. */
export interface SurfaceJournal {
  record(entry: JournalRecordInput): void;
}

/** Options of {@link createWebApp}. */
export interface WebAppOptions<Ctx> {
  readonly router: Router<Ctx>;
  readonly sessions: SessionPort<Ctx>;
  readonly limits?: HttpLimits;
  /** Where a browser without a session is sent. */
  readonly loginPath?: string;
  /** Whether the caller gets JSON answers (errors included); by default API paths, JSON bodies and Accept. */
  readonly wantsJson?: (method: string, path: string, headers: IncomingHttpHeaders) => boolean;
  /** The HTML page of an error answer. */
  readonly errorPage: (status: number, message: string, ctx: Ctx) => string;
  readonly journal?: SurfaceJournal;
  /**
   * The service log. Lines a client can cause (a malformed or aborted request, a connection
   * without a journal) pass a {@link LogLimiter} per cause; an internal error is written at once.
   */
  readonly log?: (message: string) => void;
  /** How often one cause may write a line; default one a minute, 256 causes. */
  readonly logLimits?: Partial<LogLimiterConfig>;
}

/** A web surface's application. */
export interface WebApp<Ctx> {
  /** Answers one request without a socket. */
  handle(request: AppRequest): Promise<RenderedResponse>;
  /** Records a journal entry about `req` (source address and port from the request). */
  record(req: Pick<WebRequest, 'sourceAddress' | 'sourcePort'>, event: SurfaceEvent): void;
  /** Requests the client broke that reached the app (a body that never arrived whole), by cause. */
  clientEvents(): Record<string, number>;
  /** Lets requests whose Host names one of `names` (with `port`, or bare on 443) in. */
  allowHosts(names: Iterable<string>, port: number): void;
  /** Puts the app on listenHttps; connection attempts go to the journal (or the log without one). */
  listen(options: Omit<HttpsListenOptions, 'handler' | 'record'>): Promise<HttpsListener>;
  readonly routes: ReturnType<Router<Ctx>['list']>;
}

/** A web surface that listens: its URL, the app behind it and how to stop it. */
export interface RunningSurface<Ctx> {
  readonly url: string;
  readonly port: number;
  readonly server: HttpsListener['server'];
  /** The application without its socket: `app.handle()` answers a request object. */
  readonly app: WebApp<Ctx>;
  readonly routes: WebApp<Ctx>['routes'];
  /** Every request the client broke, by cause: malformed, reset, too slow, or its body cut short. */
  clientEvents(): Record<string, number>;
  /** Serves a new certificate (same key or not) to new connections, without a restart. */
  setCertificate(certPem: string, keyPem: string): void;
  close(): Promise<void>;
}

/**
 * Puts `app` on its port and lets in the Host names a browser may use for it (`hostNames(port)`,
 * each with the port); the URL names the listening address, loopback for a wildcard one.
 */
export async function serveApp<Ctx>(
  app: WebApp<Ctx>,
  options: Omit<HttpsListenOptions, 'handler' | 'record'>,
  hostNames: (port: number) => Iterable<string>,
): Promise<RunningSurface<Ctx>> {
  const listener = await app.listen(options);
  const { server, port } = listener;
  app.allowHosts(new Set(['localhost', '127.0.0.1', '::1', options.host, ...hostNames(port)]), port);
  const shown = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    url: `https://${shown.includes(':') ? `[${shown}]` : shown}:${port}`,
    port,
    server,
    app,
    routes: app.routes,
    clientEvents: () => mergeCounts(listener.clientErrors(), app.clientEvents()),
    setCertificate: (certPem, keyPem) => listener.setCertificate(certPem, keyPem),
    close: () => listener.close(),
  };
}

function mergeCounts(...all: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const counts of all) for (const [cause, n] of Object.entries(counts)) out[cause] = (out[cause] ?? 0) + n;
  return out;
}

/** The request as the core sees it before routing: the body is read only once a route wants it. */
interface RawRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readBody(limits: HttpLimits): Promise<Buffer>;
  /** Streams the body into a new file; only for a route whose body is 'file'. */
  saveBody(target: BodyFileTarget): Promise<SavedBody>;
  /** True when the socket's server already recorded this request as broken (e.g. cut short). */
  readonly recordedBroken?: () => boolean;
}

/** The journal entry of one event about a request: the source is the request's address and port. */
export function journalRecorder(journal: SurfaceJournal | undefined): WebApp<never>['record'] {
  return (req, e) =>
    journal?.record({
      surface: 'web',
      source: formatSource(req.sourceAddress, req.sourcePort),
      event: e.event,
      result: e.result,
      ...(e.identity ? { identity: e.identity } : {}),
      ...(e.detail ? { detail: e.detail } : {}),
    });
}

/** Forms posted by a page get redirects; fetch() and API clients get JSON. */
export function defaultWantsJson(method: string, path: string, headers: IncomingHttpHeaders): boolean {
  const accept = String(headers.accept ?? '');
  return (
    accept.includes('application/json') ||
    String(headers['content-type'] ?? '').startsWith('application/json') ||
    (path.startsWith('/api/') && method !== 'POST')
  );
}

/** Builds a surface's application from its routes, pages and session port. */
export function createWebApp<Ctx>(options: WebAppOptions<Ctx>): WebApp<Ctx> {
  const limits = options.limits ?? defaultHttpLimits;
  const wantsJson = options.wantsJson ?? defaultWantsJson;
  const serviceLog = new ServiceLog(options.log ?? (() => undefined), options.logLimits);
  const allowedHosts = new Set<string>();
  const record = journalRecorder(options.journal);
  const clientEvents = new ClientEventCounts();
  const notices = new NoticeBox();
  const core: DispatchCore<Ctx> = {
    ...options,
    ...{ limits, wantsJson, serviceLog, allowedHosts, record, clientEvents, notices },
  };

  return {
    routes: options.router.list(),
    record,
    clientEvents: () => clientEvents.snapshot(),
    handle: (request) => dispatch(core, rawFromAppRequest(request)),
    allowHosts(names, port) {
      for (const name of names) {
        const host = name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
        allowedHosts.add(`${host}:${port}`.toLowerCase());
        if (port === 443) allowedHosts.add(host.toLowerCase());
      }
    },
    listen: (listenOptions) => listenCore(core, listenOptions),
  };
}

interface DispatchCore<Ctx> extends WebAppOptions<Ctx> {
  readonly limits: HttpLimits;
  readonly wantsJson: NonNullable<WebAppOptions<Ctx>['wantsJson']>;
  readonly serviceLog: ServiceLog;
  readonly allowedHosts: ReadonlySet<string>;
  readonly record: WebApp<Ctx>['record'];
  readonly clientEvents: ClientEventCounts;
  readonly notices: NoticeBox;
}

/**
 * The service log of one surface: what a client can cause is limited per cause (its error code,
 * never its text), so no stranger can write an unbounded number of lines; an internal error is not.
 */
class ServiceLog {
  readonly #write: (message: string) => void;
  readonly #limiter: LogLimiter;

  constructor(write: (message: string) => void, limits: Partial<LogLimiterConfig> = {}) {
    this.#write = write;
    this.#limiter = new LogLimiter(limits);
  }

  /** Writes at once, never held back: a real internal error. */
  now(message: string): void {
    this.#write(message);
  }

  /** Writes the first line of `cause` at once, then at most one per interval with the count held back. */
  limited(cause: string, message: string): void {
    for (const line of this.#limiter.admit(cause, message, Date.now())) this.#write(line);
  }

  /** Writes the counts still held back (when the surface closes). */
  drain(): void {
    for (const line of this.#limiter.drain(Date.now())) this.#write(line);
  }
}

/** Puts the core on listenHttps: connection records go to the journal, or to the limited log without one. */
async function listenCore<Ctx>(
  core: DispatchCore<Ctx>,
  options: Omit<HttpsListenOptions, 'handler' | 'record'>,
): Promise<HttpsListener> {
  const { journal, serviceLog } = core;
  const record = (r: HttpsRecord): void => {
    if (r.event === 'http-malformed') serviceLog.limited(r.detail, `client error ${r.detail} from ${r.source}`);
    if (journal) journal.record({ surface: 'web', ...r });
    else if (r.event !== 'http-malformed') {
      const line = `connection ${r.event} ${r.result} from ${r.source}${r.detail ? `: ${r.detail}` : ''}`;
      serviceLog.limited(`connection ${r.event} ${r.result}`, line);
    }
  };
  const listener = await listenHttps({ ...options, record, handler: (req, res) => answerNodeRequest(core, req, res) });
  return {
    ...listener,
    async close() {
      await listener.close();
      serviceLog.drain();
    },
  };
}

function rawFromAppRequest(request: AppRequest): RawRequest {
  const body = typeof request.body === 'string' ? Buffer.from(request.body, 'utf8') : (request.body ?? Buffer.alloc(0));
  return {
    method: request.method.toUpperCase(),
    url: request.url,
    headers: request.headers ?? {},
    sourceAddress: request.sourceAddress ?? '127.0.0.1',
    sourcePort: request.sourcePort ?? 0,
    readBody: (limits) => readBodyStream([body], request.headers?.['content-length'], limits),
    saveBody: (target) => saveBodyStream([body], request.headers?.['content-length'], target),
  };
}

function answerNodeRequest<Ctx>(core: DispatchCore<Ctx>, req: IncomingMessage, res: ServerResponse): void {
  const raw: RawRequest = {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    headers: req.headers,
    sourceAddress: (req.socket.remoteAddress ?? '0.0.0.0').replace(/^::ffff:/, ''),
    sourcePort: req.socket.remotePort ?? 0,
    readBody: (limits) => readBodyStream(req as AsyncIterable<Buffer>, req.headers['content-length'], limits),
    // Stopping early (413) must not destroy the socket: the refusal is answered, then the connection closes.
    saveBody: (target) =>
      saveBodyStream(
        req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>,
        req.headers['content-length'],
        target,
      ),
    recordedBroken: () => clientErrorOf(req.socket) !== undefined,
  };
  dispatch(core, raw)
    .then((answer) => {
      // A body over the limit, or one a route refused before reading it, is left unread: the connection
      // cannot be reused (and is not kept open to drain what may be a large upload).
      const unread = answer.status === 413 || !req.complete;
      const headers = unread ? { ...answer.headers, connection: 'close' } : answer.headers;
      res.writeHead(answer.status, headers);
      res.end(answer.body);
    })
    .catch((err: unknown) => {
      core.serviceLog.now(`response failed (${codeOf(err)}): ${err instanceof Error ? err.message : String(err)}`);
      answerInternalError(res);
    });
}

/** Parses the request target; a target that is not a path, or too long, is refused. */
function parseTarget(raw: RawRequest, limits: HttpLimits): URL {
  if (raw.url.length > limits.maxPathBytes || !raw.url.startsWith('/')) {
    throw new HttpError(414, 'URI_INVALID', 'bad request target');
  }
  return new URL(raw.url, 'https://surface.invalid');
}

async function dispatch<Ctx>(core: DispatchCore<Ctx>, raw: RawRequest): Promise<RenderedResponse> {
  const head = raw.method === 'HEAD';
  let req: WebRequest = {
    method: raw.method,
    path: '/',
    query: new URLSearchParams(),
    params: {},
    headers: raw.headers,
    body: {},
    cookies: parseCookies(raw.headers.cookie, core.limits),
    sourceAddress: raw.sourceAddress,
    sourcePort: raw.sourcePort,
    wantsJson: core.wantsJson(raw.method, raw.url.split('?')[0] ?? '/', raw.headers),
  };
  let ctx = core.sessions.anonymous();
  try {
    const url = parseTarget(raw, core.limits);
    req = { ...req, path: url.pathname, query: url.searchParams };
    const host = raw.headers.host;
    if (typeof host !== 'string' || !core.allowedHosts.has(host.toLowerCase())) {
      throw new HttpError(421, 'HOST_NOT_ALLOWED', 'unknown host name');
    }
    const { route, params } = core.router.resolve(raw.method, req.path);
    let noticeKey: string | undefined;
    if (route.access === 'session') {
      ctx = await requireSession(core, req);
      core.sessions.authorize?.(ctx, { ...req, params }, route);
      noticeKey = core.sessions.noticeKey?.(ctx);
      req = withNotice(core, req, noticeKey);
    }
    if (route.body === 'file') {
      req = { ...req, params };
      if (route.csrf) checkCsrf(core.sessions, req, ctx);
      req = { ...req, saveBody: fileBodyOf(raw) };
      return renderResponse(keepNotice(core, await route.handler(req, ctx), noticeKey), head);
    }
    const body =
      raw.method === 'POST'
        ? parseBody(await readWhole(raw, core.limits), raw.headers['content-type'], core.limits)
        : {};
    req = { ...req, params, body };
    if (route.csrf) checkCsrf(core.sessions, req, ctx);
    return renderResponse(keepNotice(core, await route.handler(req, ctx), noticeKey), head);
  } catch (err) {
    logErrorAnswer(core, raw, req, err);
    return errorAnswer(core, req, ctx, err, head);
  }
}

/** A page (a GET that is not an API call) of a session gets the notice its last action left. */
function withNotice<Ctx>(core: DispatchCore<Ctx>, req: WebRequest, key: string | undefined): WebRequest {
  if (key === undefined || req.method !== 'GET' || req.wantsJson) return req;
  const found = core.notices.take(key);
  if (found === undefined) return req;
  return found.error ? { ...req, noticeError: found.text } : { ...req, notice: found.text };
}

/** A redirect's notice is kept for the session's next page; the redirect itself carries no text. */
function keepNotice<Ctx>(core: DispatchCore<Ctx>, answer: WebResponse, key: string | undefined): WebResponse {
  if (answer.kind !== 'redirect' || key === undefined) return answer;
  if (answer.error !== undefined) core.notices.put(key, answer.error, true);
  else if (answer.notice !== undefined) core.notices.put(key, answer.notice);
  return answer;
}

/**
 * The request's body, whole. A client that hangs up before sending what it announced is the
 * client's doing, not an internal error: it is answered (if still possible) as a bad request.
 */
async function readWhole(raw: RawRequest, limits: HttpLimits): Promise<Buffer> {
  try {
    return await raw.readBody(limits);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, 'REQUEST_ABORTED', 'the request body did not arrive whole');
  }
}

/**
 * The body of a 'file' route, streamed to a file when its handler asks (after the session and the
 * CSRF token were checked, so a stranger's bytes never reach the disk): application/octet-stream
 * only, refused (415) when asked for, so the handler sees and can journal every refusal.
 */
function fileBodyOf(raw: RawRequest): (target: BodyFileTarget) => Promise<SavedBody> {
  const type = String(raw.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  let used = false;
  return async (target) => {
    if (type !== 'application/octet-stream') {
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the file as application/octet-stream');
    }
    if (used) throw new Error('the request body was already read');
    used = true;
    return raw.saveBody(target);
  };
}

async function requireSession<Ctx>(core: DispatchCore<Ctx>, req: WebRequest): Promise<Ctx> {
  const found = await core.sessions.find(req);
  if (found !== undefined) return found;
  throw new HttpError(
    req.wantsJson ? 401 : 303,
    'AUTH_REQUIRED',
    'log in first',
    req.wantsJson ? {} : { location: core.loginPath ?? '/login' },
  );
}

/** The CSRF token and the same-origin rule, on every state change. */
function checkCsrf<Ctx>(sessions: SessionPort<Ctx>, req: WebRequest, ctx: Ctx): void {
  if (sessions.exemptFromCsrf?.(ctx) === true) return;
  checkSameOrigin(req);
  const token = req.body.csrf ?? req.headers['x-csrf-token'];
  if (typeof token !== 'string' || !sessions.verifyCsrf(ctx, token)) {
    throw new HttpError(403, 'CSRF_TOKEN_INVALID', 'missing or wrong CSRF token');
  }
}

function errorAnswer<Ctx>(
  core: DispatchCore<Ctx>,
  req: WebRequest,
  ctx: Ctx,
  err: unknown,
  head: boolean,
): RenderedResponse {
  const status = httpStatusOf(err);
  const headers: Record<string, string> = err instanceof HttpError ? { ...err.headers } : {};
  if (err instanceof HttpError && err.status === 303) {
    return renderResponse({ kind: 'redirect', location: headers.location ?? core.loginPath ?? '/login' }, head);
  }
  const known = err instanceof BulwarkError ? (err as BulwarkError) : undefined;
  const code = known?.code ?? 'INTERNAL';
  if (code.startsWith('CSRF')) {
    core.record(req, {
      event: 'csrf',
      result: 'refused',
      identity: core.sessions.identityOf?.(ctx),
      detail: `${req.method} ${req.path}`,
    });
  }
  const message = status === 500 || !(err instanceof Error) ? 'internal error' : err.message;
  const retryAfter = known?.details.retryAfterSeconds;
  if (typeof retryAfter === 'number') headers['retry-after'] = String(retryAfter);
  const reasons = known && Array.isArray(known.details.reasons) ? { reasons: known.details.reasons as unknown[] } : {};
  const answer: WebResponse = req.wantsJson
    ? { kind: 'json', status, body: { error: { code, message, ...reasons } }, headers }
    : { kind: 'html', status, body: core.errorPage(status, message, ctx), headers };
  return renderResponse(answer, head);
}

/** A client's body cut short: a client event, counted and journalled, never an internal error. */
const CLIENT_EVENT_CODES: ReadonlySet<string> = new Set(['REQUEST_ABORTED']);

/**
 * An internal error (500) is logged at once with its code and message (the client sees neither);
 * a client event is journalled, counted and logged through the limiter, once (the server may
 * have recorded it already, with Node's code); any other refusal is the answer's business only.
 */
function logErrorAnswer<Ctx>(core: DispatchCore<Ctx>, raw: RawRequest, req: WebRequest, err: unknown): void {
  const code = codeOf(err);
  const where = `${req.method} ${req.path}`;
  if (httpStatusOf(err) === 500) {
    core.serviceLog.now(`internal error on ${where}: ${err instanceof Error ? err.message : String(err)} (${code})`);
    return;
  }
  if (!CLIENT_EVENT_CODES.has(code) || raw.recordedBroken?.() === true) return;
  core.clientEvents.add(code);
  core.record(req, { event: 'http-malformed', result: 'refused', detail: code });
  const source = formatSource(req.sourceAddress, req.sourcePort);
  core.serviceLog.limited(code, `client event ${code} on ${where} from ${source}`);
}

/** The answer when a handler failed after all: a bare 500 with the security headers, or a cut if one began. */
export function answerInternalError(res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(500, { ...securityHeaders(), 'content-length': '0' });
  res.end();
}

/**
 * The CSRF proof of a form shown before any session exists (login, setup, register): a random
 * `__Host-` cookie and, in the form, its HMAC under a key only the server holds. A page on
 * another origin can neither read the cookie nor make the token.
 */
export class PreSessionForms {
  readonly #cookieName: string;
  readonly #key: Buffer;

  constructor(cookieName: string, key: Buffer = randomBytes(32)) {
    this.#cookieName = cookieName;
    this.#key = key;
  }

  /** A fresh cookie (a Set-Cookie value) and the token its form carries. */
  issue(): { cookie: string; token: string } {
    const value = randomBytes(32).toString('base64url');
    return { cookie: hostCookie(this.#cookieName, value, 1800), token: this.#tokenOf(value) };
  }

  /** The Set-Cookie value that removes the cookie once its form has been used. */
  clear(): string {
    return hostCookie(this.#cookieName, '', 0);
  }

  /** Refuses (403) a form whose origin is foreign or whose token does not match its cookie. */
  verify(req: Pick<WebRequest, 'headers' | 'cookies' | 'body'>): void {
    checkSameOrigin(req);
    const cookie = req.cookies.get(this.#cookieName);
    const token = req.body.csrf ?? req.headers['x-csrf-token'];
    if (!cookie || typeof token !== 'string' || !constantTimeEqual(this.#tokenOf(cookie), token)) {
      throw new HttpError(403, 'CSRF_TOKEN_INVALID', 'the form expired or did not come from this site: reload it');
    }
  }

  #tokenOf(cookie: string): string {
    return createHmac('sha256', this.#key).update(cookie).digest('base64url');
  }
}

/** Compares two strings in time that does not depend on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a),
    y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
