/**
 * The device's channel key rotation statement, pure: the device signs its new key's pin with the
 * old key, and a hub that pinned the old key re-pins on that statement alone. ECDSA P-256 with
 * SHA-256 (node:crypto) over canonical bytes: a context string, a zero byte, then each field as a
 * 4-byte big-endian length and its bytes, so no two statements share their signed bytes and no
 * other Bulwark signature (TLS 1.3 carries its own context) can be taken for one.
 *
 * The statement carries the old public key (SPKI, DER) too: its SHA-256 must equal the old pin, so
 * the hub checks the signature against exactly the key it pinned, also on a resumed TLS session
 * where it never sees the device's certificate.
 */
import {
  createHash,
  createPublicKey,
  sign,
  timingSafeEqual,
  verify,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { spkiSha256 } from '../channel/index.ts';
import { PairingError } from './errors.ts';

/** The domain separation string at the start of the signed bytes. */
export const KEY_ROTATION_CONTEXT = 'bulwark channel key rotation v1';

/** Bounds of a statement as it travels, characters and bytes. */
export const KEY_ROTATION_LIMITS = Object.freeze({
  /** Longest encoded statement, characters. */
  maxStatementChars: 4_096,
  /** Longest unit serial, characters. */
  maxSerialChars: 64,
  /** Largest new certificate, DER bytes. */
  maxCertificateBytes: 2_048,
  /** Largest old public key, SPKI DER bytes (P-256 takes 91). */
  maxPublicKeyBytes: 256,
});

/** A signed statement: "the unit `serial`, known by `oldPin`, now uses the key of `certificate`". */
export interface KeyRotationStatement {
  /** The unit's serial. */
  readonly serial: string;
  /** SHA-256 of the old key's SubjectPublicKeyInfo: the pin hubs hold. */
  readonly oldPin: Buffer;
  /** SHA-256 of the new key's SubjectPublicKeyInfo. */
  readonly newPin: Buffer;
  /** When the device made the statement, ISO 8601. */
  readonly issuedAt: string;
  /** The new key's self-signed certificate, DER. */
  readonly certificate: Buffer;
  /** The old public key, SPKI DER (not signed: its hash is `oldPin`, which is). */
  readonly oldPublicKey: Buffer;
  /** ECDSA P-256/SHA-256 over {@link keyRotationSignedBytes}, IEEE P1363 (r ‖ s, 64 bytes). */
  readonly signature: Buffer;
}

/** Why a hub refuses a statement ('malformed': it does not parse). */
export type KeyRotationRefusal =
  | 'malformed'
  | 'wrong-serial'
  | 'wrong-old-pin'
  | 'old-key-mismatch'
  | 'bad-signature'
  | 'certificate-mismatch'
  | 'same-key';

// The unit serial's form, as the pairing exchange checks it.
const SERIAL = /^[A-Z]{3}-[A-Z2-9]{10}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
const SIGNATURE_BYTES = 64;
const PIN_BYTES = 32;

function lengthPrefixed(bytes: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** The signed bytes: context, 0x00, then serial, old pin, new pin, time, certificate, each length-prefixed. */
export function keyRotationSignedBytes(s: Omit<KeyRotationStatement, 'signature' | 'oldPublicKey'>): Buffer {
  const fields = [Buffer.from(s.serial, 'utf8'), s.oldPin, s.newPin, Buffer.from(s.issuedAt, 'utf8'), s.certificate];
  return Buffer.concat([Buffer.from(KEY_ROTATION_CONTEXT, 'utf8'), Buffer.of(0), ...fields.map(lengthPrefixed)]);
}

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

/**
 * Signs the rotation from the key of `oldCertificate` (its private key `oldKey`) to the key of
 * `newCertificate` (PEM or DER).
 *
 * @example
 * const statement = signKeyRotation({ serial, oldKey, oldCertificate, newCertificate, issuedAt: new Date() });
 * const text = encodeKeyRotation(statement);
 */
export function signKeyRotation(o: {
  serial: string;
  oldKey: KeyObject;
  oldCertificate: string | Buffer;
  newCertificate: string | Buffer;
  issuedAt: Date;
}): KeyRotationStatement {
  const oldPublicKey = createPublicKey(o.oldKey).export({ type: 'spki', format: 'der' });
  const oldPin = spkiSha256(o.oldCertificate);
  if (!sha256(oldPublicKey).equals(oldPin) || !isP256(o.oldKey))
    throw new PairingError('PAIRING_BAD_SECRET', 'the old key is not the P-256 key of the old certificate');
  const certificate = Buffer.from(new X509Certificate(o.newCertificate).raw);
  const body = { serial: o.serial, oldPin, newPin: spkiSha256(certificate), issuedAt: o.issuedAt.toISOString() };
  const signed = keyRotationSignedBytes({ ...body, certificate });
  const signature = sign('sha256', signed, { key: o.oldKey, dsaEncoding: 'ieee-p1363' });
  return { ...body, certificate, oldPublicKey, signature };
}

/**
 * Checks a statement against what the hub knows of the device: its serial and the pin it holds.
 * Returns the new pin, or why the statement is refused; never throws on a statement's content.
 */
export function verifyKeyRotation(
  s: KeyRotationStatement,
  known: { serial: string; pin: Uint8Array },
): { ok: true; newPin: Buffer } | { ok: false; reason: KeyRotationRefusal } {
  if (s.serial !== known.serial) return { ok: false, reason: 'wrong-serial' };
  if (known.pin.length !== PIN_BYTES || !timingSafeEqual(s.oldPin, known.pin))
    return { ok: false, reason: 'wrong-old-pin' };
  if (!timingSafeEqual(sha256(s.oldPublicKey), s.oldPin)) return { ok: false, reason: 'old-key-mismatch' };
  let oldKey: KeyObject;
  try {
    oldKey = createPublicKey({ key: s.oldPublicKey, format: 'der', type: 'spki' });
  } catch {
    return { ok: false, reason: 'old-key-mismatch' };
  }
  const signed = keyRotationSignedBytes(s);
  const valid = isP256(oldKey) && verify('sha256', signed, { key: oldKey, dsaEncoding: 'ieee-p1363' }, s.signature);
  if (!valid) return { ok: false, reason: 'bad-signature' };
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(s.certificate);
  } catch {
    return { ok: false, reason: 'certificate-mismatch' };
  }
  if (!isP256(certificate.publicKey) || !spkiSha256(certificate).equals(s.newPin))
    return { ok: false, reason: 'certificate-mismatch' };
  if (s.newPin.equals(s.oldPin)) return { ok: false, reason: 'same-key' };
  return { ok: true, newPin: Buffer.from(s.newPin) };
}

/** The statement as the channel carries it: JSON with hex pins and canonical base64. */
export function encodeKeyRotation(s: KeyRotationStatement): string {
  return JSON.stringify({
    v: 1,
    serial: s.serial,
    oldPin: s.oldPin.toString('hex'),
    newPin: s.newPin.toString('hex'),
    issuedAt: s.issuedAt,
    certificate: s.certificate.toString('base64'),
    oldPublicKey: s.oldPublicKey.toString('base64'),
    signature: s.signature.toString('base64'),
  });
}

const FIELDS = ['v', 'serial', 'oldPin', 'newPin', 'issuedAt', 'certificate', 'oldPublicKey', 'signature'];

function bad(what: string): never {
  throw new PairingError('PAIRING_BAD_MESSAGE', `key rotation statement: ${what}`);
}

function base64Field(value: unknown, name: string, min: number, max: number): Buffer {
  if (typeof value !== 'string' || value.length > Math.ceil(max / 3) * 4) bad(`${name} is not base64`);
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64') !== value || bytes.length < min || bytes.length > max) bad(`${name} is not base64`);
  return bytes;
}

function pinField(value: unknown, name: string): Buffer {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) bad(`${name} is not a SHA-256 in hex`);
  return Buffer.from(value, 'hex');
}

