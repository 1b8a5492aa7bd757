// SPAKE2+ (RFC 9383), ciphersuite P256-SHA256-HKDF-SHA256-HMAC-SHA256, as a pure core: bytes and
// state in, bytes and state out. The hub is the prover (it knows the setup code, hence w0 and w1);
// the device is the verifier (it stores only w0 and L = w1*P). Message flow, as in the RFC:
//
//   hub    startProver      -> shareP ------------------>
//   device respondVerifier  <- shareV, confirmV ---------
//   hub    finishProver     -> confirmP ---------------->  (hub now has sharedKey)
//   device finishVerifier                                  (device now has sharedKey)
//
// Sockets, timers, attempt counting and the pairing window live with the caller.
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidInputError } from '../errors/index.ts';
import { PairingError } from './errors.ts';
import {
  ORDER,
  POINT_BYTES,
  curve,
  SCALAR_BYTES,
  badSecret,
  bytesToBigInt,
  decodePoint,
  isNonZeroScalar,
  pointToBytes,
  scalarToBytes,
} from './group.ts';
import type { GroupPoint } from './group.ts';

// RFC 9383 section 4: M and N for P-256 (compressed SEC1), generated so nobody knows their discrete logs.
// Both are multiplied in every exchange, so they get lazily built window tables like the base
// point's: a 4-bit window makes an exchange ~1.6x faster for ~40 ms and little memory on first use
// (the multiply is constant-time either way; the tables only save time).
interface MaskPoints {
  readonly M: GroupPoint;
  readonly N: GroupPoint;
  readonly M_BYTES: Uint8Array;
  readonly N_BYTES: Uint8Array;
}
let maskPoints: MaskPoints | undefined;

/** M and N with their window tables, built on first use (see curve() in group.ts for why). */
function masks(): MaskPoints {
  if (!maskPoints) {
    const M = curve().fromHex('02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f').precompute(4);
    const N = curve().fromHex('03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49').precompute(4);
    maskPoints = { M, N, M_BYTES: pointToBytes(M), N_BYTES: pointToBytes(N) };
  }
  return maskPoints;
}

/** Bytes in a share (uncompressed P-256 point), a confirmation MAC (HMAC-SHA256) and the shared key. */
export const SPAKE2PLUS_SHARE_BYTES = POINT_BYTES;
export const SPAKE2PLUS_MAC_BYTES = 32;
export const SPAKE2PLUS_KEY_BYTES = 32;

/**
 * The Context string both sides put first in the transcript when the caller gives none. Naming
 * the protocol, its version and the ciphersuite binds the keys to them (no cross-protocol reuse).
 */
export const DEFAULT_SPAKE2PLUS_CONTEXT = 'bulwark-pairing/1 SPAKE2+-P256-SHA256-HKDF-SHA256-HMAC-SHA256';

/** Bounds on what the caller puts in the transcript. */
export const spake2PlusLimits = {
  maxContextBytes: 1_024,
  maxIdentityBytes: 256,
} as const;

/** Transcript inputs both sides must agree on; strings are taken as UTF-8. */
export interface Spake2PlusBinding {
  /** Application context (default DEFAULT_SPAKE2PLUS_CONTEXT). */
  context?: Uint8Array | string;
  /** The hub's identity, e.g. its certificate fingerprint; empty only when implicit. */
  idProver: Uint8Array | string;
  /** The device's identity, e.g. its serial or certificate fingerprint. */
  idVerifier: Uint8Array | string;
}

/** What the prover (hub) starts from: w0 and w1 from `deriveSetupCodeSecrets`. */
export interface Spake2PlusProverParams extends Spake2PlusBinding {
  w0: bigint | Uint8Array;
  w1: bigint | Uint8Array;
}

/** What the verifier (device) starts from: w0 and L from its verifier record. */
export interface Spake2PlusVerifierParams extends Spake2PlusBinding {
  w0: bigint | Uint8Array;
  L: Uint8Array;
}

/**
 * Test hook: fixes the ephemeral scalar (x or y) so published vectors can be replayed. Never
 * set it outside tests; a repeated scalar with the same w0 leaks the setup code's secrets.
 */
export interface Spake2PlusTestHooks {
  unsafeEphemeralScalarForTests?: bigint;
}

