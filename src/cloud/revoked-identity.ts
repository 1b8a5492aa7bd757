/**
 * A revoked identity to test with: a client certificate from the manufacturer CA for a unit nobody
 * made, revoked at once by its fingerprint. What a leaked or cloned key looks like after the maker
 * withdrew it; the auditor (`bulwark audit --revoked <dir>`) connects with it and must be refused.
 * Written as a unit bundle's files (device-cert.pem, device-key.pem 0600, ca-cert.pem).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { certificateFingerprint, generateSerial } from '../identity/index.ts';
import { writeFileAtomic, SECRET_FILE_MODE, PUBLIC_FILE_MODE } from '../storage/index.ts';
import type { CertificateIssuer } from './pki.ts';
import type { RevokeOutcome } from './revocation-sql.ts';

/**
 * Issues the certificate, revokes it through `revoke` (the store's, or a running cloud's
 * enforcer) and writes it to `outDir`; returns its fingerprint.
 */
export async function writeRevokedIdentity(o: {
  issuer: CertificateIssuer;
  revoke: (input: { certificate: string; reason: 'other' }) => Promise<RevokeOutcome>;
  outDir: string;
}): Promise<string> {
  const issued = await o.issuer.issueClient(generateSerial('TST'));
  const fingerprint = certificateFingerprint(issued.certPem);
  await o.revoke({ certificate: fingerprint, reason: 'other' });
  await mkdir(o.outDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(o.outDir, 'device-key.pem'), issued.keyPem, SECRET_FILE_MODE);
  await writeFileAtomic(join(o.outDir, 'device-cert.pem'), issued.certPem, PUBLIC_FILE_MODE);
  await writeFileAtomic(join(o.outDir, 'ca-cert.pem'), o.issuer.caCertPem, PUBLIC_FILE_MODE);
  return fingerprint;
}
