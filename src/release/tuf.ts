/**
 * TUF building blocks of the release side on @tufjs/models (loaded on first use): Ed25519
 * signing keys, key ids, signing, expiry dates and the byte form of metadata. The client-side
 * verification is tuf-js's, never ours.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Key, Metadata, Root, Signature, Snapshot, Targets, Timestamp } from '@tufjs/models';
import type * as TufModelsModule from '@tufjs/models';
import { ReleaseError } from '../update/index.ts';

/** The @tufjs/models module. */
export type TufModels = typeof TufModelsModule;
let models: Promise<TufModels> | undefined;

/** Loads @tufjs/models once. */
export function loadTufModels(): Promise<TufModels> {
  models ??= import('@tufjs/models');
  return models;
}

/** The top-level TUF roles. */
export const TUF_ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
/** One top-level role. */
export type TufRole = (typeof TUF_ROLES)[number];

/** Any top-level metadata. */
export type AnyMetadata = Metadata<Root> | Metadata<Targets> | Metadata<Snapshot> | Metadata<Timestamp>;

/** The TUF specification version written into our metadata. */
export const TUF_SPEC_VERSION = '1.0.31';

/** An Ed25519 signing key with its TUF key id. Holds a private key: never log it. */
export interface SigningKey {
  readonly keyId: string;
  /** The raw 32-byte public key, hex (TUF's `keyval.public` for ed25519). */
  readonly publicHex: string;
  readonly privateKey: KeyObject;
}

function rawPublicHex(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string')
    throw new ReleaseError('RELEASE_KEY_INVALID', 'update-signing keys must be Ed25519');
  return Buffer.from(jwk.x, 'base64url').toString('hex');
}

/**
 * The TUF key id: SHA-256 of the canonical JSON of the public key object. The object has only
 * plain ASCII strings, so sorted keys and no whitespace are its canonical form.
 */
export function keyIdOf(publicHex: string): string {
  const canonical = `{"keytype":"ed25519","keyval":{"public":"${publicHex}"},"scheme":"ed25519"}`;
  return createHash('sha256').update(canonical).digest('hex');
}

function fromPrivate(privateKey: KeyObject): SigningKey {
  const publicHex = rawPublicHex(createPublicKey(privateKey));
  return { keyId: keyIdOf(publicHex), publicHex, privateKey };
}

/** A new Ed25519 key from the OS CSPRNG. */
export function generateSigningKey(): SigningKey {
  return fromPrivate(generateKeyPairSync('ed25519').privateKey);
}

/** Reads a PKCS#8 PEM private key. @throws ReleaseError 'RELEASE_KEY_INVALID' */
export function signingKeyFromPem(pem: string): SigningKey {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new ReleaseError('RELEASE_KEY_INVALID', 'not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new ReleaseError('RELEASE_KEY_INVALID', 'update-signing keys must be Ed25519');
  return fromPrivate(key);
}

/** The PKCS#8 PEM form of a key, for a 0600 file. */
export function signingKeyPem(key: SigningKey): string {
  return key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The public TUF key object of `key`. */
export function tufKeyOf(m: TufModels, key: SigningKey): Key {
  return new m.Key({ keyID: key.keyId, keyType: 'ed25519', scheme: 'ed25519', keyVal: { public: key.publicHex } });
}

/** Adds a signature by each of `keys` (replacing any earlier signature by the same key). */
export function signWith(m: TufModels, metadata: AnyMetadata, keys: readonly SigningKey[]): void {
  for (const key of keys) {
    metadata.sign(
      (data: Buffer): Signature =>
        new m.Signature({ keyID: key.keyId, sig: sign(null, data, key.privateKey).toString('hex') }),
    );
  }
}

/** An expiry date `seconds` from `now`, in TUF's form (UTC, whole seconds). */
export function expiresIn(seconds: number, now: Date = new Date()): string {
  return new Date(Math.floor(now.getTime() / 1000) * 1000 + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The bytes of a metadata file as written to the repository. */
export function metadataBytes(metadata: AnyMetadata): Buffer {
  return Buffer.from(JSON.stringify(metadata.toJSON(), null, 1) + '\n', 'utf8');
}

/** SHA-256 of `bytes`, hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