/** The hub's state between `startProver` and `finishProver`. Opaque; holds no readable secrets. */
export interface Spake2PlusProverState {
  readonly role: 'prover';
}

/** The device's state between `respondVerifier` and `finishVerifier`. Opaque. */
export interface Spake2PlusVerifierState {
  readonly role: 'verifier';
}

interface ProverSecrets {
  w0: bigint;
  w1: bigint;
  x: bigint;
  shareP: Uint8Array;
  binding: NormalisedBinding;
}

interface VerifierSecrets {
  expectedConfirmP: Uint8Array;
  sharedKey: Uint8Array;
}

/** A binding with defaults applied and strings encoded: what goes into the transcript. */
export interface NormalisedBinding {
  context: Uint8Array;
  idProver: Uint8Array;
  idVerifier: Uint8Array;
}

// Secrets live here, keyed by the opaque state object: logging or serialising a state shows
// nothing, and deleting the entry is how a state becomes single-use.
const proverStates = new WeakMap<Spake2PlusProverState, ProverSecrets>();
const verifierStates = new WeakMap<Spake2PlusVerifierState, VerifierSecrets>();

function toBytes(v: Uint8Array | string | undefined, field: string, max: number, fallback?: string): Uint8Array {
  const value = v === undefined ? fallback : v;
  const bytes = typeof value === 'string' ? new Uint8Array(Buffer.from(value, 'utf8')) : value;
  if (!(bytes instanceof Uint8Array)) throw new InvalidInputError(`${field} must be bytes or a string`, { field });
  if (bytes.length > max) throw new InvalidInputError(`${field} must be at most ${max} bytes`, { field });
  return bytes;
}

/** Applies the default context, encodes strings as UTF-8 and enforces the length bounds. */
export function normaliseBinding(b: Spake2PlusBinding): NormalisedBinding {
  return {
    context: toBytes(b.context, 'context', spake2PlusLimits.maxContextBytes, DEFAULT_SPAKE2PLUS_CONTEXT),
    idProver: toBytes(b.idProver, 'idProver', spake2PlusLimits.maxIdentityBytes),
    idVerifier: toBytes(b.idVerifier, 'idVerifier', spake2PlusLimits.maxIdentityBytes),
  };
}

function secretScalar(v: unknown, name: string): bigint {
  let s: bigint;
  if (typeof v === 'bigint') s = v;
  else if (v instanceof Uint8Array && v.length === SCALAR_BYTES) s = bytesToBigInt(v);
  else throw badSecret(`${name} must be a bigint or ${SCALAR_BYTES} bytes`);
  if (!isNonZeroScalar(s)) throw badSecret(`${name} must be in 1..n-1`);
  return s;
}

function ephemeralScalar(hooks: Spake2PlusTestHooks | undefined): bigint {
  const fixed = hooks?.unsafeEphemeralScalarForTests;
  if (fixed !== undefined) {
    if (!isNonZeroScalar(fixed)) throw badSecret('ephemeral scalar must be in 1..n-1');
    return fixed;
  }
  // 64 extra bits before reducing keep the bias below 2^-64; mapping into 1..n-1 excludes 0,
  // which would make the share carry nothing but w0*M.
  return (bytesToBigInt(randomBytes(SCALAR_BYTES + 8)) % (ORDER - 1n)) + 1n;
}

function badShare(reason: string): PairingError {
  return new PairingError('PAIRING_BAD_SHARE', `peer's share refused: ${reason}`);
}

function decodeShare(share: unknown): GroupPoint {
  return decodePoint(share, badShare);
}

function lengthPrefixed(parts: readonly Uint8Array[]): Uint8Array {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(part.length));
    chunks.push(len, Buffer.from(part));
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * Everything both sides derive from a completed exchange. Internal to the folder: exported for
 * the vector tests, which check each intermediate value against RFC 9383 Appendix C.
 */
export interface Spake2PlusSessionValues {
  Z: Uint8Array;
  V: Uint8Array;
  TT: Uint8Array;
  K_main: Uint8Array;
  K_confirmP: Uint8Array;
  K_confirmV: Uint8Array;
  confirmP: Uint8Array;
  confirmV: Uint8Array;
  K_shared: Uint8Array;
}

