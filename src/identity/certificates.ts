/**
 * X.509, the one place the project makes certificates: the factory's manufacturer CA, device and
 * web certificates, the cloud's server and client certificates issued by that CA, and the hub's
 * self-signed certificate for its pinned key. Keys are ECDSA P-256; @peculiar/x509 encodes and
 * signs through WebCrypto.
 *
 * @example
 * const ca = await loadCaSigner(caCertPem, caKeyPem);
 * const server = await issueServerCertificate(ca, ['cloud.example.com']);
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import {
  webcrypto,
  KeyObject,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  createHash,
  X509Certificate as NodeX509,
} from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { InvalidInputError } from '../errors/index.ts';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC_KEYGEN = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** Certificates start this long before they are made, for clocks a little behind. */
const BACKDATE_MS = 60_000;
const DAY_MS = 86_400_000;
/** What a server certificate always names besides its own names, and a self-signed leaf by default. */
export const LOOPBACK_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

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

/**
 * When a certificate is valid: from `notBefore` (default a minute before `now`) to `notAfter`
 * (default `now` plus the function's validity, in `validityYears` or `validityDays`).
 */
export interface ValidityOptions {
  readonly now?: Date;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly validityYears?: number;
  readonly validityDays?: number;
}

/** The CA as loaded from its PEM files, ready to sign. */
export interface CaSigner {
  readonly certPem: string;
  readonly keys: CryptoKeyPair;
  readonly subject: string;
}

/**
 * What one certificate says. `usage`: 'ca' (path length 0, signs certificates and CRLs),
 * 'server' or 'client' (a TLS end entity of that side), or 'pinned' (an end entity whose peers
 * pin its key, used on both sides of TLS: CA:false and no usage limits).
 */
interface CertificateSpec {
  readonly subject: string;
  readonly usage: 'ca' | 'server' | 'client' | 'pinned';
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Subject alternative names: DNS names or IP addresses. */
  readonly names?: readonly string[];
  readonly subjectKeyId: boolean;
}

