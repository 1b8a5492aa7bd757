/**
 * X.509 for the factory: the manufacturer CA, CA-signed device certificates (the unit's
 * identity towards the cloud) and each unit's self-signed HTTPS certificate. Keys are ECDSA
 * P-256 from node:crypto; @peculiar/x509 only encodes and signs through WebCrypto.
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import { webcrypto, KeyObject, createPrivateKey, randomBytes, createHash, X509Certificate as NodeX509 } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC_KEYGEN = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A key pair with its PEM encodings. `privateKeyPem` is a secret. */
export interface PemKeyPair {
  readonly keys: webcrypto.CryptoKeyPair;
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

/** A certificate with its key pair. */
export interface IssuedCertificate extends PemKeyPair {
  readonly certPem: string;
  /** 'sha256:<hex>' over the DER certificate. */
  readonly fingerprint: string;
}

/** Makes a fresh ECDSA P-256 key pair. */
export async function generateKeyPair(): Promise<PemKeyPair> {
  const keys = (await webcrypto.subtle.generateKey(EC_KEYGEN, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  return {
    keys,
    privateKeyPem: KeyObject.from(keys.privateKey as never).export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: KeyObject.from(keys.publicKey as never).export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Loads a PEM private key (PKCS#8, P-256) and its public half for signing. */
export async function importSigningKey(privateKeyPem: string, certPem: string): Promise<CryptoKeyPair> {
  const der = createPrivateKey(privateKeyPem).export({ type: 'pkcs8', format: 'der' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, EC_KEYGEN, false, ['sign']);
  const cert = new x509.X509Certificate(certPem);
  const publicKey = await cert.publicKey.export(EC_KEYGEN, ['verify']);
  return { privateKey, publicKey } as unknown as CryptoKeyPair;
}

/** 'sha256:<hex>' of a PEM certificate's DER bytes. */
export function certificateFingerprint(certPem: string): string {
  return 'sha256:' + createHash('sha256').update(new NodeX509(certPem).raw).digest('hex');
}

function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive and exactly 16 bytes long
  return bytes.toString('hex');
}

function yearsFrom(start: Date, years: number): Date {
  const end = new Date(start);
  end.setUTCFullYear(end.getUTCFullYear() + years);
  return end;
}

/** DN-safe quoting: our names are validated elsewhere, but never let one inject RDNs. */
function dnValue(value: string): string {
  return value.replace(/[\\,+"<>;=#]/g, (c) => `\\${c}`);
}

/** Creates the manufacturer root CA (self-signed, path length 0). */
export async function createManufacturerCa(maker: string, options: { validityYears?: number; now?: Date } = {}): Promise<IssuedCertificate> {
  const pair = await generateKeyPair();
  const now = options.now ?? new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: `CN=${dnValue(maker)} Device CA, O=${dnValue(maker)}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: yearsFrom(now, options.validityYears ?? 25),
    keys: pair.keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(pair.keys.publicKey),
    ],
  });
  const certPem = cert.toString('pem');
  return { ...pair, certPem, fingerprint: certificateFingerprint(certPem) };
}

/** The CA as loaded from the factory folder. */
export interface CaSigner {
  readonly certPem: string;
  readonly keys: CryptoKeyPair;
  readonly subject: string;
}

/** Loads the CA from its PEM files for signing device certificates. */
export async function loadCaSigner(certPem: string, privateKeyPem: string): Promise<CaSigner> {
  const keys = await importSigningKey(privateKeyPem, certPem);
  return { certPem, keys, subject: new x509.X509Certificate(certPem).subject };
}

/** Issues a unit's device certificate (CN = serial, client auth) signed by the CA. */
export async function issueDeviceCertificate(ca: CaSigner, serial: string, maker: string, options: { validityYears?: number; now?: Date } = {}): Promise<IssuedCertificate> {
  const pair = await generateKeyPair();
  const now = options.now ?? new Date();
  const caCert = new x509.X509Certificate(ca.certPem);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: `CN=${dnValue(serial)}, O=${dnValue(maker)}`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: yearsFrom(now, options.validityYears ?? 20),
    publicKey: pair.keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(pair.keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  const certPem = cert.toString('pem');
  return { ...pair, certPem, fingerprint: certificateFingerprint(certPem) };
}

/** Creates the unit's own self-signed HTTPS certificate, unique to it. */
export async function createWebCertificate(serial: string, maker: string, options: { validityYears?: number; now?: Date } = {}): Promise<IssuedCertificate> {
  const pair = await generateKeyPair();
  const now = options.now ?? new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: `CN=${dnValue(serial)}, O=${dnValue(maker)}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: yearsFrom(now, options.validityYears ?? 20),
    keys: pair.keys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: `${serial.toLowerCase()}.local` },
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(pair.keys.publicKey),
    ],
  });
  const certPem = cert.toString('pem');
  return { ...pair, certPem, fingerprint: certificateFingerprint(certPem) };
}