/** RFC 9383 section 3.4: the transcript and key schedule from the shares and the shared points. */
export function deriveSessionValues(
  binding: NormalisedBinding,
  shareP: Uint8Array,
  shareV: Uint8Array,
  Z: GroupPoint,
  V: GroupPoint,
  w0: bigint,
): Spake2PlusSessionValues {
  const zBytes = pointToBytes(Z);
  const vBytes = pointToBytes(V);
  const TT = lengthPrefixed([
    binding.context,
    binding.idProver,
    binding.idVerifier,
    masks().M_BYTES,
    masks().N_BYTES,
    shareP,
    shareV,
    zBytes,
    vBytes,
    scalarToBytes(w0),
  ]);
  const K_main = new Uint8Array(createHash('sha256').update(TT).digest());
  // HKDF with salt = nil: RFC 5869 then uses HashLen zero bytes, which node does for an empty salt.
  const confirmationKeys = new Uint8Array(
    hkdfSync('sha256', K_main, new Uint8Array(0), 'ConfirmationKeys', 2 * SPAKE2PLUS_MAC_BYTES),
  );
  const K_confirmP = confirmationKeys.slice(0, SPAKE2PLUS_MAC_BYTES);
  const K_confirmV = confirmationKeys.slice(SPAKE2PLUS_MAC_BYTES);
  const K_shared = new Uint8Array(hkdfSync('sha256', K_main, new Uint8Array(0), 'SharedKey', SPAKE2PLUS_KEY_BYTES));
  // Each side confirms the share it received, so a confirmation also proves the peer saw ours.
  const confirmP = new Uint8Array(createHmac('sha256', K_confirmP).update(shareV).digest());
  const confirmV = new Uint8Array(createHmac('sha256', K_confirmV).update(shareP).digest());
  return { Z: zBytes, V: vBytes, TT, K_main, K_confirmP, K_confirmV, confirmP, confirmV, K_shared };
}

/** The prover's side of the shared points: Z = x*(Y - w0*N), V = w1*(Y - w0*N) (cofactor 1). */
export function proverSessionValues(
  binding: NormalisedBinding,
  w0: bigint,
  w1: bigint,
  x: bigint,
  shareP: Uint8Array,
  shareV: unknown,
): Spake2PlusSessionValues {
  const Y = decodeShare(shareV);
  const unmasked = Y.subtract(masks().N.multiply(w0));
  // Y = w0*N would give Z = V = identity: a share built to cancel the mask is an attack, not a peer.
  if (unmasked.is0()) throw badShare('share cancels the password mask');
  return deriveSessionValues(binding, shareP, shareV as Uint8Array, unmasked.multiply(x), unmasked.multiply(w1), w0);
}

/** The verifier's side of the shared points: Z = y*(X - w0*M), V = y*L (cofactor 1). */
export function verifierSessionValues(
  binding: NormalisedBinding,
  w0: bigint,
  L: GroupPoint,
  y: bigint,
  shareP: unknown,
  shareV: Uint8Array,
): Spake2PlusSessionValues {
  const X = decodeShare(shareP);
  const unmasked = X.subtract(masks().M.multiply(w0));
  if (unmasked.is0()) throw badShare('share cancels the password mask');
  return deriveSessionValues(binding, shareP as Uint8Array, shareV, unmasked.multiply(y), L.multiply(y), w0);
}

function macMatches(received: unknown, expected: Uint8Array): boolean {
  if (!(received instanceof Uint8Array) || received.length !== expected.length) return false;
  return timingSafeEqual(received, expected);
}

function confirmationFailed(): PairingError {
  return new PairingError(
    'PAIRING_CONFIRMATION_FAILED',
    'key confirmation failed: wrong setup code or tampered exchange',
  );
}

function stateUsed(): PairingError {
  return new PairingError('PAIRING_STATE_USED', 'this pairing state was already used or never started');
}

/**
 * Hub side, step 1: make the prover's share X = x*P + w0*M to send to the device.
 * @example const { state, shareP } = startProver({ w0, w1, idProver: hubId, idVerifier: deviceId });
 */
