/**
 * The hub's own key: an ECDSA P-256 key pair made at first run and kept 0600 in the hub's state
 * dir, with a self-signed certificate that carries it in TLS (the channel to devices and the
 * HTTPS admin page). Devices pin the key, not the certificate, so the certificate is minimal and
 * written with node:crypto alone: no X.509 library is loaded by the hub.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
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

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);
const OID_ECDSA_SHA256 = Buffer.from('06082a8648ce3d040302', 'hex');
const OID_COMMON_NAME = Buffer.from('0603550403', 'hex');
const OID_BASIC_CONSTRAINTS = Buffer.from('0603551d13', 'hex');
const OID_SUBJECT_ALT_NAME = Buffer.from('0603551d11', 'hex');

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050.
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}

function name(commonName: string): Buffer {
  return seq(tlv(0x31, seq(OID_COMMON_NAME, tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

/** The 16 bytes of an IPv6 address without a zone or embedded IPv4 part. */
function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::');
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  return out;
}

function subjectAltNames(names: readonly string[]): Buffer {
  const entries = names.map((n) => {
    if (isIP(n) === 4) return tlv(0x87, Buffer.from(n.split('.').map(Number)));
    if (isIP(n) === 6 && !n.includes('.') && !n.includes('%')) return tlv(0x87, ipv6Bytes(n));
    if (!/^[a-z0-9.-]{1,253}$/i.test(n)) throw new HubError('HUB_CONFIG_INVALID', `not a host name or address: ${n.slice(0, 64)}`);
    return tlv(0x82, Buffer.from(n, 'ascii'));
  });
  return seq(OID_SUBJECT_ALT_NAME, tlv(0x04, seq(...entries)));
}

/**
 * A self-signed X.509 v3 certificate for `key` (ECDSA P-256, SHA-256): CN, validity, CA:false,
 * and subject alternative names (default localhost, 127.0.0.1, ::1) so a browser or client that
 * trusts exactly this certificate can also check the host name.
 */
export function selfSignedCertificate(key: KeyObject, commonName: string, options: { validityYears?: number; now?: Date; names?: readonly string[] } = {}): string {
  const now = options.now ?? new Date();
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + (options.validityYears ?? 20));
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, 16 bytes
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const algorithm = seq(OID_ECDSA_SHA256);
  const extensions = tlv(0xa3, seq(
    seq(OID_BASIC_CONSTRAINTS, Buffer.from('0101ff', 'hex'), tlv(0x04, seq())),
    subjectAltNames(options.names ?? ['localhost', '127.0.0.1', '::1']),
  ));
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // version 3
    tlv(0x02, serial),
    algorithm,
    name(commonName),
    seq(time(new Date(now.getTime() - 60_000)), time(notAfter)),
    name(commonName),
    spki,
    extensions,
  );
  const signature = sign('sha256', tbs, key); // DER ECDSA-Sig-Value
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.from([0]), signature));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

/** Makes a fresh identity (key pair and self-signed certificate) named `commonName`. */
export function createHubIdentity(commonName = 'Bulwark hub'): HubIdentity {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = selfSignedCertificate(privateKey, commonName);
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
    const identity = createHubIdentity();
    await writeFileAtomic(keyPath, identity.key, SECRET_FILE_MODE);
    await writeFileAtomic(certPath, identity.cert, PUBLIC_FILE_MODE);
    return identity;
  }
  if ((info.mode & 0o077) !== 0) throw new HubError('HUB_KEY_INSECURE', `${keyPath} is readable by others (mode ${(info.mode & 0o777).toString(8)}); expected 600`);
  const [key, cert] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')]);
  try {
    const x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error('mismatch');
  } catch {
    throw new HubError('HUB_KEY_INVALID', `${certPath} does not hold the certificate of ${keyPath}`);
  }
  return { key, cert, pin: spkiSha256(cert) };
}
