/**
 * The edge of every listening socket: it sees each connection when it is accepted, before TLS,
 * so it keeps the source address a reset would take away, applies the per-source caps of
 * {@link AdmissionTable}, cuts off a connection not past its handshake and headers in time
 * (total time, not time between bytes), and records every attempt through {@link FloodCounter},
 * so a scan or a flood leaves entries (or one summary) rather than nothing.
 */
import type { Server, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { sourceKeyFor } from '../auth/index.ts';
import { validateAdmissionConfig, type AdmissionConfig } from './config.ts';
import { AdmissionTable, type AdmissionRefusal } from './table.ts';
import { FloodCounter, describeFlood, type FloodSummary } from '../journal/index.ts';

/** One connection record for the surface's journal. */
export interface AdmissionRecord {
  /** 'address:port', or the bare address (IPv6: its /64) for a flood summary. */
  readonly source: string;
  readonly event:
    'tls-connect' | 'tls-error' | 'tcp-connect' | 'connection-refused' | 'connection-flood' | 'header-timeout';
  readonly result: 'success' | 'failure' | 'refused' | 'info';
  readonly detail?: string;
}

/** When a connection counts as established (no longer pending). */
export type EstablishOn = 'secure' | 'request';

/** Options of {@link guardServer}. */
export interface GuardOptions {
  readonly config?: Partial<AdmissionConfig>;
  /** 'secure' for a TLS socket whose peer proves itself in the handshake; 'request' for HTTPS. */
  readonly establishOn: EstablishOn;
  /** Receives every record; must not throw (a throw is swallowed). */
  readonly record: (entry: AdmissionRecord) => void;
  /** Whether a finished TLS handshake is recorded here (false where the surface records it with more). */
  readonly recordEstablished?: boolean;
  /** The clock, ms (tests pass their own). */
  readonly now?: () => number;
}

/** What a surface asks of its guard. */
export interface Admission {
  readonly config: AdmissionConfig;
  /** The peer as captured at accept time: 'address:port', or 'unknown'. */
  sourceOf(socket: Socket): string;
  /** Marks the socket's connection as past its headers (for custom establish points). */
  establish(socket: Socket): void;
  /** Connections held now. */
  size(): number;
  /** Writes every pending flood summary and stops the timers; call when the server closes. */
  close(): void;
}

interface ConnectionInfo {
  readonly id: number;
  readonly address: string | undefined;
  readonly port: number | undefined;
  readonly key: string;
  outcome?: 'secure' | 'failed' | 'refused';
  timer?: NodeJS.Timeout;
}

const REFUSAL_TEXT: Record<AdmissionRefusal | 'deadline', string> = {
  'source-cap': 'this source holds its share of connections',
  'source-pending-cap': 'this source holds its share of unfinished connections',
  'server-full': 'every slot is held by sources with fewer connections',
  deadline: 'not past the handshake and headers in time',
};

function formatPeer(address: string | undefined, port: number | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const bare = address.replace(/^::ffff:(?=\d+\.)/, '');
  return bare.includes(':') ? `[${bare}]:${port ?? 0}` : `${bare}:${port ?? 0}`;
}

function keyOf(address: string | undefined): string {
  try {
    return sourceKeyFor(address ?? '');
  } catch {
    return 'unknown';
  }
}

/** One guarded server: its table, flood counter and the connections it has seen. */
class ServerGuard {
  readonly config: AdmissionConfig;
  readonly #options: GuardOptions;
  readonly #now: () => number;
  readonly #table: AdmissionTable;
  readonly #flood: FloodCounter;
  readonly #infos = new WeakMap<Socket, ConnectionInfo>();
  readonly #byId = new Map<number, Socket>();
  #nextId = 1;

  constructor(options: GuardOptions) {
    this.config = validateAdmissionConfig(options.config);
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#table = new AdmissionTable(this.config);
    this.#flood = new FloodCounter(this.config);
  }

  get size(): number {
    return this.#table.size;
  }

  emit(entry: AdmissionRecord): void {
    try {
      this.#options.record(entry);
    } catch {
      // The journal reports its own failures; a connection must not fail because of them.
    }
  }

  emitSummary(s: FloodSummary): void {
    this.emit({ source: s.address, event: 'connection-flood', result: 'info', detail: describeFlood(s) });
  }

  /** Writes the summaries due now (or all of them, when the server closes). */
  sweep(all = false): void {
    const due = all ? this.#flood.drain(this.#now()) : this.#flood.due(this.#now());
    due.forEach((s) => this.emitSummary(s));
  }

  note(info: ConnectionInfo, entry: Omit<AdmissionRecord, 'source'>): void {
    const bare = info.address?.replace(/^::ffff:(?=\d+\.)/, '') ?? 'unknown';
    const { write, due } = this.#flood.note(info.key, `${entry.event} ${entry.result}`, this.#now(), bare);
    due.forEach((s) => this.emitSummary(s));
    if (write) this.emit({ source: formatPeer(info.address, info.port), ...entry });
  }

  infoOf(socket: Socket): ConnectionInfo | undefined {
    // A TLS server wraps the accepted socket; Node keeps the accepted one as `_parent`.
    return this.#infos.get(socket) ?? this.#infos.get((socket as Socket & { _parent?: Socket })._parent as Socket);
  }

  establish(socket: Socket): void {
    const info = this.infoOf(socket);
    if (!info || !this.#table.isPending(info.id)) return;
    this.#table.establish(info.id);
    clearTimeout(info.timer);
  }

  refuse(socket: Socket, info: ConnectionInfo, reason: AdmissionRefusal | 'deadline'): void {
    info.outcome = 'refused';
    const event = reason === 'deadline' ? 'header-timeout' : 'connection-refused';
    this.note(info, { event, result: 'refused', detail: REFUSAL_TEXT[reason] });
    socket.destroy();
  }

  /** A socket just accepted: admitted (perhaps evicting another) or refused, and put on the clock. */
  accept(socket: Socket): void {
    const address = socket.remoteAddress;
    const info: ConnectionInfo = { id: this.#nextId++, address, port: socket.remotePort, key: keyOf(address) };
    this.#infos.set(socket, info);
    socket.on('error', () => undefined);
    const decision = this.#table.admit(info.id, info.key, this.#now());
    if (!decision.admitted) {
      this.refuse(socket, info, decision.reason);
      return;
    }
    if (decision.evict !== undefined) {
      const victim = this.#byId.get(decision.evict);
      const victimInfo = victim && this.#infos.get(victim);
      if (victim && victimInfo) this.refuse(victim, victimInfo, 'server-full');
    }
    this.#byId.set(info.id, socket);
    info.timer = setTimeout(() => this.refuse(socket, info, 'deadline'), this.config.pendingDeadlineMs);
    info.timer.unref();
    socket.once('close', (hadError: boolean) => this.#closed(info, hadError));
  }

  #closed(info: ConnectionInfo, hadError: boolean): void {
    clearTimeout(info.timer);
    this.#table.release(info.id);
    this.#byId.delete(info.id);
    // A TLS server reports a failed handshake after the socket closes; give it that turn.
    setImmediate(() => {
      if (info.outcome !== undefined) return;
      info.outcome = 'failed';
      const detail = hadError ? 'reset before TLS' : 'closed before TLS';
      this.note(info, { event: 'tcp-connect', result: 'failure', detail });
    });
  }

  secured(socket: TLSSocket): void {
    const info = this.infoOf(socket);
    if (!info || info.outcome === 'refused') return;
    info.outcome = 'secure';
    if (this.#options.recordEstablished !== false) {
      const detail = `${socket.getProtocol() ?? '?'} ${socket.getCipher()?.name ?? ''}`.trim();
      this.note(info, { event: 'tls-connect', result: 'success', detail });
    }
    if (this.#options.establishOn === 'secure') this.establish(socket);
  }

  failedTls(err: Error & { code?: string }, socket: TLSSocket): void {
    const info = this.infoOf(socket);
    if (!info || info.outcome === 'refused') return;
    info.outcome = 'failed';
    // A client certificate that fails verification closes the socket after the handshake, and
    // Node reports a reset; the verification error it kept says why.
    const authorization = (socket as { authorizationError?: unknown }).authorizationError;
    const code = typeof authorization === 'string' ? authorization : (err.code ?? 'TLS_ERROR');
    this.note(info, { event: 'tls-error', result: 'refused', detail: code.slice(0, 60) });
  }

  sourceOf(socket: Socket): string {
    const info = this.infoOf(socket);
    return info ? formatPeer(info.address, info.port) : formatPeer(socket.remoteAddress, socket.remotePort);
  }
}

/**
 * Guards `server` (net, tls or https). Install it before the server listens.
 *
 * @example
 * const admission = guardServer(server, {
 *   establishOn: 'request', record: (e) => journal.record({ surface: 'web', ...e }),
 * });
 */
export function guardServer(server: Server, options: GuardOptions): Admission {
  const guard = new ServerGuard(options);
  server.prependListener('connection', (socket: Socket) => guard.accept(socket));
  server.on('secureConnection', (socket: TLSSocket) => guard.secured(socket));
  server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => guard.failedTls(err, socket));
  if (options.establishOn === 'request') {
    server.on('request', (req: { socket: Socket }) => guard.establish(req.socket));
  }
  const sweep = setInterval(() => guard.sweep(), Math.min(guard.config.floodWindowMs, 10_000));
  sweep.unref();
  server.once('close', () => clearInterval(sweep));
  return {
    config: guard.config,
    sourceOf: (socket) => guard.sourceOf(socket),
    establish: (socket) => guard.establish(socket),
    size: () => guard.size,
    close: () => {
      clearInterval(sweep);
      guard.sweep(true);
    },
  };
}