export function startProver(
  params: Spake2PlusProverParams,
  hooks?: Spake2PlusTestHooks,
): { state: Spake2PlusProverState; shareP: Uint8Array } {
  const binding = normaliseBinding(params);
  const w0 = secretScalar(params.w0, 'w0');
  const w1 = secretScalar(params.w1, 'w1');
  const x = ephemeralScalar(hooks);
  const shareP = pointToBytes(curve().BASE.multiply(x).add(masks().M.multiply(w0)));
  const state: Spake2PlusProverState = Object.freeze({ role: 'prover' as const });
  proverStates.set(state, { w0, w1, x, shareP, binding });
  return { state, shareP };
}

// A device answers every exchange with the same L: like M and N, it gets a window table, built
// on first use and kept (a few devices per process at most; the oldest entry goes beyond that).
const verifierPoints = new Map<string, GroupPoint>();
const MAX_VERIFIER_POINTS = 8;

function verifierPoint(L: unknown): GroupPoint {
  const key = L instanceof Uint8Array ? Buffer.from(L).toString('hex') : undefined;
  const cached = key === undefined ? undefined : verifierPoints.get(key);
  if (cached) return cached;
  const point = decodePoint(L, (reason) => badSecret(`L: ${reason}`)).precompute(4);
  if (key !== undefined) {
    if (verifierPoints.size >= MAX_VERIFIER_POINTS) verifierPoints.delete(verifierPoints.keys().next().value!);
    verifierPoints.set(key, point);
  }
  return point;
}

/**
 * Device side, step 1: check the hub's share, answer with Y = y*P + w0*N and the verifier's
 * confirmation MAC. Throws PairingError 'PAIRING_BAD_SHARE' for an invalid share.
 * @example const { state, shareV, confirmV } = respondVerifier({ w0, L, idProver, idVerifier }, shareP);
 */
export function respondVerifier(
  params: Spake2PlusVerifierParams,
  shareP: Uint8Array,
  hooks?: Spake2PlusTestHooks,
): { state: Spake2PlusVerifierState; shareV: Uint8Array; confirmV: Uint8Array } {
  const binding = normaliseBinding(params);
  const w0 = secretScalar(params.w0, 'w0');
  const L = verifierPoint(params.L);
  const y = ephemeralScalar(hooks);
  const shareV = pointToBytes(curve().BASE.multiply(y).add(masks().N.multiply(w0)));
  const values = verifierSessionValues(binding, w0, L, y, shareP, shareV);
  const state: Spake2PlusVerifierState = Object.freeze({ role: 'verifier' as const });
  verifierStates.set(state, { expectedConfirmP: values.confirmP, sharedKey: values.K_shared });
  return { state, shareV, confirmV: values.confirmV };
}

/**
 * Hub side, step 2: check the device's share and confirmation; on success return the hub's
 * confirmation to send and the shared key. The state is spent whatever the outcome.
 * Throws PairingError 'PAIRING_BAD_SHARE' or 'PAIRING_CONFIRMATION_FAILED'.
 */
export function finishProver(
  state: Spake2PlusProverState,
  shareV: Uint8Array,
  confirmV: Uint8Array,
): { confirmP: Uint8Array; sharedKey: Uint8Array } {
  const secrets = proverStates.get(state);
  if (secrets === undefined) throw stateUsed();
  proverStates.delete(state);
  const values = proverSessionValues(secrets.binding, secrets.w0, secrets.w1, secrets.x, secrets.shareP, shareV);
  if (!macMatches(confirmV, values.confirmV)) throw confirmationFailed();
  return { confirmP: values.confirmP, sharedKey: values.K_shared };
}

/**
 * Device side, step 2: check the hub's confirmation; on success return the shared key. The
 * state is spent whatever the outcome. Throws PairingError 'PAIRING_CONFIRMATION_FAILED'.
 */
export function finishVerifier(state: Spake2PlusVerifierState, confirmP: Uint8Array): { sharedKey: Uint8Array } {
  const secrets = verifierStates.get(state);
  if (secrets === undefined) throw stateUsed();
  verifierStates.delete(state);
  if (!macMatches(confirmP, secrets.expectedConfirmP)) throw confirmationFailed();
  return { sharedKey: secrets.sharedKey };
}
