/**
 * Public-key pinning: the SHA-256 of a certificate's SubjectPublicKeyInfo (DER), and a
 * constant-time lookup of such a hash in a pinned set.
 */
import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import { ChannelConfigError } from './errors.ts';

/** Bytes of an SPKI SHA-256 pin. */
export const PIN_BYTES = 32;

/** Decides whether a peer is known: returns what we know of it, or undefined to refuse it. */
export type PinnedPeerLookup<P> = (spkiSha256: Buffer) => P | undefined;

/** SHA-256 of the certificate's SubjectPublicKeyInfo, DER (the pin of its key). */
export function spkiSha256(certificate: string | Buffer | X509Certificate): Buffer {
  const cert = certificate instanceof X509Certificate ? certificate : new X509Certificate(certificate);
  return createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest();
}

/**
 * A lookup over a fixed set of pins. Every pin is compared, in constant time, whatever
 * matches, so the time taken says nothing about which pin (if any) matched.
 *
 * @example
 * const lookup = pinnedPeers([[spkiSha256(hubCertPem), { id: 'hub-1' }]]);
 */
export function pinnedPeers<P>(entries: Iterable<readonly [Uint8Array, P]>): PinnedPeerLookup<P> {
  const pins: Array<readonly [Buffer, P]> = [];
  for (const [pin, peer] of entries) {
    if (!(pin instanceof Uint8Array) || pin.length !== PIN_BYTES) throw new ChannelConfigError('pins', 'each pin must be 32 bytes (SHA-256 of the SPKI)');
    pins.push([Buffer.from(pin), peer]);
  }
  return (candidate: Buffer): P | undefined => {
    if (!(candidate instanceof Uint8Array) || candidate.length !== PIN_BYTES) return undefined;
    let found: P | undefined;
    for (const [pin, peer] of pins) {
      if (timingSafeEqual(pin, candidate) && found === undefined) found = peer;
    }
    return found;
  };
}
