/**
 * TLS to the update repository when the unit's wall clock is below its clock floor (docs/clock.md): a
 * unit at 1970 sees every certificate as not yet valid, and node:tls checks validity only against the
 * wall clock. Only in that case, and only with the pinned manufacturer CA, OpenSSL's verdict is set
 * aside and the peer is verified here instead, at the floor: the server's certificate must be issued
 * and signed by the pinned CA itself, be a server certificate, be valid at the floor (and the CA too),
 * and name the host. Nothing is written to the socket before this passes.
 */
import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { UpdateRefusedError } from './errors.ts';
import { verifyServerCertificateAt } from '../channel/index.ts';

/**
 * Verifies a server's certificate against the pinned CA at the time `at` (ms since the epoch): src/channel's
 * check, its refusal an update refusal.
 * @throws UpdateRefusedError 'UPDATE_UNREACHABLE' saying what did not hold
 */
export function verifyServerAt(peer: X509Certificate | undefined, caPem: string, host: string, at: number): void {
  try {
    verifyServerCertificateAt(peer, caPem, host, at);
  } catch (err) {
    throw new UpdateRefusedError('UPDATE_UNREACHABLE', (err as Error).message);
  }
}

/** What {@link connectAtFloor} needs. */
export interface FloorTlsOptions {
  readonly host: string;
  readonly port: number;
  readonly servername?: string;
  readonly caPem: string;
  /** The clock floor, ms since the epoch. */
  readonly at: number;
}

/**
 * An http(s) `createConnection` that opens TLS without OpenSSL's verdict on the peer, verifies the peer
 * with {@link verifyServerAt} on the handshake, and only then hands the socket to the request. Use it only
 * while the wall clock is below the floor; otherwise node:tls verifies as usual.
 */
export function floorTlsConnection(o: FloorTlsOptions) {
  return (_options: unknown, done: (err: Error | null, socket: Duplex) => void): undefined => {
    const socket: TLSSocket = connect({
      host: o.host,
      port: o.port,
      ...(o.servername && !isIP(o.servername) ? { servername: o.servername } : {}),
      ca: o.caPem,
      minVersion: 'TLSv1.2',
      // Confined to this function: the peer is verified just below, at the floor, before anything is sent.
      rejectUnauthorized: false,
    });
    const fail = (err: Error): void => {
      socket.destroy();
      done(err, socket);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.off('error', fail);
      // The request adds its own listener on the next tick; an error before then must not be unhandled.
      socket.on('error', () => undefined);
      try {
        verifyServerAt(socket.getPeerX509Certificate(), o.caPem, o.host, o.at);
      } catch (err) {
        fail(err as Error);
        return;
      }
      done(null, socket);
    });
    return undefined;
  };
}