/** Makes a fresh ECDSA P-256 key pair. */
export async function generateKeyPair(): Promise<PemKeyPair> {
  const keys = await webcrypto.subtle.generateKey(EC_KEYGEN, true, ['sign', 'verify']);
  return {
    keys,
    privateKeyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: KeyObject.from(keys.publicKey).export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Loads a PEM private key (PKCS#8, P-256) and its public half for signing. */
export async function importSigningKey(privateKeyPem: string, certPem: string): Promise<CryptoKeyPair> {
  const der = createPrivateKey(privateKeyPem).export({ type: 'pkcs8', format: 'der' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, EC_KEYGEN, false, ['sign']);
  // The certificate's SPKI, imported as @peculiar/x509's PublicKey.export does (extractable, verify only).
  const spki = createPublicKey(certPem).export({ type: 'spki', format: 'der' });
  const publicKey = await webcrypto.subtle.importKey('spki', spki, EC_KEYGEN, true, ['verify']);
  return { privateKey, publicKey };
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

interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function validity(o: ValidityOptions, defaults: { years?: number; days?: number }): Validity {
  const now = o.now ?? new Date();
  const notBefore = o.notBefore ?? new Date(now.getTime() - BACKDATE_MS);
  if (o.notAfter !== undefined) return { notBefore, notAfter: o.notAfter };
  const days = o.validityDays ?? (o.validityYears === undefined ? defaults.days : undefined);
  if (days !== undefined) return { notBefore, notAfter: new Date(now.getTime() + days * DAY_MS) };
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + (o.validityYears ?? defaults.years ?? 1));
  return { notBefore, notAfter };
}

/** DN-safe quoting: our names are validated elsewhere, but never let one inject RDNs. */
function dnValue(value: string): string {
  return value.replace(/[\\,+"<>;=#]/g, (c) => `\\${c}`);
}

function distinguishedName(commonName: string, organisation?: string): string {
  return `CN=${dnValue(commonName)}` + (organisation === undefined ? '' : `, O=${dnValue(organisation)}`);
}

function alternativeNames(names: readonly string[]): x509.SubjectAlternativeNameExtension {
  const unique = [...new Set(names)];
  return new x509.SubjectAlternativeNameExtension(unique.map((n) => ({ type: isIP(n) ? 'ip' : 'dns', value: n })));
}

async function extensionsFor(
  spec: CertificateSpec,
  publicKey: webcrypto.CryptoKey,
  issuer?: CaSigner,
): Promise<x509.Extension[]> {
  const flags = x509.KeyUsageFlags;
  const ca = spec.usage === 'ca';
  const out: x509.Extension[] = [new x509.BasicConstraintsExtension(ca, ca ? 0 : undefined, true)];
  if (ca) out.push(new x509.KeyUsagesExtension(flags.keyCertSign | flags.cRLSign, true));
  if (spec.usage === 'server' || spec.usage === 'client') {
    out.push(new x509.KeyUsagesExtension(flags.digitalSignature, true));
    const eku = spec.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth;
    out.push(new x509.ExtendedKeyUsageExtension([eku]));
  }
  if (spec.names !== undefined && spec.names.length > 0) out.push(alternativeNames(spec.names));
  if (spec.subjectKeyId) out.push(await x509.SubjectKeyIdentifierExtension.create(publicKey));
  if (issuer) out.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey as never));
  return out;
}

/** The one certificate builder: self-signed with `keys`, or issued to `keys.publicKey` by `issuer`. */
async function buildCertificate(spec: CertificateSpec, keys: CryptoKeyPair, issuer?: CaSigner): Promise<string> {
  const common = {
    serialNumber: randomSerialNumber(),
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    signingAlgorithm: SIGNING,
    extensions: await extensionsFor(spec, keys.publicKey, issuer),
  };
  const cert = issuer
    ? await x509.X509CertificateGenerator.create({
        ...common,
        subject: spec.subject,
        issuer: issuer.subject,
        publicKey: keys.publicKey,
        signingKey: issuer.keys.privateKey,
      })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: spec.subject, keys });
  return cert.toString('pem');
}

async function withNewKey(spec: CertificateSpec, issuer?: CaSigner): Promise<IssuedCertificate> {
  const pair = await generateKeyPair();
  const certPem = await buildCertificate(spec, pair.keys, issuer);
  return { ...pair, certPem, fingerprint: certificateFingerprint(certPem) };
}

/**
 * Creates a root CA (self-signed, path length 0) named `commonName` (and `organisation`),
 * valid 25 years unless told otherwise.
 */
export async function createCertificateAuthority(
  commonName: string,
  options: ValidityOptions & { organisation?: string } = {},
): Promise<IssuedCertificate> {
  const subject = distinguishedName(commonName, options.organisation);
  return withNewKey({ subject, usage: 'ca', subjectKeyId: true, ...validity(options, { years: 25 }) });
}

/** Creates the manufacturer root CA (self-signed, path length 0). */
export async function createManufacturerCa(maker: string, options: ValidityOptions = {}): Promise<IssuedCertificate> {
  return createCertificateAuthority(`${maker} Device CA`, { ...options, organisation: maker });
}

/** Loads the CA from its PEM files for signing. */
export async function loadCaSigner(certPem: string, privateKeyPem: string): Promise<CaSigner> {
  const keys = await importSigningKey(privateKeyPem, certPem);
  return { certPem, keys, subject: new x509.X509Certificate(certPem).subject };
}

/** Options of a certificate a CA issues: its validity, and the subject's organisation. */
export interface IssueCertificateOptions extends ValidityOptions {
  readonly organisation?: string;
}

/**
 * Issues a TLS client certificate (EKU clientAuth) with subject CN `commonName` and a fresh key,
 * valid 730 days unless told otherwise.
 */
export async function issueClientCertificate(
  ca: CaSigner,
  commonName: string,
  options: IssueCertificateOptions = {},
): Promise<IssuedCertificate> {
  const subject = distinguishedName(commonName, options.organisation);
  return withNewKey({ subject, usage: 'client', subjectKeyId: false, ...validity(options, { days: 730 }) }, ca);
}

/**
 * Issues a TLS server certificate (EKU serverAuth) for `names` (DNS names or IP addresses; CN the
 * first) and loopback, with a fresh key, valid 730 days unless told otherwise.
 */
export async function issueServerCertificate(
  ca: CaSigner,
  names: readonly string[],
  options: IssueCertificateOptions = {},
): Promise<IssuedCertificate> {
  const subject = distinguishedName(names[0] ?? 'localhost', options.organisation);
  const spec = { subject, usage: 'server', names: [...LOOPBACK_NAMES, ...names], subjectKeyId: false } as const;
  return withNewKey({ ...spec, ...validity(options, { days: 730 }) }, ca);
}

/** A certificate signing request and the key it is for. `privateKeyPem` is a secret. */
export interface CertificateRequest {
  readonly csrPem: string;
  readonly privateKeyPem: string;
}

/**
 * Makes a fresh P-256 key and a PKCS#10 request for it, subject `CN=<commonName>`: what a unit
 * sends to obtain an operational certificate (the key never leaves it).
 */
export async function createCertificateRequest(commonName: string): Promise<CertificateRequest> {
  const pair = await generateKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: distinguishedName(commonName),
    keys: pair.keys,
    signingAlgorithm: SIGNING,
  });
  return { csrPem: csr.toString('pem'), privateKeyPem: pair.privateKeyPem };
}

