/**
 * A server's certificate judged at a given time instead of the wall clock: for a unit whose wall clock
 * is below its clock floor (docs/clock.md), where OpenSSL would call every certificate not yet valid.
 * The check is narrow on purpose: the certificate must be issued and signed by the pinned CA itself
 * (no intermediates), not be a CA, be for a server, be valid at that time (and the CA too), and name the
 * host. The TLS handshake has already proved the server holds the certificate's key.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { ChannelError } from './errors.ts';

/** The OID of TLS server authentication in an extended key usage. */
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

function refused(why: string): ChannelError {
  return new ChannelError('CHANNEL_TLS_FAILED', `TLS (checked at the clock floor): ${why}`);
}

function validAt(cert: X509Certificate, at: number): boolean {
  return cert.validFromDate.getTime() <= at && at <= cert.validToDate.getTime();
}

/**
 * Verifies a server's certificate against the pinned CA at the time `at` (ms since the epoch).
 * @throws ChannelError 'CHANNEL_TLS_FAILED' saying what did not hold
 */
export function verifyServerCertificateAt(
  peer: X509Certificate | undefined,
  caPem: string,
  host: string,
  at: number,
): void {
  if (!peer) throw refused('the server sent no certificate');
  const ca = new X509Certificate(caPem);
  if (!ca.ca) throw refused('the pinned certificate is not a CA');
  if (!validAt(ca, at)) throw refused('the pinned CA is not valid at the clock floor');
  if (!peer.checkIssued(ca) || !peer.verify(ca.publicKey)) throw refused('the certificate is not from the pinned CA');
  if (peer.ca) throw refused('the server presented a CA certificate');
  if (!validAt(peer, at)) throw refused('the certificate is not valid at the clock floor');
  const usage = peer.keyUsage;
  if (Array.isArray(usage) && !usage.includes(SERVER_AUTH)) throw refused('the certificate is not for a server');
  const named = isIP(host) ? peer.checkIP(host) : peer.checkHost(host, { subject: 'never', wildcards: false });
  if (!named) throw refused(`the certificate does not name ${host}`);
}
