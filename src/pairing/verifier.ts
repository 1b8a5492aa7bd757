// The SPAKE2+ registration step (RFC 9383 section 3.2): turn a setup code into the prover's
// secrets (w0, w1) and the verifier's record (w0, L = w1*P). The device keeps only the record,
// never the code; the hub derives w0 and w1 from the code the user types or scans.
import { pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError, InvalidInputError } from '../errors/index.ts';
import * as group from './group.ts';

/** The ciphersuite a verifier record is made for (RFC 9383 section 4). */
export const PAIRING_SUITE = 'SPAKE2+-P256-SHA256-HKDF-HMAC';

/** Defaults for new verifier records: what `createPairingVerifierRecord()` uses with no options. */
export const defaultPairingVerifierOptions = {
  iterations: 10_000, // PBKDF2-HMAC-SHA256 rounds (Matter allows 1,000 to 100,000); ~4 ms on one server core
  saltBytes: 32, // bytes of random salt per device
} as const;

/** Bounds on the password-derivation parameters, in records we make and in records we read. */
export const pairingVerifierLimits = {
  minIterations: 1_000, // Matter's minimum; fewer makes an offline guess too cheap
  maxIterations: 10_000_000, // bounds the CPU a hostile record can make us spend
  minSaltBytes: 16,
  maxSaltBytes: 64,
  minSetupCodeDigits: 6,
  maxSetupCodeDigits: 64,
} as const;

// RFC 9383: each of w0s, w1s is ceil(log2(n)/8) + 8 = 40 bytes, so that reducing mod n leaves a
// bias of at most 2^-64.
const W_SEED_BYTES = 40;

/** The prover's secrets: two scalars mod the P-256 order, derived from the setup code. */
export interface SetupCodeSecrets {
  w0: bigint;
  w1: bigint;
}

/** The verifier's secrets, as bytes: w0 (32 bytes big-endian) and L = w1*P (65-byte uncompressed). */
export interface PairingVerifier {
  w0: Uint8Array;
  L: Uint8Array;
}

/** What the device stores in place of its setup code. JSON-serialisable; binary fields are base64. */
export interface PairingVerifierRecord {
  version: 1;
  suite: typeof PAIRING_SUITE;
  pbkdf2: { salt: string; iterations: number };
  w0: string;
  L: string;
}

/** Options for `createPairingVerifierRecord`; the defaults are the secure choice. */
export interface PairingVerifierOptions {
  iterations?: number;
  salt?: Uint8Array;
}

/**
 * Reduces a setup code to its digits ("1234-5678 90" -> "123456789"), refusing anything else.
 * Spaces and dashes are how stickers group digits, not part of the code.
 */
export function normaliseSetupCode(setupCode: string): string {
  if (typeof setupCode !== 'string') throw new InvalidInputError('setup code must be a string', { field: 'setupCode' });
  const digits = setupCode.replace(/[\s-]/g, '');
  const { minSetupCodeDigits: min, maxSetupCodeDigits: max } = pairingVerifierLimits;
  if (!/^[0-9]+$/.test(digits) || digits.length < min || digits.length > max) {
    throw new InvalidInputError(`setup code must be ${min} to ${max} digits (spaces and dashes allowed)`, {
      field: 'setupCode',
    });
  }
  return digits;
}

function checkIterations(iterations: unknown): number {
  const { minIterations: min, maxIterations: max } = pairingVerifierLimits;
  if (typeof iterations !== 'number' || !Number.isSafeInteger(iterations) || iterations < min || iterations > max) {
    throw new ConfigError('PAIRING_PARAMS_INVALID', 'iterations', `must be an integer from ${min} to ${max}`);
  }
  return iterations;
}

function checkSalt(salt: unknown): Uint8Array {
  const { minSaltBytes: min, maxSaltBytes: max } = pairingVerifierLimits;
  if (!(salt instanceof Uint8Array) || salt.length < min || salt.length > max) {
    throw new ConfigError('PAIRING_PARAMS_INVALID', 'salt', `must be ${min} to ${max} bytes`);
  }
  return salt;
}

/**
 * Derives (w0, w1) from a setup code as RFC 9383 section 3.2 does:
 * w0s || w1s = PBKDF2-HMAC-SHA256(code, salt, iterations, 80 bytes); w0 = w0s mod n, w1 = w1s mod n.
 * @example const { w0, w1 } = deriveSetupCodeSecrets('2024-0613', salt, 10_000);
 */
export function deriveSetupCodeSecrets(setupCode: string, salt: Uint8Array, iterations: number): SetupCodeSecrets {
  const code = normaliseSetupCode(setupCode);
  const okSalt = checkSalt(salt);
  const okIterations = checkIterations(iterations);
  const seed = pbkdf2Sync(Buffer.from(code, 'utf8'), okSalt, okIterations, 2 * W_SEED_BYTES, 'sha256');
  const w0 = group.bytesToBigInt(seed.subarray(0, W_SEED_BYTES)) % group.ORDER;
  const w1 = group.bytesToBigInt(seed.subarray(W_SEED_BYTES)) % group.ORDER;
  seed.fill(0);
  // A zero scalar happens with probability ~2^-256; refusing it keeps every later step total.
  if (!group.isNonZeroScalar(w0) || !group.isNonZeroScalar(w1)) throw group.badSecret('derived scalar is zero');
  return { w0, w1 };
}

/** Computes the verifier's secrets (w0 and L = w1*P) for a setup code. */
export function computeVerifier(setupCode: string, salt: Uint8Array, iterations: number): PairingVerifier {
  const { w0, w1 } = deriveSetupCodeSecrets(setupCode, salt, iterations);
  return { w0: group.scalarToBytes(w0), L: group.pointToBytes(group.curve().BASE.multiply(w1)) };
}