/** A certificate issued for a request's key: the key stays with whoever made the request. */
export interface IssuedForRequest {
  readonly certPem: string;
  /** 'sha256:<hex>' over the DER certificate. */
  readonly fingerprint: string;
  /** The serial number, lower-case hex: what a revocation list names. */
  readonly serialNumber: string;
  /** ms since the epoch. */
  readonly notAfter: number;
}

/** Why a certificate signing request was refused (the caller wraps it in its own typed error). */
export class CertificateRequestError extends Error {}

/**
 * Issues a client certificate (EKU clientAuth, subject CN `commonName`, O `organisation`) for the
 * key of a PKCS#10 request, after checking the request: it parses, its signature verifies with its
 * own key (proof of possession), the key is ECDSA P-256, and its subject is exactly `CN=<commonName>`.
 * Nothing else of the request is copied. Valid 365 days unless told otherwise.
 */
export async function issueFromRequest(
  ca: CaSigner,
  csrPem: string,
  commonName: string,
  options: IssueCertificateOptions = {},
): Promise<IssuedForRequest> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw new CertificateRequestError('the request does not parse');
  }
  const algorithm = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256')
    throw new CertificateRequestError('the key is not ECDSA P-256');
  if (!(await csr.verify().catch(() => false))) throw new CertificateRequestError('the signature does not verify');
  if (csr.subject !== distinguishedName(commonName))
    throw new CertificateRequestError(`the subject is not CN=${commonName}`);
  // @peculiar/x509 declares the DOM's CryptoKey; node's webcrypto key is the same object.
  const publicKey = (await csr.publicKey.export(EC_KEYGEN, ['verify'])) as unknown as webcrypto.CryptoKey;
  const spec: CertificateSpec = {
    subject: distinguishedName(commonName, options.organisation),
    usage: 'client',
    subjectKeyId: false,
    ...validity(options, { days: 365 }),
  };
  // Only the public half is the subject's; the signature is the issuer's.
  const certPem = await buildCertificate(spec, { publicKey } as CryptoKeyPair, ca);
  const cert = new NodeX509(certPem);
  return {
    certPem,
    fingerprint: certificateFingerprint(certPem),
    serialNumber: cert.serialNumber.toLowerCase(),
    notAfter: Date.parse(cert.validTo),
  };
}

/** Issues a unit's device certificate (CN = serial, client auth) signed by the CA. */
export async function issueDeviceCertificate(
  ca: CaSigner,
  serial: string,
  maker: string,
  options: ValidityOptions = {},
): Promise<IssuedCertificate> {
  const subject = distinguishedName(serial, maker);
  return withNewKey({ subject, usage: 'client', subjectKeyId: true, ...validity(options, { years: 20 }) }, ca);
}

