// P-256 group plumbing shared by the verifier record and the SPAKE2+ core: scalar and point
// encodings, and the strict decoding every point from outside goes through.
import { createRequire } from 'node:module';
import type * as Nist from '@noble/curves/nist.js';
import { PairingError } from './errors.ts';

type PointClass = typeof Nist.p256.Point;
export type GroupPoint = ReturnType<PointClass['fromBytes']>;

let pointClass: PointClass | undefined;

/**
 * The P-256 point class from @noble/curves, loaded on first use: the curve code costs a device
 * about 7 MiB of memory, and a device needs it only while it pairs. (Node 24 loads an ES module
 * through require() synchronously, so the pairing functions stay synchronous.)
 */
export function curve(): PointClass {
  pointClass ??= loadNist().p256.Point;
  return pointClass;
}

/**
 * Node runs this file as an ES module, which has no `require` of its own: it takes one from
 * createRequire. In a firmware image (src/release's image-build.ts) the bundler turns the literal
 * `require(...)` call into the bundled module, still evaluated only here, on first use; the image
 * defines `require` for Node's built-ins only, so nothing is looked up outside the image.
 */
function loadNist(): typeof Nist {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: the bundler's lazy form
  if (typeof require === 'function') return require('@noble/curves/nist.js') as typeof Nist;
  return createRequire(import.meta.url)('@noble/curves/nist.js') as typeof Nist;
}

/** The order n of the P-256 group (SEC 2); a unit test checks it against the curve library. */
export const ORDER: bigint = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
/** Bytes in a scalar (big-endian) and in an uncompressed SEC1 point. */
export const SCALAR_BYTES = 32;
export const POINT_BYTES = 65;

export function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes).toString('hex'));
}

export function scalarToBytes(scalar: bigint): Uint8Array {
  if (scalar < 0n || scalar >= ORDER) throw new RangeError('scalar out of range');
  return new Uint8Array(Buffer.from(scalar.toString(16).padStart(SCALAR_BYTES * 2, '0'), 'hex'));
}

/** True for a scalar usable as a secret: 0 < s < n (0 would make the point the identity). */
export function isNonZeroScalar(s: bigint): boolean {
  return s > 0n && s < ORDER;
}

export function pointToBytes(p: GroupPoint): Uint8Array {
  return p.toBytes(false);
}

/**
 * Decodes a point that came from outside. Only the 65-byte uncompressed form is accepted (the
 * one RFC 9383 puts in the transcript, so there is a single valid encoding per point); the point
 * must be on the curve and not the identity. `onError` builds the typed error to throw.
 */
export function decodePoint(bytes: unknown, onError: (reason: string) => Error): GroupPoint {
  if (!(bytes instanceof Uint8Array)) throw onError('not bytes');
  if (bytes.length !== POINT_BYTES || bytes[0] !== 0x04) throw onError('not a 65-byte uncompressed point');
  let point: GroupPoint;
  try {
    point = curve().fromBytes(bytes);
    point.assertValidity();
  } catch {
    throw onError('not a point on P-256');
  }
  // P-256 has cofactor 1, so every on-curve point other than the identity is in the group.
  if (point.is0()) throw onError('identity point');
  return point;
}

export function badSecret(reason: string): PairingError {
  return new PairingError('PAIRING_BAD_SECRET', `unusable pairing secret: ${reason}`);
}
