/**
 * The HTTP endpoints RabbitMQ's HTTP auth backend asks (`/auth/user`, `/auth/vhost`,
 * `/auth/resource`, `/auth/topic`), answered by the pure rule in rabbitmq-auth.ts.
 *
 * Plain HTTP on loopback, HTTPS anywhere else (and only on a private address). On loopback nothing
 * crosses a wire and only a process on the broker's own host could reach the port, which could
 * read the broker's key anyway; across a network an attacker who can answer in the cloud's place
 * can answer "allow" to anything, so there the broker must verify the authorizer's certificate
 * (`writeRabbitmqConfig` writes that into advanced.config). A public address is refused at start.
 *
 * Bounds: the request must arrive whole in `requestTimeoutMs` (headers in `headersTimeoutMs`), its
 * body within `maxBodyBytes`, on at most `maxConnections` sockets; the answer is computed at once
 * from memory (the revocation list is in memory), so no request waits on anything else. Nothing is
 * cached, here or by RabbitMQ (`Cache-Control: no-store`; the configuration loads no cache plugin).
 * POST only: with GET, RabbitMQ would put a client's password in the URL it logs at debug level.
 * A body is never logged or journalled; a password in it goes no further than the parser.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { BlockList, isIP, type AddressInfo } from 'node:net';
import { LogLimiter, formatSource, type JournalRecordInput } from '../journal/index.ts';
import { CloudConfigError } from './errors.ts';
import {
  RABBITMQ_AUTH_KINDS,
  decideRabbitmqQuestion,
  parseRabbitmqQuestion,
  rabbitmqAnswer,
  rabbitmqRefusalEntry,
  validateRabbitmqAuthPolicy,
  type RabbitmqAuthKind,
  type RabbitmqAuthPolicy,
  type RevokedCommonName,
} from './rabbitmq-auth.ts';

/** Limits of the authorizer's listener. Times in ms, sizes in bytes. */
export interface RabbitmqAuthorizerConfig {
  /** An IP address: loopback (plain HTTP), or a private one (RFC 1918, RFC 4193) with `tls`. */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Largest request body (RabbitMQ's questions are a few hundred bytes). */
  readonly maxBodyBytes: number;
  /** The headers must arrive within this. */
  readonly headersTimeoutMs: number;
  /** The whole request must arrive within this. */
  readonly requestTimeoutMs: number;
  /** An idle keep-alive socket is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Most open sockets (RabbitMQ's HTTP client keeps a few per node). */
  readonly maxConnections: number;
}

/** The secure default: loopback, small bodies, short deadlines. */
export const defaultRabbitmqAuthorizerConfig: Readonly<RabbitmqAuthorizerConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  maxBodyBytes: 4_096,
  headersTimeoutMs: 2_000,
  requestTimeoutMs: 5_000,
  keepAliveTimeoutMs: 10_000,
  maxConnections: 256,
});

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');

/** Where an address is: loopback, a private network, or anywhere else (public, unspecified, a name). */
export function addressScope(host: string): 'loopback' | 'private' | 'public' {
  const family = isIP(host);
  if (family === 0) return 'public';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (LOOPBACK.check(host, type)) return 'loopback';
  return PRIVATE.check(host, type) ? 'private' : 'public';
}

