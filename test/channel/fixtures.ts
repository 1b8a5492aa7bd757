// Test identities for the channel: fresh self-signed ECDSA P-256 keys and certificates.
import { createWebCertificate } from '../../src/identity/certificates.ts';
import { spkiSha256 } from '../../src/channel/index.ts';

/** A side of a channel: its key, certificate and key pin. */
export interface TestIdentity {
  readonly name: string;
  readonly key: string;
  readonly cert: string;
  readonly pin: Buffer;
}

/** Makes a fresh identity named `name` (an upper-case serial-like string). */
export async function makeIdentity(name: string): Promise<TestIdentity> {
  const issued = await createWebCertificate(name, 'Bulwark Test');
  return { name, key: issued.privateKeyPem, cert: issued.certPem, pin: spkiSha256(issued.certPem) };
}