/**
 * Makes the record a device stores instead of its setup code (random 32-byte salt, 10,000
 * PBKDF2 iterations unless told otherwise).
 * @example const record = createPairingVerifierRecord(sticker.setupCode); // JSON.stringify(record)
 */
export function createPairingVerifierRecord(
  setupCode: string,
  options: PairingVerifierOptions = {},
): PairingVerifierRecord {
  const iterations = checkIterations(options.iterations ?? defaultPairingVerifierOptions.iterations);
  const salt = checkSalt(options.salt ?? randomBytes(defaultPairingVerifierOptions.saltBytes));
  const { w0, L } = computeVerifier(setupCode, salt, iterations);
  return {
    version: 1,
    suite: PAIRING_SUITE,
    pbkdf2: { salt: toBase64(salt), iterations },
    w0: toBase64(w0),
    L: toBase64(L),
  };
}

function invalid(field: string, reason: string): InvalidInputError {
  return new InvalidInputError(`pairing verifier record: ${field} ${reason}`, { field });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

function checkKeys(obj: Record<string, unknown>, keys: readonly string[], field: string): void {
  for (const k of Object.keys(obj)) if (!keys.includes(k)) throw invalid(`${field}.${k}`, 'is not a known field');
  for (const k of keys) if (!(k in obj)) throw invalid(`${field}.${k}`, 'is missing');
}

const MAX_BASE64_CHARS = 128; // longer than any field we store (65 bytes -> 88 chars)

// Canonical base64 only: one encoding per value, so a record cannot be altered without changing bytes.
function fromBase64(v: unknown, field: string): Uint8Array {
  if (typeof v !== 'string' || v.length > MAX_BASE64_CHARS || v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) {
    throw invalid(field, 'is not base64');
  }
  const bytes = Buffer.from(v, 'base64');
  if (bytes.toString('base64') !== v) throw invalid(field, 'is not canonical base64');
  return new Uint8Array(bytes);
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/**
 * Validates a stored verifier record strictly (exact fields, types, lengths, bounds, w0 in
 * range, L on the curve and not the identity). Throws InvalidInputError ('INVALID_INPUT').
 */
export function parsePairingVerifierRecord(json: unknown): PairingVerifierRecord {
  if (!isPlainObject(json)) throw invalid('record', 'must be an object');
  checkKeys(json, ['version', 'suite', 'pbkdf2', 'w0', 'L'], 'record');
  if (json.version !== 1) throw invalid('version', 'must be 1');
  if (json.suite !== PAIRING_SUITE) throw invalid('suite', `must be '${PAIRING_SUITE}'`);
  const p = json.pbkdf2;
  if (!isPlainObject(p)) throw invalid('pbkdf2', 'must be an object');
  checkKeys(p, ['salt', 'iterations'], 'pbkdf2');
  const { minIterations, maxIterations, minSaltBytes, maxSaltBytes } = pairingVerifierLimits;
  if (
    typeof p.iterations !== 'number' ||
    !Number.isSafeInteger(p.iterations) ||
    p.iterations < minIterations ||
    p.iterations > maxIterations
  ) {
    throw invalid('pbkdf2.iterations', `must be an integer from ${minIterations} to ${maxIterations}`);
  }
  const salt = fromBase64(p.salt, 'pbkdf2.salt');
  if (salt.length < minSaltBytes || salt.length > maxSaltBytes)
    throw invalid('pbkdf2.salt', `must be ${minSaltBytes} to ${maxSaltBytes} bytes`);
  const w0 = fromBase64(json.w0, 'w0');
  if (w0.length !== group.SCALAR_BYTES || !group.isNonZeroScalar(group.bytesToBigInt(w0)))
    throw invalid('w0', 'must be a 32-byte scalar in 1..n-1');
  const L = fromBase64(json.L, 'L');
  if (L.length !== group.POINT_BYTES) throw invalid('L', 'must be a 65-byte uncompressed point');
  group.decodePoint(L, (reason) => invalid('L', `is not a valid point (${reason})`));
  return {
    version: 1,
    suite: PAIRING_SUITE,
    pbkdf2: { salt: p.salt as string, iterations: p.iterations },
    w0: json.w0 as string,
    L: json.L as string,
  };
}

/** Decodes a (validated) record into the verifier's secrets for a SPAKE2+ exchange. */
export function pairingVerifierFromRecord(record: PairingVerifierRecord): PairingVerifier {
  const ok = parsePairingVerifierRecord(record);
  return { w0: fromBase64(ok.w0, 'w0'), L: fromBase64(ok.L, 'L') };
}

/**
 * True when `setupCode` is the code the record was made from. Recomputes w0 and L and compares
 * both in constant time. A malformed code is simply false; a malformed record throws.
 * @example if (!verifySetupCode(form.setupCode, record)) return refuse();
 */
export function verifySetupCode(setupCode: string, record: PairingVerifierRecord): boolean {
  const ok = parsePairingVerifierRecord(record);
  const salt = fromBase64(ok.pbkdf2.salt, 'pbkdf2.salt');
  let candidate: PairingVerifier;
  try {
    candidate = computeVerifier(setupCode, salt, ok.pbkdf2.iterations);
  } catch (err) {
    if (err instanceof InvalidInputError) return false;
    throw err;
  }
  const w0Match = timingSafeEqual(candidate.w0, fromBase64(ok.w0, 'w0'));
  const lMatch = timingSafeEqual(candidate.L, fromBase64(ok.L, 'L'));
  return w0Match && lMatch;
}