function int(c: Record<string, unknown>, key: string, min: number, max: number): void {
  const v = c[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new CloudConfigError(key, `must be an integer from ${min} to ${max}`);
}

/**
 * Validates a (partial) config; `withTls` says whether a certificate was given. A public or unspecified
 * address is refused, and so is a private one without TLS.
 */
export function validateRabbitmqAuthorizerConfig(
  config: Partial<RabbitmqAuthorizerConfig> = {},
  withTls = false,
): RabbitmqAuthorizerConfig {
  const c = { ...defaultRabbitmqAuthorizerConfig, ...config };
  const scope = typeof c.host === 'string' ? addressScope(c.host) : 'public';
  if (scope === 'public')
    throw new CloudConfigError('host', 'must be a loopback or private IP address: the authorizer answers only brokers');
  if (scope === 'private' && !withTls)
    throw new CloudConfigError('host', 'off loopback the authorizer needs a TLS certificate (tls)');
  int(c, 'port', 0, 65_535);
  int(c, 'maxBodyBytes', 256, 65_536);
  int(c, 'headersTimeoutMs', 100, 60_000);
  int(c, 'requestTimeoutMs', 100, 60_000);
  if (c.headersTimeoutMs > c.requestTimeoutMs)
    throw new CloudConfigError('headersTimeoutMs', 'must not exceed requestTimeoutMs');
  int(c, 'keepAliveTimeoutMs', 100, 600_000);
  int(c, 'maxConnections', 1, 65_536);
  return Object.freeze(c);
}

/** Where the authorizer's refusals go (the cloud's connection journal). */
export interface RefusalJournal {
  record(entry: JournalRecordInput): void;
}

/** A request as {@link answerRabbitmqRequest} takes it: no socket needed. */
export interface RabbitmqAuthRequest {
  readonly method: string;
  /** The request target, e.g. '/auth/topic'. */
  readonly url: string;
  readonly contentType?: string;
  readonly body: string;
  /** 'address:port' of the broker that asked. */
  readonly source: string;
}

/** What the authorizer answers: a status and a text body. */
export interface RabbitmqAuthAnswer {
  readonly status: number;
  readonly body: string;
}

/** What {@link answerRabbitmqRequest} needs besides the request. */
export interface RabbitmqAnswering {
  readonly policy: RabbitmqAuthPolicy;
  readonly revoked: RevokedCommonName;
  readonly journal: RefusalJournal;
  /** Counts each answer, by outcome. */
  readonly count?: (outcome: 'allowed' | 'refused' | 'malformed') => void;
}

const PATHS = new Map<string, RabbitmqAuthKind>(RABBITMQ_AUTH_KINDS.map((k) => [`/auth/${k}`, k]));

/** A request that is no question of the backend's: journalled as such, with the status it gets. */
function notAQuestion(r: RabbitmqAuthRequest, a: RabbitmqAnswering, status: number, why: string): RabbitmqAuthAnswer {
  a.count?.('malformed');
  a.journal.record({ surface: 'cloud', source: r.source, event: 'http-malformed', result: 'refused', detail: why });
  return { status, body: 'deny' };
}

/**
 * Answers one request: `allow` or `deny` to a well-formed question on a known path; a refusal is
 * journalled with its reason. A question the rule cannot read is denied (200 `deny`, so RabbitMQ
 * refuses without logging an error per message); a request no backend sends gets 404, 405 or 415.
 */
export function answerRabbitmqRequest(r: RabbitmqAuthRequest, a: RabbitmqAnswering): RabbitmqAuthAnswer {
  // The path alone: a GET's query (where a password would sit) is never looked at.
  const kind = PATHS.get(r.url.split('?', 1)[0]!);
  if (kind === undefined) return notAQuestion(r, a, 404, 'not an auth backend path');
  if (r.method !== 'POST') return notAQuestion(r, a, 405, `method ${r.method.slice(0, 16)} (POST only)`);
  if (!(r.contentType ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded'))
    return notAQuestion(r, a, 415, 'not a form body');
  const parsed = parseRabbitmqQuestion(kind, new URLSearchParams(r.body));
  if (!parsed.ok) {
    a.count?.('malformed');
    a.journal.record(rabbitmqRefusalEntry(kind, undefined, { refusal: 'malformed', reason: parsed.reason }));
    return { status: 200, body: 'deny' };
  }
  const decision = decideRabbitmqQuestion(parsed.question, a.policy, a.revoked);
  a.count?.(decision.allow ? 'allowed' : 'refused');
  if (!decision.allow) a.journal.record(rabbitmqRefusalEntry(kind, parsed.question, decision));
  return { status: 200, body: rabbitmqAnswer(decision) };
}

/** Options of {@link startRabbitmqAuthorizer}. */
export interface RabbitmqAuthorizerOptions {
  readonly config?: Partial<RabbitmqAuthorizerConfig>;
  readonly policy?: Partial<RabbitmqAuthPolicy>;
  /** The cloud's revocation store, in memory: why a CN is revoked, or undefined. */
  readonly revoked: RevokedCommonName;
  readonly journal: RefusalJournal;
  /** The server certificate and key (src/identity's `issueServerCertificate`): HTTPS. Required off loopback. */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
  /** The service log: broken requests and internal errors, rate-limited per cause; never a body. */
  readonly log?: (line: string) => void;
}

/** A running authorizer. */
export interface RabbitmqAuthorizer {
  /** 'http://127.0.0.1:<port>' (or https://...): the base of the four paths. */
  readonly url: string;
  readonly port: number;
  /** The four URLs, for `auth_http.user_path` and the others. */
  readonly paths: Readonly<Record<RabbitmqAuthKind, string>>;
  /** Answers so far, by outcome. */
  counts(): { allowed: number; refused: number; malformed: number };
  /** Stops listening and ends every connection. */
  close(): Promise<void>;
}

/** Reads a body of at most `max` bytes; undefined when it is larger (the socket is then ended). */
function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) return resolve(undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        resolve(undefined);
      } else chunks.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

function send(res: ServerResponse, answer: RabbitmqAuthAnswer, close = false): void {
  res.writeHead(answer.status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(answer.body),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(answer.body);
}

/** The request handler: bounded body, one answer, and a deny on any internal error. */
function handlerOf(
  c: RabbitmqAuthorizerConfig,
  answering: RabbitmqAnswering,
  log: (cause: string, line: string) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const source = formatSource(req.socket.remoteAddress, req.socket.remotePort);
    const answer = async (): Promise<void> => {
      const body = await readBody(req, c.maxBodyBytes);
      if (body === undefined) {
        const refused = notAQuestion(
          { method: req.method ?? '', url: '', body: '', source },
          answering,
          413,
          'too large',
        );
        log('too-large', `rabbitmq authorizer: a request from ${source} over ${c.maxBodyBytes} bytes was refused`);
        return send(res, refused, true);
      }
      const r = {
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: req.headers['content-type'],
        body,
        source,
      };
      send(res, answerRabbitmqRequest(r, answering));
    };
    answer().catch((err: unknown) => {
      // Fail closed: whatever went wrong, the broker hears deny.
      log('internal', `rabbitmq authorizer: internal error: ${(err as Error).name}: ${(err as Error).message}`);
      if (!res.headersSent) send(res, { status: 500, body: 'deny' }, true);
      else res.destroy();
    });
  };
}

/**
 * Starts the authorizer; resolves when it listens.
 *
 * @example
 * const authorizer = await startRabbitmqAuthorizer({
 *   revoked: (cn) => { const r = enforcer.list.covering(cn, undefined); return r && describeRevocation(r); },
 *   journal,
 * });
 * await writeRabbitmqConfig({ ..., settings: { authorizerUrl: authorizer.url, nodes } });
 */
export async function startRabbitmqAuthorizer(o: RabbitmqAuthorizerOptions): Promise<RabbitmqAuthorizer> {
  const c = validateRabbitmqAuthorizerConfig(o.config, o.tls !== undefined);
  const counts = { allowed: 0, refused: 0, malformed: 0 };
  const limiter = new LogLimiter();
  const log = (cause: string, line: string): void => {
    for (const l of limiter.admit(cause, line, Date.now())) o.log?.(l);
  };
  const answering: RabbitmqAnswering = {
    policy: validateRabbitmqAuthPolicy(o.policy),
    revoked: o.revoked,
    journal: o.journal,
    count: (outcome) => (counts[outcome] += 1),
  };
  const limits = {
    headersTimeout: c.headersTimeoutMs,
    requestTimeout: c.requestTimeoutMs,
    keepAliveTimeout: c.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(500, c.headersTimeoutMs),
    maxHeaderSize: 8_192,
  };
  const handler = handlerOf(c, answering, log);
  const server: Server = o.tls
    ? createHttpsServer({ ...limits, key: o.tls.keyPem, cert: o.tls.certPem, minVersion: 'TLSv1.2' }, handler)
    : createHttpServer(limits, handler);
  server.maxConnections = c.maxConnections;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    log(`client-${err.code ?? 'error'}`, `rabbitmq authorizer: broken request (${err.code ?? err.name})`);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(c.port, c.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = isIP(c.host) === 6 ? `[${c.host}]` : c.host;
  const url = `${o.tls ? 'https' : 'http'}://${host}:${port}`;
  const paths = Object.fromEntries(RABBITMQ_AUTH_KINDS.map((k) => [k, `${url}/auth/${k}`])) as Record<
    RabbitmqAuthKind,
    string
  >;
  return {
    url,
    port,
    paths,
    counts: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
