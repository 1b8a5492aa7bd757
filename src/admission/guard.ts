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
import { FloodCounter, describeFlood, type FloodSummary } from './flood.ts';

/** One connection record for the surface's journal. */
export interface AdmissionRecord {
  /** 'address:port', or the bare address (IPv6: its /64) for a flood summary. */
  readonly source: string;
  readonly event: 'tls-connect' | 'tls-error' | 'tcp-connect' | 'connection-refused' | 'connection-flood' | 'header-timeout';
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

/**
 * Guards `server` (net, tls or https). Install it before the server listens.
 *
 * @example
 * const admission = guardServer(server, { establishOn: 'request', record: (e) => journal.record({ surface: 'web', ...e }) });
 */
export function guardServer(server: Server, options: GuardOptions): Admission {
  const config = validateAdmissionConfig(options.config);
  const now = options.now ?? Date.now;
  const table = new AdmissionTable(config);
  const flood = new FloodCounter(config);
  const infos = new WeakMap<Socket, ConnectionInfo>();
  const byId = new Map<number, Socket>();
  let nextId = 1;

  const emit = (entry: AdmissionRecord): void => {
    try {
      options.record(entry);
    } catch {
      // The journal reports its own failures; a connection must not fail because of them.
    }
  };
  const emitSummary = (s: FloodSummary): void => {
    emit({ source: s.address, event: 'connection-flood', result: 'info', detail: describeFlood(s) });
  };
  const note = (info: ConnectionInfo, entry: Omit<AdmissionRecord, 'source'>): void => {
    const bare = info.address?.replace(/^::ffff:(?=\d+\.)/, '') ?? 'unknown';
    const { write, due } = flood.note(info.key, `${entry.event} ${entry.result}`, now(), bare);
    due.forEach(emitSummary);
    if (write) emit({ source: formatPeer(info.address, info.port), ...entry });
  };
  const infoOf = (socket: Socket): ConnectionInfo | undefined =>
    // A TLS server wraps the accepted socket; Node keeps the accepted one as `_parent`.
    infos.get(socket) ?? infos.get((socket as Socket & { _parent?: Socket })._parent as Socket);

  const establish = (socket: Socket): void => {
    const info = infoOf(socket);
    if (!info || !table.isPending(info.id)) return;
    table.establish(info.id);
    clearTimeout(info.timer);
  };

  const refuse = (socket: Socket, info: ConnectionInfo, reason: AdmissionRefusal | 'deadline'): void => {
    info.outcome = 'refused';
    const event = reason === 'deadline' ? 'header-timeout' : 'connection-refused';
    note(info, { event, result: 'refused', detail: REFUSAL_TEXT[reason] });
    socket.destroy();
  };

  server.prependListener('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    const info: ConnectionInfo = { id: nextId++, address, port: socket.remotePort, key: keyOf(address) };
    infos.set(socket, info);
    socket.on('error', () => undefined);
    const decision = table.admit(info.id, info.key, now());
    if (!decision.admitted) {
      refuse(socket, info, decision.reason);
      return;
    }
    if (decision.evict !== undefined) {
      const victim = byId.get(decision.evict);
      const victimInfo = victim && infos.get(victim);
      if (victim && victimInfo) refuse(victim, victimInfo, 'server-full');
    }
    byId.set(info.id, socket);
    info.timer = setTimeout(() => refuse(socket, info, 'deadline'), config.pendingDeadlineMs);
    info.timer.unref();
    socket.once('close', (hadError: boolean) => {
      clearTimeout(info.timer);
      table.release(info.id);
      byId.delete(info.id);
      // A TLS server reports a failed handshake after the socket closes; give it that turn.
      setImmediate(() => {
        if (info.outcome !== undefined) return;
        info.outcome = 'failed';
        note(info, { event: 'tcp-connect', result: 'failure', detail: hadError ? 'reset before TLS' : 'closed before TLS' });
      });
    });
  });

  server.on('secureConnection', (socket: TLSSocket) => {
    const info = infoOf(socket);
    if (!info || info.outcome === 'refused') return;
    info.outcome = 'secure';
    if (options.recordEstablished !== false) {
      const detail = `${socket.getProtocol() ?? '?'} ${socket.getCipher()?.name ?? ''}`.trim();
      note(info, { event: 'tls-connect', result: 'success', detail });
    }
    if (options.establishOn === 'secure') establish(socket);
  });
  server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
    const info = infoOf(socket);
    if (!info || info.outcome === 'refused') return;
    info.outcome = 'failed';
    note(info, { event: 'tls-error', result: 'refused', detail: (err.code ?? 'TLS_ERROR').slice(0, 60) });
  });
  if (options.establishOn === 'request') {
    server.on('request', (req: { socket: Socket }) => establish(req.socket));
  }

  const sweep = setInterval(() => flood.due(now()).forEach(emitSummary), Math.min(config.floodWindowMs, 10_000));
  sweep.unref();
  server.once('close', () => clearInterval(sweep));

  return {
    config,
    sourceOf: (socket) => {
      const info = infoOf(socket);
      return info ? formatPeer(info.address, info.port) : formatPeer(socket.remoteAddress, socket.remotePort);
    },
    establish,
    size: () => table.size,
    close: () => {
      clearInterval(sweep);
      flood.drain(now()).forEach(emitSummary);
    },
  };
}
