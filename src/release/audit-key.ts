/**
 * The factory's audit key: an Ed25519 key that signs the audit reports kept with a release (DSSE
 * envelopes over in-toto statements, src/audit). The private half stays in the factory folder
 * (`audit-key.pem`, 0600); the public half (`audit-key.pub.pem`) is what the release repository
 * publishes as a signed target, so an auditor trusts it through the update root, not the folder.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, SECRET_FILE_MODE, PUBLIC_FILE_MODE } from '../storage/index.ts';
import { ConfigError } from '../errors/index.ts';
import { ReleaseError } from '../update/index.ts';

/** The audit key's private half in the factory folder (PKCS#8 PEM, mode 0600). */
export const AUDIT_KEY_FILE = 'audit-key.pem';
/** Its public half (SPKI PEM): the file the release repository publishes as a target. */
export const AUDIT_PUBLIC_KEY_FILE = 'audit-key.pub.pem';

/** The target path under which a release repository publishes the audit public key (signed in targets metadata). */
export const AUDIT_KEY_TARGET = 'audit-key.pub.pem';

/** The audit key of a factory. Holds the private key: never log it. */
export interface AuditSigningKey {
  readonly privateKey: KeyObject;
  readonly publicKeyPem: string;
}

function publicPemOf(privateKey: KeyObject): string {
  return createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
}

/**
 * Loads the factory's audit key, making it on first use (factories made before the key existed get
 * one the first time a report is kept or an image published). @throws ReleaseError 'RELEASE_KEYS_MISSING'
 * @example const { privateKey } = await ensureAuditKey('/secure/factory');
 */
export async function ensureAuditKey(factoryDir: string): Promise<AuditSigningKey> {
  if (!existsSync(join(factoryDir, 'factory.json')))
    throw new ReleaseError(
      'RELEASE_KEYS_MISSING',
      `no factory in ${factoryDir}: the audit key lives in the factory folder`,
    );
  const path = join(factoryDir, AUDIT_KEY_FILE);
  let privateKey: KeyObject;
  if (existsSync(path)) privateKey = createPrivateKey(await readFile(path, 'utf8'));
  else {
    privateKey = generateKeyPairSync('ed25519').privateKey;
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFileAtomic(path, pem, SECRET_FILE_MODE);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new ConfigError('FACTORY_CONFIG_INVALID', AUDIT_KEY_FILE, 'must be an Ed25519 private key');
  const publicKeyPem = publicPemOf(privateKey);
  const publicPath = join(factoryDir, AUDIT_PUBLIC_KEY_FILE);
  if (!existsSync(publicPath) || (await readFile(publicPath, 'utf8')) !== publicKeyPem)
    await writeFileAtomic(publicPath, publicKeyPem, PUBLIC_FILE_MODE);
  return { privateKey, publicKeyPem };
}
