/**
 * The hub's own key: an ECDSA P-256 key pair made at first run and kept 0600 in the hub's state
 * dir, with a self-signed certificate that carries it in TLS (the channel to devices and the
 * HTTPS admin page). Devices pin the key, not the certificate; src/identity makes the
 * certificate, loaded only when a key is made, so a hub with its key already starts without it.
 */
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { spkiSha256 } from '../channel/index.ts';
import { writeFileAtomic, SECRET_FILE_MODE, PUBLIC_FILE_MODE } from '../storage/index.ts';
import { HubError } from './errors.ts';

/** A key and its self-signed certificate, PEM; `key` is a secret. */
export interface HubIdentity {
  readonly key: string;
  readonly cert: string;
  /** SHA-256 of the SubjectPublicKeyInfo: what devices pin. */
  readonly pin: Buffer;
}

const KEY_FILE = 'hub-key.pem';
const CERT_FILE = 'hub-cert.pem';

/**
 * A self-signed X.509 v3 certificate for `key` (ECDSA P-256, SHA-256): CN, validity, CA:false,
 * and subject alternative names (default localhost, 127.0.0.1, ::1) so a browser or client that
 * trusts exactly this certificate can also check the host name.
 */
export async function selfSignedCertificate(
  key: KeyObject,
  commonName: string,
  options: { validityYears?: number; now?: Date; names?: readonly string[] } = {},
): Promise<string> {
  for (const n of options.names ?? []) {
    const address = isIP(n) === 4 || (isIP(n) === 6 && !n.includes('.') && !n.includes('%'));
    if (!address && !/^[a-z0-9.-]{1,253}$/i.test(n)) {
      throw new HubError('HUB_CONFIG_INVALID', `not a host name or address: ${n.slice(0, 64)}`);
    }
  }
  const { createPinnedKeyCertificate } = await import('../identity/index.ts');
  return createPinnedKeyCertificate(key, commonName, options);
}

/** Makes a fresh identity (key pair and self-signed certificate) named `commonName`. */
export async function createHubIdentity(commonName = 'Bulwark hub'): Promise<HubIdentity> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = await selfSignedCertificate(privateKey, commonName);
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert, pin: spkiSha256(cert) };
}

/**
 * Loads the hub's identity from `stateDir`, making it on first run. The key file must be 0600
 * (a key others could read has leaked already) and match the certificate.
 */
export async function loadOrCreateHubIdentity(stateDir: string): Promise<HubIdentity> {
  const keyPath = join(stateDir, KEY_FILE);
  const certPath = join(stateDir, CERT_FILE);
  let info;
  try {
    info = await stat(keyPath);
  } catch {
    const identity = await createHubIdentity();
    await writeFileAtomic(keyPath, identity.key, SECRET_FILE_MODE);
    await writeFileAtomic(certPath, identity.cert, PUBLIC_FILE_MODE);
    return identity;
  }
  if ((info.mode & 0o077) !== 0)
    throw new HubError(
      'HUB_KEY_INSECURE',
      `${keyPath} is readable by others (mode ${(info.mode & 0o777).toString(8)}); expected 600`,
    );
  const [key, cert] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')]);
  try {
    const x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error('mismatch');
  } catch {
    throw new HubError('HUB_KEY_INVALID', `${certPath} does not hold the certificate of ${keyPath}`);
  }
  return { key, cert, pin: spkiSha256(cert) };
}