/**
 * How long a web certificate is valid by default, days: within the 398 days browsers and testssl.sh
 * accept for a server certificate, with a day to spare for a clock a little ahead.
 */
export const WEB_CERTIFICATE_DAYS = 397;

/** What every web certificate of a unit says: CN = serial, O = maker, `<serial>.local` and loopback. */
function webCertificateSpec(serial: string, maker: string, options: ValidityOptions): CertificateSpec {
  return {
    subject: distinguishedName(serial, maker),
    usage: 'server',
    names: [`${serial.toLowerCase()}.local`, ...LOOPBACK_NAMES],
    subjectKeyId: true,
    ...validity(options, { days: WEB_CERTIFICATE_DAYS }),
  };
}

/** A P-256 private key (PEM or KeyObject) and its public half as WebCrypto keys, for signing. */
function signingPairOf(privateKey: KeyObject | string): CryptoKeyPair {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  return {
    privateKey: key.toCryptoKey(EC_KEYGEN, false, ['sign']),
    publicKey: createPublicKey(key).toCryptoKey(EC_KEYGEN, true, ['verify']),
  };
}

/**
 * Creates the unit's own self-signed HTTPS certificate, unique to it, with a fresh key; valid
 * {@link WEB_CERTIFICATE_DAYS} days unless told otherwise.
 */
export async function createWebCertificate(
  serial: string,
  maker: string,
  options: ValidityOptions = {},
): Promise<IssuedCertificate> {
  return withNewKey(webCertificateSpec(serial, maker, options));
}

/**
 * Issues the unit's web certificate again for its existing key (the one in the bundle), with the
 * same subject, names and usage as {@link createWebCertificate}: a browser exception or a hub pin
 * on the key keeps matching. Valid {@link WEB_CERTIFICATE_DAYS} days from `options.now` unless told otherwise.
 *
 * @example
 * const certPem = await renewWebCertificate(bundle.webKeyPem, unit.serial, unit.maker, { now: new Date(clock.now()) });
 */
export async function renewWebCertificate(
  privateKey: KeyObject | string,
  serial: string,
  maker: string,
  options: ValidityOptions = {},
): Promise<string> {
  return buildCertificate(webCertificateSpec(serial, maker, options), signingPairOf(privateKey));
}

/**
 * A self-signed certificate for an existing P-256 key whose peers pin the key: subject CN
 * `commonName`, CA:false, no usage limits, and subject alternative names (default loopback) so a
 * client that trusts exactly this certificate can also check the host name. Valid 20 years
 * unless told otherwise.
 *
 * @example
 * const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
 * const certPem = await createPinnedKeyCertificate(privateKey, 'Bulwark hub');
 */
export async function createPinnedKeyCertificate(
  privateKey: KeyObject | string,
  commonName: string,
  options: ValidityOptions & { names?: readonly string[] } = {},
): Promise<string> {
  const keys = signingPairOf(privateKey);
  const names = options.names ?? LOOPBACK_NAMES;
  const spec = { subject: distinguishedName(commonName), usage: 'pinned', names, subjectKeyId: false } as const;
  return buildCertificate({ ...spec, ...validity(options, { years: 20 }) }, keys);
}

/** Why a certificate was revoked, as RFC 5280 names the CRL reason codes a CRL carries. */
export type CrlReason =
  'unspecified' | 'keyCompromise' | 'affiliationChanged' | 'superseded' | 'cessationOfOperation' | 'privilegeWithdrawn';

/** One revoked certificate: its serial number (hex, as in the certificate), when, and why. */
export interface RevocationListEntry {
  readonly serialNumber: string;
  readonly revokedAt: Date;
  readonly reason?: CrlReason;
}

/** Most entries one revocation list carries: far above a fleet's revocations, bounded so a file stays small. */
export const MAX_REVOCATION_LIST_ENTRIES = 1_000_000;
const SERIAL_NUMBER_HEX = /^[0-9a-f]{2,40}$/;
const CRL_NUMBER_OID = '2.5.29.20';

