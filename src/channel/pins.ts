/**
 * Public-key pinning: the SHA-256 of a certificate's SubjectPublicKeyInfo (DER), and a
 * constant-time lookup of such a hash in a pinned set.
 */
import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import { ChannelConfigError, ChannelPeerError } from './errors.ts';

/** Bytes of an SPKI SHA-256 pin. */
export const PIN_BYTES = 32;

/** Decides whether a peer is known: returns what we know of it, or undefined to refuse it. */
export type PinnedPeerLookup<P> = (spkiSha256: Buffer) => P | undefined;

/** One DER element: its tag and where its contents start and end. */
interface DerElement {
  readonly tag: number;
  readonly contentStart: number;
  readonly end: number;
}

/** Reads the DER element at `offset`, within `limit`; throws on anything malformed. */
function derElement(der: Uint8Array, offset: number, limit: number): DerElement {
  if (offset + 2 > limit) throw new ChannelPeerError('certificate DER is truncated');
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let p = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    // DER: definite lengths only, in at most 4 bytes (a certificate is far below 4 GiB).
    if (n === 0 || n > 4 || p + n > limit) throw new ChannelPeerError('certificate DER has a bad length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[p++]!;
  }
  const end = p + length;
  if (end > limit) throw new ChannelPeerError('certificate DER is truncated');
  return { tag, contentStart: p, end };
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const EXPLICIT_0 = 0xa0;

/**
 * The SubjectPublicKeyInfo of a DER certificate, exactly as encoded in it (RFC 5280:
 * Certificate -> TBSCertificate -> [version], serialNumber, signature, issuer, validity,
 * subject, subjectPublicKeyInfo). Walking the DER costs microseconds where re-exporting the
 * key through OpenSSL costs tens of them, on every connection of both sides.
 */
function subjectPublicKeyInfo(der: Uint8Array): Uint8Array {
  const cert = derElement(der, 0, der.length);
  if (cert.tag !== SEQUENCE || cert.end !== der.length) throw new ChannelPeerError('not a DER certificate');
  const tbs = derElement(der, cert.contentStart, cert.end);
  if (tbs.tag !== SEQUENCE) throw new ChannelPeerError('not a DER certificate');
  let p = tbs.contentStart;
  let field = derElement(der, p, tbs.end);
  if (field.tag === EXPLICIT_0) {
    p = field.end;
    field = derElement(der, p, tbs.end);
  }
  if (field.tag !== INTEGER) throw new ChannelPeerError('certificate has no serial number');
  p = field.end;
  for (let i = 0; i < 4; i++) {
    field = derElement(der, p, tbs.end);
    if (field.tag !== SEQUENCE) throw new ChannelPeerError('certificate fields are out of order');
    p = field.end;
  }
  const spki = derElement(der, p, tbs.end);
  if (spki.tag !== SEQUENCE) throw new ChannelPeerError('certificate has no SubjectPublicKeyInfo');
  return der.subarray(p, spki.end);
}

/** SHA-256 of the certificate's SubjectPublicKeyInfo, DER (the pin of its key). */
export function spkiSha256(certificate: string | Buffer | X509Certificate): Buffer {
  const cert = certificate instanceof X509Certificate ? certificate : new X509Certificate(certificate);
  return createHash('sha256').update(subjectPublicKeyInfo(cert.raw)).digest();
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
    if (!(pin instanceof Uint8Array) || pin.length !== PIN_BYTES)
      throw new ChannelConfigError('pins', 'each pin must be 32 bytes (SHA-256 of the SPKI)');
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
