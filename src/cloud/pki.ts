/**
 * The cloud's certificates, all issued by the manufacturer CA, which the devices pin: the
 * server certificate of the broker and the owner API, and one client certificate per cloud
 * service instance (CN `bulwark-cloud-<name>`, the only identity the broker lets read
 * `devices/+/...`). Also a general issuer, used by tests and the benchmark to make device
 * certificates, expired ones and other CAs.
 *
 * In production these are issued at the factory and only the results are copied to the cloud;
 * `bulwark cloud run --factory` issues them on first start so the reference system runs on one
 * machine. The certificates themselves are made by src/identity.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, SECRET_FILE_MODE, PUBLIC_FILE_MODE } from '../storage/index.ts';
import { serviceCommonName } from '../cloudprotocol/index.ts';
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  loadCaSigner,
  type IssuedCertificate,
} from '../identity/index.ts';
import { CloudError } from './errors.ts';

/** A certificate and its private key, PEM. `keyPem` is a secret. */
export interface CertificateWithKey {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Options of one certificate. */
export interface IssueOptions {
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly organisation?: string;
}

/** Issues certificates under one CA. */
export interface CertificateIssuer {
  readonly caCertPem: string;
  /** A client certificate (EKU clientAuth) with subject CN `cn`. */
  issueClient(cn: string, options?: IssueOptions): Promise<CertificateWithKey>;
  /** A server certificate (EKU serverAuth) for `names` (DNS names or IP addresses) and loopback. */
  issueServer(names: readonly string[], options?: IssueOptions): Promise<CertificateWithKey>;
}

function withKey(issued: IssuedCertificate): CertificateWithKey {
  return { certPem: issued.certPem, keyPem: issued.privateKeyPem };
}

/** An issuer over a CA given as PEM (certificate and PKCS#8 key). */
export async function certificateIssuer(caCertPem: string, caKeyPem: string): Promise<CertificateIssuer> {
  const ca = await loadCaSigner(caCertPem, caKeyPem);
  const withOrganisation = (o: IssueOptions): IssueOptions => ({ ...o, organisation: o.organisation ?? 'Bulwark' });
  return {
    caCertPem,
    issueClient: async (cn, o = {}) => withKey(await issueClientCertificate(ca, cn, withOrganisation(o))),
    issueServer: async (names, o = {}) => withKey(await issueServerCertificate(ca, names, withOrganisation(o))),
  };
}

/** A fresh self-signed CA (for tests and the benchmark: "a certificate from another CA"). */
export async function createTestCa(name = 'Other CA'): Promise<CertificateWithKey> {
  return withKey(await createCertificateAuthority(name, { validityDays: 5 * 365 }));
}

/** The manufacturer CA of a factory folder (docs/bundle.md: `ca/ca-cert.pem`, `ca/ca-key.pem`). */
export async function factoryIssuer(factoryDir: string): Promise<CertificateIssuer> {
  let certPem: string, keyPem: string;
  try {
    [certPem, keyPem] = await Promise.all([
      readFile(join(factoryDir, 'ca', 'ca-cert.pem'), 'utf8'),
      readFile(join(factoryDir, 'ca', 'ca-key.pem'), 'utf8'),
    ]);
  } catch {
    throw new CloudError(
      'FACTORY_CA_MISSING',
      `no manufacturer CA in ${factoryDir}/ca: run 'bulwark factory init' first`,
      { dir: factoryDir },
    );
  }
  return certificateIssuer(certPem, keyPem);
}

/** The files of a cloud instance's credentials folder. */
export const CLOUD_PKI_FILES = {
  ca: 'ca-cert.pem',
  serverCert: 'server-cert.pem',
  serverKey: 'server-key.pem',
  serviceCert: 'service-cert.pem',
  serviceKey: 'service-key.pem',
} as const;

/** A cloud instance's credentials as loaded. Holds keys: never log it. */
export interface CloudCredentials {
  readonly caCertPem: string;
  readonly server: CertificateWithKey;
  readonly service: CertificateWithKey;
  /** The service certificate's CN, `bulwark-cloud-<instance>`: also its MQTT client id. */
  readonly serviceName: string;
}

function validFor(certPem: string, caPem: string, cn: string | undefined, minDaysLeft: number): boolean {
  try {
    const cert = new X509Certificate(certPem);
    if (!cert.checkIssued(new X509Certificate(caPem)) || !cert.verify(new X509Certificate(caPem).publicKey))
      return false;
    if (Date.parse(cert.validTo) - Date.now() < minDaysLeft * 86_400_000) return false;
    return cn === undefined || cert.subject.split('\n').includes(`CN=${cn}`);
  } catch {
    return false;
  }
}

/**
 * Loads the credentials of cloud instance `instance` from `dir`, issuing any that are missing,
 * not from this CA, or within 30 days of expiry (needs the factory's CA key for that).
 */
export async function ensureCloudCredentials(o: {
  factoryDir: string;
  dir: string;
  instance: string;
  hostnames?: readonly string[];
}): Promise<CloudCredentials> {
  const serviceName = serviceCommonName(o.instance);
  const f = CLOUD_PKI_FILES;
  const p = (name: string): string => join(o.dir, name);
  const caCertPem = await readFile(join(o.factoryDir, 'ca', 'ca-cert.pem'), 'utf8').catch(() => {
    throw new CloudError('FACTORY_CA_MISSING', `no manufacturer CA in ${o.factoryDir}/ca`, { dir: o.factoryDir });
  });
  await mkdir(o.dir, { recursive: true, mode: 0o700 });
  const read = async (name: string): Promise<string | undefined> =>
    existsSync(p(name)) ? readFile(p(name), 'utf8') : undefined;
  let issuer: CertificateIssuer | undefined;
  const issuerOnce = async (): Promise<CertificateIssuer> => (issuer ??= await factoryIssuer(o.factoryDir));

  let server: CertificateWithKey;
  const sCert = await read(f.serverCert),
    sKey = await read(f.serverKey);
  if (sCert && sKey && validFor(sCert, caCertPem, undefined, 30)) server = { certPem: sCert, keyPem: sKey };
  else {
    server = await (await issuerOnce()).issueServer(o.hostnames ?? ['localhost']);
    await writeFileAtomic(p(f.serverKey), server.keyPem, SECRET_FILE_MODE);
    await writeFileAtomic(p(f.serverCert), server.certPem, PUBLIC_FILE_MODE);
  }
  let service: CertificateWithKey;
  const cCert = await read(f.serviceCert),
    cKey = await read(f.serviceKey);
  if (cCert && cKey && validFor(cCert, caCertPem, serviceName, 30)) service = { certPem: cCert, keyPem: cKey };
  else {
    service = await (await issuerOnce()).issueClient(serviceName);
    await writeFileAtomic(p(f.serviceKey), service.keyPem, SECRET_FILE_MODE);
    await writeFileAtomic(p(f.serviceCert), service.certPem, PUBLIC_FILE_MODE);
  }
  await writeFileAtomic(p(f.ca), caCertPem, PUBLIC_FILE_MODE);
  return { caCertPem, server, service, serviceName };
}

/** The subject CN of a PEM or DER certificate, or undefined. */
export function commonNameOf(cert: string | Buffer): string | undefined {
  try {
    const subject = new X509Certificate(cert).subject;
    const cns = subject.split('\n').filter((l) => l.startsWith('CN='));
    return cns.length === 1 ? cns[0]!.slice(3) : undefined;
  } catch {
    return undefined;
  }
}