/** Parses an encoded statement, strictly; throws PairingError 'PAIRING_BAD_MESSAGE' on anything else. */
export function parseKeyRotation(text: string): KeyRotationStatement {
  const limits = KEY_ROTATION_LIMITS;
  if (typeof text !== 'string' || text.length > limits.maxStatementChars || text[0] !== '{') bad('not a statement');
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return bad('not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('not an object');
  const keys = Object.keys(v);
  if (keys.length !== FIELDS.length || !FIELDS.every((k) => Object.hasOwn(v, k))) bad('unexpected fields');
  if (v.v !== 1) bad('unknown version');
  const { serial, issuedAt } = v;
  if (typeof serial !== 'string' || serial.length > limits.maxSerialChars || !SERIAL.test(serial)) bad('bad serial');
  if (typeof issuedAt !== 'string' || !ISO_TIME.test(issuedAt) || Number.isNaN(Date.parse(issuedAt)))
    bad('bad issuedAt');
  return {
    serial,
    oldPin: pinField(v.oldPin, 'oldPin'),
    newPin: pinField(v.newPin, 'newPin'),
    issuedAt,
    certificate: base64Field(v.certificate, 'certificate', 1, limits.maxCertificateBytes),
    oldPublicKey: base64Field(v.oldPublicKey, 'oldPublicKey', 1, limits.maxPublicKeyBytes),
    signature: base64Field(v.signature, 'signature', SIGNATURE_BYTES, SIGNATURE_BYTES),
  };
}