/** DER INTEGER of a non-negative safe integer (the CRL number extension's value). */
function derInteger(value: number): Uint8Array {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = '0' + hex;
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = '00' + hex;
  return Uint8Array.from([0x02, hex.length / 2, ...Buffer.from(hex, 'hex')]);
}

function checkRevocationEntries(entries: readonly RevocationListEntry[]): void {
  if (entries.length > MAX_REVOCATION_LIST_ENTRIES)
    throw new InvalidInputError(`a revocation list holds at most ${MAX_REVOCATION_LIST_ENTRIES} entries`);
  for (const e of entries) {
    if (typeof e.serialNumber !== 'string' || !SERIAL_NUMBER_HEX.test(e.serialNumber))
      throw new InvalidInputError('a revoked serial number is 2 to 40 lower-case hex digits');
    if (!(e.revokedAt instanceof Date) || Number.isNaN(e.revokedAt.getTime()))
      throw new InvalidInputError('a revocation date must be a valid date');
  }
}

/**
 * Makes an X.509 v2 CRL (PEM) signed by `ca`, listing `entries`, valid from `thisUpdate` to
 * `nextUpdate`; its CRL number is `thisUpdate` in seconds, so a later list has a larger number.
 * A verifier that checks revocation refuses every certificate of this CA once `nextUpdate` has
 * passed: re-issue well before.
 *
 * @example
 * const now = new Date();
 * const pem = await createRevocationList(ca, [{ serialNumber: '3f2a...', revokedAt: now, reason: 'keyCompromise' }],
 *   { thisUpdate: now, nextUpdate: new Date(now.getTime() + 30 * 86_400_000) });
 */
export async function createRevocationList(
  ca: CaSigner,
  entries: readonly RevocationListEntry[],
  o: { thisUpdate: Date; nextUpdate: Date },
): Promise<string> {
  checkRevocationEntries(entries);
  if (!(o.nextUpdate.getTime() > o.thisUpdate.getTime()))
    throw new InvalidInputError('a revocation list must be valid for some time (nextUpdate after thisUpdate)');
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.subject,
    thisUpdate: o.thisUpdate,
    nextUpdate: o.nextUpdate,
    signingAlgorithm: SIGNING,
    signingKey: ca.keys.privateKey,
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey as never),
      new x509.Extension(CRL_NUMBER_OID, false, derInteger(Math.floor(o.thisUpdate.getTime() / 1000))),
    ],
    entries: entries.map((e) => ({
      serialNumber: e.serialNumber.length % 2 === 1 ? `0${e.serialNumber}` : e.serialNumber,
      revocationDate: e.revokedAt,
      ...(e.reason === undefined ? {} : { reason: x509.X509CrlReason[e.reason] }),
    })),
  });
  // @peculiar/x509 labels it 'CRL'; OpenSSL (and so Mosquitto) reads only 'X509 CRL' (RFC 7468).
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n';
}

/** What a revocation list says, once its signature checked out. */
export interface RevocationListContents {
  readonly issuer: string;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  /** Revoked serial numbers, lower-case hex. */
  readonly serialNumbers: readonly string[];
}

/**
 * Parses a PEM CRL and checks that `caCertPem`'s key signed it and names it as issuer; throws
 * INVALID_INPUT otherwise. What a writer reads back before a broker loads the file.
 */
export async function readRevocationList(pem: string, caCertPem: string): Promise<RevocationListContents> {
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(pem);
  } catch {
    throw new InvalidInputError('not a PEM certificate revocation list');
  }
  const ca = new x509.X509Certificate(caCertPem);
  if (crl.issuer !== ca.subject || !(await crl.verify({ publicKey: ca })))
    throw new InvalidInputError('the revocation list is not signed by this CA');
  return {
    issuer: crl.issuer,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    serialNumbers: crl.entries.map((e) => e.serialNumber.toLowerCase()),
  };
}
